"""Ensembles of finished submissions: mean of saved probabilities, else a majority vote.

Works on submission files alone (``<name>.csv`` and, when present, ``<name>.probs.npy``),
so submissions made on other machines or by other tools can be combined too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_digits.constants import N_CLASSES
from kaggle_digits.data import file_sha256
from kaggle_digits.errors import KdigitsError
from kaggle_digits.fileio import refuse_missing_folder
from kaggle_digits.locations import locations
from kaggle_digits.stats import ConfusionStats
from kaggle_digits.submission_file import read_label_file
from kaggle_digits.submit import (
    base_record,
    class_distribution,
    default_output,
    default_solution,
    file_record,
    label_rows,
    probs_path,
    read_record,
    refuse_bundle,
    score,
    score_record,
    write_bundle,
)

if TYPE_CHECKING:
    import pandas as pd

@dataclass(frozen=True)
class Ensemble:
    """An ensemble's labels, with probabilities when every input had them."""

    method: str  # "mean-probabilities" or "majority-vote"
    labels: np.ndarray
    probabilities: np.ndarray | None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)  # share of rows each input matches
    weights: list[float] = field(default_factory=list)  # each input's say, summing to 1


def majority_vote(votes: np.ndarray, weights: Sequence[float] | None = None) -> np.ndarray:
    """Most voted label per row of ``votes`` (files × N), each file's vote counting its
    weight (1 each by default); ties go to the earliest file.

    "Earliest" means: among the tied labels, the one named by the first file (in the
    order given) that voted for any of them, so listing the best submission first makes
    it the tie-breaker. ``scipy.stats.mode`` breaks ties by the smallest label instead.
    """
    votes = np.asarray(votes, dtype=np.int64)
    say = np.ones(len(votes)) if weights is None else np.asarray(weights, dtype=np.float64)
    rows = np.arange(votes.shape[1])
    counts = np.zeros((votes.shape[1], N_CLASSES))
    for file_votes, file_say in zip(votes, say, strict=True):
        np.add.at(counts, (rows, file_votes), file_say)
    is_top = counts >= counts.max(axis=1, keepdims=True) - 1e-9  # float sums of weights
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
    if probabilities.shape != (len(labels), N_CLASSES):
        raise KdigitsError(f"{path} has shape {probabilities.shape}; expected "
                           f"({len(labels)}, {N_CLASSES}) to match {submission.name}")
    if not np.isfinite(probabilities).all():
        raise KdigitsError(f"{path} contains NaN or infinite values")
    disagree = int((probabilities.argmax(axis=1) != labels).sum())
    if disagree:
        raise KdigitsError(f"{path} does not belong to {submission.name}: its most likely "
                           f"class differs on {disagree:,} rows")
    return probabilities.astype(np.float32)


def recorded_members(submission: str | os.PathLike[str]) -> int:
    """How many trained models a submission averages, from the record beside it: what
    ``--weights members`` weighs it by, so that a 1-member file mixed with a 2-member one
    gives each of the three models the same say, as one run training all three would."""
    record = read_record(submission) or {}
    trained = record.get("config") or {}
    members = record.get("members", trained.get("members"))
    if "members" not in record and trained.get("mix_members") and isinstance(members, int):
        # each mixed-in group weighs as one member in the file's own mean
        members += len(trained.get("mix_variants") or [{}])
    folds = record.get("fold_models")  # `submit --run`: every fold's members are averaged
    if "members" not in record and isinstance(folds, list) and isinstance(members, int):
        members *= len(folds)
    if not isinstance(members, int) or isinstance(members, bool) or members < 1:
        raise KdigitsError(f"{submission}: its record does not say how many models it "
                           "averages (a kdigits submit or ensemble .json beside it); "
                           "give --weights as numbers instead")
    return members


def parse_weights(text: str, submissions: Sequence[str | os.PathLike[str]]) -> list[float]:
    """``--weights``: one number per submission ("1,2"), or "members" (each file's model
    count, :func:`recorded_members`)."""
    if text.strip().lower() == "members":
        return [float(recorded_members(path)) for path in submissions]
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError:
        raise KdigitsError(f"--weights {text!r}: give one number per submission, "
                           "comma-separated (e.g. 1,2), or 'members'") from None
    return check_weights(weights, len(submissions))


def check_weights(weights: Sequence[float], files: int) -> list[float]:
    if len(weights) != files:
        raise KdigitsError(f"{len(weights)} weight{'' if len(weights) == 1 else 's'} for "
                           f"{files} submissions: give one per submission")
    if not all(np.isfinite(w) and w > 0 for w in weights):
        raise KdigitsError(f"weights must be positive numbers, not {list(weights)}")
    return [float(w) for w in weights]


