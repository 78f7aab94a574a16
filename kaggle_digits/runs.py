"""Run folders: cross-validation that keeps every finished fold, and the files it leaves.

A run is ``runs/<YYYYmmdd-HHMMSS>-<model>[-<name>][-k]/``, where ``name`` is the user's
``--name`` label (unique under its runs folder, so that it can stand for the run).
config.json is written first (so a run can always be resumed), each fold is saved
completely the moment it finishes — model, then its predictions, then
``folds/fold-<k>.json`` last as the "done" marker — and the pooled files (oof.csv,
holdout.csv, history.csv, metrics.json, curves.png) are derived from the fold files at the
end (with ``--jobs``, a fold's seeded members may train in separate workers: each is
kept in ``members/`` until the fold's last one is in, then averaged into the fold's
files). Ctrl-C therefore loses at most the fold (or member) in progress, and ``--resume``
trains only what is missing: each fold is seeded with ``seed + fold``, so a resumed run
ends with the same numbers as one that was never interrupted.

The holdout is predicted by the fold ensemble (the mean of the fold models' probabilities):
no model ever trains on it, and no extra model has to be trained for it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import math
import os
import platform
import re
import signal
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_digits import backend
from kaggle_digits.constants import CLASSES, DEFAULT_MODEL, N_CLASSES, PROB_COLUMNS
from kaggle_digits.errors import Interrupted, KdigitsError
from kaggle_digits.fileio import (
    atomic_output,
    refuse_file_as_folder,
    write_bytes,
    write_json,
    write_text,
)
from kaggle_digits.locations import locations
from kaggle_digits.models import options_building
from kaggle_digits.parallel import Event, run_in_workers, threads_per_job
from kaggle_digits.params import NO_SMOOTHING, Params
from kaggle_digits.params import load_for as load_params_for
from kaggle_digits.splits import HOLDOUT_FOLD, Split, SplitConfig, make_split
from kaggle_digits.stats import ConfusionStats, confusion_stats
from kaggle_digits.train import (
    Progress,
    TrainConfig,
    TrainedModel,
    apply_mix,
    config_for,
    fit,
    load_trained,
    mean_of_members,
    measure,
    member_count,
    mix_config,
    mix_groups,
    parse_mix,
    saved_apart_objects,
)
from kaggle_digits.user_models import ModelFile, get_model, model_file, short_name
from kaggle_digits.version import __version__

if TYPE_CHECKING:
    import pandas as pd

HOLDOUT_MODEL = ("fold ensemble: the holdout is predicted by the mean of the fold models' "
                 "probabilities; no model is trained on it")
PREDICTION_COLUMNS = ["row", "fold", "label", "prediction", *PROB_COLUMNS]
MODEL_SOURCE = "model_source.py"  # a copy of the user's model file, for the record
MIX_SOURCE = "mix_source.py"  # the same for a user's model mixed in (`--mix FILE.py:F:N`)
HISTORY_COLUMNS = ["fold", "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds",
                   "member"]


@dataclass
class Run:
    """A run folder as read back: metrics is None until the run has finished."""

    path: Path
    config: dict
    metrics: dict | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> str:
        return str(self.config.get("model", "?"))

    @property
    def label(self) -> str | None:
        """The user's ``--name`` for the run, if it was given one."""
        name = self.config.get("name")
        return name if isinstance(name, str) and name else None

    @property
    def finished(self) -> bool:
        return self.metrics is not None

    @property
    def model_paths(self) -> list[Path]:
        """Saved fold models in fold order (only folds that finished)."""
        done = {record["fold"] for record in finished_folds(self.path)}
        paths = [p for p in (self.path / "models").glob("fold-*.*")
                 if p.suffix in (".keras", ".joblib") and _fold_number(p) in done]
        return sorted(paths, key=_fold_number)


def _fold_number(path: Path) -> int:
    return int(path.stem.split("-", 1)[1])


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise KdigitsError(f"{path}: cannot read ({error})") from None


def net_it_trained(run: Run, training: TrainConfig, what: str) -> TrainConfig:
    """``training`` (the run's recorded config) set to build the net the run recorded, when
    a preset's default net has changed since: with the layer options that rebuild the
    earlier one, or a refusal naming ``what`` would otherwise train another net."""
    recorded = run.config.get("parameters")
    if recorded is None:  # runs before kdigits recorded weight counts
        return training
    now = get_model(training.preset).parameters(**training.model_options)
    if now is None or now == recorded:
        return training
    earlier = options_building(training.preset, recorded)
    if earlier is not None and not training.model_options:
        return replace(training, model_options=earlier)
    raise KdigitsError(f"{training.preset} has changed since {run.path} started ({recorded:,} "
                       f"weights then, {now:,} now), so {what} would train another net; "
                       "start a new run")


MIX_RECIPE = ("optimizer", "learning_rate", "epochs", "batch_size", "schedule",
              "validation_split", "label_smoothing",
              "model_options")  # the mixed-in preset's own, not the run's


def _mix_recipe(training: TrainConfig) -> dict[str, Any]:
    mixed = mix_config(training)
    assert mixed is not None  # only asked of a config with a mix
    recipe = mixed.to_json()
    return {key: recipe[key] for key in MIX_RECIPE}


