"""Training and run folders on real digits: seeds, saved models, pooled CV files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kaggle_digits import predict, runs, submit, train
from kaggle_digits.errors import KdigitsError
from kaggle_digits.models import PRESETS
from kaggle_digits.splits import HOLDOUT_FOLD, SplitConfig, make_split


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KDIGITS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def small(train_sample: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
    pixels, labels = train_sample
    return pixels[:600], labels[:600], pixels[2600:], labels[2600:]


class Recorder(train.Progress):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def fit_plan(self, costs: Sequence[float]) -> None:
        self.events.append(("plan", list(costs)))

    def fit_started(self, preset: str, member: int, members: int, epochs: int,
                    steps: int) -> None:
        self.events.append(("fit", member, members, epochs, steps))

    def batch_done(self, batch: int, logs: dict) -> None:
        self.events.append(("batch", batch, "loss" in logs and "accuracy" in logs))

    def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
        self.events.append(("epoch", epoch, "val_accuracy" in logs))


def test_config_for_applies_overrides_and_refuses_nonsense() -> None:
    config = train.config_for("cnn", epochs=2, batch_size=None, learning_rate=0.5)
    assert (config.epochs, config.batch_size, config.learning_rate, config.optimizer) == (
        2, 128, 0.5, "adadelta")
    with pytest.raises(KdigitsError, match="--epochs apply to Keras models only"):
        train.config_for("knn", epochs=3)
    with pytest.raises(KdigitsError, match="unknown optimizer 'adamm'"):
        train.config_for("mlp", optimizer="adamm")
    with pytest.raises(KdigitsError, match="--batch-size must be 1 or more"):
        train.config_for("mlp", batch_size=0)


def test_a_config_describes_its_recipe_as_the_preset_list_does() -> None:
    """The cv plan line and `kdigits models` both print `Recipe.describe`: a config gives
    back its preset's recipe (`settle` changes none of it), and the line names every
    override."""
    for name, preset in PRESETS.items():
        if preset.is_keras:
            assert train.config_for(name).recipe() == preset.recipe, name
    smoothed = train.config_for("best", label_smoothing=0.2, epochs=3).recipe().describe()
    assert smoothed == ("adam lr 0.002, 3 epochs, batch 128, cosine schedule, label smoothing "
                        "0.2, mixed with 2 cnn-fast and 2 cnn-fast deskew=true (cnn-fast's "
                        "own recipe) each group as one member, 5-view TTA")


def test_test_time_augmentation_is_in_the_recipes_it_was_measured_to_help() -> None:
    assert train.config_for("cnn-fast").tta and train.config_for("best").tta
    assert train.config_for("cnn-fast", tta=False).tta is False
    assert not train.config_for("cnn").tta and not train.config_for("knn").tta


@pytest.mark.parametrize(("name", "overrides"), [("mlp-fast", {"epochs": 1, "members": 2}),
                                                  ("knn", {})])
def test_tta_probabilities_are_the_mean_over_the_shifted_views(
        small: tuple, name: str, overrides: dict) -> None:
    x, y, x_test, _ = small
    trained = train.fit(name, x, y, train.config_for(name, **overrides))
    views = [predict.shift_images(x_test, dy, dx) for dy, dx in predict.TTA_SHIFTS]
    expected = np.mean([trained.predict_proba(view) for view in views], axis=0)
    tta = trained.predict_proba(x_test, tta=True)
    np.testing.assert_allclose(tta, expected, atol=1e-6)
    assert not np.allclose(tta, trained.predict_proba(x_test), atol=1e-3)
    if trained.is_keras:  # each member's own mean over the views, as workers save them
        members = trained.member_probabilities(x_test, tta=True)
        assert len(members) == 2
        np.testing.assert_allclose(train.mean_of_members(members), tta, atol=1e-6)


def test_same_seed_same_model_other_seed_other_model(small: tuple) -> None:
    x, y, x_test, _ = small
    config = train.config_for("mlp", epochs=1, seed=5)
    a = train.fit("mlp", x, y, config).predict_proba(x_test)
    b = train.fit("mlp", x, y, config).predict_proba(x_test)
    c = train.fit("mlp", x, y, train.config_for("mlp", epochs=1, seed=6)).predict_proba(x_test)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_allclose(a.sum(axis=1), 1, atol=1e-6)


def test_progress_sees_every_batch_and_epoch(small: tuple) -> None:
    x, y, x_test, y_test = small
    recorder = Recorder()
    train.fit("mlp", x, y, train.config_for("mlp", epochs=2, batch_size=100),
              validation=(x_test, y_test), progress=recorder)
    assert recorder.events[:2] == [("plan", [1.0]), ("fit", 1, 1, 2, 6)]  # one net: all
    assert [e for e in recorder.events if e[0] == "epoch"] == [("epoch", 1, True),
                                                                ("epoch", 2, True)]
    batches = [e for e in recorder.events if e[0] == "batch"]
    assert [b[1] for b in batches] == [1, 2, 3, 4, 5, 6] * 2 and all(b[2] for b in batches)


def test_validation_split_recipe_trains_on_the_rest(small: tuple) -> None:
    x, y, _, _ = small
    recorder = Recorder()
    trained = train.fit("mlp-deep", x, y, train.config_for("mlp-deep", epochs=1),
                        progress=recorder)
    assert recorder.events[1][-1] == 4  # 480 of 600 rows in batches of 128
    assert trained.history[0]["val_accuracy"] is not None


@pytest.mark.parametrize(("name", "overrides", "suffix"), [
    ("mlp", {"epochs": 1}, ".keras"),
    ("mlp-fast", {"epochs": 1, "members": 2}, ".keras"),  # saved as one averaging model
    ("knn", {}, ".joblib"),
])
def test_saved_model_predicts_what_the_trained_one_did(
        small: tuple, tmp_path: Path, name: str, overrides: dict, suffix: str) -> None:
    x, y, x_test, _ = small
    trained = train.fit(name, x, y, train.config_for(name, **overrides))
    path = trained.save(tmp_path / f"fold-1{suffix}")
    assert {row["member"] for row in trained.history} == (
        set(range(1, overrides.get("members", 1) + 1)) if trained.is_keras else set())
    loaded = train.load_trained(path)
    assert loaded.preset == name
    np.testing.assert_allclose(loaded.predict_proba(x_test), trained.predict_proba(x_test),
                               atol=1e-6)
    with pytest.raises(KdigitsError, match="already exists"):
        trained.save(path)
    assert not list(tmp_path.glob("*.tmp"))


def test_bfloat16_trains_mixed_precision_and_saves_it(small: tuple, tmp_path: Path) -> None:
    x, y, x_test, _ = small
    config = train.config_for("cnn-fast", epochs=2, members=2, precision="bfloat16")
    trained = train.fit("cnn-fast", x, y, config)
    keras = train.keras_module()
    assert keras.config.dtype_policy().name == "float32"  # set for these models only
    net = trained.members[0]
    convs = [layer for layer in net.layers if "conv" in layer.name]
    assert convs and {layer.dtype_policy.name for layer in convs} == {"mixed_bfloat16"}
    assert convs[0].compute_dtype == "bfloat16" and convs[0].kernel.dtype == "float32"
    assert net.layers[-1].dtype_policy.name == "float32"  # softmax and loss in float32
    proba = trained.predict_proba(x_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(train.fit("cnn-fast", x, y, config).predict_proba(x_test), proba)
    same_seed = train.fit("cnn-fast", x, y, train.config_for("cnn-fast", epochs=2, members=2))
    agree = (proba.argmax(axis=1) == same_seed.predict_proba(x_test).argmax(axis=1)).mean()
    assert agree > 0.9 and not np.allclose(proba, same_seed.predict_proba(x_test), atol=1e-3)
    loaded = train.load_trained(trained.save(tmp_path / "fold-1.keras"))
    np.testing.assert_allclose(loaded.predict_proba(x_test), proba, atol=1e-6)
    with pytest.raises(KdigitsError, match="unknown precision 'float16'"):
        train.config_for("cnn-fast", precision="float16")
    with pytest.raises(KdigitsError, match="--precision apply to Keras models only"):
        train.config_for("knn", precision="bfloat16")


def test_best_mixes_in_two_pairs_of_cnn_fast_nets_and_none_drops_them() -> None:
    best = train.config_for("best")
    assert (best.members, best.mix_with, best.mix_members, train.member_count(best),
            train.mix_groups(best)) == (1, "cnn-fast", 2, 5, [2, 2])
    # each group its own recipe, same seed: the pairs `--members 2 [--option deskew=true]`
    assert train.mix_config(best) == train.config_for("cnn-fast", members=2)
    assert train.mix_config(best, 1) == train.config_for("cnn-fast", members=2,
                                                         model_options={"deskew": True})
    nets = [train._member_recipe(train.get_model("best"), best, member)
            for member in range(1, 6)]
    assert [(net.name, recipe.model_options, number) for net, recipe, number in nets] == [
        ("best", {}, 1), ("cnn-fast", {}, 1), ("cnn-fast", {}, 2),
        ("cnn-fast", {"deskew": True}, 1), ("cnn-fast", {"deskew": True}, 2)]
    alone = train.config_for("best", **train.parse_mix("none"))
    assert (alone.mix_with, alone.mix_members, alone.mix_variants,
            train.member_count(alone)) == (None, 0, [{}], 1)
    assert train.mix_config(alone) is None
    # the recipe's own preset keeps its groups; another preset's nets are one plain group
    assert train.member_count(train.config_for("best", **train.parse_mix("cnn-fast:3"))) == 7
    other = train.config_for("best", seed=5, **train.parse_mix("mlp-fast:3"))
    assert (other.mix_members, other.mix_variants, train.member_count(other)) == (3, [{}], 4)
    with pytest.raises(KdigitsError, match="cnn-fast has no option widht"):
        train.config_for("best", mix_variants=[{}, {"widht": 2}])
    with pytest.raises(KdigitsError, match="mix_variants is a list of one or more"):
        train.config_for("best", mix_variants=[])
    assert train.parse_mix("nets.py:wide:2") == {"mix_with": "nets.py:wide", "mix_members": 2}
    assert train.parse_mix("nets.py:wide") == {"mix_with": "nets.py:wide", "mix_members": 1}
    with pytest.raises(KdigitsError, match="--mix takes PRESET:N"):
        train.parse_mix("cnn-fast:0")
    with pytest.raises(KdigitsError, match="--mix needs a Keras model to mix in, not knn"):
        train.config_for("cnn", **train.parse_mix("knn:1"))
    with pytest.raises(KdigitsError, match="--mix applies to Keras models only, not knn"):
        train.config_for("knn", **train.parse_mix("cnn:1"))


def test_mixed_in_nets_are_the_other_presets_own_and_count_as_one_member(
        small: tuple, tmp_path: Path) -> None:
    """A CNN with two MLPs mixed in: the MLPs are the very nets `--model mlp-fast
    --members 2` trains with that seed, their mean weighs as much as the CNN, and the
    saved file (one model, flattening the digits for the MLPs) predicts the same."""
    x, y, x_test, y_test = small
    config = train.config_for("cnn-fast", epochs=1, seed=3, **train.parse_mix("mlp-fast:2"))
    progress = Recorder()
    trained = train.fit("cnn-fast", x, y, config, progress=progress)
    assert [m.name for m in trained.members] == ["cnn-fast-1", "mlp-fast-2", "mlp-fast-3"]
    assert [e[1:4] for e in progress.events if e[0] == "fit"] == [(1, 3, 1), (2, 3, 8),
                                                                (3, 3, 8)]
    # The ETA's guess: epochs × multiply-adds per image (cnn-fast 1,558,784; mlp-fast
    # 784·512 + 512·512 + 512·10 = 668,672), sent once, before the first net.
    assert progress.events[0] == ("plan", [1_558_784.0, 8 * 668_672.0, 8 * 668_672.0])
    cnn, *mlps = trained.member_probabilities(x_test)
    alone = train.fit("mlp-fast", x, y, train.config_for("mlp-fast", members=2, seed=3))
    np.testing.assert_array_equal(np.stack(alone.member_probabilities(x_test)), mlps)
    proba = trained.predict_proba(x_test)
    np.testing.assert_allclose(proba, (cnn + (mlps[0] + mlps[1]) / 2) / 2, atol=1e-6)
    assert not np.allclose(proba, (cnn + mlps[0] + mlps[1]) / 3, atol=1e-4)
    assert (proba.argmax(axis=1) == y_test).mean() > 0.85
    loaded = train.load_trained(trained.save(tmp_path / "fold-1.keras"))
    np.testing.assert_allclose(loaded.predict_proba(x_test), proba, atol=1e-6)
    third = train.fit("cnn-fast", x, y, config, member=3)  # as a worker trains it
    np.testing.assert_array_equal(third.member_probabilities(x_test)[0], mlps[1])
    np.testing.assert_allclose(third.predict_proba(x_test), mlps[1], atol=1e-6)  # no mix


def test_each_mixed_in_group_is_its_own_pair_and_counts_as_one_member(
        small: tuple, tmp_path: Path) -> None:
    """`best`'s way of mixing two kinds of net: each group is the pair ``--model mlp-fast
    --members 2 [--option …]`` trains with that seed, each pair's mean weighs as much as
    the main net, and the saved file and a worker's member agree."""
    x, y, x_test, _ = small
    config = train.config_for("mlp", epochs=1, seed=3, mix_with="mlp-fast", mix_members=2,
                              mix_variants=[{}, {"width": 64}])
    trained = train.fit("mlp", x, y, config)
    assert [m.name for m in trained.members] == [f"{name}-{n}" for n, name in enumerate(
        ["mlp", "mlp-fast", "mlp-fast", "mlp-fast", "mlp-fast"], start=1)]
    main, *nets = trained.member_probabilities(x_test)
    plain = train.fit("mlp-fast", x, y, train.config_for("mlp-fast", members=2, seed=3))
    narrow = train.fit("mlp-fast", x, y, train.config_for("mlp-fast", members=2, seed=3,
                                                          model_options={"width": 64}))
    np.testing.assert_array_equal(np.stack(plain.member_probabilities(x_test)), nets[:2])
    np.testing.assert_array_equal(np.stack(narrow.member_probabilities(x_test)), nets[2:])
    assert trained.members[3].count_params() == narrow.members[0].count_params()
    proba = trained.predict_proba(x_test)
    thirds = (main + (nets[0] + nets[1]) / 2 + (nets[2] + nets[3]) / 2) / 3
    np.testing.assert_allclose(proba, thirds, atol=1e-6)
    assert not np.allclose(proba, (main + (nets[0] + nets[1] + nets[2] + nets[3]) / 4) / 2,
                           atol=1e-4)  # not one group of four
    np.testing.assert_allclose(train.mean_of_members([main, *nets], [2, 2]), proba, atol=1e-6)
    loaded = train.load_trained(trained.save(tmp_path / "fold-1.keras"))
    np.testing.assert_allclose(loaded.predict_proba(x_test), proba, atol=1e-6)
    fifth = train.fit("mlp", x, y, config, member=5)  # as a worker trains it
    np.testing.assert_array_equal(fifth.member_probabilities(x_test)[0], nets[3])


