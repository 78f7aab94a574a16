"""Training one model: recipe + overrides → seeded fit → probabilities, with live progress.

`fit` is the only place a model learns. It takes validated uint8 pixels, scales them to
[0, 1] float32 itself (so every caller feeds the same thing), seeds everything, and reports
progress through a `Progress` object whose Keras callback forwards every batch; the CLI
decides how that looks. Keras uses a GPU by itself when its backend (TensorFlow, JAX or
PyTorch) sees one, and the CPU otherwise; what differs between backends (seeding, naming
the device) is in `kaggle_digits.backend`, and everything here is plain Keras and NumPy.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kaggle_digits import backend
from kaggle_digits.constants import N_CLASSES
from kaggle_digits.errors import KdigitsError
from kaggle_digits.fileio import atomic_output, write_bytes, write_json
from kaggle_digits.interrupts import keeping_ctrl_c, raise_if_pressed
from kaggle_digits.models import PRECISIONS, Preset, Recipe, keras_module, keras_name, multiply_adds
from kaggle_digits.predict import tta_images, tta_views
from kaggle_digits.user_models import get_model, loaded_objects

OPTIMIZERS = ("adam", "adamw", "nadam", "adamax", "rmsprop", "sgd", "adadelta", "adagrad")
SCHEDULES = ("constant", "cosine", "exponential")
WARMUP = 0.1  # share of all steps spent warming the learning rate up (cosine schedule)
EPOCH_DECAY = 0.95  # exponential schedule: the rate is multiplied by this after every epoch
# BatchNorm's moving averages start at mean 0, variance 1 and forget that start by 0.9 a
# step; over a short fit they also trail weights that are still moving fast. Fits shorter
# than this many optimizer steps re-estimate them afterwards (`recalibrate_batchnorm`); every
# preset's own recipe runs 950+ steps a fit, even in 5-fold CV, and keeps Keras' averages.
SHORT_FIT_STEPS = 500
RECALIBRATION_ROWS = 4096  # training rows, no augmentation: the statistics converge well before
EARLY_STOPPING_SPLIT = 0.1  # carved from the training rows when early stopping has no split


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how one model is trained; written into config.json."""

    preset: str
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    optimizer: str | None = None
    schedule: str = "constant"
    validation_split: float = 0.0
    members: int = 1
    seed: int = 42
    model_options: dict = field(default_factory=dict)  # the preset builder's keywords
    early_stopping: int = 0  # patience in epochs on the validation split's loss; 0 = off
    tta: bool = False  # predict with test-time augmentation (the recipe says; runs before it: off)
    precision: str = "float32"  # or "bfloat16": mixed precision (models.PRECISIONS)
    label_smoothing: float = 0.0  # models.Recipe.label_smoothing; runs before it: 0
    # another preset's nets, trained after these by its own recipe (`member_count`,
    # `mean_of_members`); runs before it: none
    mix_with: str | None = None
    mix_members: int = 0
    # one group of ``mix_members`` nets per entry, the entry its layer options (as
    # ``--option`` gives them), each group's mean one more member; runs before it: one
    # plain group
    mix_variants: list = field(default_factory=lambda: [{}])

    def to_json(self) -> dict:
        return asdict(self)

    def recipe(self) -> Recipe:
        """The recipe these settings amount to, so that a plan line and `kdigits models`
        describe it in the same words."""
        return Recipe(**{name: getattr(self, name) for name in Recipe.__dataclass_fields__})


def parse_mix(text: str) -> dict[str, Any]:
    """``--mix PRESET[:N]`` (N members of PRESET, default 1) or ``--mix none``, as
    `config_for` overrides."""
    text = text.strip()
    if text.lower() in ("none", "0", "off"):
        return {"mix_with": None, "mix_members": 0}
    name, _, count = (part.strip() for part in text.rpartition(":"))
    if not count.lstrip("+-").isdigit():  # no count, or a model file's FILE.py:FUNCTION
        name, count = text, "1"
    if not name or int(count) < 1:
        raise KdigitsError(f"--mix takes PRESET:N (for example cnn-fast:2) or none, not "
                           f"{text!r}")
    return {"mix_with": name, "mix_members": int(count)}


def member_count(config: TrainConfig) -> int:
    """Every net the config trains: its own members, then the mixed-in preset's."""
    return config.members + sum(mix_groups(config))