def mix_record(training: TrainConfig) -> dict[str, Any]:
    """What tells, later, whether the mixed-in nets are still the ones a run trained: their
    weight count, their preset's recipe (the run's config keeps only its name) and, for a
    user's model, its file (`MIX_SOURCE` holds the text)."""
    if not training.mix_members:
        return {}
    mixed = str(training.mix_with)
    record: dict[str, Any] = {"mix_parameters": get_model(mixed).parameters(),
                              "mix_recipe": _mix_recipe(training)}
    user_file = model_file(mixed)
    if user_file is not None:
        record["mix_model_file"] = {**user_file.to_json(), "copy": MIX_SOURCE}
    return record


def refuse_changed_file(run: Run, current: ModelFile | None, recorded: dict | None,
                        copy: str, role: str = "") -> None:
    """A user's model file (the main one, or ``role`` ", mixed in,") edited since the run
    recorded it: going on would train another net than the run's first folds did."""
    if recorded and current is not None and current.sha256 != recorded.get("sha256"):
        raise KdigitsError(f"{current.path}{role} has changed since {run.path} started "
                           f"(SHA-256 differs); its text then is in {run.path / copy}")


def check_mix_unchanged(run: Run, training: TrainConfig, what: str) -> None:
    """Refuse to go on mixing in other nets than the run's: ``what`` (its remaining folds,
    a refit) would otherwise average nets that no fold was scored with. Runs from before
    kdigits recorded the mixed-in nets pass unchecked."""
    recorded = {key: run.config[key] for key in ("mix_parameters", "mix_recipe",
                                                  "mix_model_file") if key in run.config}
    if not training.mix_members or not recorded:
        return
    mixed = str(training.mix_with)
    try:
        current_file, now = model_file(mixed), get_model(mixed).parameters()
    except KdigitsError as error:
        kept = (f"; its text then is in {run.path / MIX_SOURCE}"
                if "mix_model_file" in recorded else "")
        raise KdigitsError(f"the model {run.path} mixes in cannot be built now ({error}){kept}"
                           ) from None
    refuse_changed_file(run, current_file, recorded.get("mix_model_file"), MIX_SOURCE,
                        ", mixed in,")
    if recorded.get("mix_parameters") not in (None, now):
        raise KdigitsError(f"{mixed}, mixed in, has changed since {run.path} started "
                           f"({recorded['mix_parameters']:,} weights then, {now:,} now), so "
                           f"{what} would mix in another net; start a new run")
    if recorded.get("mix_recipe") is None:
        return
    then = {**NO_SMOOTHING, **recorded["mix_recipe"]}  # runs from before smoothed none
    current = _mix_recipe(training)
    if then != current:
        changed = ", ".join(f"{key} {then.get(key)} then, {current[key]} now"
                            for key in MIX_RECIPE if then.get(key) != current[key])
        raise KdigitsError(f"{mixed}'s recipe, mixed in, has changed since {run.path} started "
                           f"({changed}), so {what} would mix in nets trained another way; "
                           "start a new run")


def load_run(path: str | os.PathLike[str]) -> Run:
    """A run folder, given by its path or by its ``--name`` (or folder name) under runs/."""
    path = run_folder(path)
    if not (path / "config.json").is_file():
        raise KdigitsError(f"{path} is not a kdigits run folder (no config.json)")
    metrics = path / "metrics.json"
    return Run(path, _read_json(path / "config.json"),
               _read_json(metrics) if metrics.is_file() else None)