def test_kept_members_go_on_to_the_fit_of_all_members(small: tuple, tmp_path: Path) -> None:
    """What an interrupted `submit` kept is not trained again, and the nets trained after
    it make the model one uninterrupted fit makes, to the last bit: here a net and two mix
    groups, numbered as `best`'s are."""
    x, y, x_test, _ = small
    config = train.config_for("mlp", epochs=1, seed=5, mix_with="mlp", mix_members=1,
                              mix_variants=[{}, {"width": 64}])
    whole = train.fit("mlp", x, y, config).predict_proba(x_test)
    folder = tmp_path / "kept"
    train.keep_member(folder, 2, train.fit("mlp", x, y, config, member=2))
    assert train.kept_members(config, folder) == ([2], [1, 3])
    recorder = Recorder()
    going_on = submit.fit_kept(config, x, y, folder, progress=recorder)
    assert [e[1] for e in recorder.events if e[0] == "fit"] == [1, 3]  # net 2 was kept
    np.testing.assert_array_equal(going_on.predict_proba(x_test), whole)
    assert train.kept_members(config, folder) == ([1, 2, 3], [])
    (folder / "member-1.keras").write_bytes(b"half a net")
    with pytest.raises(KdigitsError, match=f"net 1 kept in {folder} cannot be read back .*; "
                                           "delete that folder to train its nets again"):
        train.load_kept(config, folder)


