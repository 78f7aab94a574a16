"""The end of the Kaggle loop: probabilities for test.csv → a submission file and its record.

A submission is three files that travel together: ``<name>.csv`` (Kaggle's
``ImageId,Label``), ``<name>.probs.npy`` (N×10 float32, so later ensembles can average
probabilities instead of voting) and ``<name>.json`` (config, data SHA-256, the run it came
from, kdigits version, command), so every uploaded file can be traced back to how it was
made. Models come in as plain ``predict_proba`` callables, and only :func:`training_config`,
:func:`train_full` and :func:`run_models` reach the training code (lazily), so ``ensemble``
and ``upload`` never import TensorFlow.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_digits import __version__
from kaggle_digits.data import BUILTIN_CSV_SHA256, file_sha256, kaggle_credentials
from kaggle_digits.errors import KdigitsError
from kaggle_digits.fileio import refuse_existing, write_bytes, write_json
from kaggle_digits.stats import ConfusionStats, confusion_stats
from kaggle_digits.submission import (
    count_data_rows,
    read_label_file,
    submission_problems,
    write_submission,
)

if TYPE_CHECKING:
    import pandas as pd

COMPETITION = "digit-recognizer"
KAGGLE_TEST_ROWS = 28_000  # Kaggle's test.csv, used when no local test file says otherwise
CLASSES = tuple(range(10))
SIDE = 28

# Test-time augmentation views: the image itself and the four one-pixel shifts. Digits in
# MNIST are centred by centre of mass, so a 1-pixel shift is well inside what the models
# saw in training, while averaging over it smooths out a model's sensitivity to exact
# placement. Larger shifts or rotations cost more and help less on this data.
TTA_SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
PREDICT_ROWS = 4096  # rows per predict call: small enough for a smooth progress bar

Predictor = Callable[[np.ndarray], np.ndarray]
Advance = Callable[[int], None]


# ---------------------------------------------------------------------------------------
# Prediction: models × test-time views → averaged probabilities
# ---------------------------------------------------------------------------------------

def shift_images(pixels: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move every 28×28 image ``dy`` rows down and ``dx`` columns right, filling with 0.

    Slicing instead of ``np.roll`` so that ink leaving one edge never reappears on the
    other; the result stays uint8 N×784 like the input.
    """
    images = pixels.reshape(-1, SIDE, SIDE)
    out = np.zeros_like(images)
    rows_to = slice(max(dy, 0), SIDE + min(dy, 0))
    rows_from = slice(max(-dy, 0), SIDE + min(-dy, 0))
    cols_to = slice(max(dx, 0), SIDE + min(dx, 0))
    cols_from = slice(max(-dx, 0), SIDE + min(-dx, 0))
    out[:, rows_to, cols_to] = images[:, rows_from, cols_from]
    return out.reshape(len(pixels), SIDE * SIDE)


def tta_views(tta: bool) -> tuple[tuple[int, int], ...]:
    return TTA_SHIFTS if tta else TTA_SHIFTS[:1]


def prediction_steps(rows: int, models: int, tta: bool) -> int:
    """Rows a progress bar will see: every model scores every view of every test row."""
    return rows * models * len(tta_views(tta))


def average_probabilities(models: Sequence[Predictor], pixels: np.ndarray, *,
                          tta: bool = False, advance: Advance | None = None) -> np.ndarray:
    """Mean class probabilities over every model and every TTA view (N×10 float32).

    Averaging probabilities (not votes) is what makes fold models and shifted views help:
    a confident model outweighs an unsure one on the rows where they disagree.
    """
    if not models:
        raise KdigitsError("no models to predict with")
    total = np.zeros((len(pixels), len(CLASSES)), dtype=np.float64)
    views = tta_views(tta)
    for predict in models:
        for dy, dx in views:
            shifted = shift_images(pixels, dy, dx) if (dy, dx) != (0, 0) else pixels
            for start in range(0, len(pixels), PREDICT_ROWS):
                chunk = shifted[start:start + PREDICT_ROWS]
                total[start:start + len(chunk)] += predict(chunk)
                if advance is not None:
                    advance(len(chunk))
    return (total / (len(models) * len(views))).astype(np.float32)