def mix_groups(config: TrainConfig) -> list[int]:
    """How many nets each mixed-in group holds, in training order; each group's mean is
    one member of the config's mean (`mean_of_members`)."""
    return [config.mix_members] * len(config.mix_variants) if config.mix_members else []


def mix_config(config: TrainConfig, group: int = 0) -> TrainConfig | None:
    """How the mixed-in group ``group`` trains: its preset's own recipe (epochs, learning
    rate) and the group's layer options, with the run's seed, precision, early stopping and
    TTA."""
    if not config.mix_members:
        return None
    return config_for(str(config.mix_with), members=config.mix_members, seed=config.seed,
                      precision=config.precision, early_stopping=config.early_stopping,
                      tta=config.tta, mix_members=0,
                      model_options=dict(config.mix_variants[group]) or None)


def config_for(preset_name: str, **overrides: Any) -> TrainConfig:
    """The preset's recipe with the user's overrides on top (``None`` means "not given")."""
    preset = get_model(preset_name)
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(given) - set(TrainConfig.__dataclass_fields__) - {"preset"}
    if unknown:
        raise TypeError(f"config_for() got unknown options: {', '.join(sorted(unknown))}")
    if not preset.is_keras:
        keras_only = sorted(set(given) & {"epochs", "batch_size", "learning_rate",
                                          "optimizer", "schedule", "members", "precision",
                                          "label_smoothing"})
        if keras_only:
            options = ", ".join("--" + k.replace("_", "-") for k in keras_only)
            raise KdigitsError(f"{options} apply to Keras models only, not {preset_name}")
    recipe = asdict(preset.recipe)
    mix = ({k: given.pop(k) for k in ("mix_with", "mix_members") if k in given}
           if "mix_variants" not in given else {})  # groups given too: taken as they are
    config = settle(TrainConfig(preset=preset_name, **{**recipe, **given}))
    return apply_mix(config, mix) if mix else config


def apply_mix(config: TrainConfig, mix: dict[str, Any]) -> TrainConfig:
    """``--mix`` (`parse_mix`) on top of a config: a recipe's, a params file's or a run's.
    Its own mix preset keeps the config's groups, N nets each; another preset's nets are
    one plain group, since the groups' layer options are that preset's."""
    same = mix.get("mix_with", config.mix_with) == config.mix_with
    return settle(replace(config, **mix, mix_variants=config.mix_variants if same else [{}]))


def watched_share(config: TrainConfig) -> float:
    """The share of the training rows carved out and watched, not trained on: the recipe's
    ``validation_split``, or 10% when early stopping needs rows to watch and it has none
    (never a CV fold's test rows or the holdout, whose estimates would then be dishonest).
    Worked out here, not stored in the config, so dropping early stopping drops it too."""
    if config.validation_split:
        return config.validation_split
    return EARLY_STOPPING_SPLIT if config.early_stopping else 0.0


def settle(config: TrainConfig) -> TrainConfig:
    """Check a config, its recipe and its layer options' names, before any work."""
    _check(config)
    if not config.mix_members and (config.mix_with, config.mix_variants) != (None, [{}]):
        config = replace(config, mix_with=None, mix_variants=[{}])  # `--mix none`
    preset = get_model(config.preset)
    if config.mix_members:
        if not preset.is_keras:
            raise KdigitsError(f"--mix applies to Keras models only, not {config.preset}")
        try:
            mixed = get_model(str(config.mix_with))
        except KdigitsError as error:
            raise KdigitsError(f"--mix: {error}") from None
        if not mixed.is_keras:
            raise KdigitsError(f"--mix needs a Keras model to mix in, not {config.mix_with}")
        for group in range(len(config.mix_variants)):
            mix_config(config, group)  # each group's recipe and options must settle too
    takes = preset.options()
    unknown = sorted(set(config.model_options) - set(takes))
    if unknown:
        raise KdigitsError(f"{config.preset} has no option {', '.join(unknown)}; it takes "
                           + (", ".join(f"{k} (default {v!r})" for k, v in takes.items())
                              or "no options"))
    for name, value in config.model_options.items():  # `--option deskew=yes`: text that
        default = takes[name]                          # JSON did not read, said so here
        if isinstance(value, str) and isinstance(default, bool):
            raise KdigitsError(f"{config.preset}'s option {name} is true or false (default "
                               f"{str(default).lower()}), not {value!r}")
        if isinstance(value, str) and isinstance(default, int | float):
            raise KdigitsError(f"{config.preset}'s option {name} is a number (default "
                               f"{default!r}), not {value!r}")
    switches = {k for k, v in config.model_options.items()  # their type checked above
                if isinstance(v, bool) and isinstance(takes[k], bool)}
    if set(config.model_options) - switches:  # a value the builder cannot take fails now,
        try:                                    # not mid-run (and building imports Keras)
            preset.parameters(**config.model_options)
        except (ValueError, TypeError) as error:
            given = ", ".join(f"{k}={v!r}" for k, v in config.model_options.items())
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise KdigitsError(f"{config.preset} cannot be built with {given}: "
                               f"{reason}") from None
    return config


