"""Kaggle's ``ImageId,Label`` files: read strictly, check before upload, write safely.

Kaggle rejects a malformed submission only after the upload (and it counts against the
daily limit), and a silently misaligned solution file gives a wrong local score. So both
files are read strictly: the exact header, one integer ``ImageId`` and one integer
``Label`` per line, no blank lines, every problem reported with its line numbers.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kaggle_digits.constants import CLASSES, KAGGLE_TEST_ROWS
from kaggle_digits.errors import KdigitsError
from kaggle_digits.fileio import atomic_output

if TYPE_CHECKING:
    from kaggle_digits.stats import ConfusionStats

HEADER = "ImageId,Label"
SHOW = 3  # how many offending lines a message names
HEADER_BYTES = 1 << 16  # enough for test.csv's header line (about 5.5 kB)
_INTEGER = re.compile(r"-?[0-9]+")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, eq=False)
class LabelFile:
    """A strictly valid ``ImageId,Label`` file; row i is on line i + 2 (header is line 1)."""

    image_ids: np.ndarray  # int64
    labels: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.image_ids)


@dataclass
class _Scan:
    """What a line-by-line read of an ``ImageId,Label`` file found, problems included."""

    header: str | None = None
    ids: list[int] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    blank: list[int] = field(default_factory=list)
    bad_fields: list[tuple[int, str]] = field(default_factory=list)
    bad_ids: list[tuple[int, str]] = field(default_factory=list)
    bad_labels: list[tuple[int, str]] = field(default_factory=list)
    too_large: list[tuple[int, str]] = field(default_factory=list)

    def format_problems(self) -> list[str]:
        """Problems that make rows unreadable, one line each (count + first few lines)."""
        out = []
        if self.header != HEADER:
            out.append(f"header is {self.header!r}, expected {HEADER!r}")
        if self.blank:
            out.append(f"{_rows(len(self.blank), 'blank line')} "
                       f"({_lines(self.blank)})")
        if self.bad_fields:
            out.append(f"{_rows(len(self.bad_fields), 'line')} without exactly two "
                       f"comma-separated fields ({_show(self.bad_fields)})")
        if self.bad_ids:
            out.append(f"{_rows(len(self.bad_ids), 'row')} with a non-integer ImageId "
                       f"({_show(self.bad_ids)})")
        if self.bad_labels:
            out.append(f"{_rows(len(self.bad_labels), 'row')} with a non-integer Label "
                       f"({_show(self.bad_labels)})")
        if self.too_large:
            out.append(f"{_rows(len(self.too_large), 'row')} with a number beyond 64-bit "
                       f"integers ({_show(self.too_large)})")
        return out


def _rows(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _appear(count: int) -> str:
    return "appears" if count == 1 else "appear"


def _lines(numbers: Sequence[int]) -> str:
    more = ", …" if len(numbers) > SHOW else ""
    word = "line" if len(numbers) == 1 else "lines"
    return f"{word} {', '.join(str(n) for n in numbers[:SHOW])}{more}"


def _show(items: Sequence[tuple[int, object]]) -> str:
    more = ", …" if len(items) > SHOW else ""
    return ", ".join(f"line {line}: {text!r}" if isinstance(text, str) else
                     f"line {line}: {text}" for line, text in items[:SHOW]) + more


def _first(values: Sequence[object] | np.ndarray) -> str:
    more = ", …" if len(values) > SHOW else ""
    return ", ".join(str(v) for v in list(values)[:SHOW]) + more


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise KdigitsError(f"{path} not found" if not path.exists() else f"{path} is not a file")
    data = path.read_bytes()
    if not data.strip():
        raise KdigitsError(f"{path} is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise KdigitsError(f"{path} is not a UTF-8 text file "
                           f"(byte {error.start}); expected {HEADER} CSV") from None


def _scan(path: Path) -> _Scan:
    # Lines end where pandas (and so Kaggle) ends them: not at the other characters
    # str.splitlines() knows (\x0b, \x1c, \x85, \u2028, …), which pandas keeps in a field.
    lines = _LINE_BREAK.split(_read_text(path))
    if lines[-1] == "":
        lines.pop()
    scan = _Scan(header=lines[0].strip("\r") if lines else None)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            scan.blank.append(number)
            continue
        parts = line.split(",")
        if len(parts) != 2:
            scan.bad_fields.append((number, line))
            continue
        image_id, label = parts
        if not _INTEGER.fullmatch(image_id):
            scan.bad_ids.append((number, image_id))
        elif not _INTEGER.fullmatch(label):
            scan.bad_labels.append((number, label))
        elif not all(INT64_MIN <= int(value) <= INT64_MAX for value in parts):
            scan.too_large.append((number, line))  # NumPy's int64 arrays cannot hold it
        else:
            scan.ids.append(int(image_id))
            scan.labels.append(int(label))
            scan.lines.append(number)
    return scan


def read_label_file(path: str | Path) -> LabelFile:
    """Read an ``ImageId,Label`` CSV; KdigitsError (one line) on anything odd.

    Odd means: a missing file, an empty file, another header, blank lines, lines without
    exactly two fields, non-integer values, no rows, or an ImageId that appears twice.
    """
    path = Path(path)
    scan = _scan(path)
    problems = scan.format_problems()
    if problems:
        raise KdigitsError(f"{path}: {'; '.join(problems)}")
    if not scan.ids:
        raise KdigitsError(f"{path} has a header but no rows")
    ids = np.asarray(scan.ids, dtype=np.int64)
    duplicates = _duplicates(ids)
    if duplicates.size:
        raise KdigitsError(f"{path}: {_rows(duplicates.size, 'ImageId')} "
                           f"{_appear(duplicates.size)} more than once "
                           f"(first: {_first(duplicates)})")
    return LabelFile(ids, np.asarray(scan.labels, dtype=np.int64))


def _duplicates(ids: np.ndarray) -> np.ndarray:
    """The ImageIds seen more than once, in order of first appearance."""
    values, first, counts = np.unique(ids, return_index=True, return_counts=True)
    repeated = counts > 1
    return values[repeated][np.argsort(first[repeated])]


def count_data_rows(path: str | Path) -> int:
    """Data rows of a test file (``test.csv``, or the one in Kaggle's zip), counted without
    parsing it; its header is checked first, so a training file is refused.

    28,000 rows of 784 pixels are ~50 MB; counting newlines in 1 MiB blocks takes a few
    milliseconds where parsing takes seconds. Kaggle's ``digit-recognizer.zip`` works too.
    """
    from kaggle_digits.data import check_header

    path = Path(path)
    if not path.is_file():
        raise KdigitsError(f"{path} not found: pass the competition's test.csv with --test")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if Path(n).name == "test.csv"]
            if not names:
                raise KdigitsError(f"{path} holds no test.csv")
            with archive.open(names[0]) as handle:
                check_header(handle.read(HEADER_BYTES), f"{path}:{names[0]}", "test")
            with archive.open(names[0]) as handle:
                return _count_rows(handle)
    with path.open("rb") as handle:
        # A training file here (it has as many rows as a test file could) is the mistake
        # `submit --test` refuses too, in the same words.
        check_header(handle.read(HEADER_BYTES), str(path), "test")
        handle.seek(0)
        return _count_rows(handle)


def _count_rows(handle: io.BufferedIOBase | zipfile.ZipExtFile) -> int:
    newlines, last = 0, b"\n"
    while block := handle.read(1 << 20):
        newlines += block.count(b"\n")
        last = block[-1:]
    lines = newlines + (last != b"\n")  # a last line without its newline still counts
    return max(lines - 1, 0)


def submission_problems(path: str | Path, expected_rows: int) -> list[str]:
    """Every reason Kaggle would reject (or mis-score) this submission, one line each.

    A valid file has the header ``ImageId,Label``, ``expected_rows`` rows, the ImageIds
    1…expected_rows once each, integer labels 0–9 and no blank lines. An empty list
    means the file is valid.
    """
    path = Path(path)
    try:
        scan = _scan(path)
    except KdigitsError as error:
        return [str(error)]
    problems = scan.format_problems()
    outside = [(line, label) for line, label in zip(scan.lines, scan.labels, strict=True)
               if label not in CLASSES]
    if outside:
        problems.append(f"{_rows(len(outside), 'row')} with a label outside 0-9 "
                        f"({_show(outside)})")
    rows = (len(scan.ids) + len(scan.bad_ids) + len(scan.bad_labels) + len(scan.bad_fields)
            + len(scan.too_large))
    if rows != expected_rows:
        problems.append(f"{_rows(rows, 'row')}, expected {expected_rows} (one per test image)")
    ids = np.asarray(scan.ids, dtype=np.int64)
    lines = np.asarray(scan.lines, dtype=np.int64)
    duplicates = _duplicates(ids)
    if duplicates.size:
        where = "; ".join(f"{d} on lines {', '.join(str(n) for n in lines[ids == d][:SHOW])}"
                          for d in duplicates[:SHOW])
        problems.append(f"{_rows(duplicates.size, 'ImageId')} {_appear(duplicates.size)} "
                        "more than once "
                        f"({where}{'; …' if duplicates.size > SHOW else ''})")
    out_of_range = (ids < 1) | (ids > expected_rows)
    if out_of_range.any():
        where = list(zip(lines[out_of_range].tolist(), ids[out_of_range].tolist(), strict=True))
        problems.append(f"{_rows(len(where), 'row')} with an ImageId outside "
                        f"1-{expected_rows} ({_show(where)})")
    missing = np.setdiff1d(np.arange(1, expected_rows + 1), ids)
    if missing.size and not scan.bad_ids:
        problems.append(f"{_rows(missing.size, 'ImageId')} of 1-{expected_rows} missing "
                        f"({_first(missing)})")
    return problems


@dataclass(frozen=True)
class Validation:
    """A submission checked the way Kaggle will check it (``kdigits validate``).

    True when the file is valid; its text is the one line the CLI prints, so a notebook
    and a terminal say the same thing.
    """

    submission: Path
    test: Path
    rows: int  # rows the test file asks for
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.ok

    def message(self) -> str:
        if self.ok:
            return (f"OK: {self.submission} has {self.rows:,} rows, ImageIds 1-{self.rows} "
                    f"once each, labels 0-9 (matches {self.test})")
        return _invalid(self.submission, self.problems)

    __str__ = message

    def __repr__(self) -> str:
        return self.message()


def validate_submission(submission: str | Path, test: str | Path) -> Validation:
    """Check a submission against the row count of ``test`` (a CSV or Kaggle's zip); a
    missing test file is an error, a bad submission is a result with its problems."""
    rows = count_data_rows(test)
    return Validation(Path(submission), Path(test), rows,
                      tuple(submission_problems(submission, rows)))


def write_submission(path: str | Path, labels: np.ndarray | Sequence[int], *,
                     force: bool = False, expected_rows: int | None = None) -> Path:
    """Write ``ImageId,Label`` (ImageId 1…N) atomically; never overwrite without ``force``.

    The labels are checked first (1-D, integers 0–9, and ``expected_rows`` of them when
    given), so a file that exists is always one Kaggle accepts.
    """
    values = np.asarray(labels)
    if values.ndim != 1 or values.size == 0:
        raise KdigitsError(f"a submission needs a non-empty list of labels, got shape "
                           f"{values.shape}")
    if not np.issubdtype(values.dtype, np.integer):
        raise KdigitsError(f"submission labels must be integers, got {values.dtype}")
    outside = np.flatnonzero((values < 0) | (values > 9))
    if outside.size:
        raise KdigitsError(f"{outside.size} submission labels outside 0-9 (first at ImageId "
                           f"{_first(outside + 1)})")
    if expected_rows is not None and values.size != expected_rows:
        raise KdigitsError(f"{values.size} labels for {expected_rows} test images")
    body = "".join(f"{i},{label}\n" for i, label in enumerate(values.tolist(), start=1))
    with atomic_output(path, force=force) as handle:
        handle.write(f"{HEADER}\n{body}")
    return Path(path)


def parse_levels(text: str) -> list[int]:
    """Class levels from ``--labels``: ``0,1,2``, ``0-9`` or a mix such as ``0-4,7``."""
    levels: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        bounds = re.fullmatch(r"(-?[0-9]+)\s*-\s*(-?[0-9]+)", part)
        if bounds:
            low, high = int(bounds[1]), int(bounds[2])
            if low > high:
                raise KdigitsError(f"--labels: empty range {part!r}")
            levels.extend(range(low, high + 1))
        elif _INTEGER.fullmatch(part):
            levels.append(int(part))
        else:
            raise KdigitsError(f"--labels: {part!r} is not an integer or a range like 0-9")
    repeated = sorted({v for v in levels if levels.count(v) > 1})
    if repeated:
        raise KdigitsError(f"--labels: {_first(repeated)} given more than once")
    if len(levels) < 2:
        raise KdigitsError("--labels: need at least two class levels")
    return levels


def aligned_labels(submission: LabelFile, solution: LabelFile, *,
                   names: tuple[str, str] = ("submission", "solution")
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, true) labels matched by ImageId, in the solution's order.

    Every solution ImageId must be in the submission and no other: a partial submission
    scored on the rows it has would look better than it is.
    """
    sub_name, sol_name = names
    missing = np.setdiff1d(solution.image_ids, submission.image_ids)
    extra = np.setdiff1d(submission.image_ids, solution.image_ids)
    problems = []
    if missing.size:
        problems.append(f"{_rows(missing.size, 'ImageId')} of {sol_name} missing "
                        f"(first: {_first(missing)})")
    if extra.size:
        problems.append(f"{_rows(extra.size, 'ImageId')} not in {sol_name} "
                        f"(first: {_first(extra)})")
    if problems:
        raise KdigitsError(f"{sub_name}: {'; '.join(problems)}")
    order = np.argsort(submission.image_ids)
    where = order[np.searchsorted(submission.image_ids, solution.image_ids, sorter=order)]
    return submission.labels[where], solution.labels


def score_files(submission: str | Path, solution: str | Path,
                levels: Sequence[int] | None = None) -> ConfusionStats:
    """caret's statistics of a submission against a solution file, aligned by ImageId.

    ``levels`` defaults to the sorted union of the labels in both files.
    """
    from kaggle_digits.stats import confusion_stats

    sub_path, sol_path = Path(submission), Path(solution)
    sub, sol = read_label_file(sub_path), read_label_file(sol_path)
    predicted, true = aligned_labels(sub, sol, names=(str(sub_path), str(sol_path)))
    if levels is None:
        levels = sorted(set(np.unique(predicted).tolist()) | set(np.unique(true).tolist()))
        if len(levels) < 2:
            raise KdigitsError(f"both files hold only the label {levels[0]}: pass --labels "
                               "with at least two levels (e.g. --labels 0-9)")
    known = set(levels)
    for path, file in ((sub_path, sub), (sol_path, sol)):
        bad = np.flatnonzero(~np.isin(file.labels, list(known)))
        if bad.size:
            where = [(int(i) + 2, int(file.labels[i])) for i in bad]
            raise KdigitsError(f"{path}: {_rows(bad.size, 'label')} outside the levels "
                               f"{_levels_text(levels)} ({_show(where)})")
    return confusion_stats(predicted, true, list(levels))


def _levels_text(levels: Sequence[int]) -> str:
    values = list(levels)
    if values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}-{values[-1]}"
    return ",".join(str(v) for v in values)


def expected_rows(test: str | Path | None) -> int:
    """Rows a submission must have: the local test file's, else Kaggle's 28,000."""
    if test is not None and Path(test).exists():
        return count_data_rows(test)
    return KAGGLE_TEST_ROWS


def check_submission(path: str | Path, rows: int) -> None:
    """Raise a submission file's problems, in the words of ``kdigits validate``."""
    problems = submission_problems(path, rows)
    if problems:
        raise KdigitsError(_invalid(path, problems))


def _invalid(path: str | Path, problems: Sequence[str]) -> str:
    """One line naming every problem (the first five, when there are more)."""
    shown = "; ".join(problems[:5]) + ("; …" if len(problems) > 5 else "")
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    return f"{path} is not a valid submission ({count}): {shown}"