def training_config(preset: str, overrides: dict[str, Any], run: Any = None) -> Any:
    """The preset's recipe, or a cv run's exact training config, with the CLI's overrides.

    A refit reuses the run's config as it was recorded (not the preset's current recipe),
    so the full-data model is trained the way the cross-validated one was.
    """
    from kaggle_digits import train

    given = {k: v for k, v in overrides.items() if v is not None}
    if run is None:
        return train.config_for(preset, **given)
    try:
        recorded = train.TrainConfig(**run.config["training"])
    except (KeyError, TypeError) as error:
        raise KdigitsError(f"{run.path}/config.json has no usable training config "
                           f"({error})") from None
    return replace(recorded, **given)


def train_full(config: Any, pixels: np.ndarray, labels: np.ndarray, *,
               progress: Any = None) -> Predictor:
    """Train once on every training row (no fold held out: this model is the product)."""
    from kaggle_digits import train

    return train.fit(config.preset, pixels, labels, config, progress=progress).predict_proba


def run_models(run: Any) -> list[Predictor]:
    """Load a cross-validation run's finished fold models, ready to average."""
    from kaggle_digits import train

    paths = run.model_paths
    if not paths:
        raise KdigitsError(f"{run.path} has no finished fold models to predict with")
    return [train.load_trained(path).predict_proba for path in paths]


# ---------------------------------------------------------------------------------------
# Submission files: <name>.csv, <name>.probs.npy, <name>.json
# ---------------------------------------------------------------------------------------

def probs_path(submission: str | os.PathLike[str]) -> Path:
    return Path(submission).with_suffix(".probs.npy")


def record_path(submission: str | os.PathLike[str]) -> Path:
    return Path(submission).with_suffix(".json")