def _check(config: TrainConfig) -> None:
    if config.epochs is not None and config.epochs < 1:
        raise KdigitsError(f"--epochs must be 1 or more, not {config.epochs}")
    if config.batch_size is not None and config.batch_size < 1:
        raise KdigitsError(f"--batch-size must be 1 or more, not {config.batch_size}")
    if config.learning_rate is not None and not config.learning_rate > 0:
        raise KdigitsError(f"--learning-rate must be positive, not {config.learning_rate}")
    if config.optimizer is not None and config.optimizer.lower() not in OPTIMIZERS:
        raise KdigitsError(f"unknown optimizer {config.optimizer!r}; choose one of: "
                           + ", ".join(OPTIMIZERS))
    if config.schedule not in SCHEDULES:
        raise KdigitsError(f"unknown schedule {config.schedule!r}; choose one of: "
                           + ", ".join(SCHEDULES))
    if config.members < 1:
        raise KdigitsError(f"members must be 1 or more, not {config.members}")
    if config.mix_members < 0:
        raise KdigitsError(f"--mix takes 0 or more members, not {config.mix_members}")
    variants = config.mix_variants
    if (not isinstance(variants, list) or not variants
            or not all(isinstance(v, dict) for v in variants)):
        raise KdigitsError("mix_variants is a list of one or more layer-option tables "
                           f"(for example [{{}}, {{\"deskew\": true}}]), not {variants!r}")
    if config.precision not in PRECISIONS:
        raise KdigitsError(f"unknown precision {config.precision!r}; choose one of: "
                           + ", ".join(PRECISIONS))
    if (not isinstance(config.label_smoothing, int | float)
            or isinstance(config.label_smoothing, bool) or not 0 <= config.label_smoothing < 1):
        raise KdigitsError(f"--label-smoothing must be a number at least 0 and below 1, "
                           f"not {config.label_smoothing!r}")
    if config.early_stopping < 0:
        raise KdigitsError(f"--early-stopping is a patience in epochs (1 or more; 0 = off), "
                           f"not {config.early_stopping}")
    if config.early_stopping and not get_model(config.preset).is_keras:
        raise KdigitsError(f"--early-stopping applies to Keras models only, not {config.preset}")


class Progress:
    """Receives training events; this base class ignores them (quiet, for tests and
    libraries). The CLI subclasses it to draw Rich bars or print plain lines."""

    def fold_started(self, fold: int, folds: int, train_rows: int) -> None: ...
    def fold_done(self, fold: int, folds: int, summary: dict) -> None: ...
    def fit_plan(self, costs: Sequence[float]) -> None:
        """Before a Keras fit's first net (or its one member, in a worker): each net's
        expected cost, relative, in member order, so a whole run's ETA can weigh them."""
    def fit_started(self, preset: str, member: int, members: int, epochs: int,
                    steps: int) -> None: ...
    def epoch_started(self, epoch: int) -> None: ...
    def batch_done(self, batch: int, logs: dict) -> None: ...
    def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None: ...
    def fit_done(self) -> None: ...

    def for_member(self, member: int) -> Progress:
        """Where member ``member``'s events go when members train at once in workers
        (`parallel.fit_members_in_workers`); one fit at a time needs nothing else."""
        return self


@contextlib.contextmanager
def measure() -> Iterator[dict]:
    """Wall, user and system seconds of the block, like R's ``proc.time()``; user time
    counts every thread, so on a busy multi-core fit it can exceed wall time."""
    times: dict[str, float] = {}
    start_wall, start = time.perf_counter(), os.times()
    try:
        yield times
    finally:
        end = os.times()
        times.update(wall_s=time.perf_counter() - start_wall,
                     user_s=end.user - start.user, system_s=end.system - start.system)


