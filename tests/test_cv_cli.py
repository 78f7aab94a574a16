"""`kdigits cv`, `models` and `runs` as a user runs them, Ctrl-C and --resume included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from kaggle_digits.plots import minutes_text

ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}
WIDE = {"COLUMNS": "120"}  # as `kdigits` runs the command line


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {**ENV, "KDIGITS_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "cache")}


def test_cv_with_a_scikit_learn_baseline_end_to_end(kd, sample_files: dict,
                                                     tmp_path: Path) -> None:
    code, out, err = kd("cv", "--model", "knn", "--train", str(sample_files["train"]),
                        "--folds", "2", "--percent", "40", "--runs-dir", str(tmp_path),
                        env=WIDE)
    assert code == 0, err
    assert "2-fold stratified CV on 1,080 rows, 120 held out" in out
    assert "fold ensemble" in out
    assert "mean ± sd" in out
    assert out.count("Confusion Matrix and Statistics") == 2  # pooled OOF and holdout
    assert "Holdout (120 rows never trained on; predicted by the fold ensemble)" in out
    run_dir = Path(out.strip().splitlines()[-1])  # the last line is the run folder
    assert run_dir.parent == tmp_path and run_dir.name.endswith("-knn")
    assert {p.name for p in (run_dir / "models").iterdir()} == {"fold-1.joblib",
                                                               "fold-2.joblib"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["oof"]["overall"]["accuracy"] > 0.85  # kNN on 1,080 real digits

    code, listing, _ = kd("runs", "--runs-dir", str(tmp_path), env=WIDE)
    assert code == 0
    row = next(line for line in listing.splitlines() if line.startswith(run_dir.name))
    assert row.split()[1:] == ["2/2", f"{metrics['oof']['overall']['accuracy']:.4f}",
                               f"{metrics['holdout']['overall']['accuracy']:.4f}",
                               f"{metrics['oof']['overall']['kappa']:.4f}",
                               minutes_text(metrics["timing"]["minutes"])]
    assert "unfinished" not in listing


def test_name_labels_a_run_that_is_then_named_by_it(kd, sample_files: dict,
                                                   tmp_path: Path) -> None:
    """`--name TAG`: in the folder name and config.json, the full run ID in `runs` at 80
    columns, and TAG stands for the run (`report TAG`); a taken or unsafe TAG is refused."""
    here = {"cwd": tmp_path, "env": {"COLUMNS": "80"}}  # from a project folder
    cv = ["cv", "--model", "knn", "--train", str(sample_files["train"]), "--folds", "2",
          "--percent", "30"]
    code, _, err = kd(*cv, "--name", "pca40-baseline", **here)
    assert code == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.endswith("-knn-pca40-baseline")
    assert json.loads((run_dir / "config.json").read_text())["name"] == "pca40-baseline"
    kd(*cv, **here)  # a second run, the same day

    code, listing, err = kd("runs", **here)
    assert code == 0, err
    lines = listing.splitlines()
    assert max(len(line) for line in lines) <= 80
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(names) == 2 and names[0][:8] == names[1][:8]  # IDs share their start
    for name in names:  # each run ID whole, on one line, never cut to "20261123…"
        assert any(line.split()[0] == name for line in lines), listing

    (run_dir / "report.html").unlink()
    code, _, err = kd("report", "pca40-baseline", **here)
    assert code == 0, err
    assert (run_dir / "report.html").is_file()

    for name, message in (("pca40-baseline", "a run named 'pca40-baseline' already exists"),
                          ("my run", "--name 'my run': use up to 40 letters, digits")):
        code, _, err = kd(*cv, "--name", name, **here)
        assert code == 2
        assert err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1
    assert len(list((tmp_path / "runs").iterdir())) == 2  # nothing half-created


def test_one_fold_means_one_train_test_split(kd, sample_files: dict, tmp_path: Path) -> None:
    code, out, err = kd("cv", "--model", "logreg", "--train", str(sample_files["train"]),
                        "--folds", "1", "--test-size", "0.3", "--holdout", "0",
                        "--percent", "20", "--runs-dir", str(tmp_path), "--mode", "everything",
                        env=WIDE)
    assert code == 0, err
    assert "one stratified train/test split (0.3 test)" in out
    assert "Precision" in out  # caret's "everything" mode
    run_dir = Path(out.strip().splitlines()[-1])
    oof = (run_dir / "oof.csv").read_text().splitlines()
    assert len(oof) == 1 + 180  # 30% of 600 rows
    assert json.loads((run_dir / "metrics.json").read_text())["holdout"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "cnn-huge"], "error: unknown model 'cnn-huge'"),
    (["--model", "knn", "--epochs", "3"], "error: --epochs apply to Keras models only"),
    (["--folds", "0"], "error: --folds must be 1 or more"),
    (["--mode", "fancy"], "error: --mode must be one of"),
    (["--resume", "runs/x", "--model", "mlp"], "drop --model"),
    (["--train", "no/such/train.csv"], "error:"),
])
def test_bad_options_are_one_line_errors(kd, tmp_path: Path, args: list,
                                         message: str) -> None:
    code, _, err = kd("cv", *args, "--runs-dir", str(tmp_path))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing half-created


def test_models_lists_every_preset_with_its_parameters(kdigits, env: dict) -> None:
    result = kdigits("models", env={**env, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for name in ("mlp-small", "mlp-deep", "cnn-wide", "cnn-fast", "best", "random-forest"):
        assert name in result.stdout
    for count in ("103,270", "550,346", "1,199,882", "2,435,210"):
        assert count in result.stdout
    assert "oneDNN" not in result.stderr  # TensorFlow's start-up chatter stays hidden


def test_runs_without_runs(kd, tmp_path: Path) -> None:
    code, out, _ = kd("runs", "--runs-dir", str(tmp_path / "none"))
    assert code == 0
    assert "no runs under" in out


MLP = ["--model", "mlp", "--folds", "3", "--percent", "50", "--epochs", "10", "--seed", "4"]


@pytest.mark.slow
def test_ctrl_c_keeps_finished_folds_and_resume_matches_an_uninterrupted_run(
        kd, sample_files: dict, tmp_path: Path, env: dict) -> None:
    from kaggle_digits.train import load_trained

    root = tmp_path / "interrupted"
    args = ["cv", *MLP, "--train", str(sample_files["train"]), "--runs-dir", str(root)]
    process = subprocess.Popen(
        [sys.executable, "-m", "kaggle_digits", *args], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120", **env})
    deadline = time.monotonic() + 300
    while not list(root.glob("*/folds/fold-1.json")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "fold 1 never finished"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # fold 2 is now training
    _, err = process.communicate(timeout=120)

    (run_dir,) = root.iterdir()
    assert process.returncode == 130, err
    assert (f"error: interrupted in fold 2 of 3; fold 1 kept in {run_dir}; "
            f"resume with: kdigits cv --resume {run_dir}") in " ".join(err.split())
    assert "Traceback" not in err
    assert sorted(p.name for p in (run_dir / "folds").iterdir()) == ["fold-1.json",
                                                                     "fold-1.npz"]
    assert [p.name for p in (run_dir / "models").iterdir()] == ["fold-1.keras"]
    assert load_trained(run_dir / "models" / "fold-1.keras").predict_proba(
        np.zeros((2, 784), np.uint8)).shape == (2, 10)
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
    assert not (run_dir / "metrics.json").exists()
    code, listing, _ = kd("runs", "--runs-dir", str(root), env=WIDE)
    assert "1/3" in listing and "unfinished" in listing

    # resumed and run again in this process: the same threads as the interrupted process
    code, resumed, err = kd("cv", "--resume", str(run_dir), env=WIDE)
    assert code == 0, err
    assert "fold 1/3" in resumed and "finished in an earlier session" in resumed
    assert resumed.strip().splitlines()[-1] == str(run_dir)

    code, fresh, err = kd(*args[:-1], str(tmp_path / "uninterrupted"), env=WIDE)
    assert code == 0, err
    fresh_dir = Path(fresh.strip().splitlines()[-1])
    for name in ("oof.csv", "holdout.csv"):
        assert (run_dir / name).read_bytes() == (fresh_dir / name).read_bytes()
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, fresh_dir))
    assert a["oof"] == b["oof"] and a["holdout"] == b["holdout"]
    assert [(f["accuracy"], f["kappa"]) for f in a["folds"]] == [
        (f["accuracy"], f["kappa"]) for f in b["folds"]]


def test_layer_options_from_the_command_line(kd, sample_files, tmp_path) -> None:
    """`--option NAME=VALUE` sets a layer option, recorded with the run; mistakes are one
    line before any training."""
    code, out, err = kd("cv", "--model", "mlp-fast", "--train", str(sample_files["train"]),
                        "--folds", "2", "--holdout", "0", "--epochs", "1", "--option",
                        "width=64", "--option", "dropout=0.1", "--runs-dir",
                        str(tmp_path / "runs"), env=WIDE)
    assert code == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    config = json.loads((run / "config.json").read_text())
    assert config["training"]["model_options"] == {"width": 64, "dropout": 0.1}
    assert "width 64" in out  # the recipe line says what was trained
    for option, message in (
            ("width", "error: --option takes NAME=VALUE (e.g. --option elastic=34), "
                      "not 'width'"),
            ("depth=3", "error: mlp-fast has no option depth; it takes width (default 512), "
                        "dropout (default 0.3)"),
            ("dropout=2", "error: mlp-fast cannot be built with dropout=2: Invalid value "
                          "received for argument `rate`. Expected a float value between 0 "
                          "and 1. Received: rate=2"),
            ("width=wide", "error: mlp-fast's option width is a number (default 512), not "
                           "'wide'")):
        code, _, err = kd("cv", "--model", "mlp-fast", "--train", str(sample_files["train"]),
                          "--option", option, "--runs-dir", str(tmp_path / "bad"))
        assert (code, err.strip()) == (2, message)
        assert not (tmp_path / "bad").exists()
    code, _, err = kd("cv", "--model", "cnn-fast", "--option", "deskew=yes",
                      "--train", str(sample_files["train"]), "--runs-dir", str(tmp_path / "bad"))
    assert (code, err.strip()) == (2, "error: cnn-fast's option deskew is true or false "
                                      "(default false), not 'yes'")
    code, _, err = kd("cv", "--resume", str(run), "--option", "width=32")
    assert code == 2 and "drop --option" in err
    code, shown, _ = kd("models", "--model", "best")
    assert "layer options (--option NAME=VALUE): dropout=0.4, shift=0.1" in shown
    assert "elastic=0" in shown
    assert kd("models", "best") == (0, shown, "")  # as a user first types it
    code, _, err = kd("models", "best", "--model", "cnn-fast")
    assert (code, err.strip()) == (2, "error: two models to show (best and --model "
                                      "cnn-fast); give one")


def test_option_values_read_as_json_or_as_models_prints_them() -> None:
    """`kdigits models` prints a switch as Python does (deskew=False); typed back, it is one."""
    from kaggle_digits.params import parse_options

    assert parse_options(["deskew=True", "pool_first=false", "width=64", "rate=0.5",
                          "act=tanh"]) == {"deskew": True, "pool_first": False, "width": 64,
                                           "rate": 0.5, "act": "tanh"}


def test_tensorflow_start_up_log_stays_hidden_without_the_users_log_level(
        kdigits, sample_files: dict, tmp_path: Path, env: dict) -> None:
    """The other tests set TF_CPP_MIN_LOG_LEVEL for speed of reading; a user's shell does
    not. TensorFlow's C++ lines ("I0000 … Could not find cuda drivers", "E0000 … NodeDef
    mentions attribute") were once printed on every Keras `cv`, which asked TensorFlow for
    its device before Keras (and so the log level) was set up."""
    user = {**env, "TF_CPP_MIN_LOG_LEVEL": None, "KERAS_BACKEND": "tensorflow"}
    result = kdigits("cv", "--model", "mlp", "--epochs", "2", "--train",
                     str(sample_files["train"]), "--folds", "2", "--percent", "30",
                     "--runs-dir", str(tmp_path), "--quiet", env=user)
    assert result.returncode == 0, result.stderr
    chatter = [line for line in result.stderr.splitlines()
               if line[:5] in ("I0000", "W0000", "E0000") or "absl::" in line]
    assert chatter == []


def test_resume_refuses_a_preset_that_now_builds_another_net(kd, sample_files, tmp_path):
    """A run started by an older kdigits, whose preset has since changed: its remaining
    folds would train a different net than its first ones, so resuming is refused."""
    from kaggle_digits import runs

    plan, _ = runs.plan_from_options(runs.CVOptions(model="cnn-fast", folds=2, epochs=1,
                                                    train=sample_files["train"],
                                                    runs_dir=tmp_path))
    config_path = plan.run_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["parameters"] += 1  # what the older net counted
    config_path.write_text(json.dumps(config))
    code, _, err = kd("cv", "--resume", str(plan.run_dir))
    assert code == 2
    assert err.strip() == (
        f"error: cnn-fast has changed since {plan.run_dir} started "
        f"({config['parameters']:,} weights then, {config['parameters'] - 1:,} now), so its "
        "remaining folds would train another net; start a new run")


def test_a_run_from_before_cnn_fast_changed_resumes_and_refits_on_its_own_net(
        kd, sample_files, tmp_path):
    """cnn-fast was 32/64 filters pooled after BatchNorm (185,258 weights) until its default
    became the cheaper 16/48 pool-first net: a run that recorded the older count resumes,
    and refits, on the net it started with instead of being refused."""
    from kaggle_digits import models, runs, submit

    plan, _ = runs.plan_from_options(runs.CVOptions(model="cnn-fast", folds=2, epochs=1,
                                                    train=sample_files["train"],
                                                    runs_dir=tmp_path))
    assert plan.config["parameters"] == models.PARAMETER_COUNTS["cnn-fast"] == 119_962
    config_path = plan.run_dir / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "parameters": 185_258}))

    resumed = runs.resume_cv(plan.run_dir)
    refit = submit.plan_submit(submit.SubmitConfig(run=plan.run_dir, refit=True,
                                                   train=sample_files["train"],
                                                   test=sample_files["test"],
                                                   out=tmp_path / "refit.csv"))
    for training in (resumed.training, refit.training):
        assert training.model_options == {"conv1": 32, "conv2": 64, "pool_first": False}
        assert models.get_preset("cnn-fast").parameters(**training.model_options) == 185_258
    # a count no earlier default had is still refused, for a refit as for a resume
    config_path.write_text(json.dumps({**config, "parameters": 185_259}))
    code, _, err = kd("submit", "--run", str(plan.run_dir), "--refit",
                      "--train", str(sample_files["train"]), "--test", str(sample_files["test"]),
                      "--out", str(tmp_path / "other.csv"))
    assert code == 2 and "so the refit would train another net" in err
    assert not (tmp_path / "other.csv").exists()


def test_best_runs_from_before_its_deskewed_pair_keep_one_group_and_mix_reads_the_base(
        sample_files, tmp_path):
    """A `best` run recorded before mixes had groups trained one plain `cnn-fast` pair:
    `--resume` and `submit --run --refit` keep it so, not today's two pairs. `--mix`
    applies to the mix it is given on top of (a run's, a params file's): the same preset
    keeps the groups, N nets each, another preset's nets are one plain group (the deskew
    option is cnn-fast's, not theirs)."""
    from kaggle_digits import params, runs, submit, train

    plan, _ = runs.plan_from_options(runs.CVOptions(model="best", folds=2, epochs=1,
                                                    train=sample_files["train"],
                                                    runs_dir=tmp_path / "runs"))
    assert plan.training.mix_variants == [{}, {"deskew": True}]
    config_path = plan.run_dir / "config.json"
    config = json.loads(config_path.read_text())
    del config["training"]["mix_variants"]  # as kdigits wrote it until now
    config_path.write_text(json.dumps(config))

    def refit(**given) -> train.TrainConfig:
        return submit.plan_submit(submit.SubmitConfig(
            run=plan.run_dir, refit=True, train=sample_files["train"],
            test=sample_files["test"], out=tmp_path / "refit.csv", **given)).training

    for training in (runs.resume_cv(plan.run_dir).training, refit()):
        assert (training.mix_variants, train.member_count(training)) == ([{}], 3)
    assert refit(mix="mlp-fast:2").mix_variants == [{}]
    config_path.write_text(json.dumps({**config, "training": {
        **config["training"], "mix_variants": [{}, {"deskew": True}]}}))
    assert (refit(mix="mlp-fast:2").mix_variants, train.member_count(refit(mix="cnn-fast:3"))
            ) == ([{}], 7)

    tuned = tmp_path / "best.json"
    tuned.write_text(json.dumps(params.record(train.config_for("best", epochs=1))))
    for mix, groups in (("mlp-fast:2", [{}]), ("cnn-fast:1", [{}, {"deskew": True}])):
        planned, _ = runs.plan_from_options(runs.CVOptions(
            params=tuned, mix=mix, folds=2, train=sample_files["train"],
            runs_dir=tmp_path / mix.replace(":", "-")))
        assert planned.training.mix_variants == groups, mix
