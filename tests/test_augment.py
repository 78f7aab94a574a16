"""Elastic distortions (Simard's, per image, training only) and deskewing, each saved with
the model."""

from __future__ import annotations

import numpy as np
import pytest

from kaggle_digits import train


@pytest.fixture(scope="module")
def digits(train_sample: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    pixels, _ = train_sample
    return train.model_inputs(pixels[:64], (None, 28, 28, 1))


def test_elastic_bends_strokes_by_a_pixel_or_two_in_training_only(digits) -> None:
    from kaggle_digits.augment import ElasticDistortion

    layer = ElasticDistortion(alpha=34.0, sigma=4.0, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(digits, training=False)), digits)
    bent = np.asarray(layer(digits, training=True))
    assert bent.shape == digits.shape and bent.min() >= 0 and bent.max() <= 1
    change = np.abs(bent - digits).mean(axis=(1, 2, 3)) / digits.mean(axis=(1, 2, 3))
    assert 0.1 < np.median(change) < 1.0, change  # moved, not scrambled or blanked
    ink = bent.sum(axis=(1, 2, 3)) / digits.sum(axis=(1, 2, 3))
    low, high = np.percentile(ink, [5, 95])
    assert 0.9 < np.median(ink) < 1.1 and low > 0.7 and high < 1.4, ink
    twice = np.asarray(layer(np.repeat(digits[:1], 2, axis=0), training=True))
    assert not np.allclose(twice[0], twice[1])  # a field per image, not per batch
    flat = ElasticDistortion(alpha=0.0)
    np.testing.assert_array_equal(np.asarray(flat(digits, training=True)), digits)


def test_a_model_with_elastic_distortions_saves_and_loads(train_sample, tmp_path) -> None:
    pixels, labels = train_sample
    config = train.config_for("best", epochs=1, members=1, mix_members=0,
                              model_options={"elastic": 34.0, "elastic_sigma": 8.0})
    trained = train.fit("best", pixels[:600], labels[:600], config)
    bend = trained.members[0].layers[0]
    assert type(bend).__name__ == "ElasticDistortion" and (bend.alpha, bend.sigma) == (34, 8)
    path = trained.save(tmp_path / "best.keras")
    again = train.load_trained(path)
    np.testing.assert_array_equal(again.predict_proba(pixels[2000:2200]),
                                  trained.predict_proba(pixels[2000:2200]))


def _slant_and_centre(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each image's slant (covariance of column on row over the row variance, ink-weighted)
    and its centre of mass (row, column), measured in NumPy, apart from the layer."""
    ink = images[..., 0].astype(np.float64)
    rows, cols = np.mgrid[:ink.shape[1], :ink.shape[2]]
    mass = ink.sum(axis=(1, 2))
    row = (ink * rows).sum(axis=(1, 2)) / mass
    col = (ink * cols).sum(axis=(1, 2)) / mass
    down, across = rows - row[:, None, None], cols - col[:, None, None]
    slant = (ink * down * across).sum(axis=(1, 2)) / (ink * down**2).sum(axis=(1, 2))
    return slant, row, col


def test_deskew_stands_digits_upright_and_centres_them(digits) -> None:
    from kaggle_digits.augment import Deskew

    layer = Deskew()
    upright = np.asarray(layer(digits))
    np.testing.assert_array_equal(np.asarray(layer(digits, training=True)), upright)
    slant, _, _ = _slant_and_centre(digits)
    assert np.median(np.abs(slant)) > 0.1  # real handwriting leans
    slant, row, col = _slant_and_centre(upright)
    assert np.abs(slant).max() < 0.05, slant  # sheared upright, to interpolation's error
    assert np.abs(row - 13.5).max() < 0.5 and np.abs(col - 13.5).max() < 0.5
    ink = upright.sum(axis=(1, 2, 3)) / digits.sum(axis=(1, 2, 3))
    assert np.median(ink) == pytest.approx(1.0, abs=0.02) and ink.min() > 0.85, ink
    blank = np.zeros((1, 28, 28, 1), np.float32)
    np.testing.assert_array_equal(np.asarray(layer(blank)), blank)
    from kaggle_digits.models import _dtype_policy, keras_module

    with _dtype_policy(keras_module(), "mixed_bfloat16"):  # as `--precision bfloat16` builds
        in_bfloat16 = Deskew()
    np.testing.assert_array_equal(np.asarray(in_bfloat16(digits)), upright)  # float32 inside


def test_a_model_that_deskews_saves_loads_and_deskews_at_predict_time(train_sample,
                                                                       tmp_path) -> None:
    pixels, labels = train_sample
    config = train.config_for("cnn-fast", epochs=1, members=1,
                              model_options={"deskew": True})
    trained = train.fit("cnn-fast", pixels[:600], labels[:600], config)
    assert type(trained.members[0].layers[0]).__name__ == "Deskew"
    path = trained.save(tmp_path / "deskewed.keras")
    again = train.load_trained(path)
    held = pixels[2000:2200]
    np.testing.assert_array_equal(again.predict_proba(held), trained.predict_proba(held))
    # it deskews at predict time too: a digit moved by whole pixels is centred back, so
    # the net reads both alike (a net without the layer tells them apart)
    grids = held.reshape(-1, 28, 28)
    roomy = grids[:, :, -3:].max(axis=(1, 2)) == 0  # room to move 3 columns right
    digits_here, moved = held[roomy], np.roll(grids[roomy], 3, axis=2).reshape(-1, 784)
    np.testing.assert_allclose(again.predict_proba(moved), again.predict_proba(digits_here),
                               atol=1e-4)
    plain = train.fit("cnn-fast", pixels[:600], labels[:600],
                      train.config_for("cnn-fast", epochs=1, members=1))
    assert np.abs(plain.predict_proba(moved) - plain.predict_proba(digits_here)).max() > 1e-2