def check_pixels(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.shape[1] != 784 or pixels.dtype != np.uint8:
        raise KdigitsError(f"expected uint8 pixels of shape N×784, got {pixels.dtype} "
                           f"{'×'.join(map(str, pixels.shape))}")
    return pixels


def model_inputs(pixels: np.ndarray, input_shape: tuple) -> np.ndarray:
    """uint8 N×784 → float32 in [0, 1], shaped for the model (28×28×1 for CNNs)."""
    x = check_pixels(pixels).astype(np.float32) / np.float32(255)
    return x.reshape((-1, *input_shape[1:])) if len(input_shape) > 2 else x


@dataclass
class TrainedModel:
    """A fitted preset: one or more Keras models (averaged) or a scikit-learn estimator."""

    preset: str
    members: list
    history: list[dict] = field(default_factory=list)
    timing: dict = field(default_factory=dict)
    config: TrainConfig | None = None
    # per member: the epoch early stopping restored, whether BatchNorm was re-estimated
    fit_info: list[dict] = field(default_factory=list)

    @property
    def is_keras(self) -> bool:
        return not hasattr(self.members[0], "predict_proba")

    @property
    def mixed(self) -> list[int]:
        """The mixed-in groups' sizes (each group averaged as one member, after the
        config's own members), when this holds all the config's members (a single member
        trained apart holds one)."""
        if self.config is None or len(self.members) != member_count(self.config):
            return []
        return mix_groups(self.config)

    def member_probabilities(self, pixels: np.ndarray, batch_size: int = 2048, *,
                             tta: bool = False) -> list[np.ndarray]:
        """Each Keras member's own N×10 probabilities (with ``tta``, its mean over the
        test-time views), as `predict_proba` averages them."""
        totals = [np.zeros((len(pixels), N_CLASSES)) for _ in self.members]
        for view in tta_images(pixels, tta):
            inputs: dict[tuple, np.ndarray] = {}  # a mixed-in MLP reads flat pixels
            for total, member in zip(totals, self.members, strict=True):
                shape = tuple(member.input_shape)
                if shape not in inputs:
                    inputs[shape] = model_inputs(view, shape)
                total += member.predict(inputs[shape], batch_size=batch_size, verbose=0)
        views = len(tta_views(tta))
        return [(total / views).astype(np.float32) for total in totals]

    def predict_proba(self, pixels: np.ndarray, batch_size: int = 2048, *,
                      tta: bool = False) -> np.ndarray:
        """N×10 float32 class probabilities, rows summing to 1; with ``tta``, the mean over
        the image and its four 1-pixel shifts (`kaggle_digits.predict.TTA_SHIFTS`)."""
        if self.is_keras:
            return mean_of_members(self.member_probabilities(pixels, batch_size, tta=tta),
                                   self.mixed)
        proba = np.zeros((len(pixels), N_CLASSES), dtype=np.float64)
        for view in tta_images(pixels, tta):
            x = model_inputs(view, (None, 784))
            for estimator in self.members:  # classes a tiny fold never saw get 0
                proba[:, estimator.classes_.astype(int)] += estimator.predict_proba(x)
        return _rows_summing_to_one(proba / (len(self.members) * len(tta_views(tta))))

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        return self.predict_proba(pixels).argmax(axis=1).astype(np.uint8)

    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """``.keras`` for Keras (several members become one model averaging them, so the
        file alone reproduces the predictions), ``.joblib`` for scikit-learn."""
        path = Path(path)
        if self.is_keras:
            if path.suffix != ".keras":
                raise KdigitsError(f"Keras models are saved as .keras files, not {path.name}")
            model = self.members[0] if len(self.members) == 1 else _averaged(self)
            # Keras insists on a path ending in .keras: save to a private temp folder, then
            # publish the bytes atomically, so the run folder never holds half a model.
            with tempfile.TemporaryDirectory(prefix="kdigits-") as folder:
                scratch = Path(folder) / "model.keras"
                model.save(scratch)
                data = scratch.read_bytes()
            write_bytes(path, data, force=force)
        else:
            if path.suffix != ".joblib":
                raise KdigitsError(f"scikit-learn models are saved as .joblib, not {path.name}")
            import joblib

            with atomic_output(path, force=force, binary=True) as handle:
                joblib.dump({"preset": self.preset, "members": self.members}, handle)
        return path


def mean_of_members(members: Sequence[np.ndarray],
                    mixed: Sequence[int] = ()) -> np.ndarray:
    """The members' mean, as a `TrainedModel` of them predicts it: members trained apart
    (in worker processes) average to the very same numbers as members trained together.
    The last members are the ``mixed`` groups (another preset's, `TrainConfig.mix_with`,
    `mix_groups`), each counting as one member, its mean: so two cheap nets have the say
    of one more main member."""
    grouped = _grouped(list(members), mixed, lambda group: np.mean(group, axis=0))
    return _rows_summing_to_one(np.mean(grouped, axis=0))


def _grouped(members: list, mixed: Sequence[int], mean: Callable[[list], Any]) -> list:
    """The config's own members, then each mixed-in group's ``mean``."""
    cut = len(members) - sum(mixed)
    grouped = members[:cut]
    for size in mixed:
        grouped.append(mean(members[cut:cut + size]))
        cut += size
    return grouped


def _rows_summing_to_one(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    return (proba / proba.sum(axis=1, keepdims=True)).astype(np.float32)


def _averaged(trained: TrainedModel) -> Any:
    """One model averaging the members as `mean_of_members` does: a mixed-in preset's
    members first averaged among themselves."""
    keras = keras_module()
    inputs = keras.Input(tuple(trained.members[0].input_shape[1:]))

    def mean(outputs: list) -> Any:
        return outputs[0] if len(outputs) == 1 else keras.layers.Average()(outputs)

    outputs = [_fed(keras, m, inputs) for m in trained.members]
    outputs = _grouped(outputs, trained.mixed, mean)
    return keras.Model(inputs, mean(outputs), name=keras_name(trained.preset))


def _fed(keras: Any, member: Any, inputs: Any) -> Any:
    """``member`` applied to the saved model's input, flattened first for an MLP."""
    if tuple(member.input_shape[1:]) == tuple(inputs.shape[1:]):
        return member(inputs)
    return member(keras.layers.Reshape(tuple(member.input_shape[1:]))(inputs))


def saved_apart_objects(config: TrainConfig) -> dict[str, Any] | None:
    """What Keras needs to reload this config's nets saved apart (members trained in
    worker processes): its own model file's classes and those of one mixed in."""
    return loaded_objects(config.preset, config.mix_with if config.mix_members else None)


def load_trained(path: str | os.PathLike[str],
                 custom_objects: dict[str, Any] | None = None) -> TrainedModel:
    """Read a model written by `TrainedModel.save`; ``custom_objects`` are what the user's
    model file defines, which Keras needs to rebuild its own layers
    (`user_models.kept_objects`, `user_models.loaded_objects`)."""
    path = Path(path)
    if not path.is_file():
        raise KdigitsError(f"{path}: no such model file")
    try:
        if path.suffix == ".keras":
            import kaggle_digits.augment  # noqa: F401  (registers kdigits' own layers)

            model = keras_module().saving.load_model(path, compile=False,
                                                     custom_objects=custom_objects)
            backend.compile_augmentation(model)
            return TrainedModel(preset=model.name, members=[model])
        if path.suffix == ".joblib":
            import joblib

            saved = joblib.load(path)
            return TrainedModel(preset=saved["preset"], members=saved["members"])
    except (OSError, ValueError, KeyError, EOFError, TypeError, ImportError,
            AttributeError) as error:
        text = str(error).strip().splitlines()  # Keras' own can run to a page of config
        raise KdigitsError(f"{path}: not a readable kdigits model "
                           f"({text[0] if text else type(error).__name__})") from None
    raise KdigitsError(f"{path}: expected a .keras or .joblib model file")


def layer_summary(preset_name: str, **options: Any) -> list[tuple[str, str, int]]:
    """(layer, output shape, parameters) per layer, like Keras' ``summary()``; ``options``
    are the builder's keywords (a tuned width changes the table)."""
    preset = get_model(preset_name)
    if not preset.is_keras:
        return [(type(preset.build(0)).__name__, "(None, 10)", 0)]
    keras_module().backend.clear_session()  # layer names without earlier models' counters
    rows = []
    for layer in preset.keras_model(**options).layers:
        shape = "(" + ", ".join(str(d) for d in layer.output.shape) + ")"
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, layer.count_params()))
    return rows


