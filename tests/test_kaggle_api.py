"""Kaggle's side (kaggle_digits/kaggle_api.py): credentials, installing the competition
zip, and uploads that validate before anything reaches Kaggle."""

from __future__ import annotations

import pytest
from conftest import make_zip

from kaggle_digits import kaggle_api
from kaggle_digits.errors import KdigitsError


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