def bundle_paths(submission: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    return Path(submission), probs_path(submission), record_path(submission)


def default_output(model: str, folder: str | os.PathLike[str] = "submissions",
                   now: datetime | None = None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path(folder) / f"submission-{model}-{stamp}.csv"


def refuse_bundle(submission: str | os.PathLike[str], force: bool) -> None:
    """Refuse up front, before any training, if any of the three files already exists."""
    if Path(submission).suffix.lower() != ".csv":
        raise KdigitsError(f"{submission}: a submission file name must end in .csv")
    for path in bundle_paths(submission):
        refuse_existing(path, force)


def write_bundle(submission: str | os.PathLike[str], probabilities: np.ndarray,
                 record: dict[str, Any], *, force: bool = False) -> Path:
    """Write the submission (validated by ``write_submission``) and its two side files.

    Each file is atomic on its own; if anything fails part-way, the files this call
    already published are removed again, so an interrupted write leaves nothing new.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(CLASSES):
        raise KdigitsError(f"probabilities must be N×10, got shape {probabilities.shape}")
    refuse_bundle(submission, force)
    csv_path, npy_path, json_path = bundle_paths(submission)
    written: list[Path] = []
    try:
        written.append(write_submission(csv_path, probabilities.argmax(axis=1), force=force))
        buffer = io.BytesIO()
        np.save(buffer, probabilities, allow_pickle=False)
        written.append(write_bytes(npy_path, buffer.getvalue(), force=force))
        written.append(write_json(json_path, record, force=force))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return csv_path


def base_record(command: str, **fields: Any) -> dict[str, Any]:
    return {"kdigits_version": __version__, "command": command,
            "created": datetime.now().isoformat(timespec="seconds"), **fields}


def file_record(path: str | os.PathLike[str], sha256: str | None = None) -> dict[str, str]:
    """Path and SHA-256; for data files pass ``Digits.sha256`` (the CSV's hash even when
    it came zipped), which is what run folders record too."""
    return {"path": str(path), "sha256": sha256 or file_sha256(path)}


# ---------------------------------------------------------------------------------------
# What to print after writing: class distribution and the local score
# ---------------------------------------------------------------------------------------

def class_distribution(predicted: np.ndarray, train_labels: np.ndarray | None) -> pd.DataFrame:
    """Predicted counts and shares per digit beside the training label distribution.

    A model that has collapsed onto a few classes, or a test file that is not the one it
    was meant for, shows up here as shares far from training's before any upload.
    """
    counts = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=len(CLASSES))
    import pandas as pd  # lazy: the CLI's start-up does not pay for pandas

    table = pd.DataFrame({"predicted": counts, "predicted_share": counts / counts.sum()},
                         index=pd.Index(CLASSES, name="digit"))
    if train_labels is not None:
        train = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=len(CLASSES))
        table["train"] = train
        table["train_share"] = train / train.sum()
    return table


def default_solution(test: str | os.PathLike[str], test_sha256: str) -> Path | None:
    """``solution.csv`` beside the test file, if it belongs to it.

    The built-in data ships one; a folder cut by hand (as the tests do) may too. The trap
    is Kaggle's test.csv copied over the built-in one while the built-in solution.csv
    stays: the same 28,000 rows, a meaningless score. So the built-in solution is used only
    with the built-in test file, and any other solution only with another test file.
    """
    candidate = Path(test).parent / "solution.csv"
    if not candidate.is_file():
        return None
    builtin_test = test_sha256 == BUILTIN_CSV_SHA256["test.csv"]
    builtin_solution = file_sha256(candidate) == BUILTIN_CSV_SHA256["solution.csv"]
    return candidate if builtin_test == builtin_solution else None


def check_solution(solution: str | os.PathLike[str], rows: int) -> None:
    """Read the solution before any training, so a wrong path costs nothing."""
    found = len(read_label_file(solution).labels)
    if found != rows:
        raise KdigitsError(f"{solution} has {found:,} rows but the test file has {rows:,}: "
                           "it is not the solution for this test file")


def label_rows(path: str | os.PathLike[str]) -> int | None:
    """Rows of an ``ImageId,Label`` file, or None if it is not a readable one."""
    try:
        return len(read_label_file(path).labels)
    except KdigitsError:
        return None


def score(labels: np.ndarray, solution: str | os.PathLike[str]) -> ConfusionStats:
    """caret's confusion statistics of a submission's labels against a solution file."""
    reference = read_label_file(solution)
    if len(reference.labels) != len(labels):
        raise KdigitsError(f"{solution} has {len(reference.labels):,} rows but the submission "
                           f"has {len(labels):,}: it is not the solution for this test file")
    return confusion_stats(np.asarray(labels, dtype=np.int64),
                           np.asarray(reference.labels, dtype=np.int64), CLASSES)


def score_record(stats: ConfusionStats, solution: str | os.PathLike[str]) -> dict[str, Any]:
    return {**file_record(solution), "accuracy": stats.accuracy, "kappa": stats.kappa,
            "rows": int(stats.table.sum())}


# ---------------------------------------------------------------------------------------
# Ensembles
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ensemble:
    """An ensemble's labels, with probabilities when every input had them."""

    method: str  # "mean-probabilities" or "majority-vote"
    labels: np.ndarray
    probabilities: np.ndarray | None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)  # share of rows each input matches


def majority_vote(votes: np.ndarray) -> np.ndarray:
    """Most frequent label per row of ``votes`` (files × N); ties go to the earliest file.

    "Earliest" means: among the tied labels, the one named by the first file (in the
    order given) that voted for any of them, so listing the best submission first makes
    it the tie-breaker. ``scipy.stats.mode`` breaks ties by the smallest label instead.
    """
    votes = np.asarray(votes, dtype=np.int64)
    rows = np.arange(votes.shape[1])
    counts = np.zeros((votes.shape[1], len(CLASSES)), dtype=np.int64)
    for file_votes in votes:
        np.add.at(counts, (rows, file_votes), 1)
    is_top = counts == counts.max(axis=1, keepdims=True)
    winner = np.full(votes.shape[1], -1, dtype=np.int64)
    for file_votes in votes:
        pick = (winner < 0) & is_top[rows, file_votes]
        winner[pick] = file_votes[pick]
    return winner


def _load_probabilities(submission: Path, labels: np.ndarray) -> np.ndarray | None:
    path = probs_path(submission)
    if not path.is_file():
        return None
    try:
        probabilities = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise KdigitsError(f"{path}: not a readable .npy array ({error})") from error
    if probabilities.shape != (len(labels), len(CLASSES)):
        raise KdigitsError(f"{path} has shape {probabilities.shape}; expected "
                           f"({len(labels)}, {len(CLASSES)}) to match {submission.name}")
    if not np.isfinite(probabilities).all():
        raise KdigitsError(f"{path} contains NaN or infinite values")
    disagree = int((probabilities.argmax(axis=1) != labels).sum())
    if disagree:
        raise KdigitsError(f"{path} does not belong to {submission.name}: its most likely "
                           f"class differs on {disagree:,} rows")
    return probabilities.astype(np.float32)


def ensemble(submissions: Sequence[str | os.PathLike[str]]) -> Ensemble:
    """Combine submissions for the same test file.

    Averages probabilities when every input has its ``.probs.npy`` beside it (a mixed set
    falls back to voting, since a vote cannot be turned back into probabilities); otherwise
    majority vote with ties going to the earliest file.
    """
    paths = [Path(p) for p in submissions]
    if len(paths) < 2:
        raise KdigitsError("an ensemble needs at least two submissions")
    label_sets = [np.asarray(read_label_file(path).labels, dtype=np.int64) for path in paths]
    rows = {len(labels) for labels in label_sets}
    if len(rows) > 1:
        sizes = ", ".join(f"{p.name}: {len(lab):,}" for p, lab in zip(paths, label_sets,
                                                                        strict=True))
        raise KdigitsError(f"submissions have different row counts ({sizes})")
    probs = [_load_probabilities(path, labels) for path, labels in zip(paths, label_sets,
                                                                         strict=True)]
    inputs = [{**file_record(path), "probabilities": p is not None}
              for path, p in zip(paths, probs, strict=True)]
    if all(p is not None for p in probs):
        mean = np.mean(np.stack(probs), axis=0).astype(np.float32)  # type: ignore[arg-type]
        method, labels, probabilities = "mean-probabilities", mean.argmax(axis=1), mean
    else:
        method, labels, probabilities = "majority-vote", majority_vote(np.stack(label_sets)), None
    agreement = [float((own == labels).mean()) for own in label_sets]
    return Ensemble(method, labels, probabilities, inputs, agreement)


def write_ensemble(result: Ensemble, out: str | os.PathLike[str], record: dict[str, Any], *,
                   force: bool = False) -> Path:
    """A voted ensemble has no probabilities of its own, so it gets one-hot ones: later
    ensembles can still use it, and its argmax is exactly its labels."""
    probabilities = result.probabilities
    if probabilities is None:
        probabilities = np.eye(len(CLASSES), dtype=np.float32)[result.labels]
    return write_bundle(out, probabilities, record, force=force)


# ---------------------------------------------------------------------------------------
# Kaggle upload
# ---------------------------------------------------------------------------------------

CREDENTIALS_HELP = ("no Kaggle credentials: save your API token (kaggle.com → Settings → API "
                    "→ Create New Token) as ~/.kaggle/kaggle.json, or set KAGGLE_USERNAME and "
                    "KAGGLE_KEY")


def expected_rows(test: str | os.PathLike[str] | None) -> int:
    """Rows a submission must have: the local test file's, else Kaggle's 28,000."""
    if test is not None and Path(test).exists():
        return count_data_rows(test)
    return KAGGLE_TEST_ROWS


def check_submission(path: str | os.PathLike[str], rows: int) -> None:
    problems = submission_problems(path, rows)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise KdigitsError(f"{path} is not a valid submission: {problems[0]}{more}")


def upload(path: str | os.PathLike[str], message: str, *, rows: int) -> str:
    """Validate, check credentials, then submit: a bad file never reaches Kaggle."""
    if not Path(path).is_file():
        raise KdigitsError(f"{path}: no such file")
    check_submission(path, rows)
    if not message.strip():
        raise KdigitsError("the submission message (-m) must not be empty")
    require_credentials()
    return kaggle_submit(Path(path), message)


def require_credentials() -> None:
    """Checked before the kaggle package is imported (which prints a page of help and
    exits without them), and by ``submit --upload`` before any training."""
    if kaggle_credentials() is None:
        raise KdigitsError(CREDENTIALS_HELP)


def kaggle_submit(path: Path, message: str) -> str:
    """The only network call of submit/upload: the kaggle package's ``competition_submit``,
    kept this small because it cannot be exercised offline."""
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError as error:
        raise KdigitsError("the kaggle package is not installed: pip install kaggle") from error
    try:
        api = KaggleApi()
        api.authenticate()
        response = api.competition_submit(str(path), message, COMPETITION, quiet=True)
    except SystemExit as error:  # the package exits when it rejects the credentials
        raise KdigitsError(CREDENTIALS_HELP.replace("no Kaggle", "unusable Kaggle")) from error
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise KdigitsError(f"upload to Kaggle failed: {first}") from error
    return str(getattr(response, "message", "") or "submitted")
