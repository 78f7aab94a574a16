"""Which rows train, which rows judge: stratified, seeded splits of train.csv.

The order of operations is the statistician's: an optional stratified subsample first
(``--percent``, the old R workflow's speed knob), then a stratified holdout that no model
ever sees while training, tuning or stopping, then stratified k-fold CV on what is left.
Every function is pure — label array and seed in, row indices out — so the same seed gives
the same rows in the same folds on any machine, and a resumed run rebuilds exactly the
folds it started with.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

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


def _stratified_cut(labels: np.ndarray, rows: np.ndarray, fraction: float, seed: int,
                    asked: str, sides: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` into (kept, cut) with ``fraction`` of each class in ``cut``.

    ``asked`` is the option as the user gave it (``--holdout 0.1``) and ``sides`` say what
    becomes of the cut rows and of the others (``holds out {}``, ``leaves {} to train
    on``): scikit-learn's refusal is said again in those words.
    """
    from sklearn.model_selection import train_test_split  # lazy: keeps `kdigits --help` fast

    try:
        kept, cut = train_test_split(rows, test_size=fraction, stratify=labels[rows],
                                     random_state=seed)
    except ValueError as error:  # too few rows of some class for the requested cut
        raise KdigitsError(_why_not(labels[rows], fraction, asked, sides, error)) from None
    return np.sort(kept), np.sort(cut)


def _why_not(labels: np.ndarray, fraction: float, asked: str, sides: tuple[str, str],
             error: ValueError) -> str:
    """Why a stratified cut of these labels cannot be made, in the user's terms.

    scikit-learn cuts ``ceil(fraction × n)`` rows and needs at least one row of each class
    on both sides, and two rows of each class to begin with.
    """
    counts = np.bincount(labels)
    present = np.flatnonzero(counts)
    n, classes = labels.size, present.size
    cut = math.ceil(fraction * n)
    rarest = int(present[np.argmin(counts[present])]) if classes else 0
    if classes and counts[rarest] < 2:
        return (f"{asked} cannot be stratified: digit {rarest} has {counts[rarest]} of the "
                f"{n:,} rows, and each digit needs 2 or more")
    for side, count in zip(sides, (cut, n - cut), strict=True):
        if count < classes:
            what = side.format(f"{count:,} of {n:,} rows")
            return f"{asked} {what}, fewer than one of each of the {classes} digits"
    return f"{asked} cannot be made from {n:,} rows: {error}"


def subsample(labels: np.ndarray, percent: float, seed: int) -> np.ndarray:
    """The rows kept by ``--percent``: a stratified sample, so class balance survives."""
    rows = np.arange(labels.size)
    if percent >= 100:
        return rows
    _, kept = _stratified_cut(labels, rows, percent / 100, seed, f"--percent {percent:g}",
                              ("keeps {}", "drops {}"))
    return kept


def holdout_split(labels: np.ndarray, rows: np.ndarray, fraction: float, seed: int, *,
                  option: str = "--holdout") -> tuple[np.ndarray, np.ndarray]:
    """(CV rows, holdout rows); ``fraction`` 0 means no holdout. ``option`` names the
    setting in messages (a validation split carved the same way says its own)."""
    if fraction == 0:
        return np.sort(rows), np.empty(0, dtype=rows.dtype)
    rest = "for cross-validation" if option == "--holdout" else "to train on"
    return _stratified_cut(labels, rows, fraction, seed, f"{option} {fraction:g}",
                           ("holds out {}", f"leaves {{}} {rest}"))


def kfold(labels: np.ndarray, rows: np.ndarray, folds: int, seed: int,
          test_size: float = 0.2) -> tuple[Fold, ...]:
    """Stratified k-fold over ``rows``; one fold means one stratified train/test split."""
    if folds == 1:
        train, test = _stratified_cut(labels, rows, test_size, seed,
                                      f"--test-size {test_size:g}",
                                      ("tests on {}", "leaves {} to train on"))
        return (Fold(1, train, test),)
    counts = np.bincount(labels[rows])
    present = np.flatnonzero(counts)
    rarest = int(present[np.argmin(counts[present])]) if rows.size else 0
    smallest = int(counts[rarest]) if rows.size else 0
    if smallest < folds:
        raise KdigitsError(f"--folds {folds} needs {folds} or more rows of each digit (one "
                           f"for each fold), but digit {rarest} has {smallest} of the "
                           f"{rows.size:,} cross-validation rows")
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return tuple(Fold(k, np.sort(rows[train]), np.sort(rows[test]))
                 for k, (train, test) in enumerate(splitter.split(rows, labels[rows]), 1))