def fit(preset_name: str, pixels: np.ndarray, labels: np.ndarray, config: TrainConfig,
        *, validation: tuple[np.ndarray, np.ndarray] | None = None,
        progress: Progress | None = None, callbacks: Sequence[Any] = (),
        member: int | None = None) -> TrainedModel:
    """Train ``config.members`` seeded models of a preset on uint8 pixels (or only member
    number ``member`` of them, exactly as it would be trained among the others: how
    worker processes share out a fold's members).

    ``callbacks`` are extra Keras callbacks (the speed bench scores the test set with one).

    ``validation`` is watched only (history's val_loss/val_accuracy): nothing stops early
    or picks a checkpoint on it, so passing a CV fold's test rows keeps the estimate
    honest. A recipe with ``validation_split``, or early stopping, instead watches a
    stratified part of the training rows (`watched_share`), which it does not train on.
    """
    preset = get_model(preset_name)
    progress = progress or Progress()
    pixels, labels = check_pixels(pixels), np.asarray(labels, dtype=np.uint8)
    if pixels.shape[0] != labels.shape[0] or pixels.shape[0] == 0:
        raise KdigitsError(f"{pixels.shape[0]} images but {labels.shape[0]} labels")
    with measure() as timing, keeping_ctrl_c():
        info: list[dict] = []
        if preset.is_keras:
            members, history = _fit_keras(preset, pixels, labels, config, validation,
                                          progress, callbacks, info, member)
        else:
            progress.fit_started(preset.name, 1, 1, 0, 0)
            estimator = preset.build(config.seed)
            estimator.fit(model_inputs(pixels, (None, 784)), labels)
            progress.fit_done()
            members, history = [estimator], []
    return TrainedModel(preset.name, members, history, dict(timing), config, info)


