"""Every way a command can be used wrongly ends in one line: `error: …` on stderr, exit 2
(130 for Ctrl-C), no traceback, no usage block, in kdigits' words rather than Click's or
scikit-learn's, and nothing half-made on disk.

Most cases run the real entry point (`cli.main`) in this process, since a subprocess
costs seconds of imports each; Ctrl-C needs a real process and a real signal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO


def one_error_line(result: tuple[int, str, str], *fragments: str, code: int = 2) -> str:
    returncode, out, err = result
    assert returncode == code, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "Usage:" not in err and "Error:" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def a_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("not-a-folder") / "notes.txt"
    path.write_text("a file, not a folder\n")
    return path


@pytest.fixture(scope="module")
def bad_submission(tmp_path_factory) -> Path:
    """Three problems: a bad label, too few rows, missing ImageIds."""
    path = tmp_path_factory.mktemp("bad") / "submission.csv"
    path.write_text("ImageId,Label\n1,7\n2,x\n")
    return path


# --- Click's usage errors: one line, with where the help is -----------------------------

@pytest.mark.parametrize(("args", "fragments"), [
    (["upload", "x.csv"], ["missing option '-m' / '--message'", "'kdigits upload --help'"]),
    (["show", "-1"], ["-1 is not an option, and a number here cannot be negative",
                      "'kdigits show --help'"]),
    (["score", "a.csv", "-s", "b.csv", "--mode", "foo"],
     ["invalid value for '--mode': 'foo' is not one of 'sens_spec', 'prec_recall', "
      "'everything'"]),
    (["cv", "--fold", "3"], ["no such option: --fold; did you mean --folds", "kdigits cv"]),
    (["cv", "--folds"], ["option '--folds' requires an argument", "'kdigits cv --help'"]),
    (["cv", "--folds", "x"], ["invalid value for '--folds'"]),
    (["score"], ["missing argument 'submission'", "'kdigits score --help'"]),
    (["submt"], ["no such command 'submt'; did you mean 'submit'?", "'kdigits --help'"]),
    (["data", "chek"], ["no such command 'chek'", "'kdigits data --help'"]),
    (["eda", "--force", "extra"], ["unexpected extra argument"]),
])
def test_usage_errors_are_one_line(kd, args: list[str], fragments: list[str]) -> None:
    line = one_error_line(kd(*args), *fragments)
    assert "Value error" not in line and "Possible options" not in line


def test_bare_kdigits_still_shows_the_help(kd) -> None:
    _, out, err = kd()
    assert "Usage: kdigits [OPTIONS] COMMAND" in out + err
    assert "error:" not in out + err


# --- splits: what was asked, why it cannot work, what does ------------------------------

def test_a_tiny_percent_is_explained_without_scikit_learn(kd, sample_files, tmp_path) -> None:
    line = one_error_line(
        kd("cv", "--model", "knn", "--train", str(sample_files["train"]), "--percent", "0.1",
           "--runs-dir", str(tmp_path)),
        "--percent 0.1 keeps 3 of 3,000 rows, fewer than one of each of the 10 digits",
        "the smallest --percent that works with 5 folds and --holdout 0.1 is ")
    assert "test_size" not in line and "number of classes" not in line
    smallest = line.rsplit(" ", 1)[1]
    _, out, err = kd("cv", "--model", "knn", "--train", str(sample_files["train"]),
                     "--percent", smallest, "--runs-dir", str(tmp_path))
    assert "error:" not in err, err  # the advice works
    assert "5-fold stratified CV" in out


@pytest.mark.parametrize(("args", "fragments"), [
    (["--folds", "400"], ["--folds 400 needs 400 or more rows of each digit",
                          "use --folds 239 or fewer"]),
    (["--holdout", "0.001"], ["--holdout 0.001 holds out 3 of 3,000 rows",
                              "or more, or 0 for none"]),
    (["--folds", "3", "--test-size", "0.5"], ["--test-size only applies to one train/test "
                                              "split (--folds 1)"]),
    (["--precision", "bfloat16"], ["--precision apply to Keras models only, not knn"]),
    (["--label-smoothing", "0.1"], ["--label-smoothing apply to Keras models only, not knn"]),
])
def test_impossible_or_ignored_cv_options_are_refused(kd, sample_files, tmp_path,
                                                      args, fragments) -> None:
    one_error_line(kd("cv", "--model", "knn", "--train", str(sample_files["train"]), *args,
                      "--runs-dir", str(tmp_path / "runs")), *fragments)
    assert not (tmp_path / "runs").exists()  # refused before any run folder


@pytest.mark.parametrize("verb", ["cv", "submit"])
def test_label_smoothing_outside_zero_to_one_is_refused(kd, sample_files, tmp_path,
                                                        verb) -> None:
    where = ["--runs-dir", str(tmp_path / "runs")] if verb == "cv" else [
        "--test", str(sample_files["test"]), "--out", str(tmp_path / "s.csv")]
    one_error_line(kd(verb, "--model", "mlp", "--train", str(sample_files["train"]),
                      "--label-smoothing", "1", *where),
                   "--label-smoothing must be a number at least 0 and below 1, not 1.0")
    assert not list(tmp_path.iterdir())  # refused before a run folder or a file


def test_resume_refuses_a_runs_dir_it_would_ignore(kd, tmp_path) -> None:
    one_error_line(kd("cv", "--resume", str(tmp_path / "run"), "--runs-dir", str(tmp_path)),
                   "takes its settings from", "drop --runs-dir")


# --- folders: a file where a folder belongs, a folder that is not there ------------------

@pytest.mark.parametrize("args", [
    ["cv", "--model", "knn", "--runs-dir"], ["runs", "--runs-dir"], ["tune", "--runs-dir"],
    ["compare", "--root"], ["eda", "--out"], ["data", "fetch", "--data-dir"],
])
def test_a_file_given_as_a_folder_is_one_line(kd, a_file, args) -> None:
    one_error_line(kd(*args, str(a_file)), f"{args[-1]} {a_file} is a file, not a folder")


def test_runs_says_when_its_folder_does_not_exist(kd, tmp_path) -> None:
    code, out, err = kd("runs", "--runs-dir", str(tmp_path / "none"))
    assert code == 0 and not err
    assert f"no runs under {tmp_path / 'none'}/ yet (the folder does not exist)" in out


def test_outputs_into_a_missing_folder_are_refused(kd, sample_files, tmp_path) -> None:
    missing = tmp_path / "no-such-folder"
    solution = str(sample_files["solution"])
    one_error_line(kd("submit", "--model", "knn", "--out", str(missing / "s.csv")),
                   f"--out {missing / 's.csv'}: the folder {missing} does not exist")
    one_error_line(kd("ensemble", solution, solution, "--out", str(missing / "e.csv")),
                   f"the folder {missing} does not exist")
    one_error_line(kd("score", solution, "-s", solution, "--json", str(missing / "s.json")),
                   f"--json {missing / 's.json'}: the folder {missing} does not exist")
    one_error_line(kd("compare", "--out", str(missing / "c.png")),
                   f"--out {missing / 'c.png'}: the folder {missing} does not exist")
    assert not missing.exists()


def test_submit_refuses_a_message_it_would_ignore(kd, tmp_path) -> None:
    one_error_line(kd("submit", "--model", "knn", "-m", "first try", "--out",
                      str(tmp_path / "s.csv")), "-m/--message is the upload message",
                   "--upload")



def test_tune_refuses_startup_trials_without_pruning(kd, tmp_path) -> None:
    one_error_line(kd("tune", "--model", "mlp-fast", "--no-prune", "--startup-trials", "3",
                      "--runs-dir", str(tmp_path)), "--startup-trials", "--no-prune")
    assert not list(tmp_path.iterdir())

# --- submissions: the same words from validate, upload and submit ------------------------

def test_a_training_file_as_test_is_named(kd, sample_files) -> None:
    solution, train = str(sample_files["solution"]), str(sample_files["train"])
    said = "a test file has no labels (is this a training file?)"
    one_error_line(kd("validate", solution, "--test", train), train, said)
    one_error_line(kd("upload", solution, "-m", "x", "--test", train), train, said)


def test_upload_lists_every_problem_validate_lists(kd, sample_files, bad_submission) -> None:
    test = str(sample_files["test"])
    validated = one_error_line(kd("validate", str(bad_submission), "--test", test))
    uploaded = one_error_line(kd("upload", str(bad_submission), "-m", "x", "--test", test),
                              "(3 problems)", "non-integer Label", "2 rows, expected 1000",
                              "ImageIds of 1-1000 missing")
    assert uploaded == validated
    assert "more)" not in uploaded


# --- Ctrl-C ------------------------------------------------------------------------------

def _ctrl_c_as_in_a_terminal() -> None:
    """A suite started in the background (``make test &``) inherits SIGINT ignored, and a
    Python started so never turns Ctrl-C into KeyboardInterrupt; a terminal's has it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_in_submit_says_what_stopped_and_writes_nothing(sample_files, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stdout = tmp_path / "stdout.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    with stdout.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "kaggle_digits", "submit", "--model", "mlp", "--epochs",
             "30", "--train", str(sample_files["train"]), "--test", str(sample_files["test"]),
             "--out", str(out / "s.csv")], cwd=REPO, env=env, text=True, stdout=sink,
            stderr=subprocess.PIPE, preexec_fn=_ctrl_c_as_in_a_terminal)
        deadline = time.monotonic() + 300
        while "Training mlp" not in stdout.read_text():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.05)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == ["error: interrupted while training mlp on all 3,000 rows: nothing was "
                      "written"], err
    assert err.strip().splitlines()[-1] == errors[0]
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # no submission, no side file, no temp file


