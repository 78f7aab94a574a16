"""Model presets: each one a literal layer list with its training recipe beside it.

A reader should see an architecture at a glance, as in the Keras MNIST examples, so every
Keras preset is one small function returning its layers; swapping in a better design means
editing just that function. Keras is imported inside those functions, so listing presets or
reading a run never pays for TensorFlow. scikit-learn baselines sit behind the same
interface (`train.fit` / `TrainedModel.predict_proba`) for the comparison table.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kaggle_digits.errors import KdigitsError


def keras_module() -> Any:
    """Import Keras quietly: TensorFlow's C++ start-up chatter ("oneDNN custom operations",
    "Could not find cuda drivers", printed by absl before any log level applies) is noise
    on a CLI, so file descriptor 2 points at /dev/null for the import only. Python errors
    are raised after it is restored, so a broken install still shows its traceback."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import keras
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    # tf.function's "retracing" warnings fire when fold models predict in turn: not news
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras


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

    def describe(self) -> str:
        if self.optimizer is None:
            return "scikit-learn fit on pixels/255"
        lr = f" lr {self.learning_rate:g}" if self.learning_rate is not None else ""
        parts = [f"{self.optimizer}{lr}", f"{self.epochs} epochs", f"batch {self.batch_size}"]
        if self.schedule != "constant":
            parts.append(self.schedule)
        if self.validation_split:
            parts.append(f"validation split {self.validation_split:g}")
        if self.members > 1:
            parts.append(f"mean of {self.members} seeds")
        return ", ".join(parts)


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str  # "mlp" (input 784), "cnn" (input 28×28×1) or "sklearn"
    build: Callable[..., Any]  # () -> list of Keras layers, or (seed) -> sklearn estimator
    recipe: Recipe
    source: str

    @property
    def is_keras(self) -> bool:
        return self.kind in ("mlp", "cnn")

    def keras_model(self) -> Any:
        """A fresh, uncompiled model; its name is the preset's, so a saved file says
        what it is."""
        keras = keras_module()
        return keras.Sequential(self.build(), name=self.name)

    def parameters(self) -> int | None:
        return self.keras_model().count_params() if self.is_keras else None


# --- Keras presets -----------------------------------------------------------------------

def mlp_small() -> list:
    layers = keras_module().layers
    return [layers.Input((784,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(20, activation="relu"),
            layers.Dense(10, activation="softmax")]


def mlp() -> list:
    layers = keras_module().layers
    return [layers.Input((784,)),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax")]


def mlp_deep() -> list:
    layers = keras_module().layers
    return [layers.Input((784,)),
            layers.Dense(512, activation="relu"), layers.Dropout(0.4),
            layers.Dense(256, activation="relu"), layers.Dropout(0.3),
            layers.Dense(64, activation="relu"), layers.Dropout(0.2),
            layers.Dense(10, activation="softmax")]


def mlp_fast() -> list:
    # Provisional (helper F tunes it): BatchNorm lets Adam take large steps early.
    layers = keras_module().layers
    return [layers.Input((784,)),
            layers.Dense(512, use_bias=False), layers.BatchNormalization(),
            layers.Activation("relu"), layers.Dropout(0.2),
            layers.Dense(512, use_bias=False), layers.BatchNormalization(),
            layers.Activation("relu"), layers.Dropout(0.2),
            layers.Dense(10, activation="softmax")]


def cnn() -> list:
    layers = keras_module().layers
    return [layers.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2), layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"), layers.Dropout(0.5),
            layers.Dense(10, activation="softmax")]


def cnn_wide() -> list:
    layers = keras_module().layers
    return [layers.Input((28, 28, 1)),
            layers.Conv2D(64, 3, activation="relu"),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2), layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"), layers.Dropout(0.25),
            layers.Dense(10, activation="softmax")]


def _conv_bn(filters: int) -> list:
    """Conv → BatchNorm → ReLU; no conv bias because BatchNorm's shift replaces it."""
    layers = keras_module().layers
    return [layers.Conv2D(filters, 3, use_bias=False), layers.BatchNormalization(),
            layers.Activation("relu")]


def cnn_fast() -> list:
    # Provisional (helper F tunes it). "valid" convolutions shrink 28→24→12→8→4, which
    # keeps an epoch cheap on two CPU cores while BatchNorm + one-cycle-style cosine
    # schedule reach >99% in a handful of epochs.
    layers = keras_module().layers
    return [layers.Input((28, 28, 1)),
            *_conv_bn(32), *_conv_bn(32), layers.MaxPooling2D(2),
            *_conv_bn(64), *_conv_bn(64), layers.MaxPooling2D(2),
            layers.Flatten(), layers.Dropout(0.3),
            layers.Dense(128, activation="relu"), layers.Dropout(0.3),
            layers.Dense(10, activation="softmax")]


def best() -> list:
    # Provisional (helper F tunes it): cnn-fast behind augmentation layers, which Keras
    # applies only while training, so predictions see the digits as they are.
    layers = keras_module().layers
    return [layers.Input((28, 28, 1)),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
            layers.RandomRotation(0.04, fill_mode="constant"),
            layers.RandomZoom(0.1, fill_mode="constant"),
            *cnn_fast()[1:]]


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
    Preset("mlp-fast", "mlp", mlp_fast, Recipe("adam", 3e-3, 6, 128, schedule="cosine"),
           "kdigits: BatchNorm MLP, cosine schedule (provisional)"),
    Preset("cnn", "cnn", cnn, Recipe("adadelta", 1.0, 12, 128),
           "Keras classic mnist_cnn (~99.1%)"),
    Preset("cnn-wide", "cnn", cnn_wide, Recipe("adadelta", 1.0, 12, 128),
           "mnist_cnn with 64/128 filters (~99.1%)"),
    Preset("cnn-fast", "cnn", cnn_fast, Recipe("adam", 3e-3, 5, 128, schedule="cosine"),
           "kdigits default: BatchNorm CNN, cosine schedule (provisional)"),
    Preset("best", "cnn", best, Recipe("adam", 3e-3, 15, 128, schedule="cosine", members=3),
           "kdigits: cnn-fast + augmentation, mean of 3 seeds (provisional)"),
    Preset("logreg", "sklearn", logreg, _SKLEARN, "scikit-learn LogisticRegression"),
    Preset("random-forest", "sklearn", random_forest, _SKLEARN,
           "scikit-learn RandomForest, 200 trees"),
    Preset("knn", "sklearn", knn, _SKLEARN, "scikit-learn PCA(40) + 4-nearest neighbours"),
]}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise KdigitsError(f"unknown model {name!r}; choose one of: "
                           f"{', '.join(PRESETS)} (see `kdigits models`)") from None
