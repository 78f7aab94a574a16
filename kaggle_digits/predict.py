"""Probabilities for test digits: several models × test-time views, averaged.

Models come in as plain ``predict_proba`` callables (a Keras model, a fold model loaded
from a run, a scikit-learn baseline), so this module never imports TensorFlow itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from kaggle_digits.constants import N_CLASSES, SIDE
from kaggle_digits.errors import KdigitsError

Predictor = Callable[[np.ndarray], np.ndarray]
Advance = Callable[[int], None]

# Test-time augmentation views: the image itself and the four one-pixel shifts. Digits in
# MNIST are centred by centre of mass, so a 1-pixel shift is well inside what the models
# saw in training, while averaging over it smooths out a model's sensitivity to exact
# placement. Larger shifts or rotations cost more and help less on this data.
TTA_SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
PREDICT_ROWS = 4096  # rows per predict call: small enough for a smooth progress bar


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


def tta_images(pixels: np.ndarray, tta: bool) -> Iterator[np.ndarray]:
    """The images as each TTA view shows them, one view at a time (a full copy each, so
    never more than one extra copy is held)."""
    for dy, dx in tta_views(tta):
        yield shift_images(pixels, dy, dx) if (dy, dx) != (0, 0) else pixels


def average_probabilities(models: Sequence[Predictor], pixels: np.ndarray, *,
                          tta: bool = False, advance: Advance | None = None) -> np.ndarray:
    """Mean class probabilities over every model and every TTA view (N×10 float32).

    Averaging probabilities (not votes) is what makes fold models and shifted views help:
    a confident model outweighs an unsure one on the rows where they disagree.

    ``advance`` is called with the number of images in each chunk once every model has
    scored every view of it, so a progress bar counts images (28,000 for Kaggle's
    test.csv), not images × passes. Each row still sums its passes in the same order
    (model by model, view by view), so the result does not depend on the chunking.
    """
    if not models:
        raise KdigitsError("no models to predict with")
    total = np.zeros((len(pixels), N_CLASSES), dtype=np.float64)
    views = tta_views(tta)
    for start in range(0, len(pixels), PREDICT_ROWS):
        chunk = pixels[start:start + PREDICT_ROWS]
        for predict in models:
            for view in tta_images(chunk, tta):
                total[start:start + len(chunk)] += predict(view)
        if advance is not None:
            advance(len(chunk))
    return (total / (len(models) * len(views))).astype(np.float32)
