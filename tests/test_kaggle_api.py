"""Kaggle's side (kaggle_digits/kaggle_api.py): credentials, installing the competition
zip, and uploads that validate before anything reaches Kaggle."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from kaggle_digits import builtin, kaggle_api
from kaggle_digits.errors import KdigitsError


@pytest.fixture(scope="module")
def rows(train_sample) -> tuple[np.ndarray, np.ndarray]:
    pixels, labels = train_sample
    return pixels[:300], labels[:300]


@pytest.fixture(scope="module")
def train_text(rows) -> str:
    return builtin.digits_csv(*rows).decode()


@pytest.fixture(scope="module")
def test_text(rows) -> str:
    return builtin.digits_csv(rows[0]).decode()


def make_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def test_install_kaggle_zip_copies_validated_files(tmp_path, train_text, test_text):
    zipped = make_zip(tmp_path / "digit-recognizer.zip",
                      {"train.csv": train_text, "test.csv": test_text})
    files = kaggle_api.install_kaggle_zip(zipped, tmp_path / "data")
    assert [f.status for f in files] == ["written", "written"]
    assert (tmp_path / "data" / "train.csv").read_text() == train_text
    again = kaggle_api.install_kaggle_zip(zipped, tmp_path / "data")
    assert [f.status for f in again] == ["up to date", "up to date"]
    (tmp_path / "data" / "test.csv").write_text("other")
    with pytest.raises(KdigitsError, match="exists and differs"):
        kaggle_api.install_kaggle_zip(zipped, tmp_path / "data")
    replaced = kaggle_api.install_kaggle_zip(zipped, tmp_path / "data", force=True)
    assert [f.status for f in replaced] == ["up to date", "replaced"]


def test_kaggle_without_credentials_names_what_is_missing(tmp_path, monkeypatch):
    for name in ("KAGGLE_API_TOKEN", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert kaggle_api.kaggle_credentials() is None
    with pytest.raises(KdigitsError, match=r"no Kaggle credentials: put kaggle.json in"):
        kaggle_api.download_kaggle_zip(tmp_path)
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    assert kaggle_api.kaggle_credentials() is None  # a username alone is not enough
    (tmp_path / ".kaggle").mkdir()
    (tmp_path / ".kaggle" / "kaggle.json").write_text("{}")
    assert kaggle_api.kaggle_credentials() == str(tmp_path / ".kaggle" / "kaggle.json")
