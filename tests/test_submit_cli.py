"""`kdigits submit`, `ensemble` and `upload` as a user runs them, on real sample data.

Training is kept tiny (the `mlp` preset, one epoch, 3,000 rows); the module trains once and
the tests share that submission.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import EXIT_CODE

REPO = Path(__file__).resolve().parents[1]
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}


def run_exact(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Like the shared `kdigits` fixture, but with exactly ``env``: variables can be
    removed, not only added (the upload tests must not see a real KAGGLE_KEY)."""
    return subprocess.run([sys.executable, "-m", "kaggle_digits", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def kd(*args: str) -> subprocess.CompletedProcess[str]:
    return run_exact(*args, env={**os.environ, **QUIET})


@pytest.fixture
def kd_here(capsys, monkeypatch):
    """The CLI's real entry point (`main`: error mapping, exit codes) run in this process.

    For paths that never train: a subprocess costs seconds of imports each time.
    """
    from kaggle_digits.cli import main

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["kdigits", *args])
        with pytest.raises(SystemExit, match=EXIT_CODE) as stop:
            main()
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, stop.value.code or 0, out, err)

    return run


def data_args(sample_files: dict) -> list[str]:
    return ["--train", str(sample_files["train"]), "--test", str(sample_files["test"])]


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def made(sample_files, tmp_path_factory) -> dict:
    """One real `kdigits submit` run: the mlp preset, one epoch on 3,000 real digits."""
    out = tmp_path_factory.mktemp("submit") / "submission.csv"
    result = kd("submit", "--model", "mlp", "--epochs", "1", "--seed", "3",
                *data_args(sample_files), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    return {"out": out, "result": result}


def test_submission_is_valid_kaggle_format(made, sample_files):
    out: Path = made["out"]
    lines = out.read_text().splitlines()
    assert lines[0] == "ImageId,Label"
    assert len(lines) == 1 + 1000  # one row per test image
    frame = pd.read_csv(out)
    np.testing.assert_array_equal(frame["ImageId"], np.arange(1, 1001))
    assert frame["Label"].between(0, 9).all()
    assert frame["Label"].nunique() >= 8  # a trained model, not a constant
    checked = kd("validate", str(out), "--test", str(sample_files["test"]))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_submission_side_files_trace_their_origin(made, sample_files):
    out: Path = made["out"]
    probs = np.load(out.with_suffix(".probs.npy"))
    assert probs.shape == (1000, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-4)
    np.testing.assert_array_equal(probs.argmax(axis=1), pd.read_csv(out)["Label"])
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["model"] == "mlp" and record["run"] is None
    assert record["config"]["epochs"] == 1 and record["config"]["seed"] == 3
    assert record["command"].startswith("kdigits submit --model mlp")
    from kaggle_digits.data import file_sha256

    assert record["train"]["sha256"] == file_sha256(sample_files["train"])
    assert record["test"]["sha256"] == file_sha256(sample_files["test"])
    assert record["score"]["rows"] == 1000


def test_submit_prints_distribution_caret_score_and_path(made):
    stdout = made["result"].stdout
    assert "Predicted class distribution" in stdout
    assert "Confusion Matrix and Statistics" in stdout  # caret's block
    assert "Kappa" in stdout
    score_line = next(line for line in stdout.splitlines()
                      if line.startswith("Local score (accuracy on 1,000 images): "))
    accuracy = float(score_line.rsplit(" ", 1)[1])
    assert 0.80 < accuracy <= 1  # one epoch of an MLP on 3,000 digits: clearly learning
    assert json.loads(made["out"].with_suffix(".json").read_text())["score"]["accuracy"] == \
        pytest.approx(accuracy, abs=5e-5)
    assert stdout.strip().splitlines()[-1] == str(made["out"])


def test_submit_refuses_to_overwrite_before_training(made, sample_files):
    out: Path = made["out"]
    before = {p: p.read_bytes() for p in out.parent.iterdir()}
    result = kd("submit", "--model", "mlp", "--epochs", "1", *data_args(sample_files),
                "--out", str(out))
    assert_one_line_error(result, str(out), "--force")
    assert "Training" not in result.stdout  # refused up front, nothing was trained
    assert {p: p.read_bytes() for p in out.parent.iterdir()} == before


def test_bad_options_are_one_line_errors(sample_files, tmp_path, kd_here):
    out = str(tmp_path / "s.csv")
    assert_one_line_error(kd_here("submit", "--refit", "--out", out), "--run")
    assert_one_line_error(kd_here("submit", "--model", "no-such-model", "--out", out),
                          "no-such-model")
    assert_one_line_error(kd_here("submit", "--model", "mlp", "--upload", "--out", out), "-m")
    assert_one_line_error(kd_here("submit", "--model", "mlp", "--out",
                                  str(tmp_path / "s.txt")), ".csv")
    assert_one_line_error(kd_here("submit", "--run", str(tmp_path), "--out", out),
                          "not a kdigits run folder")
    assert_one_line_error(kd_here("submit", "--model", "logreg", "--epochs", "2", "--out",
                                  out), "Keras")
    assert_one_line_error(kd_here("submit", "--model", "mlp", *data_args(sample_files),
                                  "--solution", str(tmp_path / "nope.csv"), "--out", out),
                          "nope.csv")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_force_replaces_with_tta(made, sample_files, tmp_path):
    out = tmp_path / "submission.csv"
    out.write_text("old\n")
    result = kd("submit", "--model", "mlp", "--epochs", "1", "--seed", "3", "--tta",
                *data_args(sample_files), "--out", str(out), "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TTA" in result.stdout
    assert out.read_text().startswith("ImageId,Label\n")
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["tta"] is True and record["score"]["accuracy"] > 0.8


@pytest.mark.parametrize(("flag", "value", "key", "default"), [
    ("--precision", "bfloat16", "precision", "float32"),
    ("--label-smoothing", 0.2, "label_smoothing", 0),
])
def test_submit_records_a_training_option(made, sample_files, tmp_path, flag, value, key,
                                          default):
    out = tmp_path / "changed.csv"
    result = kd("submit", "--model", "mlp", "--epochs", "1", "--seed", "3",
                flag, str(value), *data_args(sample_files), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["config"][key] == value
    assert json.loads(made["out"].with_suffix(".json").read_text())["config"][key] == default
    assert record["score"]["accuracy"] > 0.8
    same_seed = made["out"]  # the same seed without the option
    if key == "precision":  # other arithmetic, (nearly) the same answers
        float32 = pd.read_csv(same_seed)["Label"].to_numpy()
        assert (pd.read_csv(out)["Label"].to_numpy() == float32).mean() > 0.9
    else:  # softer targets, softer answers
        smoothed = np.load(out.with_suffix(".probs.npy")).max(axis=1).mean()
        assert smoothed < np.load(same_seed.with_suffix(".probs.npy")).max(axis=1).mean()


def test_ensemble_cli_of_identical_files_equals_either(made, tmp_path, sample_files):
    out: Path = made["out"]
    copy = tmp_path / "copy.csv"
    copy.write_bytes(out.read_bytes())
    copy.with_suffix(".probs.npy").write_bytes(out.with_suffix(".probs.npy").read_bytes())
    result = kd("ensemble", str(out), str(copy), "--out", str(tmp_path / "ens.csv"),
                "--solution", str(sample_files["solution"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "ens.csv").read_bytes() == out.read_bytes()
    np.testing.assert_array_equal(np.load(tmp_path / "ens.probs.npy"),
                                  np.load(out.with_suffix(".probs.npy")))
    assert "mean of saved probabilities" in result.stdout
    assert "Local score (accuracy on 1,000 images)" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == str(tmp_path / "ens.csv")
    record = json.loads((tmp_path / "ens.json").read_text())
    assert record["method"] == "mean-probabilities" and len(record["inputs"]) == 2


def test_ensemble_cli_weights(made, tmp_path, sample_files):
    out: Path = made["out"]
    copy = tmp_path / "copy.csv"  # the same predictions, without the record beside them
    copy.write_bytes(out.read_bytes())
    copy.with_suffix(".probs.npy").write_bytes(out.with_suffix(".probs.npy").read_bytes())
    result = kd("ensemble", str(out), str(copy), "--weights", "1,3",
                "--out", str(tmp_path / "ens.csv"), "--solution", str(sample_files["solution"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "ens.csv").read_bytes() == out.read_bytes()
    record = json.loads((tmp_path / "ens.json").read_text())
    assert [item["weight"] for item in record["inputs"]] == [0.25, 0.75]
    assert "weight" in result.stdout and "0.75" in result.stdout
    for weights, message in (("members", "does not say how many models"),
                             ("1", "1 weight for 2 submissions")):
        assert_one_line_error(kd("ensemble", str(out), str(copy), "--weights", weights,
                                 "--out", str(tmp_path / "bad.csv")), message)
    assert not (tmp_path / "bad.csv").exists()


def test_ensemble_cli_votes_on_plain_files(made, tmp_path, kd_here):
    labels = pd.read_csv(made["out"])["Label"].to_numpy()
    for name, shift in (("a", 0), ("b", 1), ("c", 0)):
        changed = labels.copy()
        changed[:100] = (changed[:100] + shift) % 10
        pd.DataFrame({"ImageId": np.arange(1, 1001), "Label": changed}).to_csv(
            tmp_path / f"{name}.csv", index=False)
    result = kd_here("ensemble", *(str(tmp_path / f"{n}.csv") for n in "bac"),
                "--out", str(tmp_path / "vote.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "majority vote" in result.stdout
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "vote.csv")["Label"], labels)
    short = tmp_path / "short.csv"
    pd.DataFrame({"ImageId": np.arange(1, 11), "Label": labels[:10]}).to_csv(short,
                                                                             index=False)
    assert_one_line_error(kd_here("ensemble", str(tmp_path / "a.csv"), str(short),
                                  "--out", str(tmp_path / "bad.csv")), "row counts")
    assert not (tmp_path / "bad.csv").exists()


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    for name in [k for k in os.environ if k.startswith("KAGGLE_")] + ["XDG_CONFIG_HOME"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_upload_without_credentials_is_one_line(made, sample_files, no_credentials,
                                                kd_here, tmp_path):
    result = kd_here("upload", str(made["out"]), "-m", "try", "--test",
                     str(sample_files["test"]))
    assert_one_line_error(result, "kaggle.json", "KAGGLE_USERNAME")
    # submit --upload finds out before training, not after
    out = tmp_path / "s.csv"
    result = kd_here("submit", "--model", "mlp", "--upload", "-m", "try", "--out", str(out))
    assert_one_line_error(result, "kaggle.json")
    assert "Training" not in result.stdout and not out.exists()


def test_upload_validates_first(sample_files, tmp_path, no_credentials, monkeypatch,
                                kd_here):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0" * 32)
    bad = tmp_path / "bad.csv"
    bad.write_text("ImageId,Label\n1,3\n2,10\n")
    result = kd_here("upload", str(bad), "-m", "try", "--test", str(sample_files["test"]))
    assert_one_line_error(result, "not a valid submission", "label outside 0-9")
    # submit --upload validates through the same path before any network call
    result = kd_here("upload", str(bad), "-m", "try")  # default --test data/test.csv
    assert_one_line_error(result, "not a valid submission")


@pytest.fixture(scope="module")
def knn_run(sample_files, tmp_path_factory) -> Path:
    """A real 2-fold `kdigits cv` run folder, made with the library; the knn preset keeps it
    to seconds and free of TensorFlow."""
    from kaggle_digits import runs, splits, train

    plan = runs.plan_cv(sample_files["train"], splits.SplitConfig(folds=2, holdout=0.1),
                        train.config_for("knn"), runs_dir=tmp_path_factory.mktemp("runs"),
                        command="kdigits cv --model knn --folds 2")
    runs.run_cv(plan)
    return plan.run_dir


def test_submit_from_a_run_averages_its_fold_models(knn_run, sample_files, tmp_path,
                                                    kd_here):
    from kaggle_digits.data import load_test
    from kaggle_digits.runs import load_run
    from kaggle_digits.train import load_trained

    out = tmp_path / "from-run.csv"
    result = kd_here("submit", "--run", str(knn_run), *data_args(sample_files),
                     "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Averaging the 2 fold models" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == str(out)
    test = load_test(sample_files["test"]).pixels
    folds = [load_trained(p).predict_proba(test) for p in load_run(knn_run).model_paths]
    assert len(folds) == 2
    np.testing.assert_allclose(np.load(out.with_suffix(".probs.npy")),
                               np.mean(folds, axis=0), atol=1e-6)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["run"] == str(knn_run) and record["refit"] is False
    assert len(record["fold_models"]) == 2 and record["config"]["preset"] == "knn"
    assert record["score"]["accuracy"] > 0.85  # PCA + 4-NN on 1,350 digits per fold


def test_submit_name_labels_the_file_and_a_run_is_found_by_its_name(
        sample_files, tmp_path, kd_here, monkeypatch):
    from kaggle_digits import runs, splits, train

    monkeypatch.chdir(tmp_path)  # a project folder: runs/ and submissions/ in it
    plan = runs.plan_cv(sample_files["train"], splits.SplitConfig(folds=2, holdout=0.1),
                        train.config_for("knn"), runs_dir="runs", name="base")
    runs.run_cv(plan)
    assert plan.run_dir.name.endswith("-knn-base")

    result = kd_here("submit", "--run", "base", "--name", "v1", *data_args(sample_files))
    assert result.returncode == 0, result.stdout + result.stderr
    (made,) = (tmp_path / "submissions").glob("*.csv")
    assert re.fullmatch(r"submission-knn-folds-v1-\d{8}-\d{6}\.csv", made.name)
    record = json.loads(made.with_suffix(".json").read_text())
    assert record["name"] == "v1" and record["run"] == str(plan.run_dir)
    assert_one_line_error(kd_here("submit", "--model", "knn", "--name", "v 1",
                                  *data_args(sample_files)), "--name 'v 1'")
    assert_one_line_error(kd_here("submit", "--run", "no-such-name",
                                  *data_args(sample_files)), "no-such-name is not a kdigits run")


def test_submit_refit_trains_once_with_the_runs_config(knn_run, sample_files, tmp_path,
                                                       kd_here):
    out = tmp_path / "refit.csv"
    result = kd_here("submit", "--run", str(knn_run), "--refit", "--seed", "5",
                     *data_args(sample_files), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Training knn on all 3,000 rows" in result.stdout
    record = json.loads(out.with_suffix(".json").read_text())
    run_config = json.loads((knn_run / "config.json").read_text())["training"]
    assert record["config"] == {**run_config, "seed": 5}
    assert record["refit"] is True and "fold_models" not in record
    assert record["score"]["accuracy"] > 0.85
    assert_one_line_error(kd_here("submit", "--run", str(knn_run), "--epochs", "3",
                                  "--out", str(tmp_path / "x.csv")), "--epochs")
