"""Same seed, same data, CPU: the same folds, the same out-of-fold file and the same
submission, to the byte, in separate processes; another seed, other folds.

The runs are real `kdigits` processes (the `mlp` preset, one epoch, a few hundred real
rows), started side by side so four of them cost the time of two. Separate processes get
different hash seeds, thread timings and import orders, which is what a user rerunning a
command sees. On GPU, see the README's Guarantees section: Keras seeds and TensorFlow's
op determinism cover most kernels, but not every cuDNN path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_digits.splits import SplitConfig, make_split

REPO = Path(__file__).resolve().parents[1]
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}


def start(*args: str, cache: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kaggle_digits", *args], cwd=REPO,
                            env={**os.environ, **QUIET, "KDIGITS_CACHE_DIR": str(cache)},
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Each of `kdigits cv` and `kdigits submit`, run twice with the same seed."""
    folder = tmp_path_factory.mktemp("determinism")
    with (REPO / "data" / "train.csv").open("rb") as handle:
        (folder / "train.csv").write_bytes(b"".join(handle.readline() for _ in range(601)))
    with (REPO / "data" / "test.csv").open("rb") as handle:
        (folder / "test.csv").write_bytes(b"".join(handle.readline() for _ in range(201)))
    data = ["--train", str(folder / "train.csv")]
    processes = {}
    for n in (1, 2):
        processes[f"cv{n}"] = start("cv", "--model", "mlp", "--epochs", "1", "--folds", "2",
                                    "--seed", "7", *data, "--runs-dir", str(folder / f"runs{n}"),
                                    cache=folder / f"cache{n}")
        processes[f"submit{n}"] = start("submit", "--model", "mlp", "--epochs", "1", "--seed",
                                        "7", *data, "--test", str(folder / "test.csv"), "--out",
                                        str(folder / f"submission-{n}.csv"),
                                        cache=folder / f"cache{n}")
    done = {name: p.communicate(timeout=600) for name, p in processes.items()}
    for name, p in processes.items():
        assert p.returncode == 0, f"{name}: {done[name][1][-3000:]}"
    run_dirs = [Path(done[f"cv{n}"][0].strip().splitlines()[-1]) for n in (1, 2)]
    return {"runs": run_dirs, "submissions": [folder / f"submission-{n}.csv" for n in (1, 2)],
            "train": [folder / "train.csv"]}


@pytest.mark.slow
def test_cv_twice_gives_an_identical_oof_csv(twice):
    first, second = twice["runs"]
    assert first != second
    for name in ("oof.csv", "holdout.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    history = [pd.read_csv(run / "history.csv") for run in (first, second)]
    pd.testing.assert_frame_equal(history[0].drop(columns="seconds"),
                                  history[1].drop(columns="seconds"))


@pytest.mark.slow
def test_the_runs_folds_are_the_seeded_split(twice):
    """The fold column a run wrote is exactly `splits.make_split` for its seed, so anyone
    can rebuild a run's folds from config.json alone."""
    run = twice["runs"][0]
    config = json.loads((run / "config.json").read_text())
    labels = pd.read_csv(twice["train"][0], usecols=["label"])["label"].to_numpy()
    assert config["split"]["seed"] == 7
    split = make_split(labels, SplitConfig(**config["split"]))
    written = pd.concat([pd.read_csv(run / "oof.csv"), pd.read_csv(run / "holdout.csv")])
    expected = split.fold_column(labels.size)
    np.testing.assert_array_equal(written["fold"], expected[written["row"]])
    assert sorted(written["row"]) == list(range(labels.size))


@pytest.mark.slow
def test_submit_twice_gives_an_identical_submission(twice):
    first, second = twice["submissions"]
    assert first.read_bytes() == second.read_bytes()
    np.testing.assert_array_equal(np.load(first.with_suffix(".probs.npy")),
                                  np.load(second.with_suffix(".probs.npy")))


def test_another_seed_gives_other_folds(train_sample):
    """The seed is really used: on 3,000 real labels, seeds 42 and 43 put most rows in a
    different fold (or in or out of the holdout), while 42 twice agrees everywhere."""
    labels = train_sample[1]
    columns = {seed: make_split(labels, SplitConfig(folds=5, seed=seed)).fold_column(labels.size)
               for seed in (42, 43)}
    again = make_split(labels, SplitConfig(folds=5, seed=42)).fold_column(labels.size)
    np.testing.assert_array_equal(again, columns[42])
    assert np.mean(columns[42] != columns[43]) > 0.5
