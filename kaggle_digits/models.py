"""Model presets: each one a literal layer list with its training recipe beside it.

A reader should see an architecture at a glance, as in the Keras MNIST examples, so every
Keras preset is one small function returning its layers; swapping in a better design means
editing just that function. Keras is imported inside those functions, so listing presets or
reading a run never pays for TensorFlow. scikit-learn baselines sit behind the same
interface (`train.fit` / `TrainedModel.predict_proba`) for the comparison table.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kaggle_digits.backend import compile_augmentation, keras_module
from kaggle_digits.errors import KdigitsError

# What ``--precision`` may say, and the Keras dtype policy each builds models under.
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


@contextlib.contextmanager
def _dtype_policy(keras: Any, policy: str) -> Iterator[None]:
    """Keras reads its dtype policy from a global when each layer is made; set it for the
    layers of one model only, so that nothing else built in the process inherits it."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


@dataclass(frozen=True)
class Recipe:
    """How a preset is trained unless the CLI overrides it (see `train.config_for`)."""

    optimizer: str | None = None  # None for scikit-learn presets
    learning_rate: float | None = None
    epochs: int | None = None
    batch_size: int | None = None
    schedule: str = "constant"  # or "cosine": warm-up then cosine decay, per batch
    validation_split: float = 0.0  # part of each training fold held out to watch
    members: int = 1  # models with different seeds whose probabilities are averaged
    tta: bool = False  # predict each digit as the mean of it and its four 1-pixel shifts
    # Share of each target spread evenly over the ten digits (Keras' label_smoothing): the
    # net is trained towards 1 - s + s/10 for the label and s/10 for the others.
    label_smoothing: float = 0.0
    # Another preset's nets trained beside these (its own recipe, the same seeds): nets
    # that err on other digits (`train.member_count`).
    mix_with: str | None = None
    mix_members: int = 0
    # one group of mix_members nets per entry, the entry its layer options (`--option`):
    # each group's mean is one member, so nets that err apart each get one member's say
    mix_variants: list = field(default_factory=lambda: [{}])

    def describe(self) -> str:
        """One line for `kdigits models` and `kdigits cv`'s plan, so the two never word a
        recipe apart; a schedule left out is the constant one."""
        if self.optimizer is None:
            return "scikit-learn fit on pixels/255"
        lr = f" lr {self.learning_rate:g}" if self.learning_rate is not None else ""
        epochs = f"{self.epochs} epoch{'' if self.epochs == 1 else 's'}"
        parts = [f"{self.optimizer}{lr}", epochs, f"batch {self.batch_size}"]
        if self.schedule != "constant":
            parts.append(f"{self.schedule} schedule")
        if self.validation_split:
            parts.append(f"validation split {self.validation_split:g}")
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        if self.members > 1:
            parts.append(f"mean of {self.members} seeds")
        if self.mix_members:
            groups = [f"{self.mix_members} {self.mix_with}"
                      + "".join(f" {k}={json.dumps(v)}" for k, v in variant.items())
                      for variant in self.mix_variants]
            each = "each group " if len(groups) > 1 else ""
            parts.append(f"mixed with {' and '.join(groups)} ({self.mix_with}'s own recipe) "
                         f"{each}as one member")
        if self.tta:
            parts.append("5-view TTA")
        return ", ".join(parts)


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str  # "mlp" (input 784), "cnn" (input 28×28×1) or "sklearn"
    build: Callable[..., Any]  # (**options) -> list of Keras layers, or (seed) -> estimator
    recipe: Recipe
    source: str

    @property
    def is_keras(self) -> bool:
        return self.kind in ("mlp", "cnn")

    def options(self) -> dict[str, Any]:
        """The builder's keyword options (width, dropout, augmentation) and their defaults,
        read from its signature so that tuning and ``--params`` files cannot drift from the
        layer list."""
        if not self.is_keras:
            return {}
        return {name: p.default for name, p in inspect.signature(self.build).parameters.items()
                if p.default is not inspect.Parameter.empty}

    def keras_model(self, name: str | None = None, precision: str = "float32",
                    **options: Any) -> Any:
        """A fresh, uncompiled model; its name is the preset's, so a saved file says
        what it is. A builder may return a list of layers or a whole Keras model.
        ``precision`` "bfloat16" builds it under Keras' mixed_bfloat16 policy (weights
        float32, arithmetic bfloat16) with the output layer kept in float32, as Keras
        advises, so that softmax and loss keep their precision."""
        keras = keras_module()
        with _dtype_policy(keras, PRECISIONS[precision]):
            built = self.build(**options)
            if precision != "float32" and isinstance(built, list):
                built[-1].dtype_policy = "float32"
            name = keras_name(name or self.name)
            if isinstance(built, keras.Model):
                inputs = keras.Input(tuple(built.input_shape[1:]))
                return compile_augmentation(keras.Model(inputs, built(inputs), name=name))
            return compile_augmentation(keras.Sequential(built, name=name))

    def parameters(self, **options: Any) -> int | None:
        """Weights in the model (Keras' ``count_params``; None for scikit-learn). A preset
        with its default options reads :data:`PARAMETER_COUNTS` instead of building the
        model, so listing presets never imports Keras; a test builds each to check."""
        if not self.is_keras:
            return None
        if self.name in PARAMETER_COUNTS and {**self.options(), **options} == self.options():
            return PARAMETER_COUNTS[self.name]
        return self.keras_model(**options).count_params()


