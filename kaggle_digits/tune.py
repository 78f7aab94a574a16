"""Hyper-parameter search with Optuna: which recipe and layer options make a preset best.

The objective is the mean accuracy of stratified k-fold CV on the non-holdout rows, with
the split, seeds and fit of `kdigits cv` (fold k trains with seed + k), so
``kdigits cv --params best.json`` on the tuned split reproduces the best trial's folds.
Each trial also predicts the holdout with its fold ensemble and stores the labels with the
trial, but nothing that selects reads them: they are scored for the best trial only, at
the end, as the one estimate the search has not seen.

A study lives in an Optuna RDB storage: a SQLite file in its study folder by default, a
PostgreSQL server when several machines share it. Finished trials are in the database the
moment they end, so Ctrl-C keeps them and re-running the command continues the study (a
study's settings are stored with it, and a command with other settings is refused rather
than mixed in). ``--jobs J`` starts J worker processes (``kdigits tune … --worker``) on
the same storage, each with its share of the trials and of the GPUs or CPU cores.

After every fold a trial reports its running mean accuracy, so Optuna's MedianPruner can
stop it when it is already below the median of earlier trials at that fold; the folds it
did not train are the time saved, estimated from the trial's own fold times.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from kaggle_digits import params
from kaggle_digits.errors import Interrupted, KdigitsError, last_line
from kaggle_digits.fileio import atomic_output, write_bytes, write_json
from kaggle_digits.models import PRESETS, Preset
from kaggle_digits.parallel import gpu_count, threads_per_job
from kaggle_digits.splits import Split, SplitConfig, make_split
from kaggle_digits.train import (
    N_CLASSES,
    SCHEDULES,
    Progress,
    TrainConfig,
    config_for,
    fit,
    measure,
)
from kaggle_digits.user_models import get_model, short_name
from kaggle_digits.version import __version__

if TYPE_CHECKING:
    from kaggle_digits.data import Digits
    from kaggle_digits.stats import ConfusionStats

Space = dict[str, BaseDistribution]

# Names a search space may use to tune the recipe; any other name is a keyword of the
# preset's layer builder (see `models.Preset.options`).
RECIPE_KNOBS = ("learning_rate", "optimizer", "schedule", "batch_size", "epochs",
                "label_smoothing")
# Optimizers whose learning rates live on one scale, so one learning-rate range suits all
# of them; a recipe outside these (adadelta at 1.0) keeps its optimizer.
SAME_SCALE = ("adam", "adamw", "nadam", "rmsprop")
BATCH_SIZES = (64, 128, 256, 512)

# Layer options searched per preset; the ranges hold today's value (models.py defaults).
LAYER_SPACES: dict[str, Space] = {
    "mlp": {"width": IntDistribution(128, 1024, step=128)},
    "mlp-fast": {"width": IntDistribution(128, 1024, step=128),
                 "dropout": FloatDistribution(0.0, 0.5)},
    "cnn": {"dropout": FloatDistribution(0.0, 0.6)},
    "cnn-wide": {"dropout": FloatDistribution(0.0, 0.5)},
    "cnn-fast": {"dense": IntDistribution(64, 256, step=64),
                 "dropout": FloatDistribution(0.0, 0.5),
                 "shift": FloatDistribution(0.0, 0.15),
                 "rotate": FloatDistribution(0.0, 0.06),
                 "conv1": IntDistribution(16, 48, step=8),
                 "conv2": IntDistribution(32, 96, step=16),
                 "pool_first": CategoricalDistribution((False, True))},
    "best": {"dropout": FloatDistribution(0.1, 0.5),
             "shift": FloatDistribution(0.0, 0.15),
             "rotate": FloatDistribution(0.0, 0.06),
             "zoom": FloatDistribution(0.0, 0.2)},
}
# Layer options deliberately left out of a preset's default space, with the reason.
NOT_SEARCHED = {"best": {"elastic": "on top of best's own augmentation: harmful at Simard's "
                                    "34/4, no gain gentler (bench/README.md)",
                         "elastic_sigma": "only matters with elastic on"},
                "cnn-fast": {"deskew": "a net that errs elsewhere, for mixing: alone no more "
                                       "accurate (bench/README.md)"}}
KNOB_HELP = {
    "learning_rate": "peak learning rate (a decade either side of the recipe's)",
    "optimizer": "optimizers on the recipe's learning-rate scale",
    "schedule": "constant, or warm-up then cosine decay",
    "batch_size": "rows per step",
    "epochs": "passes over the training fold (half to double the recipe's)",
    "label_smoothing": "share of each target spread over the ten digits",
    "width": "units in each hidden layer",
    "dense": "units in the dense head",
    "dropout": "dropout before the output layer",
    "shift": "augmentation: random shift, share of the image side",
    "rotate": "augmentation: random rotation, share of a full turn",
    "zoom": "augmentation: random zoom",
    "conv1": "filters in the first 5×5 convolution",
    "conv2": "filters in the second 5×5 convolution",
    "pool_first": "max-pool before BatchNorm and ReLU (a quarter of the BatchNorm work)",
}
STORAGE_SCHEMES = ("sqlite", "postgresql")
STORAGE_HINT = "use sqlite:///FILE or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
STORAGE_ENV = "KDIGITS_STORAGE"
ATTR = "kdigits"  # the study user attribute holding the settings a study was created with


# --- what to tune -------------------------------------------------------------------------

@dataclass(frozen=True)
class Tunable:
    """A model and its search space. ``space`` names in RECIPE_KNOBS tune the recipe; the
    others are keywords of ``preset.build``. A model file (FILE.py:FUNCTION) may declare
    its own space as ``SPACE`` beside the function."""

    name: str
    preset: Preset
    space: Space

    def training(self, chosen: dict[str, Any], *, seed: int,
                 epochs: int | None = None) -> TrainConfig:
        """The preset's recipe with a trial's choices (and a fixed --epochs) on top."""
        recipe = {k: v for k, v in chosen.items() if k in RECIPE_KNOBS}
        options = {k: v for k, v in chosen.items() if k not in RECIPE_KNOBS}
        if epochs is not None:
            recipe["epochs"] = epochs
        return config_for(self.name, **recipe, model_options=options, seed=seed)


def default_space(preset: Preset) -> Space:
    """Recipe knobs around the preset's own recipe, then its layer options."""
    recipe = preset.recipe
    lr, epochs = recipe.learning_rate or 1e-3, recipe.epochs or 10
    space: Space = {"learning_rate": FloatDistribution(lr / 10, lr * 10, log=True)}
    if recipe.optimizer in SAME_SCALE:
        space["optimizer"] = CategoricalDistribution(SAME_SCALE)
    space["schedule"] = CategoricalDistribution(SCHEDULES)
    space["batch_size"] = CategoricalDistribution(
        tuple(sorted({*BATCH_SIZES, recipe.batch_size or 128})))
    space["epochs"] = IntDistribution(max(1, epochs // 2), 2 * epochs)
    return {**space, **LAYER_SPACES.get(preset.name, {})}


def resolve_model(text: str) -> Tunable:
    """``--model`` text (a Keras preset or FILE.py:FUNCTION) → what to tune."""
    preset = get_model(text)
    if not preset.is_keras:
        raise KdigitsError(f"{text} is a scikit-learn baseline; kdigits tune searches Keras "
                           "models: " + ", ".join(n for n, p in PRESETS.items() if p.is_keras)
                           + ", or your own FILE.py:FUNCTION returning Keras layers")
    space = getattr(preset, "space", None) or default_space(preset)  # a file's own SPACE
    return check_space(Tunable(text, preset, space))


def check_space(tunable: Tunable) -> Tunable:
    options = tunable.preset.options()
    for name, distribution in tunable.space.items():
        if not isinstance(distribution, BaseDistribution):
            raise KdigitsError(f"search space of {tunable.name}: {name} is not an Optuna "
                               "distribution")
        if name not in RECIPE_KNOBS and name not in options:
            raise KdigitsError(f"search space of {tunable.name}: {name} is neither a recipe "
                               f"knob ({', '.join(RECIPE_KNOBS)}) nor a layer option "
                               f"({', '.join(options) or 'none'})")
    return tunable


def searched(tunable: Tunable, epochs: int | None) -> Space:
    """The space a study searches: a fixed ``--epochs`` takes epochs out of it."""
    return {k: v for k, v in tunable.space.items() if not (k == "epochs" and epochs)}


@dataclass(frozen=True)
class Knob:
    """One row of ``--show-space``."""

    name: str
    part: str  # "recipe" or "layers"
    values: str
    preset_value: Any
    meaning: str


def describe_space(tunable: Tunable, epochs: int | None = None) -> list[Knob]:
    options = tunable.preset.options()
    rows = []
    for name, distribution in searched(tunable, epochs).items():
        recipe = name in RECIPE_KNOBS
        rows.append(Knob(name, "recipe" if recipe else "layers", describe(distribution),
                         getattr(tunable.preset.recipe, name) if recipe else options[name],
                         KNOB_HELP.get(name, "")))
    return rows


def describe(distribution: BaseDistribution) -> str:
    if isinstance(distribution, CategoricalDistribution):
        return ", ".join(map(str, distribution.choices))
    if isinstance(distribution, FloatDistribution | IntDistribution):
        text = f"{distribution.low:g} – {distribution.high:g}"
        if distribution.log:
            text += ", log scale"
        if distribution.step not in (None, 1):
            text += f", step {distribution.step:g}"
        return text
    return repr(distribution)


def suggest(trial: optuna.Trial, space: Space) -> dict[str, Any]:
    """Ask the trial for every knob (Optuna's public suggest_* calls, one per type)."""
    chosen: dict[str, Any] = {}
    for name, d in space.items():
        if isinstance(d, FloatDistribution):
            chosen[name] = trial.suggest_float(name, d.low, d.high, log=d.log, step=d.step)
        elif isinstance(d, IntDistribution):
            chosen[name] = trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
        elif isinstance(d, CategoricalDistribution):
            chosen[name] = trial.suggest_categorical(name, d.choices)
        else:
            raise KdigitsError(f"search space: {name} has an unsupported distribution {d!r}")
    return chosen


# --- settings, data, storage ----------------------------------------------------------------

@dataclass(frozen=True)
class TuneSettings:
    """A tune command's options; checked here so a bad one costs nothing and loses nothing."""

    model: str = "cnn-fast"
    train: Path = Path("data/train.csv")
    split: SplitConfig = field(default_factory=lambda: SplitConfig(folds=3))
    trials: int = 20
    timeout_min: float | None = None
    jobs: int = 1
    epochs: int | None = None  # fixed for every trial (out of the search) when given
    storage: str | None = None
    study: str | None = None
    startup_trials: int = 5  # MedianPruner prunes nothing until this many trials finished
    prune: bool = True
    runs_dir: Path = Path("runs")

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise KdigitsError(f"--trials must be 1 or more, not {self.trials}")
        if self.jobs < 1:
            raise KdigitsError(f"--jobs must be 1 or more, not {self.jobs}")
        if self.timeout_min is not None and not self.timeout_min > 0:
            raise KdigitsError(f"--timeout must be positive (minutes), not {self.timeout_min}")
        if self.epochs is not None and self.epochs < 1:
            raise KdigitsError(f"--epochs must be 1 or more, not {self.epochs}")
        if self.startup_trials < 0:
            raise KdigitsError(f"--startup-trials must be 0 or more, not {self.startup_trials}")
        if self.storage is not None:
            check_storage_url(self.storage)
        if self.study is not None and not self.study.strip():
            raise KdigitsError("--study needs a name")


def check_storage_url(url: str) -> str:
    """The backend name, or a one-line refusal for anything but SQLite and PostgreSQL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise KdigitsError(f"--storage {url!r} is not a database URL; {STORAGE_HINT}") from None
    if backend not in STORAGE_SCHEMES:
        raise KdigitsError(f"unknown storage URL scheme {url.split(':', 1)[0]!r}; "
                           f"{STORAGE_HINT}")
    return backend


def shown_url(url: str) -> str:
    """The URL with any password masked, for messages and files."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@dataclass
class Tuning:
    """A tune command ready to run: what to tune, on which rows, in which study."""

    settings: TuneSettings
    tunable: Tunable
    digits: Digits
    split: Split
    identity: dict[str, Any]  # what a study must have been created with to be continued
    study_name: str
    folder: Path  # study folder: study.db (by default), best.json, plots, trials.csv, logs
    storage_url: str

    @property
    def space(self) -> Space:
        return searched(self.tunable, self.settings.epochs)

    def training(self, chosen: dict[str, Any]) -> TrainConfig:
        return self.tunable.training(chosen, seed=self.settings.split.seed,
                                     epochs=self.settings.epochs)


def prepare(settings: TuneSettings) -> Tuning:
    """Check everything and load the data; nothing is created yet."""
    from kaggle_digits.data import load_train

    tunable = resolve_model(settings.model)
    digits = load_train(settings.train)
    split = make_split(digits.labels, settings.split)
    identity = {"model": tunable.name, "train_sha256": digits.sha256,
                "split": settings.split.to_json(), "epochs": settings.epochs}
    recipe = tunable.preset.recipe
    if recipe.mix_members:  # a study of `best` before its mix is another study
        identity["mix"] = f"{recipe.mix_with}:{recipe.mix_members}"
        if recipe.mix_variants != [{}]:  # and so is one before its groups
            identity["mix_variants"] = recipe.mix_variants
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
    name = settings.study or f"{short_name(tunable.name)}-{digest}"
    if "/" in name or name.startswith("."):
        raise KdigitsError(f"--study {name!r}: a study name cannot contain '/' or start "
                           "with '.'")
    folder = (Path(settings.runs_dir) / f"tune-{name}").resolve()
    url = settings.storage or f"sqlite:///{folder / 'study.db'}"
    return Tuning(settings, tunable, digits, split, identity, name, folder, url)


def connect(url: str, attempts: int = 3) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage, with waits that suit several writers and one-line errors."""
    import sqlalchemy.exc

    backend = check_storage_url(url)
    engine = ({"connect_args": {"timeout": 60}} if backend == "sqlite" else
              {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True})
    for attempt in range(1, attempts + 1):
        try:
            return optuna.storages.RDBStorage(_with_driver(url), engine_kwargs=engine)
        except sqlalchemy.exc.OperationalError as error:
            reason = " ".join(str(error.orig or error).split())
            raise KdigitsError(f"cannot open the study database {shown_url(url)}: "
                               f"{reason}") from None
        except (ImportError, sqlalchemy.exc.NoSuchModuleError):
            raise KdigitsError(f"no database driver for {shown_url(url)}; "
                               "pip install psycopg2-binary") from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            # Two processes creating the schema of a fresh database at once: the loser
            # finds the tables made a moment later.
            if attempt == attempts:
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def _with_driver(url: str) -> str:
    """``postgresql://`` with the driver kdigits installs (psycopg2): SQLAlchemy's default
    for a bare scheme changed to psycopg 3 in 2.1, so spelling it out keeps both working."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername != "postgresql":
        return url
    return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def open_study(tuning: Tuning) -> optuna.Study:
    """Create the study or continue it, refusing one created with other settings."""
    settings = tuning.settings
    if settings.storage is None:
        _make_folder(tuning.folder)
    _quiet_optuna()
    sampler = optuna.samplers.TPESampler(constant_liar=True)  # parallel workers spread out
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials)
        if settings.prune else optuna.pruners.NopPruner())
    study = optuna.create_study(storage=connect(tuning.storage_url),
                                study_name=tuning.study_name, direction="maximize",
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    recorded = study.user_attrs.get(ATTR)
    if recorded is None:
        study.set_user_attr(ATTR, {**tuning.identity, "kdigits": __version__})
        recorded = study.user_attrs.get(ATTR)
    _check_identity(tuning, recorded)
    _make_folder(tuning.folder)
    return study


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise KdigitsError(f"cannot create {folder}: {error.strerror or error}") from None


def _check_identity(tuning: Tuning, recorded: dict[str, Any]) -> None:
    name, mine = tuning.study_name, tuning.identity
    fix = "use the same options, or another --study"
    if recorded.get("model") != mine["model"]:
        raise KdigitsError(f"study {name!r} was created for model {recorded.get('model')}, "
                           f"not {mine['model']}; choose another --study")
    if recorded.get("train_sha256") != mine["train_sha256"]:
        raise KdigitsError(f"study {name!r} was tuned on another train file (SHA-256 "
                           f"{str(recorded.get('train_sha256'))[:12]}…); {fix}")
    # A study of `best` from before its mix (or its mix groups) searched another recipe.
    mixes = ("mix", "mix_variants")
    theirs = {**(recorded.get("split") or {}), "epochs": recorded.get("epochs"),
              **{k: recorded.get(k) for k in mixes}}
    ours = {**mine["split"], "epochs": mine["epochs"], **{k: mine.get(k) for k in mixes}}
    differ = [k for k in ours if theirs.get(k) != ours[k]]
    if differ:
        was = ", ".join(_setting(k, theirs.get(k)) for k in differ)
        now = ", ".join(_setting(k, ours[k]) for k in differ)
        raise KdigitsError(f"study {name!r} was tuned with {was} (this command: {now}); {fix}")


def _setting(key: str, value: Any) -> str:
    """One identity setting as the refusal names it (an identity leaves out no mix and
    one plain mix group, so None means those)."""
    if key == "mix":
        return f"mix {value or 'none'}"
    if key == "mix_variants":
        return f"mix groups {json.dumps(value if value is not None else [{}])}"
    return f"{key} {value}"


def _quiet_optuna() -> None:
    """Optuna logs every trial to stderr, a failed one (Ctrl-C) with its traceback, and
    flags experimental features; the CLI reports every trial itself, so only Optuna's
    errors get through."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


# --- one trial: k-fold CV --------------------------------------------------------------------

class TuneProgress(Progress):
    """Training events (from `train.Progress`) plus trial events; this base ignores them."""

    def trial_started(self, number: int, chosen: dict[str, Any]) -> None: ...
    def trial_done(self, trial: FrozenTrial, best: FrozenTrial | None) -> None: ...
    def running(self, trials: list[FrozenTrial]) -> None: ...  # --jobs: polled from storage


class _Publish(Progress):
    """Forwards training events and stores where a worker's trial is (fold, epoch) with the
    trial, which is how the process that started the workers shows their progress."""

    def __init__(self, inner: Progress, trial: optuna.Trial) -> None:
        self.inner, self.trial, self.at = inner, trial, {}

    def _store(self, **where: int) -> None:
        self.at.update(where)
        self.trial.set_user_attr("at", dict(self.at))

    def fold_started(self, fold: int, folds: int, train_rows: int) -> None:
        self.inner.fold_started(fold, folds, train_rows)
        self._store(fold=fold, folds=folds, epoch=0)

    def fit_plan(self, costs: Sequence[float]) -> None:
        self.inner.fit_plan(costs)

    def fit_started(self, preset: str, member: int, members: int, epochs: int,
                    steps: int) -> None:
        self.inner.fit_started(preset, member, members, epochs, steps)
        self._store(epochs=epochs, epoch=0)

    def epoch_started(self, epoch: int) -> None:
        self.inner.epoch_started(epoch)

    def batch_done(self, batch: int, logs: dict) -> None:
        self.inner.batch_done(batch, logs)

    def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
        self.inner.epoch_done(epoch, logs, seconds)
        self._store(epoch=epoch)

    def fit_done(self) -> None:
        self.inner.fit_done()

    def fold_done(self, fold: int, folds: int, summary: dict) -> None:
        self.inner.fold_done(fold, folds, summary)


class Objective:
    """Mean stratified-CV accuracy of one trial's settings on the non-holdout rows."""

    def __init__(self, tuning: Tuning, listener: TuneProgress, training: Progress,
                 session: str, *, publish: bool = False) -> None:
        self.tuning, self.listener, self.events = tuning, listener, training
        self.session, self.publish = session, publish

    def __call__(self, trial: optuna.Trial) -> float:
        from kaggle_digits.stats import confusion_stats

        chosen = suggest(trial, self.tuning.space)
        config = self.tuning.training(chosen)
        trial.set_user_attr("session", self.session)
        trial.set_user_attr("host", f"{socket.gethostname()}:{os.getpid()}")
        self.listener.trial_started(trial.number, chosen)
        events = _Publish(self.events, trial) if self.publish else self.events
        x, y, split = self.tuning.digits.pixels, self.tuning.digits.labels, self.tuning.split
        folds = len(split.folds)
        accuracies: list[float] = []
        seconds: list[float] = []
        holdout = np.zeros((split.holdout.size, N_CLASSES))
        for fold in split.folds:
            events.fold_started(fold.number, folds, fold.train.size)
            with measure() as timing:
                trained = fit(config.preset, x[fold.train], y[fold.train],
                              replace(config, seed=config.seed + fold.number),
                              validation=(x[fold.test], y[fold.test]), progress=events)
                oof = trained.predict_proba(x[fold.test], tta=config.tta)
                if split.holdout.size:
                    holdout += trained.predict_proba(x[split.holdout], tta=config.tta)
            stats = confusion_stats(oof.argmax(axis=1), y[fold.test], list(range(N_CLASSES)))
            accuracies.append(stats.accuracy)
            seconds.append(timing["wall_s"])
            trial.set_user_attr("fold_accuracy", accuracies)
            trial.set_user_attr("fold_seconds", seconds)
            events.fold_done(fold.number, folds, {"accuracy": stats.accuracy,
                                                  "kappa": stats.kappa,
                                                  "wall_s": timing["wall_s"]})
            trial.report(float(np.mean(accuracies)), fold.number)
            if fold.number < folds and trial.should_prune():
                raise optuna.TrialPruned(f"mean accuracy {np.mean(accuracies):.4f} after "
                                         f"fold {fold.number}/{folds}")
        if split.holdout.size:  # stored for the end of the search; no selection reads it
            trial.set_user_attr("holdout_labels", "".join(map(str, holdout.argmax(axis=1))))
        return float(np.mean(accuracies))


# --- running trials: here, or in worker processes ----------------------------------------------

def new_session() -> str:
    """Tags the trials one command runs, so its progress counts only its own."""
    return f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def best_trial(trials: list[FrozenTrial]) -> FrozenTrial | None:
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    return max(complete, key=lambda t: (t.value, -t.number)) if complete else None


def optimize(tuning: Tuning, study: optuna.Study, progress: TuneProgress, session: str, *,
             trials: int | None = None, publish: bool = False) -> None:
    """Run ``trials`` trials (default: the settings') in this process.

    Ctrl-C stops at the next training event; Optuna records that trial as failed, every
    finished one stays in the study, and `Interrupted` says how to continue.
    """
    from kaggle_digits.runs import ctrl_c_as_flag

    settings = tuning.settings
    with ctrl_c_as_flag(progress) as guarded:
        objective = Objective(tuning, progress, guarded, session, publish=publish)

        def after(study: optuna.Study, trial: FrozenTrial) -> None:
            progress.trial_done(trial, best_trial(study.get_trials(deepcopy=False)))
            if guarded.requested:
                study.stop()

        try:
            study.optimize(objective, n_trials=trials or settings.trials,
                           timeout=settings.timeout_min * 60 if settings.timeout_min else None,
                           callbacks=[after], gc_after_trial=True)
        except KeyboardInterrupt:
            guarded.requested = True
        if guarded.requested:
            raise Interrupted(interrupted_message(tuning, study, session))


def interrupted_message(tuning: Tuning, study: optuna.Study, session: str) -> str:
    mine = [t for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("session") == session and t.state.is_finished()
            and t.state != TrialState.FAIL]
    return (f"interrupted; {len(mine)} finished trial{'s' * (len(mine) != 1)} of this run "
            f"kept in study {tuning.study_name!r} ({shown_url(tuning.storage_url)}); "
            "run the same command again to continue it")


def shares(trials: int, jobs: int) -> list[int]:
    """Trials per worker, adding up to ``trials`` exactly; never an idle worker."""
    workers = min(trials, jobs)
    return [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]


def worker_env(index: int, workers: int, gpus: int) -> dict[str, str]:
    """One GPU per worker when there are several; otherwise the CPU cores split evenly
    (TensorFlow and OpenMP read these before they start their thread pools)."""
    env = dict(os.environ)
    if gpus > 1:
        env["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
    elif gpus:
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # share the one GPU, not grab it all
    threads = str(threads_per_job(workers))
    env.update(OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads,
               TF_NUM_INTEROP_THREADS="1" if threads == "1" else "2")
    return env


def worker_command(tuning: Tuning, trials: int, session: str) -> list[str]:
    """The ``kdigits tune --worker`` command line for a share of the trials (the storage
    URL travels in the environment, so no password shows in ``ps``)."""
    s, split = tuning.settings, tuning.settings.split
    command = [sys.executable, "-m", "kaggle_digits", "tune", "--model", s.model,
               "--train", str(Path(s.train).resolve()), "--folds", str(split.folds),
               "--percent", repr(split.percent), "--holdout", repr(split.holdout),
               "--seed", str(split.seed), "--trials", str(trials), "--study",
               tuning.study_name, "--startup-trials", str(s.startup_trials),
               "--runs-dir", str(Path(s.runs_dir).resolve()), "--worker", "--session", session]
    if s.epochs:
        command += ["--epochs", str(s.epochs)]
    if s.timeout_min:
        command += ["--timeout", repr(s.timeout_min)]
    if not s.prune:
        command.append("--no-prune")
    return command


def run_workers(tuning: Tuning, study: optuna.Study, progress: TuneProgress, session: str,
                poll_s: float = 1.0) -> None:
    """Run the trials in ``--jobs`` worker processes and follow them through the storage.

    Each worker runs its own share (`shares`), so the trials add up to ``--trials`` exactly;
    their output goes to ``logs/`` in the study folder.
    """
    counts = shares(tuning.settings.trials, tuning.settings.jobs)
    gpus = gpu_count()
    logs = tuning.folder / "logs"
    _make_folder(logs)
    workers: list[tuple[subprocess.Popen, Path]] = []
    for index, trials in enumerate(counts):
        env = {**worker_env(index, len(counts), gpus), STORAGE_ENV: tuning.storage_url}
        log = logs / f"{session}-worker-{index + 1}.log"
        with open(log, "x", encoding="utf-8") as out:
            workers.append((subprocess.Popen(
                worker_command(tuning, trials, session), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, env=env), log))
    seen: set[int] = set()
    try:
        while any(p.poll() is None for p, _ in workers):
            _follow(study, session, seen, progress)
            time.sleep(poll_s)
    except KeyboardInterrupt:
        _stop(workers)
        raise Interrupted(interrupted_message(tuning, study, session)) from None
    _follow(study, session, seen, progress)
    codes = [p.returncode for p, _ in workers]
    if 130 in codes:
        raise Interrupted(interrupted_message(tuning, study, session))
    for number, ((_, log), code) in enumerate(zip(workers, codes, strict=True), 1):
        if code != 0:
            raise KdigitsError(f"worker {number} stopped (exit {code}): {_last_line(log)} "
                               f"(log: {log})")


def _follow(study: optuna.Study, session: str, seen: set[int],
            progress: TuneProgress) -> None:
    trials = study.get_trials(deepcopy=False)
    best = best_trial(trials)
    mine = [t for t in trials if t.user_attrs.get("session") == session]
    for trial in mine:
        if trial.state.is_finished() and trial.number not in seen:
            seen.add(trial.number)
            progress.trial_done(trial, best)
    progress.running([t for t in mine if t.state == TrialState.RUNNING])


def _stop(workers: list[tuple[subprocess.Popen, Path]]) -> None:
    """Ctrl-C at a terminal reaches the workers too; a signal sent to this process alone
    is passed on. Each worker then ends its trial as failed and exits."""
    deadline = time.monotonic() + 3
    for process, _ in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process, _ in workers:
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _last_line(log: Path) -> str:
    try:
        return last_line(log.read_text(encoding="utf-8"))
    except OSError:
        return "no output"


# --- the result: summary, holdout, files -------------------------------------------------------

@dataclass
class TuneSummary:
    """A study after a command: all its trials, this command's, the best, pruning's gain."""

    study_name: str
    trials: list[FrozenTrial]
    this_run: list[FrozenTrial]
    best: FrozenTrial | None
    folds: int
    wall_s: float = 0.0

    def count(self, state: TrialState, trials: list[FrozenTrial] | None = None) -> int:
        return sum(t.state == state for t in (self.trials if trials is None else trials))

    def saved_s(self, trials: list[FrozenTrial] | None = None) -> float:
        """Estimated seconds pruning saved: each pruned trial's untrained folds times its
        own mean fold time (an estimate: those folds were never run)."""
        total = 0.0
        for t in self.trials if trials is None else trials:
            done = t.user_attrs.get("fold_seconds") or []
            if t.state == TrialState.PRUNED and done:
                total += (self.folds - len(done)) * float(np.mean(done))
        return total


def summarize(tuning: Tuning, study: optuna.Study, session: str,
              wall_s: float = 0.0) -> TuneSummary:
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    mine = [t for t in trials if t.user_attrs.get("session") == session]
    return TuneSummary(tuning.study_name, trials, mine, best_trial(trials),
                       len(tuning.split.folds), wall_s)


def holdout_stats(tuning: Tuning, trial: FrozenTrial | None) -> ConfusionStats | None:
    """caret statistics of a trial's fold ensemble on the holdout (the best trial's, shown
    once the search is over)."""
    from kaggle_digits.stats import confusion_stats

    stored = trial.user_attrs.get("holdout_labels") if trial is not None else None
    rows = tuning.split.holdout
    if not stored or len(stored) != rows.size:
        return None
    predicted = np.frombuffer(stored.encode("ascii"), dtype=np.uint8) - ord("0")
    return confusion_stats(predicted, tuning.digits.labels[rows], list(range(N_CLASSES)))


def write_study_files(tuning: Tuning, study: optuna.Study, summary: TuneSummary,
                      command: str = "") -> dict[str, Path | None]:
    """best.json, trials.csv, history.png and importance.png in the study folder.

    They are derived from the study, so each command rewrites them; the study itself
    (study.db or the server) is the record.
    """
    folder = tuning.folder
    _make_folder(folder)
    written: dict[str, Path | None] = {"best": None, "trials": None, "history": None,
                                       "importance": None}
    if not summary.trials:
        return written
    frame = study.trials_dataframe(attrs=("number", "state", "value", "datetime_start",
                                          "datetime_complete", "duration", "params",
                                          "user_attrs"))
    frame = frame.drop(columns=[c for c in frame.columns
                                if c in ("user_attrs_holdout_labels", "user_attrs_at")])
    with atomic_output(folder / "trials.csv", force=True) as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
    written["trials"] = folder / "trials.csv"
    if summary.best is None:
        return written
    written["best"] = write_json(folder / "best.json",
                                 best_record(tuning, summary, command), force=True)
    written.update(_plots(study, folder))
    return written


def best_record(tuning: Tuning, summary: TuneSummary, command: str = "") -> dict[str, Any]:
    best = summary.best
    assert best is not None
    config = tuning.training(best.params)
    holdout = holdout_stats(tuning, best)
    counts = {state.name.lower(): summary.count(state) for state in
              (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)}
    return params.record(
        config,
        objective={"metric": "mean stratified-CV accuracy on the non-holdout rows",
                   "value": best.value, "folds": best.user_attrs.get("fold_accuracy")},
        holdout=None if holdout is None else {
            "rows": int(holdout.n), "accuracy": holdout.accuracy, "kappa": holdout.kappa,
            "note": "the best trial's fold ensemble; never used to select"},
        split=tuning.settings.split.to_json(),
        data={"train": str(Path(tuning.settings.train).resolve()),
              "train_sha256": tuning.digits.sha256},
        study={"name": tuning.study_name, "storage": shown_url(tuning.storage_url),
               "trial": best.number, "trials": counts,
               "pruning_saved_s_estimate": round(summary.saved_s(), 1)},
        kdigits_version=__version__, command=command,
        created=datetime.now().astimezone().isoformat(timespec="seconds"))


def _plots(study: optuna.Study, folder: Path) -> dict[str, Path | None]:
    """Optuna's own optimisation-history and parameter-importance plots, as PNG."""
    from optuna.visualization import matplotlib as optuna_plots

    from kaggle_digits import plots

    plots._pyplot()  # the Agg backend, before Optuna touches pyplot
    out: dict[str, Path | None] = {}
    makers: dict[str, Callable[[optuna.Study], Any]] = {
        "history": optuna_plots.plot_optimization_history,
        "importance": optuna_plots.plot_param_importances}
    for name, make in makers.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = make(study)
        except (ValueError, RuntimeError, ZeroDivisionError):
            out[name] = None  # importance needs two finished trials that differ
            continue
        out[name] = write_bytes(folder / f"{name}.png", plots.png_bytes(axes.figure),
                                force=True)
    return out
