"""Which rows train, which rows judge: stratified, seeded splits of train.csv.

The order of operations is the statistician's: an optional stratified subsample first
(``--percent``, the old R workflow's speed knob), then a stratified holdout that no model
ever sees while training, tuning or stopping, then stratified k-fold CV on what is left.
Every function is pure — label array and seed in, row indices out — so the same seed gives
the same rows in the same folds on any machine, and a resumed run rebuilds exactly the
folds it started with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from kaggle_digits.errors import KdigitsError

HOLDOUT_FOLD = -1  # the `fold` value of holdout rows in holdout.csv


@dataclass(frozen=True)
class SplitConfig:
    """How to cut train.csv; written into every run's config.json."""

    folds: int = 5
    holdout: float = 0.1
    percent: float = 100.0
    test_size: float = 0.2  # only for folds == 1: the single train/test split
    seed: int = 42

    def __post_init__(self) -> None:
        if self.folds < 1:
            raise KdigitsError(f"--folds must be 1 or more, not {self.folds}")
        if not 0 <= self.holdout < 1:
            raise KdigitsError(f"--holdout must be in [0, 1), not {self.holdout}")
        if not 0 < self.percent <= 100:
            raise KdigitsError(f"--percent must be in (0, 100], not {self.percent}")
        if not 0 < self.test_size < 1:
            raise KdigitsError(f"--test-size must be in (0, 1), not {self.test_size}")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Fold:
    """One round of CV: ``number`` is 1-based, as users count folds."""

    number: int
    train: np.ndarray  # row indices into train.csv
    test: np.ndarray


@dataclass(frozen=True)
class Split:
    """Rows of train.csv by role; all index arrays are sorted 0-based train.csv rows."""

    config: SplitConfig
    rows: np.ndarray  # every row in play after --percent
    holdout: np.ndarray
    folds: tuple[Fold, ...]

    @property
    def cv_rows(self) -> np.ndarray:
        """The non-holdout rows: the ones CV trains and predicts on."""
        return np.setdiff1d(self.rows, self.holdout)

    def fold_column(self, n_rows: int) -> np.ndarray:
        """Per train.csv row: its fold (1…k, where it is predicted out of fold),
        ``HOLDOUT_FOLD`` for the holdout, 0 for rows not in play (or, with one fold,
        rows only ever trained on)."""
        column = np.zeros(n_rows, dtype=np.int64)
        column[self.holdout] = HOLDOUT_FOLD
        for fold in self.folds:
            column[fold.test] = fold.number
        return column

    def sizes(self) -> dict:
        """Row counts for config.json, so a reader can check every number adds up."""
        return {
            "rows_in_play": int(self.rows.size),
            "holdout_rows": int(self.holdout.size),
            "cv_rows": int(self.rows.size - self.holdout.size),
            "folds": [{"fold": f.number, "train_rows": int(f.train.size),
                       "test_rows": int(f.test.size)} for f in self.folds],
        }


def _stratified_cut(labels: np.ndarray, rows: np.ndarray, fraction: float,
                    seed: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` into (kept, cut) with ``fraction`` of each class in ``cut``."""
    from sklearn.model_selection import train_test_split  # lazy: keeps `kdigits --help` fast

    try:
        kept, cut = train_test_split(rows, test_size=fraction, stratify=labels[rows],
                                     random_state=seed)
    except ValueError as error:  # too few rows of some class for the requested cut
        raise KdigitsError(f"cannot make the {what} from {rows.size} rows: {error}") from None
    return np.sort(kept), np.sort(cut)


def subsample(labels: np.ndarray, percent: float, seed: int) -> np.ndarray:
    """The rows kept by ``--percent``: a stratified sample, so class balance survives."""
    rows = np.arange(labels.size)
    if percent >= 100:
        return rows
    _, kept = _stratified_cut(labels, rows, percent / 100, seed, f"{percent}% subsample")
    return kept


def holdout_split(labels: np.ndarray, rows: np.ndarray, fraction: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(CV rows, holdout rows); ``fraction`` 0 means no holdout."""
    if fraction == 0:
        return np.sort(rows), np.empty(0, dtype=rows.dtype)
    return _stratified_cut(labels, rows, fraction, seed, "holdout")


def kfold(labels: np.ndarray, rows: np.ndarray, folds: int, seed: int,
          test_size: float = 0.2) -> tuple[Fold, ...]:
    """Stratified k-fold over ``rows``; one fold means one stratified train/test split."""
    if folds == 1:
        train, test = _stratified_cut(labels, rows, test_size, seed, "train/test split")
        return (Fold(1, train, test),)
    counts = np.bincount(labels[rows])
    smallest = int(counts[counts > 0].min()) if rows.size else 0
    if smallest < folds:
        raise KdigitsError(f"cannot make {folds} folds: a class has only {smallest} rows "
                           "(use fewer --folds or a larger --percent)")
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return tuple(Fold(k, np.sort(rows[train]), np.sort(rows[test]))
                 for k, (train, test) in enumerate(splitter.split(rows, labels[rows]), 1))


def make_split(labels: np.ndarray, config: SplitConfig) -> Split:
    """Subsample, then holdout, then folds — each step seeded from ``config.seed``."""
    labels = np.asarray(labels)
    rows = subsample(labels, config.percent, config.seed)
    cv_rows, holdout = holdout_split(labels, rows, config.holdout, config.seed)
    folds = kfold(labels, cv_rows, config.folds, config.seed, config.test_size)
    return Split(config=config, rows=rows, holdout=holdout, folds=folds)