def keras_name(label: str) -> str:
    """``label`` as a name Keras accepts for a model: a model file's path has slashes and a
    colon (``runs/mine.py:tiny``), which Keras refuses, and only when it builds the model."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")


def multiply_adds(model: Any) -> int:
    """Multiply-adds per image in a Keras model's kernels (convolutions, separable and
    depthwise ones, dense layers), models nested inside it included: how two nets'
    training times compare before either has run. It leaves out what has no kernel
    (augmentation, BatchNorm, pooling), so it flatters small nets: `best`'s net counts 9.7
    `cnn-fast` nets and trained 5 to 6 times as long an epoch on 2 cores."""
    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a builder's keras.Model, wrapped by `keras_model`
            total += multiply_adds(layer)
            continue
        kernels = [w for w in layer.weights if w.name.endswith("kernel")]
        if kernels:
            spatial = math.prod(layer.output.shape[1:-1])  # channels last; dense: none
            total += spatial * sum(math.prod(kernel.shape) for kernel in kernels)
    return total


# --- Keras presets -----------------------------------------------------------------------

def mlp_small() -> list:
    layers = keras_module().layers
    return [layers.Input((784,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(20, activation="relu"),
            layers.Dense(10, activation="softmax")]


def mlp(width: int = 512) -> list:
    layers = keras_module().layers
    return [layers.Input((784,)),
            layers.Dense(width, activation="relu"),
            layers.Dense(10, activation="softmax")]


def mlp_deep() -> list:
    layers = keras_module().layers
    return [layers.Input((784,)),
            layers.Dense(512, activation="relu"), layers.Dropout(0.4),
            layers.Dense(256, activation="relu"), layers.Dropout(0.3),
            layers.Dense(64, activation="relu"), layers.Dropout(0.2),
            layers.Dense(10, activation="softmax")]


def _bn_relu() -> list:
    """BatchNorm → ReLU. Momentum 0.9, not Keras' 0.99: with 0.99 the moving statistics
    lag so far behind a short schedule that a 1-epoch model predicts a single class."""
    layers = keras_module().layers
    return [layers.BatchNormalization(momentum=0.9), layers.Activation("relu")]


def mlp_fast(width: int = 512, dropout: float = 0.3) -> list:
    layers = keras_module().layers
    return [layers.Input((784,)),
            layers.Dense(width, use_bias=False), *_bn_relu(), layers.Dropout(dropout),
            layers.Dense(width, use_bias=False), *_bn_relu(), layers.Dropout(dropout),
            layers.Dense(10, activation="softmax")]


def cnn(dropout: float = 0.5) -> list:
    layers = keras_module().layers
    return [layers.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2), layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"), layers.Dropout(dropout),
            layers.Dense(10, activation="softmax")]


def cnn_wide(dropout: float = 0.25) -> list:
    layers = keras_module().layers
    return [layers.Input((28, 28, 1)),
            layers.Conv2D(64, 3, activation="relu"),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2), layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"), layers.Dropout(dropout),
            layers.Dense(10, activation="softmax")]


def _lenet_bn(dense: int = 128, dropout: float = 0.3, conv1: int = 32, conv2: int = 64,
              pool_first: bool = False) -> list:
    """A BatchNorm LeNet: 5×5 conv → pool, twice. About 3.9 M multiply-adds per digit with
    32/64 filters, a third of mnist_cnn's, which is where the CPU speed comes from
    (bench/README.md). ``pool_first`` pools each convolution's maps before BatchNorm and
    ReLU, which then run on a quarter of the values: a slightly different net (BatchNorm's
    statistics come from the pooled maps), measured in bench/README.md."""
    layers = keras_module().layers

    def block(filters: int) -> list:
        conv, pool = layers.Conv2D(filters, 5, use_bias=False), layers.MaxPooling2D(2)
        return [conv, pool, *_bn_relu()] if pool_first else [conv, *_bn_relu(), pool]

    return [*block(conv1), *block(conv2),
            layers.Flatten(),
            layers.Dense(dense, use_bias=False), *_bn_relu(), layers.Dropout(dropout),
            layers.Dense(10, activation="softmax")]


def cnn_fast(dense: int = 128, dropout: float = 0.3, shift: float = 0.08,
             rotate: float = 0.025, conv1: int = 16, conv2: int = 48,
             pool_first: bool = True, deskew: bool = False) -> list:
    # Small shifts and rotations (training only: Keras skips them at predict time) buy
    # the last half point that a plain BatchNorm CNN stalls short of. 16/48 filters pooled
    # before BatchNorm train in about 40% of the time of 32/64 pooled after, for the same
    # accuracy over 3 seeds × 2 splits (bench/README.md, "Cheaper candidates").
    # `deskew` straightens and centres each digit first, in training and prediction
    # (kaggle_digits.augment): about as accurate alone, wrong on other digits.
    layers = keras_module().layers
    upright = []
    if deskew:
        from kaggle_digits.augment import Deskew

        upright = [Deskew()]
    return [layers.Input((28, 28, 1)), *upright,
            layers.RandomTranslation(shift, shift, fill_mode="constant"),
            layers.RandomRotation(rotate, fill_mode="constant"),
            *_lenet_bn(dense, dropout, conv1, conv2, pool_first)]


def _conv_bn(filters: int, size: int, strides: int = 1) -> list:
    layers = keras_module().layers
    return [layers.Conv2D(filters, size, strides=strides, activation="relu",
                          padding="same" if strides > 1 else "valid"),
            layers.BatchNormalization(momentum=0.9)]


def best(dropout: float = 0.4, shift: float = 0.1, rotate: float = 10 / 360,
         zoom: float = 0.1, elastic: float = 0.0, elastic_sigma: float = 4.0) -> list:
    # Chris Deotte's Kaggle MNIST net (public kernel "25 Million Images! [0.99757]"):
    # stride-2 5×5 convolutions instead of pooling, BatchNorm after every convolution,
    # heavy dropout; trained on digits shifted, turned (±10°) and zoomed (±10%). About
    # 99.6% alone; several seeds averaged (`members`) are what reach the leaderboard.
    # `elastic` > 0 adds Simard's elastic distortions first, that many pixels strong (34 is
    # Simard's alpha), smoothed over `elastic_sigma` pixels (kaggle_digits.augment).
    layers = keras_module().layers
    bend = []
    if elastic:
        from kaggle_digits.augment import ElasticDistortion

        bend = [ElasticDistortion(alpha=elastic, sigma=elastic_sigma)]
    return [layers.Input((28, 28, 1)), *bend,
            layers.RandomTranslation(shift, shift, fill_mode="constant"),
            layers.RandomRotation(rotate, fill_mode="constant"),
            layers.RandomZoom(zoom, fill_mode="constant"),
            *_conv_bn(32, 3), *_conv_bn(32, 3), *_conv_bn(32, 5, strides=2),
            layers.Dropout(dropout),
            *_conv_bn(64, 3), *_conv_bn(64, 3), *_conv_bn(64, 5, strides=2),
            layers.Dropout(dropout),
            *_conv_bn(128, 4),
            layers.Flatten(), layers.Dropout(dropout),
            layers.Dense(10, activation="softmax")]


# --- scikit-learn baselines --------------------------------------------------------------

def logreg(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.1, max_iter=200, random_state=seed)


def random_forest(seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=200, n_jobs=-1, random_state=seed)


def knn(seed: int) -> Any:
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    # PCA to 40 dimensions drops pixel noise and makes neighbour search ~20× cheaper.
    return make_pipeline(PCA(n_components=40, random_state=seed),
                         KNeighborsClassifier(n_neighbors=4, weights="distance"))


_SKLEARN = Recipe()

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("mlp-small", "mlp", mlp_small, Recipe("rmsprop", 1e-3, 20, 128),
           "784-128-20-10 poster recipe (~97%)"),
    Preset("mlp", "mlp", mlp, Recipe("rmsprop", 1e-3, 5, 128),
           "Keras mnist_mlp, one hidden layer (~98%)"),
    Preset("mlp-deep", "mlp", mlp_deep, Recipe("rmsprop", 1e-3, 30, 128,
                                               validation_split=0.2),
           "512-256-64 with dropout (~98%)"),
    Preset("mlp-fast", "mlp", mlp_fast, Recipe("adam", 3e-3, 8, 256, schedule="cosine"),
           "kdigits: BatchNorm MLP, cosine schedule (~98.1%)"),
    Preset("cnn", "cnn", cnn, Recipe("adadelta", 1.0, 12, 128),
           "Keras classic mnist_cnn (~99.1%)"),
    Preset("cnn-wide", "cnn", cnn_wide, Recipe("adadelta", 1.0, 12, 128),
           "mnist_cnn with 64/128 filters (~99.1%)"),
    # Label smoothing 0.1 beat plain targets in 6 of 6 fits (3 seeds × 2 splits; bench/README.md,
    # "The default over seeds and splits").
    Preset("cnn-fast", "cnn", cnn_fast, Recipe("adam", 3e-3, 18, 128, schedule="cosine",
                                               tta=True, label_smoothing=0.1),
           "kdigits default: BatchNorm LeNet, shifts/rotations, cosine schedule (~99.5%)"),
    # The two cnn-fast nets cost ~4 of best's ~33 minutes on 2 cores and got 18 digits
    # right that best alone missed, against 6 the other way, on two splits nobody tuned on
    # (bench/README.md, "Mixing recipes").
    # The deskewed pair errs on other digits again: a third each scored 97 errors on the
    # built-in test against 104 without it, 83 against 96 on the untuned splits
    # (bench/README.md, "Deskewed digits").
    Preset("best", "cnn", best, Recipe("adam", 2e-3, 50, 128, schedule="cosine", tta=True,
                                       mix_with="cnn-fast", mix_members=2,
                                       mix_variants=[{}, {"deskew": True}]),
           "Deotte's Kaggle CNN, rotate/zoom/shift, mixed with 2+2 cnn-fast (~99.65%)"),
    Preset("logreg", "sklearn", logreg, _SKLEARN, "scikit-learn LogisticRegression"),
    Preset("random-forest", "sklearn", random_forest, _SKLEARN,
           "scikit-learn RandomForest, 200 trees"),
    Preset("knn", "sklearn", knn, _SKLEARN, "scikit-learn PCA(40) + 4-nearest neighbours"),
]}


# What each Keras preset's ``keras_model().count_params()`` gives with its default options:
# building all of them costs ~6 s of imports and graph building for a table people read in
# passing. tests/test_models.py builds every preset and fails if a count here is stale.
PARAMETER_COUNTS = {"mlp-small": 103_270, "mlp": 407_050, "mlp-deep": 550_346,
                    "mlp-fast": 672_778, "cnn": 1_199_882, "cnn-wide": 2_435_210,
                    "cnn-fast": 119_962, "best": 327_242}

# Layer options that rebuild a preset as an earlier kdigits built it by default, by the
# weight count a run recorded then: a cv run started before a default changed resumes
# (and refits) on the net it started with instead of stopping.
EARLIER_DEFAULTS: dict[str, dict[int, dict[str, Any]]] = {
    "cnn-fast": {185_258: {"conv1": 32, "conv2": 64, "pool_first": False}},
}


def options_building(preset: str, parameters: int) -> dict[str, Any] | None:
    """The layer options under which ``preset`` built a net of ``parameters`` weights by
    default in an earlier kdigits, if it did."""
    return EARLIER_DEFAULTS.get(preset, {}).get(parameters)


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise KdigitsError(f"unknown model {name!r}; choose one of: "
                           f"{', '.join(PRESETS)} (see `kdigits models`)") from None
