"""Presets: the published architectures exactly, and every preset trains on real digits."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from kaggle_digits import models, train
from kaggle_digits.errors import KdigitsError


@pytest.mark.parametrize(("name", "parameters"), [
    ("mlp-small", 103_270),  # 784·128+128 + 128·20+20 + 20·10+10
    ("mlp", 407_050),
    ("mlp-deep", 550_346),
    ("cnn", 1_199_882),
    ("cnn-wide", 2_435_210),
])
def test_published_recipes_have_their_parameter_counts(name: str, parameters: int) -> None:
    assert models.get_preset(name).keras_model().count_params() == parameters
    assert models.get_preset(name).parameters() == parameters


def test_listed_parameter_counts_are_what_keras_counts() -> None:
    """`kdigits models` reads PARAMETER_COUNTS instead of building every preset: each
    count there must be what Keras counts for the built model, for every Keras preset."""
    keras_presets = [p for p in models.PRESETS.values() if p.is_keras]
    assert sorted(models.PARAMETER_COUNTS) == sorted(p.name for p in keras_presets)
    for preset in keras_presets:
        assert preset.parameters() == preset.keras_model().count_params(), preset.name
    # options that change the layers are counted on the built model, not read from the table
    assert models.get_preset("mlp").parameters(width=256) == 784 * 256 + 256 + 256 * 10 + 10
    assert models.get_preset("mlp").parameters(width=512) == models.PARAMETER_COUNTS["mlp"]
    # the table shows a mix's groups at its preset's listed count: true of every group
    for preset in keras_presets:
        mixed = preset.recipe.mix_with
        for variant in preset.recipe.mix_variants if mixed else []:
            built = models.get_preset(mixed).keras_model(**variant).count_params()
            assert built == models.PARAMETER_COUNTS[mixed], (preset.name, variant)


def test_listing_presets_does_not_import_keras() -> None:
    """`kdigits models` takes well under a second because it never imports Keras, and
    neither does settling `best`'s recipe (its deskewed pair's switch is checked by type,
    not by building the net), which every command does before its first real work."""
    code = ("import sys; from kaggle_digits.cli import main; sys.argv = ['kdigits', 'models']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "from kaggle_digits.train import config_for; config_for('best')\n"
            "print('KERAS' if 'keras' in sys.modules else 'NO KERAS', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, cwd=REPO)
    assert "mlp-small" in done.stdout and "103,270" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "NO KERAS"


def _layer_list(name: str) -> list[tuple]:
    out = []
    for layer in models.get_preset(name).keras_model().layers:
        config = layer.get_config()
        out.append((type(layer).__name__, config.get("units") or config.get("filters")
                    or config.get("rate"), config.get("activation")))
    return out


def test_cnn_is_the_classic_keras_mnist_cnn() -> None:
    assert _layer_list("cnn") == [
        ("Conv2D", 32, "relu"), ("Conv2D", 64, "relu"), ("MaxPooling2D", None, None),
        ("Dropout", 0.25, None), ("Flatten", None, None), ("Dense", 128, "relu"),
        ("Dropout", 0.5, None), ("Dense", 10, "softmax")]
    recipe = models.get_preset("cnn").recipe
    assert (recipe.optimizer, recipe.learning_rate, recipe.epochs, recipe.batch_size) == (
        "adadelta", 1.0, 12, 128)


def test_cnn_wide_and_mlp_deep_layers() -> None:
    assert [t[:2] for t in _layer_list("cnn-wide")] == [
        ("Conv2D", 64), ("Conv2D", 128), ("MaxPooling2D", None), ("Dropout", 0.25),
        ("Flatten", None), ("Dense", 128), ("Dropout", 0.25), ("Dense", 10)]
    assert _layer_list("mlp-deep") == [
        ("Dense", 512, "relu"), ("Dropout", 0.4, None), ("Dense", 256, "relu"),
        ("Dropout", 0.3, None), ("Dense", 64, "relu"), ("Dropout", 0.2, None),
        ("Dense", 10, "softmax")]
    deep = models.get_preset("mlp-deep").recipe
    assert (deep.optimizer, deep.epochs, deep.batch_size, deep.validation_split) == (
        "rmsprop", 30, 128, 0.2)
    assert _layer_list("mlp-small") == [("Dense", 128, "relu"), ("Dense", 20, "relu"),
                                        ("Dense", 10, "softmax")]
    assert models.get_preset("mlp-small").recipe.epochs == 20
    assert models.get_preset("mlp").recipe.epochs == 5


def test_best_augments_only_while_training() -> None:
    keras = models.keras_module()
    model = models.get_preset("best").keras_model()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:3] == ["RandomTranslation", "RandomRotation", "RandomZoom"]
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    augmenting = keras.Sequential(model.layers[:3])
    assert np.array_equal(np.asarray(augmenting(x, training=False)), x)
    assert not np.array_equal(np.asarray(augmenting(x, training=True)), x)


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(KdigitsError, match=r"unknown model 'cnn-huge'.*cnn-fast"):
        models.get_preset("cnn-huge")


@pytest.mark.parametrize("name", list(models.PRESETS))
def test_every_preset_trains_one_epoch_on_real_digits(
        name: str, train_sample: tuple[np.ndarray, np.ndarray]) -> None:
    pixels, labels = train_sample
    keras = models.PRESETS[name].is_keras
    # batch 16: 25 steps, enough for BatchNorm's moving statistics (momentum 0.9) to settle
    overrides = {"epochs": 1, "batch_size": 16} if keras else {}
    if name == "best":
        overrides["members"] = 1  # keep it tiny (averaging is tested in test_train.py)
        overrides["mix_members"] = 0  # its own net: the mixed-in cnn-fast has its own case
        overrides["epochs"] = 3  # dropout 0.4 ×3 and heavy augmentation: slower to start
    config = train.config_for(name, **overrides)
    trained = train.fit(name, pixels[:400], labels[:400], config)
    proba = trained.predict_proba(pixels[2500:2700])
    assert proba.shape == (200, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    # one epoch on 400 digits is crude, but it must beat guessing (10%) clearly
    assert (proba.argmax(axis=1) == labels[2500:2700]).mean() > 0.3
    if keras:
        assert len(trained.members) == 1
        assert [row["epoch"] for row in trained.history] == list(range(1, config.epochs + 1))


def test_cnn_fast_builds_the_smaller_pool_first_net_and_its_earlier_one_on_request() -> None:
    """cnn-fast's default: 16 and 48 filters, each convolution pooled before its BatchNorm
    and ReLU (bench/README.md's candidate); the 32/64 pool-after net it replaced is one set
    of options away, and those are the options kdigits rebuilds older runs with."""
    preset = models.get_preset("cnn-fast")
    net = preset.keras_model()
    kinds = [type(layer).__name__ for layer in net.layers]
    first = kinds.index("Conv2D")
    assert kinds[first:first + 4] == ["Conv2D", "MaxPooling2D", "BatchNormalization",
                                      "Activation"]
    # conv 5×5×16, BN, conv 5×5×16×48, BN, dense (4·4·48)×128, BN, dense 128×10 + 10
    assert net.count_params() == (400 + 64 + 19_200 + 192 + 98_304 + 512 + 1_290)
    earlier = models.options_building("cnn-fast", 185_258)
    assert earlier == {"conv1": 32, "conv2": 64, "pool_first": False}
    older = preset.keras_model(**earlier)
    kinds = [type(layer).__name__ for layer in older.layers]
    first = kinds.index("Conv2D")
    assert kinds[first:first + 3] == ["Conv2D", "BatchNormalization", "Activation"]
    assert older.count_params() == 185_258
    assert models.options_building("cnn-fast", 119_962) is None


def test_multiply_adds_counts_each_kernel_once_per_output_position() -> None:
    """A 3×3 convolution from 1 to 2 channels over a 5×5 digit has 3×3 outputs of 9 × 2
    multiply-adds each (162); the dense layer 18 inputs × 10 (180). Pooling, BatchNorm
    and augmentation count nothing."""
    keras = models.keras_module()
    model = keras.Sequential([keras.Input((5, 5, 1)), keras.layers.RandomRotation(0.1),
                              keras.layers.Conv2D(2, 3), keras.layers.BatchNormalization(),
                              keras.layers.MaxPooling2D(1), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    assert models.multiply_adds(model) == 162 + 180
    # A separable 3×3 convolution from 2 to 4 channels: 3·3·2 depthwise plus 2·4 pointwise
    # multiply-adds at each of 3×3 outputs (234); inside a model wrapped in another, as
    # `Preset.keras_model` wraps a builder's keras.Model, it still counts.
    inputs = keras.Input((5, 5, 2))
    inner = keras.Model(inputs, keras.layers.SeparableConv2D(4, 3)(inputs))
    outer_inputs = keras.Input((5, 5, 2))
    assert models.multiply_adds(keras.Model(outer_inputs, inner(outer_inputs))) == 234
    best, fast = (models.get_preset(name).keras_model() for name in ("best", "cnn-fast"))
    assert 9 < models.multiply_adds(best) / models.multiply_adds(fast) < 10
