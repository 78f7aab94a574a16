"""Candidate presets for `cnn-fast`, `mlp-fast` and `best`, registered over kdigits' own.

`python bench/train_speed.py --presets bench/experiments/candidates.py` measures them through
kdigits' real training loop (`train.fit`) before they are copied into
`kaggle_digits/models.py`. Each is a literal layer list with its recipe beside it.
"""

from __future__ import annotations

from kaggle_digits import models
from kaggle_digits.models import Preset, Recipe, keras_module

# Keras' default BatchNorm momentum (0.99) needs ~500 steps before its moving statistics
# describe the data: a BatchNorm net scored after 1-2 short epochs predicts one class.
BN_MOMENTUM = 0.9


def _bn_relu() -> list:
    layers = keras_module().layers
    return [layers.BatchNormalization(momentum=BN_MOMENTUM), layers.Activation("relu")]


def _lenet_bn(dense: int = 128) -> list:
    """5×5 conv then pool, twice: ~3.9 M multiply-adds per digit, a third of mnist_cnn's."""
    layers = keras_module().layers
    return [layers.Conv2D(32, 5, use_bias=False), *_bn_relu(), layers.MaxPooling2D(2),
            layers.Conv2D(64, 5, use_bias=False), *_bn_relu(), layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(dense, use_bias=False), *_bn_relu(), layers.Dropout(0.3),
            layers.Dense(10, activation="softmax")]


def cnn_fast() -> list:
    layers = keras_module().layers
    # Small shifts and rotations, active only while training: what lifts a CNN from
    # ~99.3% to ≥99.5% on 42k digits. Zoom is left to `best` (a third transform per batch).
    return [layers.Input((28, 28, 1)),
            layers.RandomTranslation(0.08, 0.08, fill_mode="constant"),
            layers.RandomRotation(0.025, fill_mode="constant"),
            *_lenet_bn()]


def best() -> list:
    layers = keras_module().layers
    return [layers.Input((28, 28, 1)),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
            layers.RandomRotation(0.03, fill_mode="constant"),
            layers.RandomZoom(0.1, fill_mode="constant"),
            *_lenet_bn(256)]


def mlp_fast() -> list:
    layers = keras_module().layers
    return [layers.Input((784,)),
            layers.Dense(1024, use_bias=False), *_bn_relu(), layers.Dropout(0.3),
            layers.Dense(1024, use_bias=False), *_bn_relu(), layers.Dropout(0.3),
            layers.Dense(10, activation="softmax")]


CANDIDATES = [
    Preset("cnn-fast", "cnn", cnn_fast, Recipe("adam", 3e-3, 18, 128, schedule="cosine"),
           "kdigits default: BatchNorm LeNet + shifts/rotations, cosine schedule"),
    Preset("mlp-fast", "mlp", mlp_fast, Recipe("adam", 3e-3, 8, 256, schedule="cosine"),
           "kdigits: BatchNorm MLP 1024-1024, cosine schedule"),
    Preset("best", "cnn", best, Recipe("adam", 3e-3, 24, 128, schedule="cosine", members=3),
           "kdigits: 3 augmented BatchNorm LeNets (different seeds), averaged"),
]
models.PRESETS.update({p.name: p for p in CANDIDATES})