def list_runs(root: str | os.PathLike[str] = "runs") -> list[Run]:
    """Every readable run under ``root``, oldest first (folder names start with the time)."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for folder in sorted(p for p in root.iterdir() if (p / "config.json").is_file()):
        with contextlib.suppress(KdigitsError):
            runs.append(load_run(folder))
    return runs


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


def check_name(name: str | None, root: str | os.PathLike[str] | None = None) -> None:
    """Refuse a ``--name`` that is unsafe in a folder name or shell, or that a run under
    ``root`` already has: the name is how the user refers to the run later."""
    if name is None:
        return
    if not NAME_PATTERN.fullmatch(name):
        raise KdigitsError(f"--name {name!r}: use up to 40 letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit")
    if root is not None:
        taken = next((run for run in list_runs(root) if run.label == name), None)
        if taken is not None:
            raise KdigitsError(f"a run named {name!r} already exists ({taken.path}); "
                               "choose another --name")


def run_folder(entry: str | os.PathLike[str],
               root: str | os.PathLike[str] | None = None) -> Path:
    """The folder ``entry`` stands for: itself if it is a run folder, else the run under
    ``root`` (default: runs/) whose ``--name`` or folder name it is; else ``entry`` as given,
    for the caller to refuse. Only a bare name is looked up, never a path."""
    path = Path(entry)
    text = str(entry)
    if (path / "config.json").is_file() or not text or path.name != text:
        return path
    folder = Path(root) if root is not None else locations().runs
    if (folder / text / "config.json").is_file():
        return folder / text
    matches = [run.path for run in list_runs(folder) if run.label == text]
    if len(matches) > 1:
        raise KdigitsError(f"{len(matches)} runs under {folder} are named {text!r}: give "
                           f"the folder ({', '.join(str(p) for p in matches)})")
    return matches[0] if matches else path


def create_run_dir(root: str | os.PathLike[str], model: str,
                   now: datetime | None = None) -> Path:
    """A new, empty run folder named ``<time>-<model>`` (``model`` may carry the run's
    ``-<name>``); ``mkdir`` without exist_ok makes it ours alone, so two runs started in
    the same second get ``…-model`` and ``…-model-2``."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise KdigitsError(f"cannot create {root}: {error.strerror or error}") from None
    base = f"{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}-{model}"
    for k in range(1, 1000):
        path = root / (base if k == 1 else f"{base}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise KdigitsError(f"cannot create a run folder under {root}: too many named {base}")


def finished_folds(run_dir: Path) -> list[dict]:
    """The fold records whose "done" marker exists, in fold order."""
    records = []
    for path in sorted((run_dir / "folds").glob("fold-*.json"), key=_fold_number):
        with contextlib.suppress(KdigitsError):
            records.append(_read_json(path))
    return records


# --- planning ----------------------------------------------------------------------------

@dataclass
class CVPlan:
    """A run ready to train: its folder, data, splits and settings."""

    run_dir: Path
    config: dict  # what config.json says
    pixels: np.ndarray
    labels: np.ndarray
    split: Split
    training: TrainConfig
    done: list[int] = field(default_factory=list)  # folds already finished (resume)
    train_path: str | None = None  # where the data was read (a resume may find it moved)

    @property
    def model(self) -> str:
        return self.training.preset


def versions() -> dict[str, str]:
    """Package versions, read from metadata so recording them never imports TensorFlow."""
    out = {"python": platform.python_version(), "kdigits": __version__}
    for package in ("tensorflow", "keras", "numpy", "scikit-learn", "pandas"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "not installed"
    return {**out, **backend.versions()}


def plan_cv(train_path: str | os.PathLike[str], split_config: SplitConfig,
            training: TrainConfig, *, runs_dir: str | os.PathLike[str] = "runs",
            command: str = "", options: dict | None = None,
            threads: int | None = None, name: str | None = None) -> CVPlan:
    """Load and split the data, then create the run folder and its config.json.
    ``threads``: CPU threads per fold (None: all), recorded because it sets a CPU model's
    last digits, so that a resumed run trains its remaining folds the same way. ``name``:
    the user's label for the run (``--name``), in its folder name and config.json."""
    from kaggle_digits.data import load_train
    check_name(name, runs_dir)
    preset = get_model(training.preset)
    digits = load_train(train_path)
    split = make_split(digits.labels, split_config)
    run_dir = create_run_dir(runs_dir, short_name(training.preset)
                             + (f"-{name}" if name else ""))
    config = {
        "command": command,
        "name": name,
        "options": options or {},
        "model": training.preset,
        "kind": preset.kind,
        "source": preset.source,
        "parameters": preset.parameters(**training.model_options),
        **mix_record(training),
        **backend.record(preset.is_keras),
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "data": {"train": str(Path(train_path).resolve()), "train_sha256": digits.sha256,
                 "train_rows": len(digits.labels)},
        "split": split_config.to_json(),
        "rows": split.sizes(),
        "training": training.to_json(),
        "fold_seed": "training.seed + fold (each fold is reproducible on its own)",
        "threads_per_fold": threads,
        "holdout_model": HOLDOUT_MODEL if split.holdout.size else "no holdout (--holdout 0)",
        "versions": versions(),
    }
    user_file = model_file(training.preset)
    if user_file is not None:  # the user's own model: which file, and its text beside it
        config["model_file"] = {**user_file.to_json(), "copy": MODEL_SOURCE}
        write_text(run_dir / MODEL_SOURCE, user_file.source)
    mixed_file = model_file(str(training.mix_with)) if training.mix_members else None
    if mixed_file is not None:
        write_text(run_dir / MIX_SOURCE, mixed_file.source)
    write_json(run_dir / "config.json", config)
    return CVPlan(run_dir, config, digits.pixels, digits.labels, split, training,
                  train_path=str(train_path))


@dataclass(frozen=True)
class CVOptions:
    """What ``kdigits cv`` (or ``kd.cross_validate``) was asked; None means "the default":
    the params file's (``params``, a `kdigits tune` best.json) where it has one, else the
    preset's recipe and :class:`SplitConfig`'s defaults."""

    model: str | None = None
    train: Path | None = None
    folds: int | None = None
    holdout: float | None = None
    percent: float | None = None
    test_size: float | None = None
    seed: int | None = None
    epochs: int | None = None
    members: int | None = None
    mix: str | None = None  # ``--mix PRESET:N`` or "none" (`train.parse_mix`)
    batch_size: int | None = None
    learning_rate: float | None = None
    optimizer: str | None = None
    early_stopping: int | None = None  # patience in epochs; stops on rows carved from training
    tta: bool | None = None  # predict folds and holdout with test-time augmentation
    precision: str | None = None  # "float32" or "bfloat16" (mixed precision)
    label_smoothing: float | None = None  # None: the recipe's (Keras' label_smoothing)
    model_options: dict | None = None  # layer options (``--option NAME=VALUE``)
    params: Path | None = None
    runs_dir: Path | None = None
    jobs: int = 1  # folds trained at once, in worker processes
    threads: int | None = None  # CPU threads per fold (default: all, shared among jobs)
    name: str | None = None  # the user's label for the run (``--name``)

    def given(self) -> list[str]:
        """The options set, as ``--option`` names (for messages): all that a resumed run
        would ignore, since it takes them from its config.json (``--train`` only finds the
        same file elsewhere, and ``--jobs`` only sets how many folds run at once)."""
        flags = {"model_options": "--option", "tta": "--tta/--no-tta"}
        return [flags.get(k, "--" + k.replace("_", "-")) for k, v in asdict(self).items()
                if v is not None and k not in ("train", "jobs")]


def plan_from_options(options: CVOptions, *, command: str = "",
                      extra: dict | None = None) -> tuple[CVPlan, Params | None]:
    """Settle the split and training config from the options (and a params file), then
    :func:`plan_cv`; a mistake in any option fails before the run folder is made."""
    if options.jobs < 1:
        raise KdigitsError(f"--jobs must be 1 or more, not {options.jobs}")
    if options.threads is not None and options.threads < 1:
        raise KdigitsError(f"--threads must be 1 or more, not {options.threads}")
    runs_dir = options.runs_dir or locations().runs
    refuse_file_as_folder(runs_dir, "--runs-dir")
    check_name(options.name, runs_dir)  # before seconds are spent loading data
    threads = options.threads or (threads_per_job(options.jobs) if options.jobs > 1 else None)
    if threads is not None:
        backend.limit_threads(threads)  # before any Keras import, or it cannot take effect
    tuned = load_params_for(options.params, options.model)
    name = options.model or (tuned.model if tuned else DEFAULT_MODEL)
    base = (tuned.split_config() if tuned else None) or SplitConfig()
    split = replace(base, **{k: v for k in ("folds", "holdout", "percent", "test_size", "seed")
                             if (v := getattr(options, k)) is not None})
    if options.test_size is not None and split.folds != 1:  # it would be silently ignored
        raise KdigitsError(f"--test-size only applies to one train/test split (--folds 1); "
                           f"with {split.folds} folds each fold tests on 1/{split.folds} of "
                           "the rows: drop --test-size or use --folds 1")
    recipe = {k: v for k in ("epochs", "members", "batch_size", "learning_rate", "optimizer",
                             "early_stopping", "tta", "precision", "label_smoothing")
              if (v := getattr(options, k)) is not None}
    if options.model_options:  # on top of the params file's, one by one
        recipe["model_options"] = {**(tuned.model_options if tuned else {}),
                                   **options.model_options}
    training = config_for(name, **{**(tuned.overrides() if tuned else {}), **recipe},
                          seed=split.seed)
    if options.mix is not None:  # on top of the params file's mix, or the recipe's
        training = apply_mix(training, parse_mix(options.mix))
    members = member_count(training) if get_model(name).is_keras else 1
    if options.jobs > 1 and split.folds * members == 1:  # it would only cost threads
        raise KdigitsError(f"--jobs {options.jobs} has nothing to share out: one fold of "
                           "one model; drop --jobs (or ask for --folds or --members)")
    train_path = options.train or locations().train
    recorded = {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
                "model": name, "train": str(train_path), "runs_dir": str(runs_dir),
                **split.to_json(), **(extra or {})}
    plan = plan_cv(train_path, split, training, runs_dir=runs_dir, command=command,
                   options=recorded, threads=threads, name=options.name)
    return plan, tuned


def resume_cv(run_path: str | os.PathLike[str],
              train_path: str | os.PathLike[str] | None = None) -> CVPlan:
    """Re-open an interrupted run: same data (checked by SHA-256), same folds, same seeds."""
    from kaggle_digits.data import load_train

    run = load_run(run_path)
    if run.finished:
        raise KdigitsError(f"{run.path} is already complete (it has metrics.json)")
    config = run.config
    try:
        split_config = SplitConfig(**config["split"])
        training = TrainConfig(**config["training"])
        source = train_path or config["data"]["train"]
        sha = config["data"]["train_sha256"]
    except (KeyError, TypeError) as error:
        raise KdigitsError(f"{run.path}/config.json is not a kdigits cv config "
                           f"({error})") from None
    backend.adopt(config.get("backend"))  # the remaining folds train as the first ones did
    if config.get("threads_per_fold"):
        backend.limit_threads(config["threads_per_fold"])
    recorded_file = config.get("model_file")
    if recorded_file:
        refuse_changed_file(run, model_file(training.preset), recorded_file, MODEL_SOURCE)
    else:
        training = net_it_trained(run, training, "its remaining folds")
    check_mix_unchanged(run, training, "its remaining folds")
    digits = load_train(source)
    if digits.sha256 != sha:
        raise KdigitsError(f"{source} is not the train file this run started with "
                           "(SHA-256 differs); pass the original with --train")
    split = make_split(digits.labels, split_config)
    done = [record["fold"] for record in finished_folds(run.path)]
    return CVPlan(run.path, config, digits.pixels, digits.labels, split, training, done,
                  str(source))


# --- training ----------------------------------------------------------------------------

@dataclass
class CVResult:
    run_dir: Path
    folds: list[dict]  # per fold: fold, accuracy, kappa, wall_s, user_s, system_s, epochs
    oof: ConfusionStats
    holdout: ConfusionStats | None  # None without a holdout
    timing: dict
    resumed: list[int] = field(default_factory=list)  # folds reused from an earlier session


class _StopOnCtrlC(Progress):
    """Turns Ctrl-C into a stop at the next training event.

    Python's own SIGINT handler raises KeyboardInterrupt wherever the main thread happens
    to be, and when that is a weakref callback or ``__del__`` (TensorFlow runs many) Python
    prints "Exception ignored" and training carries on. Here the first Ctrl-C only raises a
    flag; the next batch, epoch or fold event raises KeyboardInterrupt from ordinary code.
    A second Ctrl-C raises at once, for fits that report no batches (scikit-learn).
    """

    def __init__(self, inner: Progress) -> None:
        self.inner, self.requested = inner, False

    def on_sigint(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C was pressed since training started."""
        if self.requested:
            raise KeyboardInterrupt

    def fold_started(self, *args: Any) -> None:
        self.check()
        self.inner.fold_started(*args)

    def fold_done(self, *args: Any) -> None:
        self.inner.fold_done(*args)

    def fit_plan(self, *args: Any) -> None:
        self.inner.fit_plan(*args)

    def fit_started(self, *args: Any) -> None:
        self.check()
        self.inner.fit_started(*args)

    def epoch_started(self, *args: Any) -> None:
        self.check()
        self.inner.epoch_started(*args)

    def batch_done(self, *args: Any) -> None:
        self.check()
        self.inner.batch_done(*args)

    def epoch_done(self, *args: Any) -> None:
        self.check()
        self.inner.epoch_done(*args)

    def fit_done(self, *args: Any) -> None:
        self.check()
        self.inner.fit_done(*args)


@contextlib.contextmanager
def ctrl_c_as_flag(progress: Progress) -> Iterator[_StopOnCtrlC]:
    guard = _StopOnCtrlC(progress)
    if threading.current_thread() is not threading.main_thread():
        yield guard  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, guard.on_sigint)
    try:
        yield guard
    finally:
        signal.signal(signal.SIGINT, previous)


def run_cv(plan: CVPlan, progress: Progress | None = None, *, jobs: int = 1) -> CVResult:
    """Train every unfinished fold, saving each as it completes, then pool the results.

    ``jobs`` > 1 trains that many folds at once in worker processes (`kaggle_digits.parallel`),
    each with its share of the CPU threads (or its own GPU); the folds, their seeds and their
    files are the same as in the main process.
    """
    if jobs < 1:
        raise KdigitsError(f"--jobs must be 1 or more, not {jobs}")
    with ctrl_c_as_flag(progress or Progress()) as guarded:
        return _run_folds(plan, guarded, jobs)


def _run_folds(plan: CVPlan, progress: _StopOnCtrlC, jobs: int = 1) -> CVResult:
    folds = plan.split.folds
    resumed = sorted(plan.done)
    number = 0  # the fold training in this process; 0: workers train, or pooling
    in_workers = False
    with measure() as session:
        try:
            for number in resumed:
                record = _read_json(_fold_json(plan.run_dir, number))
                progress.fold_done(number, len(folds), {**record, "resumed": True})
            number = 0
            todo = [fold for fold in folds if fold.number not in plan.done]
            if jobs > 1 and len(_work_units(plan, todo)) > 1:
                in_workers = True
                _train_in_workers(plan, todo, progress, jobs)
                in_workers = False
            else:
                for fold in todo:
                    number = fold.number
                    progress.fold_started(number, len(folds), fold.train.size)
                    if _members_kept(plan, fold.number):  # a --jobs run's finished members
                        summary = _train_members_here(plan, fold, progress)
                    else:
                        summary = _train_fold(plan, fold, progress)
                    plan.done.append(number)
                    progress.fold_done(number, len(folds), summary)
                number = 0
            result = _finish(plan)
        except KeyboardInterrupt:
            raise Interrupted(_interrupted_message(plan, number, len(folds),
                                                   in_workers)) from None
    result.resumed = resumed
    result.timing["this_session_wall_s"] = session["wall_s"]
    return result


def shared_members(plan: CVPlan) -> int:
    """How many members each fold's work is split into for workers (1: whole folds)."""
    return member_count(plan.training) if get_model(plan.model).is_keras else 1


def _work_units(plan: CVPlan, todo: Sequence[Any]) -> list[tuple[int, int | None]]:
    """What workers can share: (fold, member) for each member still to train when a fold
    has several, else (fold, None) for whole folds."""
    members = shared_members(plan)
    if members == 1:
        return [(fold.number, None) for fold in todo]
    return [(fold.number, m) for fold in todo for m in range(1, members + 1)
            if not _member_json(plan.run_dir, fold.number, m).is_file()]


def _train_in_workers(plan: CVPlan, todo: list[Any], progress: _StopOnCtrlC,
                      jobs: int) -> None:
    """Folds in parallel, or each fold's seeded members (`best`) in parallel: only
    fold-level progress (folds start and end out of order)."""
    total = len(plan.split.folds)
    threads = plan.config.get("threads_per_fold") or threads_per_job(jobs)
    started: set[int] = set()

    def forward(event: Event) -> None:
        if event[0] == "fold_started":  # a fold's members each announce it: once is enough
            if event[1][0] in started:
                return
            started.add(event[1][0])
        getattr(progress.inner, event[0])(*event[1])

    def finished(summary: dict) -> None:
        plan.done.append(summary["fold"])
        progress.fold_done(summary["fold"], total, summary)

    where = (str(plan.run_dir), plan.train_path)
    units = _work_units(plan, todo)
    if shared_members(plan) == 1:
        tasks = [(*where, number) for number, _ in units]
        for summary in run_in_workers(_fold_in_worker, tasks, jobs=jobs, threads=threads,
                                      on_event=forward, check_stop=progress.check):
            finished(summary)
        return
    waiting = {number for number, _ in units}
    for fold in todo:  # every member finished in an earlier session: nothing to train
        if fold.number not in waiting:
            finished(_assemble_fold(plan, fold))
    tasks = [(*where, number, member) for number, member in units]
    for record in run_in_workers(_member_in_worker, tasks, jobs=jobs, threads=threads,
                                 on_event=forward, check_stop=progress.check):
        if _members_done(plan, record["fold"]):
            finished(_assemble_fold(plan, plan.split.folds[record["fold"] - 1]))


def _member_path(run_dir: Path, number: int, member: int, suffix: str) -> Path:
    return run_dir / "members" / f"fold-{number}-member-{member}{suffix}"


def _member_json(run_dir: Path, number: int, member: int) -> Path:
    return _member_path(run_dir, number, member, ".json")


def _members_kept(plan: CVPlan, number: int) -> bool:
    return shared_members(plan) > 1 and any(
        _member_json(plan.run_dir, number, m).is_file()
        for m in range(1, shared_members(plan) + 1))


def _members_done(plan: CVPlan, number: int) -> bool:
    return all(_member_json(plan.run_dir, number, m).is_file()
               for m in range(1, shared_members(plan) + 1))


def _train_members_here(plan: CVPlan, fold: Any, progress: Progress) -> dict:
    """A fold some of whose members a --jobs session finished: the missing ones trained
    in this process, then all of them averaged, as if they had trained together."""
    for member in range(1, shared_members(plan) + 1):
        if not _member_json(plan.run_dir, fold.number, member).is_file():
            _train_member(plan, fold, member, progress)
    return _assemble_fold(plan, fold)


def _member_in_worker(run_dir: str, train_path: str | None, number: int, member: int,
                      events: Any) -> dict:
    """One seeded member of one fold in a worker process."""
    plan = resume_cv(run_dir, train_path)
    fold = plan.split.folds[number - 1]
    events.put(("fold_started", (number, len(plan.split.folds), int(fold.train.size))))
    return _train_member(plan, fold, member, Progress())


def _train_member(plan: CVPlan, fold: Any, member: int, progress: Progress) -> dict:
    """One member trained exactly as among its fold's other members, then saved (model,
    its own probabilities, then its JSON marker) until the fold's last one is in."""
    x, y = plan.pixels, plan.labels
    with measure() as timing:
        trained = fit(plan.model, x[fold.train], y[fold.train], _fold_config(plan, fold),
                      validation=(x[fold.test], y[fold.test]), member=member,
                      progress=progress)
        tta = plan.training.tta
        (oof,) = trained.member_probabilities(x[fold.test], tta=tta)
        (holdout,) = (trained.member_probabilities(x[plan.split.holdout], tta=tta)
                      if plan.split.holdout.size else [np.empty((0, N_CLASSES), np.float32)])
    trained.save(_member_path(plan.run_dir, fold.number, member, ".keras"), force=True)
    with atomic_output(_member_path(plan.run_dir, fold.number, member, ".npz"), force=True,
                       binary=True) as handle:
        np.savez(handle, oof=oof, holdout=holdout)
    record = {"fold": fold.number, "member": member, "history": trained.history,
              "fit_info": trained.fit_info, **timing}
    write_json(_member_json(plan.run_dir, fold.number, member), record, force=True)
    return record


def _assemble_fold(plan: CVPlan, fold: Any) -> dict:
    """A fold whose members were trained apart: their mean probabilities and one model
    averaging them, saved like a fold trained in one piece; then the member files go."""
    members = range(1, shared_members(plan) + 1)
    records = [_read_json(_member_json(plan.run_dir, fold.number, m)) for m in members]
    oof, holdout = [], []
    for m in members:
        with np.load(_member_path(plan.run_dir, fold.number, m, ".npz")) as saved:
            oof.append(saved["oof"])
            holdout.append(saved["holdout"])
    custom = saved_apart_objects(plan.training)
    models = [load_trained(_member_path(plan.run_dir, fold.number, m, ".keras"),
                           custom).members[0] for m in members]
    timing = {k: sum(r[k] for r in records) for k in ("wall_s", "user_s", "system_s")}
    trained = TrainedModel(plan.model, models, [h for r in records for h in r["history"]],
                           timing, _fold_config(plan, fold),
                           [i for r in records for i in r["fit_info"]])
    mixed = mix_groups(plan.training)
    summary = _save_fold(plan, fold, trained, mean_of_members(oof, mixed),
                         mean_of_members(holdout, mixed), timing)
    _forget_members(plan.run_dir, fold.number)
    return summary


def _forget_members(run_dir: Path, number: int) -> None:
    """A finished fold's member files: its own files hold them now."""
    for path in (run_dir / "members").glob(f"fold-{number}-member-*.*"):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # still holds other folds' members: keep it
        (run_dir / "members").rmdir()


def _fold_in_worker(run_dir: str, train_path: str | None, number: int, events: Any) -> dict:
    """One fold in a worker process: the run re-opened from its folder (same data, checked
    by SHA-256; same split and seeds), the fold trained and saved as in the main process."""
    plan = resume_cv(run_dir, train_path)
    fold = plan.split.folds[number - 1]
    events.put(("fold_started", (number, len(plan.split.folds), int(fold.train.size))))
    return _train_fold(plan, fold, Progress())


def _fold_json(run_dir: Path, number: int) -> Path:
    return run_dir / "folds" / f"fold-{number}.json"


def _interrupted_message(plan: CVPlan, number: int, total: int,
                         in_workers: bool = False) -> str:
    done = sorted(plan.done)
    where = (f"in fold {number} of {total}" if number else
             "while workers were training" if in_workers else "while pooling the folds")
    kept = ("no fold finished" if not done else
            f"fold{'s' if len(done) > 1 else ''} {', '.join(map(str, done))} kept in "
            f"{plan.run_dir}")
    members = len(list((plan.run_dir / "members").glob("fold-*-member-*.json")))
    if members:
        kept += (f"; {members} finished member model{'s' if members > 1 else ''} of "
                 "unfinished folds kept")
    return f"interrupted {where}; {kept}; resume with: kdigits cv --resume {plan.run_dir}"


def _fold_config(plan: CVPlan, fold: Any) -> TrainConfig:
    return replace(plan.training, seed=plan.training.seed + fold.number)


def _train_fold(plan: CVPlan, fold: Any, progress: Progress) -> dict:
    x, y = plan.pixels, plan.labels
    with measure() as timing:
        trained = fit(plan.model, x[fold.train], y[fold.train], _fold_config(plan, fold),
                      validation=(x[fold.test], y[fold.test]), progress=progress)
        tta = plan.training.tta
        oof = trained.predict_proba(x[fold.test], tta=tta)
        holdout = (trained.predict_proba(x[plan.split.holdout], tta=tta)
                   if plan.split.holdout.size else np.empty((0, N_CLASSES), np.float32))
    return _save_fold(plan, fold, trained, oof, holdout, timing)


def _save_fold(plan: CVPlan, fold: Any, trained: TrainedModel, oof: np.ndarray,
               holdout: np.ndarray, timing: dict) -> dict:
    """Model, then predictions, then the fold's JSON "done" marker, last."""
    y, config = plan.labels, trained.config or _fold_config(plan, fold)
    stats = confusion_stats(oof.argmax(axis=1), y[fold.test], CLASSES)
    suffix = ".keras" if trained.is_keras else ".joblib"
    # force: files of a fold that was cut short before its marker are leftovers, not results
    trained.save(plan.run_dir / "models" / f"fold-{fold.number}{suffix}", force=True)
    with atomic_output(plan.run_dir / "folds" / f"fold-{fold.number}.npz", force=True,
                       binary=True) as handle:
        np.savez(handle, test_rows=fold.test, oof=oof, holdout_rows=plan.split.holdout,
                 holdout=holdout)
    summary = {"fold": fold.number, "accuracy": stats.accuracy, "kappa": stats.kappa,
               "wall_s": timing["wall_s"], "user_s": timing["user_s"],
               "system_s": timing["system_s"],
               # early stopping: the most epochs any member ran, else the recipe's
               "epochs": (max((i.get("epochs_run", config.epochs) for i in trained.fit_info),
                              default=config.epochs) if trained.is_keras else None),
               "seed": config.seed, "train_rows": int(fold.train.size),
               "test_rows": int(fold.test.size), "history": trained.history,
               "fit_info": trained.fit_info}
    write_json(_fold_json(plan.run_dir, fold.number), summary, force=True)
    return summary


def _prediction_frame(rows: np.ndarray, fold: np.ndarray, labels: np.ndarray,
                      proba: np.ndarray) -> pd.DataFrame:
    import pandas as pd  # lazy: the CLI's start-up does not pay for pandas

    frame = pd.DataFrame({"row": rows, "fold": fold, "label": labels,
                          "prediction": proba.argmax(axis=1)})
    for k in CLASSES:
        frame[f"prob_{k}"] = proba[:, k]
    return frame.sort_values("row", kind="stable").reset_index(drop=True)


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    with atomic_output(path, force=True) as handle:
        frame.to_csv(handle, index=False, float_format="%.6f", lineterminator="\n")


def _finish(plan: CVPlan) -> CVResult:
    """Pool the saved folds into the run's summary files (derived, so rewritten freely)."""
    import pandas as pd

    if (plan.run_dir / "members").is_dir():  # left by a Ctrl-C as a fold was saved
        for fold in plan.split.folds:
            _forget_members(plan.run_dir, fold.number)
    run_dir, y = plan.run_dir, plan.labels
    records, oof_parts, holdout_sum = [], [], None
    for fold in plan.split.folds:
        record = _read_json(_fold_json(run_dir, fold.number))
        with np.load(run_dir / "folds" / f"fold-{fold.number}.npz") as saved:
            rows, oof, holdout = saved["test_rows"], saved["oof"], saved["holdout"]
        records.append(record)
        oof_parts.append(_prediction_frame(rows, np.full(rows.size, fold.number), y[rows], oof))
        holdout_sum = holdout.astype(np.float64) if holdout_sum is None else holdout_sum + holdout
    oof_frame = pd.concat(oof_parts).sort_values("row", kind="stable").reset_index(drop=True)
    hold_rows = plan.split.holdout
    hold_proba = (holdout_sum / len(records)).astype(np.float32)
    hold_frame = _prediction_frame(hold_rows, np.full(hold_rows.size, HOLDOUT_FOLD),
                                   y[hold_rows], hold_proba)
    _write_csv(run_dir / "oof.csv", oof_frame)
    _write_csv(run_dir / "holdout.csv", hold_frame)

    history = pd.DataFrame([{"fold": r["fold"], **h} for r in records for h in r["history"]],
                           columns=HISTORY_COLUMNS)
    _write_csv(run_dir / "history.csv", history)
    if not history.empty:
        from kaggle_digits import plots

        write_bytes(run_dir / "curves.png", plots.png_bytes(plots.training_curves(history)),
                    force=True)

    oof_stats = confusion_stats(oof_frame["prediction"].to_numpy(),
                                oof_frame["label"].to_numpy(), CLASSES)
    hold_stats = (confusion_stats(hold_frame["prediction"].to_numpy(),
                                  hold_frame["label"].to_numpy(), CLASSES)
                  if hold_rows.size else None)
    fold_keys = ("fold", "accuracy", "kappa", "wall_s", "user_s", "system_s", "epochs")
    folds = [{k: r.get(k) for k in fold_keys} for r in records]
    timing = {k: float(sum(r[k] for r in records)) for k in ("wall_s", "user_s", "system_s")}
    timing["minutes"] = timing["wall_s"] / 60
    metrics = {"model": plan.model, "parameters": plan.config.get("parameters"),
               "folds": folds, "oof": oof_stats.to_json(),
               "holdout": hold_stats.to_json() if hold_stats else None,
               "holdout_model": plan.config.get("holdout_model"), "timing": timing,
               "finished": datetime.now().astimezone().isoformat(timespec="seconds")}
    write_json(run_dir / "metrics.json", metrics, force=True)
    return CVResult(run_dir, folds, oof_stats, hold_stats, timing)


def minutes(run: Run) -> float | None:
    if not run.metrics:
        done = finished_folds(run.path)
        return sum(r.get("wall_s", 0) for r in done) / 60 if done else None
    return run.metrics.get("timing", {}).get("minutes")


def mean_sd(values: Sequence[float | None]) -> tuple[float, float | None]:
    """Mean and sample sd (n−1: the spread a new fold would show) of the finite values;
    sd is None for a single value. Fold tables on screen and in reports both use it."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return float("nan"), None
    return float(finite.mean()), (float(finite.std(ddof=1)) if finite.size > 1 else None)


# --- reading a finished run ------------------------------------------------------------

def finished_run(run_dir: str | os.PathLike[str]) -> Run:
    """A run that has finished (metrics.json written): what reports and predictions need."""
    run = load_run(run_dir)
    if run.metrics is None:
        raise KdigitsError(f"{run.path} has not finished (no metrics.json): finish it with "
                           f"`kdigits cv --resume {run.path}`")
    return run


def load_predictions(run_dir: Path) -> pd.DataFrame:
    """oof.csv and holdout.csv stacked, with ``set`` naming where each row came from."""
    import pandas as pd

    frames = []
    for name, label in (("oof.csv", "OOF"), ("holdout.csv", "holdout")):
        path = run_dir / name
        if path.exists():
            frame = pd.read_csv(path)
            frame.insert(0, "set", label)
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["set", "row", "fold", "label", "prediction"])
    return pd.concat(frames, ignore_index=True)


def train_path(run: Run) -> tuple[Path | None, str | None]:
    """Where the run's train.csv was and its SHA-256, as recorded in config.json."""
    data = run.config.get("data") or {}
    path = next((p for p in (data.get("train"), run.config.get("train")) if isinstance(p, str)),
                None)
    sha = data.get("train_sha256") or run.config.get("train_sha256")
    return (Path(path) if path else None), sha


def load_train_images(run: Run) -> tuple[np.ndarray | None, str]:
    """The run's training pixels for the gallery, or None and the reason: a moved or
    edited train.csv must not put wrong images under right captions."""
    from kaggle_digits.data import load_train

    path, sha = train_path(run)
    if path is None:
        return None, "config.json does not name the train file"
    if not path.exists():
        return None, f"{path} (the run's train file) is not there any more"
    digits = load_train(path)
    if sha and digits.sha256 != sha:
        return None, f"{path} has changed since the run (SHA-256 differs)"
    return digits.pixels, ""


def run_prediction(run_dir: str | os.PathLike[str], row: int,
                   train_sha256: str | None = None) -> dict[str, Any]:
    """What a run said about one train.csv row: where it was scored (OOF fold or
    holdout), the true label, the prediction and its top probabilities."""
    run = finished_run(run_dir)
    _, sha = train_path(run)
    if train_sha256 and sha and sha != train_sha256:
        raise KdigitsError(f"run {Path(run.path).name} was trained on a different train.csv "
                           "(SHA-256 differs); pass that file with --train")
    predictions = load_predictions(Path(run.path))
    hit = predictions[predictions["row"] == row]
    if hit.empty:
        raise KdigitsError(f"row {row} is in neither oof.csv nor holdout.csv of "
                           f"{Path(run.path).name} (was the run made with --percent?)")
    record = hit.iloc[0]
    probabilities = {k: float(record[f"prob_{k}"]) for k in CLASSES
                     if f"prob_{k}" in record.index}
    top = sorted(probabilities.items(), key=lambda item: -item[1])[:3]
    return {"run": Path(run.path).name, "set": record["set"], "fold": int(record["fold"]),
            "label": int(record["label"]), "prediction": int(record["prediction"]),
            "probability": probabilities.get(int(record["prediction"]), float("nan")),
            "top": top}
