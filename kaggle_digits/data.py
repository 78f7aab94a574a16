"""Competition data: load, validate and cache Kaggle-format CSVs.

Everything downstream trusts the arrays that leave this module, so every check happens
here, once: a header of ``label`` (train only) and exactly 784 pixel columns, named
``pixel0…pixel783`` (Kaggle) or ``pixel1…pixel784`` (Fashion-MNIST and other Kaggle
MNIST-style sets); integers 0–255; labels 0–9; no empty cells. A problem is reported as
one line naming the file, the 1-based file line (the header is line 1) and the column::

    data/train.csv line 1043, column pixel17: value 256 is outside 0–255

Valid files take a fast path (a byte-class check, then PyArrow's multi-threaded CSV reader
with ``uint8`` columns, so out-of-range values cannot slip through a wider type). Anything
the fast path rejects, or cannot take (quoted cells, stray spaces), goes to a careful
line-by-line scan that either finds the first problem and names it, or hands back clean
text for the fast reader. Parsed arrays are cached under the SHA-256 of the CSV's bytes, so
a second load is a hash plus one ``np.load``, and a changed file can never be served stale.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kaggle_digits.constants import N_PIXELS, SIDE
from kaggle_digits.errors import KdigitsError
from kaggle_digits.fileio import atomic_output


@dataclass(frozen=True, eq=False)
class Digits:
    """Validated digits: ``pixels`` N×784 uint8, ``labels`` N uint8 (None for test files).

    ``sha256`` is the hash of the CSV's bytes (for a zip, of the CSV inside it), so the same
    data has the same hash whether it came zipped or not; runs record it for traceability.
    """

    pixels: np.ndarray
    labels: np.ndarray | None
    sha256: str
    source: str

    def __len__(self) -> int:
        return len(self.pixels)

    def images(self) -> np.ndarray:
        """N×28×28×1 view for convolutional models (no copy)."""
        return self.pixels.reshape(-1, SIDE, SIDE, 1)


@dataclass(frozen=True)
class FetchedFile:
    """A file put into the data folder by ``data fetch`` or ``data kaggle``."""

    path: Path
    rows: int
    sha256: str
    status: str  # "written", "up to date" or "replaced"


# --------------------------------------------------------------------------- public API


def load_train(path: str | os.PathLike[str], *, cache: bool = True) -> Digits:
    """Labelled digits from ``train.csv`` or Kaggle's ``digit-recognizer.zip``."""
    return _load(path, kind="train", cache=cache)


def load_test(path: str | os.PathLike[str], *, cache: bool = True) -> Digits:
    """Unlabelled digits from ``test.csv`` (or the zip); a label column is an error, since
    predicting on a training file by mistake would give a submission of the wrong size."""
    return _load(path, kind="test", cache=cache)


def load_any(path: str | os.PathLike[str], *, cache: bool = True) -> Digits:
    """Train or test, decided by the header (``label`` first or not); for ``data check``.

    A zip holds both, so it is read as its train.csv here.
    """
    return _load(path, kind="auto", cache=cache)


