"""Shared fixtures: small samples of the real competition data.

`make test` runs `make data` first, so `data/train.csv` is there (the built-in MNIST data,
or the user's own Kaggle file: both are real digits with labels). Samples are cut from its
first rows, so every test runs on real images without any network access.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TRAIN_CSV = REPO / "data" / "train.csv"
GOLDEN = REPO / "tests" / "golden" / "caret"  # R caret's own results; see its README.md
SAMPLE_ROWS = 4000  # 3,000 for training samples, 1,000 held back as a labelled "test"


@pytest.fixture(scope="session")
def train_frame() -> pd.DataFrame:
    if not TRAIN_CSV.exists():
        pytest.fail(f"{TRAIN_CSV} is missing: run `make data` (make test does it for you)")
    return pd.read_csv(TRAIN_CSV, nrows=SAMPLE_ROWS)


@pytest.fixture(scope="session")
def train_sample(train_frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 N×784, labels uint8 N) for the first 3,000 real training digits."""
    head = train_frame.iloc[:3000]
    return (head.iloc[:, 1:].to_numpy(np.uint8), head["label"].to_numpy(np.uint8))


@pytest.fixture(scope="session")
def sample_files(train_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Kaggle-format files cut from real data: train.csv (3,000 rows), test.csv (1,000
    rows, no label) and solution.csv (`ImageId,Label` for that test.csv)."""
    folder = tmp_path_factory.mktemp("sample-data")
    train = train_frame.iloc[:3000]
    held = train_frame.iloc[3000:].reset_index(drop=True)
    paths = {
        "train": folder / "train.csv",
        "test": folder / "test.csv",
        "solution": folder / "solution.csv",
    }
    train.to_csv(paths["train"], index=False)
    held.drop(columns="label").to_csv(paths["test"], index=False)
    pd.DataFrame({"ImageId": np.arange(1, len(held) + 1), "Label": held["label"]}).to_csv(
        paths["solution"], index=False)
    return paths


def run_kdigits(*args: str, cwd: Path | None = None, env: dict | None = None,
                timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess, as a user would."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120", **(env or {})}
    return subprocess.run([sys.executable, "-m", "kaggle_digits", *args], cwd=cwd or REPO,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def kdigits():
    """`kdigits(*args)` runs the CLI in a subprocess and returns the CompletedProcess."""
    return run_kdigits


@pytest.fixture
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """An empty array cache for one test, so no test is helped (or hurt) by another's
    arrays and the user's ~/.cache/kdigits is never touched."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("KDIGITS_CACHE_DIR", str(folder))
    return folder
