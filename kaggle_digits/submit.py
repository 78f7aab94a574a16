"""The end of the Kaggle loop: a model (or a cv run's fold models) → a submission bundle.

A submission is three files that travel together: ``<name>.csv`` (Kaggle's
``ImageId,Label``), ``<name>.probs.npy`` (N×10 float32, so later ensembles can average
probabilities instead of voting) and ``<name>.json`` (config, data SHA-256, the run it came
from, kdigits version, command), so every uploaded file can be traced back to how it was
made. :func:`plan_submit` settles every option and reads every file before any training,
so a mistake costs nothing; :func:`run_submit` trains (or loads), predicts, scores and
writes. The CLI and the Python API both call these two.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_digits import backend
from kaggle_digits.builtin import BUILTIN_CSV_SHA256
from kaggle_digits.constants import CLASSES, DEFAULT_MODEL, N_CLASSES
from kaggle_digits.data import Digits, file_sha256, load_test, load_train
from kaggle_digits.errors import Interrupted, KdigitsError
from kaggle_digits.fileio import refuse_existing, refuse_missing_folder, write_bytes, write_json
from kaggle_digits.interrupts import keeping_ctrl_c, raise_if_pressed
from kaggle_digits.kaggle_api import require_credentials
from kaggle_digits.locations import locations
from kaggle_digits.models import keras_module
from kaggle_digits.params import load_for as load_params_for
from kaggle_digits.predict import Advance, Predictor, average_probabilities, tta_views
from kaggle_digits.runs import (
    MIX_SOURCE,
    MODEL_SOURCE,
    Run,
    check_mix_unchanged,
    check_name,
    load_run,
    mix_record,
    net_it_trained,
    refuse_changed_file,
)
from kaggle_digits.stats import ConfusionStats, confusion_stats
from kaggle_digits.submission_file import read_label_file, write_submission
from kaggle_digits.train import (
    Progress,
    TrainConfig,
    TrainedModel,
    apply_mix,
    config_for,
    fit,
    keep_member,
    kept_members,
    load_kept,
    load_trained,
    member_count,
    parse_mix,
    settle,
)
from kaggle_digits.user_models import get_model, kept_objects, model_file, short_name
from kaggle_digits.version import __version__

if TYPE_CHECKING:
    import pandas as pd

# A progress display for prediction: given the total rows and a title, a context that
# yields the function to call with each chunk's row count.
PredictionProgress = Callable[[int, str], AbstractContextManager[Advance]]


# ---------------------------------------------------------------------------------------
# Models: train on every row, or reuse a cv run's fold models
# ---------------------------------------------------------------------------------------

def training_config(preset: str, overrides: dict[str, Any], run: Run | None = None
                    ) -> TrainConfig:
    """The preset's recipe, or a cv run's exact training config, with the CLI's overrides.

    A refit reuses the run's config as it was recorded (not the preset's current recipe),
    so the full-data model is trained the way the cross-validated one was.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if run is None:
        return config_for(preset, **given)
    try:
        recorded = TrainConfig(**run.config["training"])
    except (KeyError, TypeError) as error:
        raise KdigitsError(f"{run.path}/config.json has no usable training config "
                           f"({error})") from None
    return settle(replace(recorded, **given))


def train_full(config: TrainConfig, pixels: np.ndarray, labels: np.ndarray, *,
               progress: Progress | None = None, jobs: int = 1,
               keep: Path | None = None) -> Predictor:
    """Train once on every training row (no fold held out: this model is the product);
    with ``jobs`` > 1 the seeded members train at once in worker processes. With ``keep``
    (`partial_folder`), several nets are kept there as each finishes (`fit_kept`)."""
    if member_count(config) == 1:
        return fit(config.preset, pixels, labels, config, progress=progress).predict_proba
    if keep is not None:
        return fit_kept(config, pixels, labels, keep, jobs=jobs, progress=progress).predict_proba
    with tempfile.TemporaryDirectory(prefix="kdigits-members-") as scratch:  # kept until done
        return fit_kept(config, pixels, labels, Path(scratch), jobs=jobs,
                        progress=progress).predict_proba