def check_header(head: bytes, source: str, kind: str) -> bool:
    """Check the start of a file (its header line) as the loader would, without reading
    the rows; True when it has a label column. ``kind``: "train", "test" or "auto"."""
    return _parse_header(head, source, kind)[1]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, streamed so large files need no memory."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def default_cache_dir() -> Path:
    """``$KDIGITS_CACHE_DIR``, else ``~/.cache/kdigits`` (XDG-style, per user)."""
    configured = os.environ.get("KDIGITS_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "kdigits"


def is_zip(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() == ".zip" or zipfile.is_zipfile(path)


# --------------------------------------------------------------------------- reading


def _load(path: str | os.PathLike[str], *, kind: str, cache: bool) -> Digits:
    path = Path(path)
    member = "test.csv" if kind == "test" else "train.csv"
    if not path.exists():
        raise KdigitsError(f"{path}: no such file (run `kdigits data fetch` for the built-in "
                           "data, or put Kaggle's train.csv and test.csv in data/)")
    if path.is_dir():
        raise KdigitsError(f"{path} is a folder; give the CSV file (or Kaggle's zip)")
    if is_zip(path):
        return _load_bytes(*_zip_member(path, member), kind=kind, cache=cache)
    if cache:
        # A cache hit needs only a streamed hash and the header: the file is never held
        # in memory, which is most of what makes a cached load fast.
        sha = file_sha256(path)
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)  # the header is about 5.5 kB
        if b"\n" in head or len(head) < 1 << 16:
            _, has_label, _ = _parse_header(head, str(path), kind)
            cached = _cache_read(sha, has_label)
            if cached is not None:
                return Digits(pixels=cached[0], labels=cached[1], sha256=sha, source=str(path))
    return _load_bytes(path.read_bytes(), str(path), kind=kind, cache=cache)


def _load_bytes(raw: bytes, source: str, *, kind: str, cache: bool) -> Digits:
    sha = hashlib.sha256(raw).hexdigest()  # of the bytes parsed, even if the file changed
    names, has_label, body_start = _parse_header(raw, source, kind)
    cached = _cache_read(sha, has_label) if cache else None
    if cached is not None:
        pixels, labels = cached
    else:
        pixels, labels = _parse_body(raw, body_start, names, has_label, source)
        if cache:
            cache_arrays(sha, pixels, labels)
    return Digits(pixels=pixels, labels=labels, sha256=sha, source=source)


def _zip_member(path: Path, member: str) -> tuple[bytes, str]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            matches = [n for n in names if n.rsplit("/", 1)[-1] == member]
            if not matches:
                raise KdigitsError(f"{path} has no {member} inside (found: "
                                   f"{', '.join(names[:6]) or 'nothing'})")
            return archive.read(matches[0]), f"{path}:{matches[0]}"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as error:
        raise KdigitsError(f"{path} is not a readable zip file ({error})") from None


def _parse_header(raw: bytes, source: str, kind: str) -> tuple[list[str], bool, int]:
    """Column names, whether ``label`` leads, and where the data rows start."""
    start = 3 if raw[:3] == b"\xef\xbb\xbf" else 0
    end = raw.find(b"\n", start)
    end = len(raw) if end < 0 else end
    header = raw[start:end].rstrip(b"\r")
    if not header.strip():
        if len(raw) <= 1 << 16 and not raw[start:].strip():
            raise KdigitsError(f"{source} is empty (expected a CSV with a header row)")
        raise KdigitsError(f"{source} line 1: empty; expected the header row")
    line = _decode_line(header, source, 1, None)
    if "\r" in line:  # CR-only (old Mac) line ends: the whole file reads as one line
        raise KdigitsError(f"{source} line 1: carriage return inside the header row (old Mac "
                           "line ends? save the file with \\n or \\r\\n line ends)")
    try:
        names = [name.strip() for name in next(csv.reader([line], strict=True))]
    except csv.Error as error:
        raise KdigitsError(f"{source} line 1: malformed CSV header ({error})") from None
    where = f"{source} line 1"

    if names[0] == "label":
        has_label = True
    elif names[0].lower() == "imageid" or "Label" in names:
        raise KdigitsError(f"{where}: this is a submission file (ImageId,Label), not digits")
    elif re.fullmatch(r"[+-]?\d+(\.\d*)?", names[0]):
        raise KdigitsError(f"{where}: no header row (found data); expected "
                           f"{'label,' if kind != 'test' else ''}pixel0,…,pixel783")
    elif names[0] in ("pixel0", "pixel1"):
        has_label = False
    else:
        raise KdigitsError(f"{where}, column 1: expected 'label' or 'pixel0', "
                           f"found {names[0]!r}")
    if kind == "train" and not has_label:
        raise KdigitsError(f"{where}: no label column; a training file starts "
                           "label,pixel0,…,pixel783 (is this a test file?)")
    if kind == "test" and has_label:
        raise KdigitsError(f"{where}, column label: a test file has no labels "
                           "(is this a training file?)")

    pixels = names[1:] if has_label else names
    base = 1 if pixels and pixels[0] == "pixel1" else 0
    for index, (found, wanted) in enumerate(
            zip(pixels, (f"pixel{base + i}" for i in range(N_PIXELS)), strict=False)):
        if found != wanted:
            column = index + 1 + has_label
            raise KdigitsError(f"{where}, column {column}: expected {wanted}, found {found!r}")
    if len(pixels) < N_PIXELS:
        missing = f"pixel{base + len(pixels)}"
        raise KdigitsError(f"{where}: {len(pixels)} pixel columns, expected {N_PIXELS} "
                           f"(missing {missing} onwards)")
    if len(pixels) > N_PIXELS:
        raise KdigitsError(f"{where}, column {N_PIXELS + 1 + has_label}: extra column "
                           f"{pixels[N_PIXELS]!r} (expected {N_PIXELS} pixel columns)")
    return names, has_label, (end + 1 if end < len(raw) else end)


def _decode_line(line: bytes, source: str, number: int, names: Sequence[str] | None) -> str:
    """Text of one line, or the precise error for NUL bytes and non-UTF-8 bytes."""
    nul = line.find(b"\x00")
    if nul >= 0:
        raise KdigitsError(f"{_where(source, number, line, nul, names)}: NUL byte "
                           "(a binary file, not a CSV?)")
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        at = _where(source, number, line, error.start, names)
        raise KdigitsError(f"{at}: byte 0x{line[error.start]:02x} is not UTF-8 text "
                           "(a binary file, not a CSV?)") from None


def _where(source: str, number: int, line: bytes, offset: int,
           names: Sequence[str] | None) -> str:
    column = line.count(b",", 0, offset)
    label = names[column] if names and column < len(names) else str(column + 1)
    return f"{source} line {number}, column {label}"


# --------------------------------------------------------------------------- parsing


_CELL = rb"0*(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LINE_RE = {
    True: re.compile(rb"0*[0-9](?:," + _CELL + rb"){%d}" % N_PIXELS),
    False: re.compile(_CELL + rb"(?:," + _CELL + rb"){%d}" % (N_PIXELS - 1)),
}
_INT_RE = re.compile(r"[+-]?[0-9]+")
_SCAN_BLOCK = 2048  # rows per fast re-read while hunting for the first bad line