def kept_members(config: TrainConfig, folder: Path) -> tuple[list[int], list[int]]:
    """The members of ``config`` that ``folder`` holds, and those it lacks."""
    numbers = range(1, member_count(config) + 1)
    kept = [m for m in numbers if (folder / f"member-{m}.json").is_file()]
    return kept, [m for m in numbers if m not in kept]


def keep_member(folder: Path, member: int, trained: TrainedModel) -> None:
    """The net first, then its record: a record means a whole net beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    trained.save(folder / f"member-{member}.keras", force=True)
    write_json(folder / f"member-{member}.json", {
        "member": member, "history": trained.history, "fit_info": trained.fit_info}, force=True)


def load_kept(config: TrainConfig, folder: Path,
              members: Sequence[int] | None = None) -> TrainedModel:
    """``config``'s members kept in ``folder`` (all, or those numbered ``members``), as one
    model averaging them."""
    custom = saved_apart_objects(config)
    models, history, info = [], [], []
    for member in range(1, member_count(config) + 1) if members is None else members:
        try:
            record = json.loads((folder / f"member-{member}.json").read_text(encoding="utf-8"))
            history += record["history"]
            info += record["fit_info"]
            models.append(load_trained(folder / f"member-{member}.keras", custom).members[0])
        except (OSError, ValueError, KeyError, KdigitsError) as error:
            raise KdigitsError(f"net {member} kept in {folder} cannot be read back ({error}); "
                               f"delete that folder to train its nets again") from None
    return TrainedModel(config.preset, models, history, {}, config, info)


def seed_everything(seed: int) -> None:
    """Python, NumPy and backend seeds, plus deterministic kernels where the backend has
    them, so the same seed on the same machine gives the same weights (and a resumed CV the
    same folds). The per-backend details live in `kaggle_digits.backend.seed`."""
    backend.seed(seed)


def _fit_keras(preset: Preset, pixels: np.ndarray, labels: np.ndarray, config: TrainConfig,
               validation: tuple[np.ndarray, np.ndarray] | None,
               progress: Progress, callbacks: Sequence[Any] = (),
               info: list[dict] | None = None,
               only: int | None = None) -> tuple[list, list[dict]]:
    keras = keras_module()
    if watched_share(config):
        from kaggle_digits.splits import holdout_split

        train_rows, val_rows = holdout_split(labels, np.arange(labels.size),
                                             watched_share(config), config.seed)
        validation = (pixels[val_rows], labels[val_rows])
        pixels, labels = pixels[train_rows], labels[train_rows]
    members, history = [], []
    keras.backend.clear_session()  # forget earlier folds' graphs and layer-name counters
    total = member_count(config)
    if only is not None and not 1 <= only <= total:
        raise ValueError(f"member {only} of {total}")
    progress.fit_plan(training_costs(preset, config))
    for member in [only] if only is not None else range(1, total + 1):
        net, recipe, number = _member_recipe(preset, config, member)
        seed_everything(recipe.seed + 1000 * (number - 1))
        model = net.keras_model(name=net.name if total == 1 else f"{net.name}-{member}",
                                precision=recipe.precision, **recipe.model_options)
        shape = tuple(model.input_shape)
        steps = -(-labels.size // recipe.batch_size)
        model.compile(optimizer=_optimizer(recipe, steps * recipe.epochs),
                      loss=_loss(recipe), metrics=["accuracy"])
        val = None if validation is None else (model_inputs(validation[0], shape),
                                               _targets(recipe, validation[1]))
        progress.fit_started(net.name, member, total, recipe.epochs, steps)
        callback = _progress_callback(progress, member, history)
        stopper = _early_stopping(recipe)
        model.fit(model_inputs(pixels, shape), _targets(recipe, labels),
                  batch_size=recipe.batch_size,
                  epochs=recipe.epochs, validation_data=val, shuffle=True, verbose=0,
                  callbacks=[callback, *([stopper] if stopper else []), *callbacks])
        record: dict[str, Any] = {"member": member}
        if stopper is not None:
            ran = max(row["epoch"] for row in history if row["member"] == member)
            record.update(epochs_run=ran, best_epoch=stopper.best_epoch + 1)
        if steps * recipe.epochs < SHORT_FIT_STEPS:
            sample = np.random.default_rng(recipe.seed + number).permutation(labels.size)
            record["batchnorm_recalibrated_rows"] = recalibrate_batchnorm(
                model, model_inputs(pixels[sample[:RECALIBRATION_ROWS]], shape))
        progress.fit_done()
        members.append(model)
        if info is not None:
            info.append(record)
    return members, history


def _member_recipe(preset: Preset, config: TrainConfig,
                   member: int) -> tuple[Preset, TrainConfig, int]:
    """Member ``member``'s net, recipe and number among its preset's members: the config's
    own members first, then each mixed-in group's, numbered (and so seeded) from 1 again,
    so they are the very nets ``--model <it> --members N [--option …]`` trains with that
    seed. Rows carved out to watch (`watched_share`) are the main recipe's, for every net."""
    if member <= config.members or not config.mix_members:
        return preset, config, member
    group, number = divmod(member - config.members - 1, config.mix_members)
    mixed = mix_config(config, group)
    assert mixed is not None  # a config with a mix
    return get_model(mixed.preset), mixed, number + 1