def fit_kept(config: TrainConfig, pixels: np.ndarray, labels: np.ndarray, folder: Path, *,
             jobs: int = 1, progress: Progress | None = None) -> TrainedModel:
    """A config's seeded members, each saved in ``folder`` as it finishes; those already
    there are loaded, not trained again. A full-data fit of several nets (`best`'s five, 42
    minutes on 2 cores) that Ctrl-C or a crash stops keeps its finished nets, and the same
    command goes on from them. Each member trains exactly as among the others
    (`fit(member=…)`), so the result is the uninterrupted fit's."""
    kept, missing = kept_members(config, folder)
    if jobs > 1 and missing:
        from kaggle_digits.parallel import fit_members_in_workers

        return fit_members_in_workers(config, pixels, labels, jobs=jobs, progress=progress,
                                      folder=folder)
    trained = {}
    with keeping_ctrl_c():  # also between nets, where no fit is listening
        for member in missing:
            trained[member] = fit(config.preset, pixels, labels, config, member=member,
                                  progress=progress)
            keep_member(folder, member, trained[member])
            raise_if_pressed()
    earlier = load_kept(config, folder, kept)  # the nets trained here predict from memory
    return TrainedModel(config.preset, [
        earlier.members[kept.index(m)] if m in kept else trained[m].members[0]
        for m in range(1, member_count(config) + 1)], config=config)


def partial_folder(out: Path, config: TrainConfig, record: dict[str, Any]) -> Path:
    """Where a submission that trains several nets keeps each as it finishes, until its
    files are written: beside them, named by everything that decides the nets (settings,
    train file, the nets' weight counts and model files, backend, its versions, device and
    threads), so the same command (whatever its --out in that folder) finds them after
    Ctrl-C, and another, or the same after an edit or an upgrade, does not."""
    preset = get_model(config.preset)
    decides = {"training": config.to_json(), "train_sha256": record["train"]["sha256"],
               "jobs": record["jobs"], "backend": record["backend"], "device": record["device"],
               "versions": backend.versions(), "kdigits": __version__,
               "parameters": preset.parameters(**config.model_options), **mix_record(config),
               "files": {key: record[key]["sha256"] for key in ("model_file", "mix_model_file")
                         if key in record}}
    key = hashlib.sha256(json.dumps(decides, sort_keys=True, default=str).encode()).hexdigest()
    return out.parent / f".kdigits-partial-{key[:12]}"


def run_models(run: Run) -> list[Predictor]:
    """Load a cross-validation run's finished fold models, ready to average. What the
    user's model file defines comes from the run's copy of it, the text that trained them."""
    paths = run.model_paths
    if not paths:
        raise KdigitsError(f"{run.path} has no finished fold models to predict with")
    custom: dict[str, Any] = {}
    for key, copy in (("mix_model_file", MIX_SOURCE), ("model_file", MODEL_SOURCE)):
        if (run.path / copy).is_file():  # the main model's names win
            custom.update(kept_objects(run.path / copy, (run.config.get(key) or {}).get("path")))
    return [load_trained(path, custom or None).predict_proba for path in paths]


# ---------------------------------------------------------------------------------------
# Submission files: <name>.csv, <name>.probs.npy, <name>.json
# ---------------------------------------------------------------------------------------

def probs_path(submission: str | os.PathLike[str]) -> Path:
    return Path(submission).with_suffix(".probs.npy")


def record_path(submission: str | os.PathLike[str]) -> Path:
    return Path(submission).with_suffix(".json")


