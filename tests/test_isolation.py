"""The suite leaves the user's machine alone: `away_from_home` (tests/conftest.py) holds
for the test process and for the kdigits processes tests start."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import KAGGLE_SECRETS, USER_CACHE, USER_HOME

from kaggle_digits import data, kaggle_api


def test_home_cache_and_kaggle_config_are_temporary(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.getbasetemp()
    assert Path.home() == base / "home" != USER_HOME
    assert data.default_cache_dir() == base / "cache"
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "KAGGLE_CONFIG_DIR"):
        assert Path(os.environ[name]).is_relative_to(base), name
    assert not any(name in os.environ for name in KAGGLE_SECRETS)
    assert kaggle_api.kaggle_credentials() is None  # whatever the user keeps in ~/.kaggle


def test_cli_caches_its_arrays_in_the_temporary_folder(kdigits, train_frame: pd.DataFrame,
                                                       tmp_path: Path):
    """A real `kdigits data check` subprocess writes its parsed arrays to the session's
    cache, and not to the user's ~/.cache/kdigits."""
    # real digits in an order of their own, so no cache anywhere already holds these bytes
    order = np.random.default_rng().permutation(len(train_frame))[:300]
    path = tmp_path / "train.csv"
    train_frame.iloc[order].to_csv(path, index=False)
    cached = f"arrays/{data.file_sha256(path)}.npy"

    done = kdigits("data", "check", str(path))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "300" in done.stdout
    assert (Path(os.environ["KDIGITS_CACHE_DIR"]) / cached).is_file()
    # Only this file is checked, not the whole folder: the user may be running kdigits
    # beside the tests, and their cache may change for reasons of its own.
    assert not (USER_CACHE / cached).exists()


def test_cli_sees_no_kaggle_credentials(kdigits, tmp_path: Path):
    done = kdigits("data", "kaggle", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: no Kaggle credentials: put kaggle.json in ~/.kaggle/")
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
