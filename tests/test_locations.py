"""Defaults inside a Kaggle notebook: built under a temporary /kaggle tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from kaggle_digits.locations import locations


@pytest.fixture
def kaggle_tree(tmp_path: Path, sample_files: dict, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Kaggle notebook's layout: the competition read-only under input/, output in
    working/, and Kaggle's kernel variable set."""
    root = tmp_path / "kaggle"
    competition = root / "input" / "digit-recognizer"
    competition.mkdir(parents=True)
    (root / "working").mkdir()
    for name in ("train", "test"):
        shutil.copyfile(sample_files[name], competition / f"{name}.csv")
    monkeypatch.setenv("KDIGITS_KAGGLE_ROOT", str(root))
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    return root


def test_outside_kaggle_the_project_folders_are_used(tmp_path, monkeypatch):
    monkeypatch.setenv("KDIGITS_KAGGLE_ROOT", str(tmp_path / "nothing-here"))
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    where = locations()
    assert not where.kaggle_kernel
    assert (where.train, where.test, where.runs) == (Path("data/train.csv"),
                                                     Path("data/test.csv"), Path("runs"))
    assert where.submission("cnn-fast").parent == Path("submissions")


def test_inside_a_kaggle_notebook_every_default_points_at_kaggle(kaggle_tree):
    where = locations()
    assert where.kaggle_kernel
    assert where.train == kaggle_tree / "input" / "digit-recognizer" / "train.csv"
    assert where.submission("cnn-fast") == kaggle_tree / "working" / "submission.csv"
    assert where.runs == kaggle_tree / "working" / "runs"


def test_a_competition_attached_under_another_name_is_found(kaggle_tree):
    (kaggle_tree / "input" / "digit-recognizer").rename(kaggle_tree / "input" / "digits-v2")
    assert locations().train == kaggle_tree / "input" / "digits-v2" / "train.csv"


def test_submit_and_cv_need_no_options_in_a_kaggle_notebook(kaggle_tree, kdigits, tmp_path):
    """`kdigits submit` with no option trains on Kaggle's train.csv and writes
    /kaggle/working/submission.csv, the file "Submit to competition" takes."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    done = kdigits("submit", "--model", "logreg", cwd=elsewhere)
    assert done.returncode == 0, done.stdout + done.stderr
    submission = kaggle_tree / "working" / "submission.csv"
    assert done.stdout.strip().splitlines()[-1] == str(submission)
    written = pd.read_csv(submission)
    assert list(written.columns) == ["ImageId", "Label"] and len(written) == 1000
    assert not (elsewhere / "submissions").exists()

    again = kdigits("submit", "--model", "logreg", cwd=elsewhere)  # never overwritten
    assert again.returncode == 2 and "--force" in again.stderr

    checked = kdigits("validate", str(submission), cwd=elsewhere)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    cv = kdigits("cv", "--model", "logreg", "--folds", "2", cwd=elsewhere)
    assert cv.returncode == 0, cv.stdout + cv.stderr
    runs = list((kaggle_tree / "working" / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "metrics.json").is_file()


def test_every_verbs_defaults_follow_the_notebook(kaggle_tree):
    """The CLI modules read the defaults once, when a `kdigits` process starts."""
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-c", "from kaggle_digits.cli import report_cmd, score_cmd, "
         "submit_cmd, train_cmd, tune_cmd\n"
         "for m in (report_cmd, score_cmd, submit_cmd, train_cmd, tune_cmd):\n"
         "    print(m.WHERE.train, m.WHERE.runs)"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    expected = (f"{kaggle_tree / 'input' / 'digit-recognizer' / 'train.csv'} "
                f"{kaggle_tree / 'working' / 'runs'}")
    assert shown == [expected] * 5
