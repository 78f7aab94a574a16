"""Kaggle label files: strict reading, validation before upload, safe writing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_digits.errors import KdigitsError
from kaggle_digits.submission_file import (
    count_data_rows,
    parse_levels,
    read_label_file,
    score_files,
    submission_problems,
    write_submission,
)


@pytest.fixture
def solution_labels(sample_files) -> np.ndarray:
    return pd.read_csv(sample_files["solution"])["Label"].to_numpy()


@pytest.fixture
def valid(tmp_path: Path, solution_labels) -> Path:
    """A correct submission for the 1,000-row sample test.csv (its true labels)."""
    return write_submission(tmp_path / "submission.csv", solution_labels)


def rewrite(path: Path, edit) -> Path:
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_write_then_read_round_trips(valid: Path, solution_labels):
    assert valid.read_text().splitlines()[:2] == ["ImageId,Label", f"1,{solution_labels[0]}"]
    file = read_label_file(valid)
    assert (file.image_ids == np.arange(1, 1001)).all()
    assert (file.labels == solution_labels).all()


def test_valid_file_has_no_problems(valid: Path, sample_files):
    assert count_data_rows(sample_files["test"]) == 1000
    assert submission_problems(valid, 1000) == []


def test_count_data_rows_handles_zip_and_missing_final_newline(tmp_path: Path, sample_files):
    archive = tmp_path / "digit-recognizer.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(sample_files["test"], "test.csv")
    assert count_data_rows(archive) == 1000
    no_newline = tmp_path / "test.csv"
    no_newline.write_bytes(Path(sample_files["test"]).read_bytes().rstrip(b"\n"))
    assert count_data_rows(no_newline) == 1000


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda lines: lines.__setitem__(0, "ImageId,label"), "header is 'ImageId,label'"),
    (lambda lines: lines.pop(500), "999 rows, expected 1000"),
    (lambda lines: lines.__setitem__(10, "9,3"), "1 ImageId appears more than once (9 on lines"),
    (lambda lines: lines.__setitem__(7, "7,10"), "1 row with a label outside 0-9 (line 8: 10)"),
    (lambda lines: lines.__setitem__(7, "7,3.0"), "non-integer Label (line 8: '3.0')"),
    (lambda lines: lines.insert(300, ""), "1 blank line (line 301)"),
    (lambda lines: lines.__setitem__(3, "3;4"), "without exactly two comma-separated fields"),
    (lambda lines: lines.__setitem__(3, "1001,4"), "ImageId outside 1-1000 (line 4: 1001)"),
])
def test_problems_are_found_with_line_numbers(valid: Path, edit, expected):
    problems = submission_problems(rewrite(valid, edit), 1000)
    assert any(expected in p for p in problems), problems


def test_many_problems_are_counted_and_the_first_few_shown(valid: Path):
    def break_labels(lines):
        for i in range(1, 21):
            lines[i] = f"{i},11"
    problems = submission_problems(rewrite(valid, break_labels), 1000)
    assert problems == ["20 rows with a label outside 0-9 "
                        "(line 2: 11, line 3: 11, line 4: 11, …)"]


def test_missing_and_empty_files(tmp_path: Path):
    assert submission_problems(tmp_path / "nope.csv", 10) == [f"{tmp_path / 'nope.csv'} not found"]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(KdigitsError, match="is empty"):
        read_label_file(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("ImageId,Label\n")
    with pytest.raises(KdigitsError, match="no rows"):
        read_label_file(header_only)


@pytest.mark.parametrize(("text", "message"), [
    ("ImageId,Label\n1,3\n1,4\n", "1 ImageId appears more than once"),
    ("Id,Label\n1,3\n", "header is 'Id,Label'"),
    ("ImageId,Label\n1,3\n\n2,4\n", "1 blank line (line 3)"),
    ("ImageId,Label\n1,three\n", "non-integer Label (line 2: 'three')"),
    ("ImageId,Label\nx,3\n", "non-integer ImageId (line 2: 'x')"),
    ("ImageId,Label,Extra\n", "header is"),
])
def test_read_label_file_is_strict(tmp_path: Path, text: str, message: str):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(KdigitsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_label_file(path)


def test_windows_line_endings_are_fine(tmp_path: Path):
    path = tmp_path / "crlf.csv"
    path.write_bytes(b"ImageId,Label\r\n1,3\r\n2,4\r\n")
    assert read_label_file(path).labels.tolist() == [3, 4]
    assert submission_problems(path, 2) == []


def test_write_submission_validates_and_refuses_to_overwrite(valid: Path, solution_labels):
    before = valid.read_bytes()
    with pytest.raises(KdigitsError, match="already exists"):
        write_submission(valid, solution_labels[::-1])
    assert valid.read_bytes() == before
    write_submission(valid, np.zeros(1000, dtype=np.uint8), force=True)
    assert read_label_file(valid).labels.sum() == 0
    with pytest.raises(KdigitsError, match="outside 0-9"):
        write_submission(valid.with_name("bad.csv"), np.array([1, 10, 3]))
    with pytest.raises(KdigitsError, match="integers"):
        write_submission(valid.with_name("bad.csv"), np.array([1.0, 2.5]))
    with pytest.raises(KdigitsError, match="1000 labels for 28000"):
        write_submission(valid.with_name("bad.csv"), solution_labels, expected_rows=28000)
    assert not valid.with_name("bad.csv").exists()
    assert not list(valid.parent.glob(".*.tmp"))  # no temp file left behind


def test_parse_levels():
    assert parse_levels("0-9") == list(range(10))
    assert parse_levels("0,1,2") == [0, 1, 2]
    assert parse_levels("3, 1, 5-6") == [3, 1, 5, 6]
    for bad, message in (("0-x", "not an integer"), ("1,1", "more than once"),
                         ("5", "at least two"), ("9-0", "empty range")):
        with pytest.raises(KdigitsError, match=message):
            parse_levels(bad)


def test_score_files_aligns_by_image_id(tmp_path: Path, sample_files, solution_labels):
    """Rows in another order score the same: alignment is by ImageId, not position."""
    rng = np.random.default_rng(0)
    predicted = solution_labels.copy()
    predicted[:100] = (predicted[:100] + 1) % 10
    order = rng.permutation(1000)
    shuffled = tmp_path / "shuffled.csv"
    pd.DataFrame({"ImageId": order + 1, "Label": predicted[order]}).to_csv(shuffled,
                                                                             index=False)
    stats = score_files(shuffled, sample_files["solution"])
    assert stats.accuracy == pytest.approx(0.9)
    assert stats.classes == tuple(str(c) for c in range(10))
    assert stats.table.sum() == 1000