def bundle_paths(submission: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    return Path(submission), probs_path(submission), record_path(submission)


def default_output(model: str, now: datetime | None = None) -> Path:
    """``submissions/submission-<model>-<time>.csv``, or in a Kaggle notebook
    ``/kaggle/working/submission.csv`` (see :mod:`kaggle_digits.locations`)."""
    return locations().submission(model, now)


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
    if probabilities.ndim != 2 or probabilities.shape[1] != N_CLASSES:
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




def read_record(submission: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``<name>.json`` written beside a submission, or None if there is none (a file
    made elsewhere) or it is unreadable."""
    try:
        record = json.loads(record_path(submission).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


# ---------------------------------------------------------------------------------------
# What to print after writing: class distribution and the local score
# ---------------------------------------------------------------------------------------

def class_distribution(predicted: np.ndarray, train_labels: np.ndarray | None) -> pd.DataFrame:
    """Predicted counts and shares per digit beside the training label distribution.

    A model that has collapsed onto a few classes, or a test file that is not the one it
    was meant for, shows up here as shares far from training's before any upload.
    """
    counts = np.bincount(np.asarray(predicted, dtype=np.int64), minlength=N_CLASSES)
    import pandas as pd  # lazy: the CLI's start-up does not pay for pandas

    table = pd.DataFrame({"predicted": counts, "predicted_share": counts / counts.sum()},
                         index=pd.Index(CLASSES, name="digit"))
    if train_labels is not None:
        train = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=N_CLASSES)
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
# The workflow: plan (every check, no training) → run (train or load, predict, write)
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmitConfig:
    """What ``kdigits submit`` was asked to do; recorded in the submission's JSON."""

    model: str | None = None  # a preset; None with run, else the default model
    run: Path | None = None  # a cv run folder whose fold models are averaged
    refit: bool = False  # with run: train once on all rows with the run's config instead
    train: Path | None = None  # default: data/train.csv, or the Kaggle notebook's
    test: Path | None = None  # default: data/test.csv, or the Kaggle notebook's
    out: Path | None = None  # default: submissions/submission-<model>-<timestamp>.csv
    force: bool = False
    seed: int | None = None
    epochs: int | None = None
    members: int | None = None  # seeded models averaged (the preset's recipe says)
    mix: str | None = None  # ``--mix PRESET:N`` or "none" (`train.parse_mix`)
    early_stopping: int | None = None  # patience in epochs, on 10% carved from train.csv
    precision: str | None = None  # "float32" or "bfloat16" (mixed precision)
    label_smoothing: float | None = None  # None: the recipe's (Keras' label_smoothing)
    jobs: int = 1  # seeded members trained at once, in worker processes
    model_options: dict | None = None  # layer options (``--option NAME=VALUE``)
    tta: bool | None = None  # test-time augmentation; None: the recipe's (or the cv run's)
    solution: Path | None = None  # default: solution.csv beside test, if it belongs to it
    upload: bool = False
    message: str | None = None
    params: Path | None = None  # a `kdigits tune` best.json: model, recipe, layer options
    name: str | None = None  # the user's label (``--name``), in the default file name


@dataclass
class SubmitPlan:
    """A submission ready to make: options settled, data read, nothing trained yet."""

    config: SubmitConfig
    name: str  # the model's name (a preset, or the cv run's model)
    out: Path
    train_path: Path
    test_path: Path
    train: Digits
    test: Digits
    cv_run: Run | None
    training: TrainConfig | None  # None when the run's fold models are reused
    solution: Path | None
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)  # worth telling the user before training
    partial: Path | None = None  # where several nets are kept as they finish (`partial_folder`)

    @property
    def trains(self) -> bool:
        return self.training is not None


@dataclass
class SubmitResult:
    path: Path
    labels: np.ndarray
    probabilities: np.ndarray
    distribution: pd.DataFrame
    score: ConfusionStats | None
    solution: Path | None
    record: dict[str, Any]


def plan_submit(config: SubmitConfig, *, command: str = "") -> SubmitPlan:
    """Check every option and read every input before any training, so a mistake (a
    clash of options, an existing output, a wrong solution file, missing credentials for
    ``upload``) costs seconds, not a training run."""
    check_name(config.name)
    if config.run is None and config.refit:
        raise KdigitsError("--refit only applies with --run RUN")
    if config.run is not None and config.model is not None:
        raise KdigitsError("give either --model or --run, not both")
    if config.run is not None and config.params is not None:
        raise KdigitsError("give either --params or --run, not both")
    tuned = load_params_for(config.params, config.model)
    if tuned is not None:
        config = replace(config, model=tuned.model)
    if (config.run is not None and not config.refit
            and (config.epochs, config.seed, config.members, config.mix,
                 config.early_stopping, config.precision, config.label_smoothing,
                 config.model_options) != (None,) * 8):
        raise KdigitsError("--epochs, --seed, --members, --mix, --early-stopping, --precision, "
                           "--label-smoothing and --option only apply when training "
                           "(--model, or --run with --refit)")
    if config.jobs < 1:
        raise KdigitsError(f"--jobs must be 1 or more, not {config.jobs}")
    if config.run is not None and not config.refit and config.jobs > 1:
        raise KdigitsError("--jobs trains members at once; with --run (no --refit) nothing "
                           "is trained")
    if config.upload:
        if not config.message:
            raise KdigitsError("--upload needs a message: -m 'what this submission is'")
        require_credentials()  # before training, not after
    elif config.message is not None:  # it would be silently ignored
        raise KdigitsError("-m/--message is the upload message: add --upload, or drop -m")
    if config.out is not None:
        refuse_missing_folder(config.out, "--out")

    cv_run = load_run(config.run) if config.run is not None else None
    name = cv_run.model if cv_run is not None else (config.model or DEFAULT_MODEL)
    training = None
    if cv_run is None or config.refit:
        given = {"seed": config.seed, "epochs": config.epochs, "members": config.members,
                 "early_stopping": config.early_stopping, "precision": config.precision,
                 "label_smoothing": config.label_smoothing}
        tuned_overrides = tuned.overrides() if tuned is not None else {}
        if config.model_options:  # on top of the params file's (or the run's), one by one
            recorded = ((cv_run.config.get("training") or {}).get("model_options") or {}
                        if cv_run is not None else tuned_overrides.get("model_options", {}))
            given["model_options"] = {**recorded, **config.model_options}
        training = training_config(name, {**tuned_overrides, **given}, cv_run)
        if config.mix is not None:  # on top of the run's, the params file's or the recipe's
            training = apply_mix(training, parse_mix(config.mix))
        if cv_run is not None and cv_run.config.get("model_file"):
            refuse_changed_file(cv_run, model_file(name), cv_run.config["model_file"],
                                MODEL_SOURCE)
        elif cv_run is not None and not config.model_options:
            training = net_it_trained(cv_run, training, "the refit")
        if cv_run is not None and config.mix is None:
            check_mix_unchanged(cv_run, training, "the refit")
        if config.jobs > 1 and member_count(training) == 1:
            raise KdigitsError(f"--jobs trains seeded members at once, and {name} trains "
                               "one; drop --jobs or add --members N")
    if config.tta is None:  # as the recipe (or the run's fold models) predicted in cv
        recorded = (cv_run.config.get("training") or {}) if cv_run is not None else {}
        tta = training.tta if training is not None else bool(recorded.get("tta", False))
        config = replace(config, tta=tta)
    source = "" if cv_run is None else f"-{'refit' if config.refit else 'folds'}"
    label = short_name(name) + source + (f"-{config.name}" if config.name else "")
    out = config.out or default_output(label)
    refuse_bundle(out, config.force)

    where = locations()
    train_path, test_path = config.train or where.train, config.test or where.test
    train = load_train(train_path)
    test = load_test(test_path)
    solution = config.solution or default_solution(test_path, test.sha256)
    if solution is not None:
        check_solution(solution, len(test))
    record = base_record(command, model=name, name=config.name,
                         run=str(cv_run.path) if cv_run else None,
                         refit=config.refit, tta=config.tta, jobs=config.jobs,
                         params=str(config.params) if config.params else None,
                         train=file_record(train_path, train.sha256),
                         test=file_record(test_path, test.sha256))
    if training is not None:  # trains now, from today's files
        keras = get_model(name).is_keras
        trains = training.to_json()
    else:  # the cv run's fold models predict, trained as it recorded: its file may be gone
        assert cv_run is not None
        keras = cv_run.config.get("kind") != "sklearn"
        trains = cv_run.config.get("training") or {}
    if keras:
        keras_module()  # quietly, before the backend's library is asked for its device
    record.update(backend.record(keras))
    record.update(_model_file_records(name, trains, cv_run if training is None else None))
    notes, partial = [], None
    if training is not None and keras and member_count(training) > 1:
        partial = partial_folder(out, training, record)
        kept = kept_members(training, partial)[0]
        if kept:
            notes.append(f"going on from {len(kept)} of {member_count(training)} nets that an "
                         f"interrupted submit kept in {partial}")
            record["kept_members"] = {"folder": str(partial), "members": kept}
    if cv_run is not None and training is not None:
        recorded_sha = (cv_run.config.get("data") or {}).get("train_sha256")
        if recorded_sha not in (None, train.sha256):
            notes.append(f"{train_path} is not the train file {cv_run.path} was "
                         "cross-validated on (SHA-256 differs)")
    return SubmitPlan(config, name, out, train_path, test_path, train, test, cv_run, training,
                      solution, record, notes, partial)


def _model_file_records(name: str, trains: dict[str, Any], run: Run | None) -> dict:
    """The user's model file (and one mixed in) as the submission's record keeps it: which
    file, its hash and its text. A submission from a run's fold models records the files
    the run kept, which trained them, whatever has become of the originals since."""
    if run is not None:
        kept = {}
        for key, copy in (("model_file", MODEL_SOURCE), ("mix_model_file", MIX_SOURCE)):
            if run.config.get(key):
                kept[key] = {k: v for k, v in run.config[key].items() if k != "copy"}
                if (run.path / copy).is_file():
                    kept[key]["source"] = (run.path / copy).read_text(encoding="utf-8",
                                                                      errors="replace")
        return kept
    mixed = str(trains["mix_with"]) if trains.get("mix_members") else None
    found = {"model_file": model_file(name), "mix_model_file": model_file(mixed) if mixed else None}
    return {key: {**file.to_json(), "source": file.source}
            for key, file in found.items() if file is not None}


def plan_models(plan: SubmitPlan, progress: Progress | None = None) -> list[Predictor]:
    """Train the full-data model, or load the cv run's fold models."""
    if plan.training is not None:
        plan.record["config"] = plan.training.to_json()
        try:
            return [train_full(plan.training, plan.train.pixels, plan.train.labels,  # type: ignore[arg-type]
                               progress=progress, jobs=plan.config.jobs, keep=plan.partial)]
        except KeyboardInterrupt:
            raise Interrupted(_nothing_written(
                plan, f"training {plan.name} on all {len(plan.train):,} rows")) from None
    assert plan.cv_run is not None
    plan.record.update(config=plan.cv_run.config.get("training"),
                       fold_models=[str(p) for p in plan.cv_run.model_paths])
    return run_models(plan.cv_run)


def run_submit(plan: SubmitPlan, models: list[Predictor], *,
               prediction_progress: PredictionProgress | None = None) -> SubmitResult:
    """Predict the test file with ``models``, score it when a solution is known, and write
    the bundle atomically (nothing is written if anything fails before)."""
    tta = plan.config.tta
    how = [f"{len(models)} models"] if len(models) > 1 else []
    how += [f"{len(tta_views(True))} TTA views"] if tta else []
    title = f"Predicting {plan.test_path.name}" + (f" ({' × '.join(how)})" if how else "")
    bar = (prediction_progress(len(plan.test), title) if prediction_progress is not None
           else nullcontext(None))
    try:
        with bar as advance:
            probabilities = average_probabilities(models, plan.test.pixels, tta=tta,
                                                  advance=advance)
    except KeyboardInterrupt:
        raise Interrupted(_nothing_written(plan, f"predicting {plan.test_path}")) from None
    labels = probabilities.argmax(axis=1)
    stats = None
    if plan.solution is not None:
        stats = score(labels, plan.solution)
        plan.record["score"] = score_record(stats, plan.solution)
    try:
        path = write_bundle(plan.out, probabilities, plan.record, force=plan.config.force)
    except KeyboardInterrupt:  # write_bundle has removed what it had written
        raise Interrupted(_nothing_written(plan, f"writing {plan.out}")) from None
    if plan.partial is not None:  # its nets are in the written submission now
        shutil.rmtree(plan.partial, ignore_errors=True)
    return SubmitResult(path, labels, probabilities,
                        class_distribution(labels, plan.train.labels), stats, plan.solution,
                        plan.record)


def _nothing_written(plan: SubmitPlan, doing: str) -> str:
    """Ctrl-C's one line: what was stopped, and that no file was made (the bundle is
    written last, all or nothing), so the same command can simply be run again."""
    as_it_was = f" ({plan.out} is as it was)" if plan.out.exists() else ""
    nets = ([] if plan.partial is None or plan.training is None
            else kept_members(plan.training, plan.partial)[0])
    if nets:  # no submission, but its finished nets are not lost
        return (f"interrupted while {doing}: no submission was written{as_it_was}; "
                f"{len(nets)} of {member_count(plan.training)} nets kept in {plan.partial}, "  # type: ignore[arg-type]
                "and the same command goes on from them")
    return f"interrupted while {doing}: nothing was written{as_it_was}"