def training_costs(preset: Preset, config: TrainConfig) -> list[float]:
    """Each net's expected training time, relative: its epochs × multiply-adds per image
    (`models.multiply_adds`; every net sees the same rows). Only a mix needs it: counted
    as equal shares, `best`'s 50-epoch net and its four `cnn-fast` nets would put a cv
    run's ETA at 5× the time while the big net trains; these costs give it about 87% of
    the time (78% measured on 2 cores: 31.5 of 40.4 training minutes). Building each kind
    of net once to count costs < 1 s."""
    total = member_count(config)
    if not config.mix_members:
        return [1.0] * total
    per_image: dict[str, int] = {}  # by net and layer options
    costs = []
    try:
        for member in range(1, total + 1):
            net, recipe, _ = _member_recipe(preset, config, member)
            key = f"{net.name} {sorted(recipe.model_options.items())}"
            if key not in per_image:
                per_image[key] = multiply_adds(net.keras_model(**recipe.model_options))
            costs.append(float(recipe.epochs * per_image[key]))
    except Exception:  # a net whose shapes the count cannot read: an ETA never stops a fit
        costs = []
    finally:
        keras_module().backend.clear_session()  # the trained nets' layer names start afresh
    return costs if costs and min(costs) > 0 else [1.0] * total


def _early_stopping(config: TrainConfig) -> Any:
    """Keras' own EarlyStopping on the carved validation split's loss, restoring the best
    epoch's weights, as Keras users do (a fresh one per member: it keeps state)."""
    if not config.early_stopping:
        return None
    return keras_module().callbacks.EarlyStopping(
        monitor="val_loss", patience=config.early_stopping, restore_best_weights=True)


