"""Short fits are small versions of long ones: BatchNorm re-estimated, early stopping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kaggle_digits import train
from kaggle_digits.errors import KdigitsError
from kaggle_digits.models import keras_module

SHORT_FIT_STEPS = train.SHORT_FIT_STEPS  # before any test patches it


@pytest.fixture(scope="module")
def split(train_sample: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
    pixels, labels = train_sample
    return pixels[:1200], labels[:1200], pixels[1200:], labels[1200:]


def _one_epoch_accuracy(split: tuple, monkeypatch: pytest.MonkeyPatch,
                        short_fit_steps: int) -> tuple[float, list[dict]]:
    x, y, x_test, y_test = split
    monkeypatch.setattr(train, "SHORT_FIT_STEPS", short_fit_steps)
    config = train.config_for("cnn-fast", epochs=1, seed=3)
    trained = train.fit("cnn-fast", x, y, config)
    return float((trained.predict(x_test) == y_test).mean()), trained.fit_info


def test_one_epoch_cnn_is_a_small_model_not_a_broken_one(
        split: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten steps of training leave BatchNorm's averages near their (0, 1) start: without
    re-estimating them the model predicts one or two classes; with it, most digits."""
    kept, kept_info = _one_epoch_accuracy(split, monkeypatch, short_fit_steps=0)
    fixed, fixed_info = _one_epoch_accuracy(split, monkeypatch,
                                            short_fit_steps=SHORT_FIT_STEPS)
    assert "batchnorm_recalibrated_rows" not in kept_info[0]
    assert fixed_info[0]["batchnorm_recalibrated_rows"] == 1200
    assert kept < 0.5 < 0.8 < fixed, (kept, fixed)


def test_recalibration_sets_each_norm_to_its_inputs_statistics(
        split: tuple) -> None:
    keras = keras_module()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(16),
                              keras.layers.BatchNormalization(), keras.layers.ReLU(),
                              keras.layers.Dropout(0.5), keras.layers.Dense(8),
                              keras.layers.BatchNormalization()])
    x = train.model_inputs(split[0][:500], (None, 784))
    assert train.recalibrate_batchnorm(model, x) == 500
    first = model.layers[0](x).numpy()
    norm = model.layers[1]
    np.testing.assert_allclose(norm.moving_mean.numpy(), first.mean(axis=0), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(norm.moving_variance.numpy(), first.var(axis=0), rtol=1e-4)
    # the second norm sees the first one's corrected output, dropout off (predict time)
    second = model.layers[4](model.layers[2](norm(first, training=False))).numpy()
    np.testing.assert_allclose(model.layers[5].moving_mean.numpy(), second.mean(axis=0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.layers[5].moving_variance.numpy(), second.var(axis=0),
                               rtol=1e-4)


def test_early_stopping_watches_carved_rows_and_restores_the_best_epoch(
        split: tuple) -> None:
    x, y, _, _ = split
    config = train.config_for("mlp-fast", epochs=40, early_stopping=1, seed=1)
    assert train.watched_share(config) == train.EARLY_STOPPING_SPLIT
    assert train.watched_share(train.config_for("mlp-fast")) == 0  # nothing to watch
    trained = train.fit("mlp-fast", x, y, config)
    (info,) = trained.fit_info
    ran = [row for row in trained.history if row["member"] == 1]
    assert info["epochs_run"] == len(ran) < 40  # stopped: 40 epochs on 1,080 rows overfit
    losses = [row["val_loss"] for row in ran]
    assert info["best_epoch"] == 1 + int(np.argmin(losses))
    assert info["epochs_run"] == info["best_epoch"] + 1  # patience 1


def test_early_stopping_refuses_nonsense() -> None:
    with pytest.raises(KdigitsError, match="patience in epochs"):
        train.config_for("cnn-fast", early_stopping=-1)
    with pytest.raises(KdigitsError, match="Keras models only"):
        train.config_for("knn", early_stopping=2)


def test_cv_early_stopping_records_where_each_fold_stopped(kd, sample_files: dict,
                                                            tmp_path) -> None:
    code, _, err = kd("cv", "--model", "mlp-fast", "--train", str(sample_files["train"]),
                      "--folds", "2", "--holdout", "0", "--epochs", "30",
                      "--early-stopping", "1", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    config = json.loads((run / "config.json").read_text())
    assert config["training"]["early_stopping"] == 1
    assert config["training"]["validation_split"] == 0  # implied, so --refit can drop it
    for fold in (1, 2):
        record = json.loads((run / "folds" / f"fold-{fold}.json").read_text())
        (info,) = record["fit_info"]
        assert info["best_epoch"] < info["epochs_run"] < 30
        # the watched rows are carved from the fold's training rows, not its test rows
        assert record["train_rows"] + record["test_rows"] == 3000


@pytest.mark.parametrize("option", [["--early-stopping", "2"], ["--precision", "bfloat16"],
                                    ["--mix", "none"], ["--label-smoothing", "0.1"]])
def test_submit_refuses_training_options_without_training(kd, tmp_path, option) -> None:
    code, _, err = kd("submit", "--run", str(tmp_path), *option)
    assert code == 2
    assert err.strip().splitlines() == [
        "error: --epochs, --seed, --members, --mix, --early-stopping, --precision, "
        "--label-smoothing and --option only apply when training (--model, or --run with "
        "--refit)"]