def ensemble(submissions: Sequence[str | os.PathLike[str]],
             weights: Sequence[float] | None = None) -> Ensemble:
    """Combine submissions for the same test file.

    Averages probabilities when every input has its ``.probs.npy`` beside it (a mixed set
    falls back to voting, since a vote cannot be turned back into probabilities); otherwise
    majority vote with ties going to the earliest file. ``weights`` (one positive number
    per input, equal by default) make it a weighted mean or a weighted vote.
    """
    paths = [Path(p) for p in submissions]
    if len(paths) < 2:
        raise KdigitsError("an ensemble needs at least two submissions")
    say = np.asarray(check_weights(weights, len(paths)) if weights is not None
                     else [1.0] * len(paths))
    say = say / say.sum()
    label_sets = [np.asarray(read_label_file(path).labels, dtype=np.int64) for path in paths]
    rows = {len(labels) for labels in label_sets}
    if len(rows) > 1:
        sizes = ", ".join(f"{p.name}: {len(lab):,}" for p, lab in zip(paths, label_sets,
                                                                        strict=True))
        raise KdigitsError(f"submissions have different row counts ({sizes})")
    probs = [_load_probabilities(path, labels) for path, labels in zip(paths, label_sets,
                                                                         strict=True)]
    inputs = [{**file_record(path), "probabilities": p is not None, "weight": float(w)}
              for path, p, w in zip(paths, probs, say, strict=True)]
    if all(p is not None for p in probs):
        mean = np.average(np.stack(probs), axis=0,  # type: ignore[arg-type]
                          weights=say).astype(np.float32)
        method, labels, probabilities = "mean-probabilities", mean.argmax(axis=1), mean
    else:
        method, labels, probabilities = ("majority-vote",
                                         majority_vote(np.stack(label_sets), say), None)
    agreement = [float((own == labels).mean()) for own in label_sets]
    return Ensemble(method, labels, probabilities, inputs, agreement, say.tolist())


def write_ensemble(result: Ensemble, out: str | os.PathLike[str], record: dict[str, Any], *,
                   force: bool = False) -> Path:
    """A voted ensemble has no probabilities of its own, so it gets one-hot ones: later
    ensembles can still use it, and its argmax is exactly its labels."""
    probabilities = result.probabilities
    if probabilities is None:
        probabilities = np.eye(N_CLASSES, dtype=np.float32)[result.labels]
    return write_bundle(out, probabilities, record, force=force)


def recorded_test(submissions: Sequence[str | os.PathLike[str]]) -> tuple[Path, str] | None:
    """The test file (path, SHA-256) every input's record names, or None if any input has
    no record or two inputs name different test files: an ensemble is scored only when it
    is known which test file its rows are."""
    tests = set()
    for submission in submissions:
        test = (read_record(submission) or {}).get("test") or {}
        if not test.get("path") or not test.get("sha256"):
            return None
        tests.add((test["path"], test["sha256"]))
    if len({sha for _, sha in tests}) != 1:
        return None
    path, sha = sorted(tests)[0]
    return Path(path), sha


def ensemble_solution(submissions: Sequence[str | os.PathLike[str]], rows: int, *,
                      test: str | os.PathLike[str] | None = None) -> Path | None:
    """The solution to score an ensemble against, by the same pairing rule as ``submit``
    (:func:`kaggle_digits.submit.default_solution`): the test file is the one the inputs'
    records name, else ``test``; its solution.csv is used only if it belongs to it and has
    as many rows. Kaggle's own test.csv therefore never meets the built-in answers."""
    named = recorded_test(submissions)
    test = test if test is not None else locations().test
    if named is None:
        if not Path(test).is_file():
            return None
        named = Path(test), file_sha256(test)
    found = default_solution(*named)
    return found if found is not None and label_rows(found) == rows else None


def _total_members(submissions: Sequence[str | os.PathLike[str]]) -> int | None:
    try:
        return sum(recorded_members(path) for path in submissions)
    except KdigitsError:
        return None


@dataclass
class EnsembleSubmission:
    ensemble: Ensemble
    path: Path
    score: ConfusionStats | None
    solution: Path | None
    distribution: pd.DataFrame


def make_ensemble(submissions: Sequence[str | os.PathLike[str]], *,
                  out: str | os.PathLike[str] | None = None, force: bool = False,
                  solution: str | os.PathLike[str] | None = None,
                  test: str | os.PathLike[str] | None = None,
                  weights: Sequence[float] | str | None = None,
                  command: str = "") -> EnsembleSubmission:
    """Combine, score (when the solution is known) and write an ensemble bundle.
    ``weights``: numbers, one per input, or "members" (:func:`parse_weights`)."""
    if out is not None:
        refuse_missing_folder(out, "--out")
    target = Path(out) if out is not None else default_output("ensemble")
    refuse_bundle(target, force)
    if isinstance(weights, str):
        weights = parse_weights(weights, submissions)
    result = ensemble(submissions, weights)
    answers = (Path(solution) if solution is not None
               else ensemble_solution(submissions, len(result.labels), test=test))
    stats = score(result.labels, answers) if answers is not None else None
    record = base_record(command, method=result.method, inputs=result.inputs,
                         agreement=result.agreement)
    members = _total_members(submissions)
    if members is not None:
        record["members"] = members  # so that this file can be weighed by members in turn
    if stats is not None:
        record["score"] = score_record(stats, answers)  # type: ignore[arg-type]
    path = write_ensemble(result, target, record, force=force)
    return EnsembleSubmission(result, path, stats, answers,
                              class_distribution(result.labels, None))