@pytest.mark.slow
def test_ctrl_c_in_a_submit_of_several_nets_keeps_those_finished(sample_files, tmp_path) -> None:
    """`best` trains five nets for 40 minutes: Ctrl-C in the second of two keeps the
    first, and the same command goes on from it (that its nets are an uninterrupted fit's:
    tests/test_train.py)."""
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "kaggle_digits", "submit", "--model", "mlp", "--members",
               "2", "--epochs", "10", "--train", str(sample_files["train"]), "--test",
               str(sample_files["test"])]
    process = subprocess.Popen([*command, "--out", str(out / "s.csv")], cwd=REPO, env=env,
                               text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=_ctrl_c_as_in_a_terminal)
    deadline = time.monotonic() + 300
    while not list(out.glob(".kdigits-partial-*/member-1.json")):  # the first net is kept
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the first net never finished"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    [kept] = list(out.iterdir())  # no submission: only the kept net
    assert sorted(p.name for p in kept.iterdir()) == ["member-1.json", "member-1.keras"]
    assert err.strip().splitlines()[-1] == (
        f"error: interrupted while training mlp on all 3,000 rows: no submission was written; "
        f"1 of 2 nets kept in {kept}, and the same command goes on from them")
    again = subprocess.run([*command, "--out", str(out / "s.csv")], cwd=REPO, env=env,
                           text=True, capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"going on from 1 of 2 nets that an interrupted submit kept in {kept}" in " ".join(
        again.stdout.split())
    assert sorted(p.name for p in out.iterdir()) == ["s.csv", "s.json", "s.probs.npy"]
    record = json.loads((out / "s.json").read_text())
    assert record["kept_members"] == {"folder": str(kept), "members": [1]}