def recalibrate_batchnorm(model: Any, x: np.ndarray) -> int:
    """Set every BatchNorm layer's moving mean and variance to the statistics of its input
    over ``x`` as the model sees it at predict time, layer by layer in order (each layer
    sees the earlier ones already corrected). Returns the rows used (0: nothing to do).

    "Precise BatchNorm" (He et al.'s pycls): after a short fit the moving averages still
    carry their (0, 1) start and trail the weights, and a model that trains at 60% can
    predict one class. Random augmentation and dropout are off at predict time, so the
    statistics are those of clean digits, which is what the model will be given.
    """
    keras = keras_module()
    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms or not x.shape[0]:
        return 0
    for norm in norms:
        try:
            seen = keras.Model(model.inputs[0] if len(model.inputs) == 1 else model.inputs,
                               norm.input)
        except (AttributeError, ValueError):  # a model without a traced graph: leave it
            return 0
        # called, not .predict(): a predict function per sub-model makes TensorFlow warn
        # about retracing, and a few thousand rows need no compiled loop
        h = np.concatenate([
            keras.ops.convert_to_numpy(seen(x[start:start + 512], training=False))
            for start in range(0, len(x), 512)]).astype(np.float64)
        axes = tuple(a for a in range(h.ndim) if a != norm.axis % h.ndim)
        norm.moving_mean.assign(h.mean(axis=axes).astype(np.float32))
        norm.moving_variance.assign(h.var(axis=axes).astype(np.float32))
    return int(x.shape[0])


def _loss(config: TrainConfig) -> Any:
    """Keras' sparse cross-entropy cannot smooth labels, so a smoothed recipe trains on
    one-hot targets (`_targets`) with the dense one; "accuracy" follows the targets' shape."""
    if not config.label_smoothing:
        return "sparse_categorical_crossentropy"
    return keras_module().losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)


def _targets(config: TrainConfig, labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.uint8)
    if not config.label_smoothing:
        return labels
    return np.eye(N_CLASSES, dtype=np.float32)[labels]


def _optimizer(config: TrainConfig, total_steps: int) -> Any:
    keras = keras_module()
    classes = {"adam": "Adam", "adamw": "AdamW", "nadam": "Nadam", "adamax": "Adamax",
               "rmsprop": "RMSprop", "sgd": "SGD", "adadelta": "Adadelta",
               "adagrad": "Adagrad"}
    optimizer = getattr(keras.optimizers, classes[config.optimizer.lower()])
    rate: Any = config.learning_rate
    if config.schedule == "cosine":
        # One-cycle in spirit: a short linear warm-up to the peak rate, then cosine decay
        # to zero, so the last epochs settle into a minimum instead of bouncing around it.
        warmup = max(1, int(WARMUP * total_steps))
        rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate / 10, warmup_target=config.learning_rate,
            warmup_steps=warmup, decay_steps=max(1, total_steps - warmup))
    elif config.schedule == "exponential":
        # The classic Kaggle MNIST schedule: ×0.95 per epoch, no warm-up.
        rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=max(1, total_steps // config.epochs),
            decay_rate=EPOCH_DECAY, staircase=True)
    return optimizer(learning_rate=rate)


def _progress_callback(progress: Progress, member: int, history: list[dict]) -> Any:
    keras = keras_module()

    class ForwardProgress(keras.callbacks.Callback):
        """Forwards Keras' events to a `Progress` and records one history row per epoch."""

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()
            progress.epoch_started(epoch + 1)

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            raise_if_pressed()
            progress.batch_done(batch + 1, dict(logs or {}))

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seconds = time.perf_counter() - self.started
            logs = {k: float(v) for k, v in (logs or {}).items()}
            history.append({"member": member, "epoch": epoch + 1,
                            "loss": logs.get("loss"), "accuracy": logs.get("accuracy"),
                            "val_loss": logs.get("val_loss"),
                            "val_accuracy": logs.get("val_accuracy"), "seconds": seconds})
            progress.epoch_done(epoch + 1, logs, seconds)

    return ForwardProgress()


def with_seed(config: TrainConfig, seed: int) -> TrainConfig:
    return replace(config, seed=seed)