def _parse_body(raw: bytes, start: int, names: list[str], has_label: bool,
                source: str) -> tuple[np.ndarray, np.ndarray | None]:
    body = raw[start:]
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")
    # Only digits, commas and newlines: then PyArrow's uint8 reader is exactly our rules.
    parsed = _fast_parse(body, names) if not body.translate(None, b"0123456789,\n") else None
    if parsed is None or (has_label and parsed[:, 0].max(initial=0) > 9):
        parsed = _fast_parse(_careful_scan(raw, start, names, has_label, source), names)
        if parsed is None:  # the scan accepted what the reader did not: a bug, not bad input
            raise RuntimeError(f"{source}: fast reader rejected text the careful scan passed")
    if len(parsed) == 0:
        raise KdigitsError(f"{source} has a header but no data rows")
    if has_label:
        return np.ascontiguousarray(parsed[:, 1:]), np.ascontiguousarray(parsed[:, 0])
    return parsed, None


def _fast_parse(body: bytes, names: list[str]) -> np.ndarray | None:
    """N×len(names) uint8 array, or None if PyArrow's strict reader refuses the text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=names, block_size=4 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.uint8()), null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    batches = [batch.to_tensor().to_numpy() for batch in table.to_batches() if batch.num_rows]
    if not batches:
        return np.empty((0, len(names)), np.uint8)
    return np.ascontiguousarray(np.concatenate(batches) if len(batches) > 1 else batches[0])


def _careful_scan(raw: bytes, start: int, names: list[str], has_label: bool,
                  source: str) -> bytes:
    """Find the first bad cell and raise its one-line error; if there is none (quoted or
    padded cells), return the same rows as clean ``digits,commas`` text.

    Blocks of rows that the fast reader accepts are kept whole; only a block it refuses is
    scanned line by line, so a single bad cell in row 42,000 costs one extra fast read, not
    a Python loop over 33 million cells.
    """
    strict = _LINE_RE[has_label]
    clean: list[bytes] = []
    lines = [line.rstrip(b"\r") for line in raw[start:].split(b"\n")]
    first = raw.count(b"\n", 0, start) + 1  # file line of the first data row
    for offset in range(0, len(lines), _SCAN_BLOCK):
        block = lines[offset:offset + _SCAN_BLOCK]
        text = b"\n".join(line for line in block if line) + b"\n"
        if not text.translate(None, b"0123456789,\n"):
            parsed = _fast_parse(text, names)
            if parsed is not None and not (has_label and parsed[:, 0].max(initial=0) > 9):
                clean.append(text)
                continue
        for number, line in enumerate(block, start=first + offset):
            if strict.fullmatch(line):
                clean.append(line + b"\n")
            elif line.strip():
                clean.append(_check_line(line, number, names, has_label, source) + b"\n")
    return b"".join(clean)


def _check_line(line: bytes, number: int, names: list[str], has_label: bool,
                source: str) -> bytes:
    text = _decode_line(line, source, number, names)
    if "\r" in text:
        at = _where(source, number, line, line.index(b"\r"), names)
        raise KdigitsError(f"{at}: carriage return inside a row")
    try:
        cells = next(csv.reader([text], strict=True))
    except csv.Error as error:
        raise KdigitsError(f"{source} line {number}: malformed CSV ({error})") from None
    if len(cells) < len(names):
        raise KdigitsError(
            f"{source} line {number}, column {names[len(cells)]}: missing "
            f"(the row has {len(cells)} of {len(names)} values; truncated?)")
    if len(cells) > len(names):
        raise KdigitsError(
            f"{source} line {number}, column {len(names) + 1}: extra value "
            f"{cells[len(names)].strip()!r} (the header has {len(names)} columns)")
    values = []
    for index, (cell, name) in enumerate(zip(cells, names, strict=True)):
        values.append(_check_cell(cell.strip(), index == 0 and has_label,
                                  f"{source} line {number}, column {name}"))
    return ",".join(map(str, values)).encode()


def _check_cell(cell: str, is_label: bool, where: str) -> int:
    if not cell:
        raise KdigitsError(f"{where}: empty cell")
    if _INT_RE.fullmatch(cell):
        value = int(cell)
        if is_label and not 0 <= value <= 9:
            raise KdigitsError(f"{where}: label {value} is outside 0–9")
        if not 0 <= value <= 255:
            raise KdigitsError(f"{where}: value {value} is outside 0–255")
        return value
    try:
        number = float(cell)
    except ValueError:
        raise KdigitsError(f"{where}: {cell!r} is not a number") from None
    if math.isnan(number):
        raise KdigitsError(f"{where}: missing value {cell!r}")
    raise KdigitsError(f"{where}: value {cell} is not an integer")


# --------------------------------------------------------------------------- cache


def _cache_path(sha: str) -> Path:
    return default_cache_dir() / "arrays" / f"{sha}.npy"


def _cache_read(sha: str, has_label: bool) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The cached arrays for these exact bytes, or None if absent or damaged.

    One flat uint8 ``.npy``: all pixels row by row, then the labels. Both come back as
    contiguous views of one buffer, and a plain ``.npy`` loads with a single read (an
    ``.npz`` would add a zip layer and a CRC pass).
    """
    width = N_PIXELS + has_label
    try:
        flat = np.load(_cache_path(sha), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if flat.dtype != np.uint8 or flat.ndim != 1 or flat.size % width:
        return None
    rows = flat.size // width
    pixels = flat[: rows * N_PIXELS].reshape(rows, N_PIXELS)
    return pixels, (flat[rows * N_PIXELS:] if has_label else None)


def cache_arrays(sha: str, pixels: np.ndarray, labels: np.ndarray | None) -> None:
    """Best effort: a read-only or full cache folder only costs speed, never correctness."""
    parts = [pixels.ravel()] + ([labels.ravel()] if labels is not None else [])
    try:
        with atomic_output(_cache_path(sha), force=True, binary=True) as handle:
            np.save(handle, np.concatenate(parts), allow_pickle=False)
    except (KdigitsError, OSError):
        pass
