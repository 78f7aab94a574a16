"""Image layers Keras lacks: Simard's elastic distortions, and moment deskewing.

**Elastic distortions** (Simard, Steinkraus & Platt 2003), the classic MNIST augmentation.
Keras ships `RandomElasticTransform`, but it is not Simard's: its horizontal and vertical
fields are drawn with the same seed (every pixel moves along the diagonal), one field serves
a whole batch whose size is unknown while tracing, and below sigma 1 it does not smooth at
all. This layer draws an independent field per image and axis, uniform in [-1, 1] per
pixel, smooths it with a Gaussian of width ``sigma`` (two 1-D passes) and scales it by
``alpha`` pixels: with Simard's alpha 34 and sigma 4, strokes bend by a pixel or two, as a
hand's do. Training only; at predict time it passes images through.

**Deskewing** shears each digit upright and centres it on its centre of mass, in training
and prediction alike: the same digit drawn with another slant reaches the net as one shape,
so a net trained on deskewed digits errs on other digits than one trained on raw ones, and
the two average well (bench/README.md, "Deskewed digits").

Plain `keras.ops`, so they run on every backend; registered, so a saved model that contains
one loads wherever kdigits is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kaggle_digits.backend import keras_module

keras = keras_module()


@keras.saving.register_keras_serializable(package="kdigits")
class ElasticDistortion(keras.layers.Layer):
    """Moves every pixel of an N×H×W×1 image batch along a smooth random field."""

    def __init__(self, alpha: float = 34.0, sigma: float = 4.0, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not sigma > 0 or alpha < 0:
            raise ValueError(f"elastic distortion needs sigma > 0 and alpha >= 0, not "
                             f"sigma {sigma}, alpha {alpha}")
        self.alpha, self.sigma, self.seed = float(alpha), float(sigma), seed
        self.generator = keras.random.SeedGenerator(seed)
        radius = max(1, round(3 * self.sigma))
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / self.sigma) ** 2)
        self.taps = (taps / taps.sum()).astype("float32")
        self.supports_masking = False

    def call(self, images: Any, training: bool | None = None) -> Any:
        if not training or self.alpha == 0:
            return images
        ops = keras.ops
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        field = keras.random.uniform((batch, height, width, 2), -1.0, 1.0,
                                     seed=self.generator, dtype=images.dtype)
        taps = ops.cast(ops.convert_to_tensor(self.taps), images.dtype)
        size = self.taps.shape[0]
        down = ops.tile(ops.reshape(taps, (size, 1, 1, 1)), (1, 1, 2, 1))
        across = ops.tile(ops.reshape(taps, (1, size, 1, 1)), (1, 1, 2, 1))
        field = ops.depthwise_conv(ops.depthwise_conv(field, down, padding="same"),
                                   across, padding="same") * self.alpha
        rows = ops.cast(ops.arange(height), images.dtype)[None, :, None] + field[..., 0]
        cols = ops.cast(ops.arange(width), images.dtype)[None, None, :] + field[..., 1]
        return _bilinear(images, rows, cols)[..., None]

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha, "sigma": self.sigma,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="kdigits")
class Deskew(keras.layers.Layer):
    """Shears each digit of an N×H×W×1 batch so that its ink has no slant (zero covariance
    of row and column, as LeCun's deskewed MNIST), and moves its centre of mass to the
    middle of the image. Training and prediction alike: it is part of what the net reads.
    It computes in float32 whatever the model's policy: in bfloat16 the ink's moments (sums
    near 10³) would round to whole pixels."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, images: Any) -> Any:
        ops = keras.ops
        height, width = images.shape[1], images.shape[2]
        ink = images[..., 0]
        rows = ops.cast(ops.arange(height), ink.dtype)[None, :, None]
        cols = ops.cast(ops.arange(width), ink.dtype)[None, None, :]
        mass = ops.sum(ink, axis=(1, 2)) + 1e-6  # a blank image stays blank

        def mean(values: Any) -> Any:
            return ops.sum(ink * values, axis=(1, 2)) / mass

        centre_row, centre_col = mean(rows), mean(cols)
        down = rows - centre_row[:, None, None]
        slant = mean(down * (cols - centre_col[:, None, None])) / (mean(down**2) + 1e-6)
        middle_row, middle_col = (height - 1) / 2, (width - 1) / 2
        one, zero = ops.ones_like(slant), ops.zeros_like(slant)
        # Each output pixel (col x, row y) reads the input at
        # (x + slant·(y − middle) + centre_col − middle, y + centre_row − middle).
        transform = ops.stack([one, slant, centre_col - middle_col - slant * middle_row,
                               zero, one, centre_row - middle_row, zero, zero], axis=1)
        return ops.image.affine_transform(images, transform, interpolation="bilinear",
                                          fill_mode="constant")

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


def _bilinear(images: Any, rows: Any, cols: Any) -> Any:
    """``images[n, rows, cols, 0]`` at fractional positions, 0 outside the image; with
    gathers on the flattened batch, which trace with an unknown batch size on every
    backend (Keras' map_coordinates does not, under TensorFlow's tracing)."""
    ops = keras.ops
    height, width = images.shape[1], images.shape[2]
    flat = ops.reshape(images, (-1, height * width))
    top, left = ops.floor(rows), ops.floor(cols)
    down, right = rows - top, cols - left

    def pixel(y: Any, x: Any) -> Any:
        inside = (y >= 0) & (y <= height - 1) & (x >= 0) & (x <= width - 1)
        index = (ops.cast(ops.clip(y, 0, height - 1), "int32") * width
                 + ops.cast(ops.clip(x, 0, width - 1), "int32"))
        values = ops.take_along_axis(flat, ops.reshape(index, (-1, height * width)), axis=1)
        return ops.where(inside, ops.reshape(values, ops.shape(y)), 0.0)

    return ((1 - down) * (1 - right) * pixel(top, left) + (1 - down) * right * pixel(top, left + 1)
            + down * (1 - right) * pixel(top + 1, left) + down * right * pixel(top + 1, left + 1))