def make_split(labels: np.ndarray, config: SplitConfig) -> Split:
    """Subsample, then holdout, then folds — each step seeded from ``config.seed``.

    A split that cannot be made says which option asked for it, why it cannot work, and
    the nearest setting that does.
    """
    labels = np.asarray(labels)
    step = "percent"
    try:
        rows = subsample(labels, config.percent, config.seed)
        step = "holdout"
        cv_rows, holdout = holdout_split(labels, rows, config.holdout, config.seed)
        step = "test_size" if config.folds == 1 else "folds"
        folds = kfold(labels, cv_rows, config.folds, config.seed, config.test_size)
    except KdigitsError as error:
        hint = _what_works(labels, config, step)
        raise KdigitsError(f"{error}; {hint}" if hint else str(error)) from None
    return Split(config=config, rows=rows, holdout=holdout, folds=folds)


# Where to look for a share that works, before narrowing it down by bisection.
_SHARES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def _what_works(labels: np.ndarray, config: SplitConfig, step: str) -> str | None:
    """The nearest setting that makes the split possible: the smallest --percent when a
    sample was asked for (more rows fix nearly everything), else the option whose step
    failed. None when no change of one option helps."""

    def works(**change: float) -> bool:
        try:
            _make_split(labels, replace(config, **change))
        except KdigitsError:
            return False
        return True

    if config.percent < 100:
        found = _nearest(lambda p: works(percent=p), config.percent, [100.0])
        if found is not None:
            return f"the smallest --percent that works with {_others(config)} is {found:g}"
    if step == "folds":
        # k folds need k rows of the rarest digit present (`kfold`): read it, not search
        rows = subsample(labels, config.percent, config.seed)
        cv_rows, _ = holdout_split(labels, rows, config.holdout, config.seed)
        counts = np.bincount(labels[cv_rows])
        smallest = int(counts[counts > 0].min()) if cv_rows.size else 0
        fewer = (min(smallest, config.folds - 1) if smallest >= 2
                 else 1 if works(folds=1) else None)
        return (None if fewer is None else "use --folds 1 (one train/test split)"
                if fewer == 1 else f"use --folds {fewer} or fewer")
    if step not in ("holdout", "test_size"):
        return None
    value = getattr(config, step)
    option = "--" + step.replace("_", "-")
    more = _nearest(lambda v: works(**{step: v}), value, [v for v in _SHARES if v > value])
    if more is not None:
        none = ", or 0 for none" if step == "holdout" else ""
        return f"use {option} {more:g} or more{none}"
    less = _nearest(lambda v: works(**{step: v}), value,
                    [v for v in reversed(_SHARES) if v < value])
    return None if less is None else f"use {option} {less:g} or less"


def _make_split(labels: np.ndarray, config: SplitConfig) -> Split:
    """:func:`make_split` without the search for a setting that works (which calls this)."""
    rows = subsample(labels, config.percent, config.seed)
    cv_rows, holdout = holdout_split(labels, rows, config.holdout, config.seed)
    folds = kfold(labels, cv_rows, config.folds, config.seed, config.test_size)
    return Split(config=config, rows=rows, holdout=holdout, folds=folds)


def _others(config: SplitConfig) -> str:
    folds = (f"{config.folds} folds" if config.folds > 1
             else f"--test-size {config.test_size:g}")
    holdout = f"--holdout {config.holdout:g}" if config.holdout else "no holdout"
    return f"{folds} and {holdout}"


def _nearest(works: Callable[[float], bool], bad: float, candidates: list[float],
             steps: int = 30) -> float | None:
    """The value nearest ``bad`` (which fails) that works, as a tidy number: the first of
    ``candidates`` (ordered away from ``bad``) that works, narrowed down by bisection."""
    good = next((c for c in candidates if works(c)), None)
    if good is None:
        return None
    upward = good > bad
    for _ in range(steps):
        middle = (bad + good) / 2
        if middle in (bad, good):
            break
        bad, good = (bad, middle) if works(middle) else (middle, good)
    tidy = _round(good, math.ceil if upward else math.floor)
    return tidy if works(tidy) else good


def _round(value: float, how: Callable[[float], float]) -> float:
    """``value`` to two significant digits, rounded by ``how``: 0.02381 → 0.024 (ceil)."""
    if value <= 0:
        return value
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(how(round(value / step, 9)) * step, 12)
