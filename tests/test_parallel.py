"""`kdigits cv --jobs`: folds in worker processes give the sequential run's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def only_run(root: Path) -> Path:
    (run,) = root.iterdir()
    return run


@pytest.mark.slow  # two small real cv runs
def test_two_workers_equal_the_sequential_run_with_the_same_threads(kdigits, tmp_path,
                                                                   sample_files):
    common = ["cv", "--model", "mlp", "--train", str(sample_files["train"]), "--folds", "3",
              "--epochs", "1", "--threads", "1"]
    runs = {}
    for jobs in ("1", "2"):
        root = tmp_path / f"jobs{jobs}"
        done = kdigits(*common, "--jobs", jobs, "--runs-dir", str(root))
        assert done.returncode == 0, done.stdout + done.stderr
        runs[jobs] = only_run(root)
    assert "2 folds at a time, 1 CPU thread(s) each" in done.stdout
    for name in ("oof.csv", "holdout.csv"):
        assert (runs["1"] / name).read_bytes() == (runs["2"] / name).read_bytes(), name
    configs = [json.loads((run / "config.json").read_text()) for run in runs.values()]
    assert [c["threads_per_fold"] for c in configs] == [1, 1]
    folds = [json.loads((runs["2"] / "folds" / f"fold-{k}.json").read_text())["seed"]
             for k in (1, 2, 3)]
    assert folds == [43, 44, 45]  # seed + fold, as in the main process


def test_bad_jobs_and_threads_are_one_line(kdigits, tmp_path, sample_files):
    for option, value in (("--jobs", "0"), ("--threads", "0")):
        done = kdigits("cv", "--model", "logreg", "--train", str(sample_files["train"]),
                       option, value, "--runs-dir", str(tmp_path / "runs"))
        assert done.returncode == 2
        assert done.stderr.strip() == f"error: {option} must be 1 or more, not 0"
        assert not (tmp_path / "runs").exists()