def test_load_trained_rejects_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    bogus = tmp_path / "fold-1.keras"
    bogus.write_text("not a zip")
    with pytest.raises(KdigitsError, match="not a readable kdigits model"):
        train.load_trained(bogus)


def test_run_folders_never_collide(tmp_path: Path) -> None:
    now = datetime(2024, 5, 1, 12, 0, 0)
    names = [runs.create_run_dir(tmp_path, "mlp", now).name for _ in range(3)]
    assert names == ["20240501-120000-mlp", "20240501-120000-mlp-2", "20240501-120000-mlp-3"]


def _cv(train_csv: Path, root: Path, seed: int = 9) -> runs.CVResult:
    split = SplitConfig(folds=3, holdout=0.1, percent=30, seed=seed)
    plan = runs.plan_cv(train_csv, split, train.config_for("mlp", epochs=1, seed=seed),
                        runs_dir=root, command="test")
    return runs.run_cv(plan)


@pytest.fixture(scope="module")
def cv_run(sample_files: dict, tmp_path_factory: pytest.TempPathFactory) -> runs.CVResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KDIGITS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        return _cv(sample_files["train"], tmp_path_factory.mktemp("runs"))


def test_cv_writes_the_pooled_files(cv_run: runs.CVResult, sample_files: dict) -> None:
    folder = cv_run.run_dir
    labels = pd.read_csv(sample_files["train"], usecols=["label"])["label"].to_numpy()
    split = make_split(labels, SplitConfig(folds=3, holdout=0.1, percent=30, seed=9))
    oof = pd.read_csv(folder / "oof.csv")
    holdout = pd.read_csv(folder / "holdout.csv")
    assert list(oof.columns) == runs.PREDICTION_COLUMNS == list(holdout.columns)
    assert np.array_equal(oof["row"], split.cv_rows)  # every CV row once, in row order
    assert np.array_equal(oof["fold"], split.fold_column(labels.size)[split.cv_rows])
    assert np.array_equal(holdout["row"], split.holdout)
    assert (holdout["fold"] == HOLDOUT_FOLD).all()
    for frame in (oof, holdout):
        assert np.array_equal(frame["label"], labels[frame["row"]])
        probs = frame[[f"prob_{k}" for k in range(10)]].to_numpy()
        np.testing.assert_allclose(probs.sum(axis=1), 1, atol=2e-5)
        assert np.array_equal(frame["prediction"], probs.argmax(axis=1))

    metrics = json.loads((folder / "metrics.json").read_text())
    assert [f["fold"] for f in metrics["folds"]] == [1, 2, 3]
    assert metrics["oof"]["overall"]["accuracy"] == pytest.approx(
        (oof["label"] == oof["prediction"]).mean())
    assert np.asarray(metrics["holdout"]["table"]).sum() == len(holdout)
    assert "fold ensemble" in metrics["holdout_model"]
    history = pd.read_csv(folder / "history.csv")
    assert list(history.columns[:7]) == ["fold", "epoch", "loss", "accuracy", "val_loss",
                                         "val_accuracy", "seconds"]
    assert list(history["fold"]) == [1, 2, 3]
    assert (folder / "curves.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((folder / "config.json").read_text())
    assert config["data"]["train_sha256"] and config["versions"]["keras"]
    assert config["rows"]["holdout_rows"] == len(holdout)


def test_run_reads_back_and_its_models_reproduce_the_oof(cv_run: runs.CVResult) -> None:
    run = runs.load_run(cv_run.run_dir)
    assert run.finished and run.model == "mlp"
    assert [p.name for p in run.model_paths] == ["fold-1.keras", "fold-2.keras",
                                                 "fold-3.keras"]
    assert [r.path for r in runs.list_runs(cv_run.run_dir.parent)] == [cv_run.run_dir]
    with np.load(cv_run.run_dir / "folds" / "fold-2.npz") as saved:
        rows, oof = saved["test_rows"], saved["oof"]
    from kaggle_digits.data import load_train

    pixels = load_train(run.config["data"]["train"]).pixels
    reloaded = train.load_trained(run.model_paths[1]).predict_proba(pixels[rows])
    np.testing.assert_allclose(reloaded, oof, atol=1e-6)


def test_a_run_with_tta_scores_its_folds_and_holdout_by_the_views(
        sample_files: dict, tmp_path: Path) -> None:
    split = SplitConfig(folds=2, holdout=0.1, percent=20, seed=4)
    plan = runs.plan_cv(sample_files["train"], split,
                        train.config_for("mlp", epochs=1, seed=4, tta=True),
                        runs_dir=tmp_path, command="test")
    result = runs.run_cv(plan)
    run = runs.load_run(result.run_dir)
    assert run.config["training"]["tta"] is True
    fold_model = train.load_trained(run.model_paths[0])
    with np.load(result.run_dir / "folds" / "fold-1.npz") as saved:
        rows, oof, holdout = saved["test_rows"], saved["oof"], saved["holdout"]
    np.testing.assert_allclose(fold_model.predict_proba(plan.pixels[rows], tta=True), oof,
                               atol=1e-6)
    assert not np.allclose(fold_model.predict_proba(plan.pixels[rows]), oof, atol=1e-3)
    np.testing.assert_allclose(
        fold_model.predict_proba(plan.pixels[plan.split.holdout], tta=True), holdout,
        atol=1e-6)

    def submit_tta(**asked: Any) -> bool:  # predicting test.csv with the run's fold models
        return submit.plan_submit(submit.SubmitConfig(
            run=result.run_dir, test=sample_files["test"], out=tmp_path / "s.csv",
            **asked)).config.tta

    assert submit_tta() is True and submit_tta(tta=False) is False
    config = result.run_dir / "config.json"  # a run from before TTA was recorded: without
    recorded = json.loads(config.read_text())
    del recorded["training"]["tta"]
    config.write_text(json.dumps(recorded))
    assert submit_tta() is False


def test_same_seed_gives_an_identical_oof_csv(cv_run: runs.CVResult, sample_files: dict,
                                              tmp_path: Path) -> None:
    again = _cv(sample_files["train"], tmp_path)
    assert (again.run_dir / "oof.csv").read_bytes() == (cv_run.run_dir / "oof.csv").read_bytes()


def test_a_finished_run_cannot_be_resumed(cv_run: runs.CVResult) -> None:
    with pytest.raises(KdigitsError, match="already complete"):
        runs.resume_cv(cv_run.run_dir)


def test_resume_refuses_a_different_train_file(cv_run: runs.CVResult, tmp_path: Path,
                                               sample_files: dict) -> None:
    (cv_run.run_dir / "metrics.json").rename(tmp_path / "metrics.json")  # "unfinish" it
    try:
        with pytest.raises(KdigitsError, match="SHA-256 differs"):
            runs.resume_cv(cv_run.run_dir, _other_train(sample_files, tmp_path))
    finally:
        (tmp_path / "metrics.json").rename(cv_run.run_dir / "metrics.json")


def _other_train(sample_files: dict, tmp_path: Path) -> Path:
    frame = pd.read_csv(sample_files["train"], nrows=500)
    path = tmp_path / "other.csv"
    frame.to_csv(path, index=False)
    return path


def test_label_smoothing_trains_towards_softer_targets(small: tuple, tmp_path: Path) -> None:
    x, y, x_test, y_test = small
    plain = train.fit("mlp", x, y, train.config_for("mlp", epochs=8))
    config = train.config_for("mlp", epochs=8, label_smoothing=0.5)
    smoothed = train.fit("mlp", x, y, config, validation=(x_test, y_test))
    # A smoothed net's best answer to a training digit is 1 - 0.5 + 0.05 = 0.55, not 1.
    sure_plain = plain.predict_proba(x).max(axis=1).mean()
    sure_smoothed = smoothed.predict_proba(x).max(axis=1).mean()
    assert sure_plain > 0.8 and 0.4 < sure_smoothed < 0.65, (sure_plain, sure_smoothed)
    proba = smoothed.predict_proba(x_test)
    accuracy = (proba.argmax(axis=1) == y_test).mean()  # it still reads the digits
    assert accuracy > (plain.predict_proba(x_test).argmax(axis=1) == y_test).mean() - 0.05
    # Keras' "accuracy" follows the one-hot targets: the watched rows' is the true one
    assert smoothed.history[-1]["val_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    loaded = train.load_trained(smoothed.save(tmp_path / "fold-1.keras"))
    np.testing.assert_allclose(loaded.predict_proba(x_test), proba, atol=1e-6)
    for wrong in (1.0, -0.1, "0.1", True):  # a RECIPE or params file may hold anything
        with pytest.raises(KdigitsError, match="--label-smoothing must be a number at least 0 "
                                               "and below 1"):
            train.config_for("mlp", label_smoothing=wrong)
    with pytest.raises(KdigitsError, match="--label-smoothing apply to Keras models only"):
        train.config_for("knn", label_smoothing=0.1)


def test_label_smoothing_leaves_the_mixed_in_nets_their_own_recipe() -> None:
    config = train.config_for("best", label_smoothing=0.3)
    nets = [train._member_recipe(train.get_model("best"), config, member)
            for member in range(1, train.member_count(config) + 1)]
    own = train.config_for("cnn-fast").label_smoothing
    assert own != 0.3
    assert [(net.name, recipe.label_smoothing) for net, recipe, _ in nets] == [
        ("best", 0.3), ("cnn-fast", own), ("cnn-fast", own), ("cnn-fast", own),
        ("cnn-fast", own)]
