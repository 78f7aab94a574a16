"""Elastic distortions: Simard's, per image, training only, and saved with the model."""

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
