"""Loading, validation and cache (kaggle_digits/data.py) on real digits.

Every bad file is a real sample with one thing broken, so each test names exactly the
line and column the loader must find.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_zip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaggle_digits import data
from kaggle_digits.errors import KdigitsError

REPO = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("private_cache")  # see conftest.py


def put(folder: Path, text: str | bytes, name: str = "train.csv") -> Path:
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def with_cell(text: str, line: int, column: int, value: str) -> str:
    """``text`` with the cell at 1-based file ``line`` and 0-based ``column`` replaced."""
    lines = text.split("\n")
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)
    return "\n".join(lines)


def error_of(load, path: Path) -> str:
    """The one-line message loading ``path`` fails with; it always names the file first."""
    with pytest.raises(KdigitsError, match=f"^{re.escape(str(path))}") as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- valid files


def test_load_train_returns_the_real_digits_as_uint8(tmp_path, rows, train_text):
    digits = data.load_train(put(tmp_path, train_text))
    assert digits.pixels.dtype == np.uint8 and digits.labels.dtype == np.uint8
    assert digits.pixels.shape == (1100, 784) and digits.labels.shape == (1100,)
    np.testing.assert_array_equal(digits.pixels, rows[0])
    np.testing.assert_array_equal(digits.labels, rows[1])
    assert digits.sha256 == hashlib.sha256(train_text.encode()).hexdigest()
    assert digits.sha256 == data.file_sha256(tmp_path / "train.csv")
    assert digits.images().shape == (1100, 28, 28, 1)


def test_load_test_has_no_labels(tmp_path, rows, test_text):
    digits = data.load_test(put(tmp_path, test_text, "test.csv"))
    assert digits.labels is None
    np.testing.assert_array_equal(digits.pixels, rows[0])


@pytest.mark.parametrize("variant", ["bom", "crlf", "bom+crlf", "no final newline",
                                     "quoted cells", "spaces", "blank lines", "pixel1..784"])
def test_harmless_variants_load_the_same_digits(tmp_path, rows, train_text, variant):
    text = train_text
    if "bom" in variant:
        text = "\ufeff" + text
    if "crlf" in variant:
        text = text.replace("\n", "\r\n")
    if variant == "no final newline":
        text = text.rstrip("\n")
    if variant == "quoted cells":
        text = with_cell(with_cell(text, 3, 0, '"7"'), 4, 300, '"12"')
        rows = (rows[0].copy(), rows[1].copy())
        rows[1][1], rows[0][2, 299] = 7, 12
    if variant == "spaces":
        text = with_cell(text, 5, 1, " 0 ")
    if variant == "blank lines":
        text = text.replace("\n", "\n\n", 3)
    if variant == "pixel1..784":
        header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
        text = header + text[text.index("\n"):]
    digits = data.load_train(put(tmp_path, text.encode("utf-8")))
    np.testing.assert_array_equal(digits.pixels, rows[0])
    np.testing.assert_array_equal(digits.labels, rows[1])


# --------------------------------------------------------------------------- bad files


BAD_CELLS = [  # (line, column index, value, message after "…train.csv line L, column C: ")
    (1043, 18, "256", "value 256 is outside 0–255"),
    (7, 1, "-1", "value -1 is outside 0–255"),
    (7, 400, "3.5", "value 3.5 is not an integer"),
    (7, 400, "", "empty cell"),
    (7, 400, "abc", "'abc' is not a number"),
    (7, 400, "NaN", "missing value 'NaN'"),
    (9, 0, "10", "label 10 is outside 0–9"),
    (9, 0, "-3", "label -3 is outside 0–9"),
    (1101, 784, "1e3", "value 1e3 is not an integer"),
]


@pytest.mark.parametrize(("line", "column", "value", "problem"), BAD_CELLS)
def test_bad_cell_is_named_by_file_line_and_column(tmp_path, train_text, line, column, value,
                                                   problem):
    path = put(tmp_path, with_cell(train_text, line, column, value))
    name = "label" if column == 0 else f"pixel{column - 1}"
    assert error_of(data.load_train, path) == f"{path} line {line}, column {name}: {problem}"


def test_the_issue_example_message(tmp_path, train_text, monkeypatch):
    path = tmp_path / "data" / "train.csv"
    path.parent.mkdir()
    put(path.parent, with_cell(train_text, 1043, 18, "256"))
    monkeypatch.chdir(tmp_path)
    assert error_of(data.load_train, Path("data/train.csv")) == (
        "data/train.csv line 1043, column pixel17: value 256 is outside 0–255")


def test_only_the_first_problem_is_reported(tmp_path, train_text):
    text = with_cell(with_cell(train_text, 50, 3, "999"), 20, 700, "x")
    assert "line 20, column pixel699" in error_of(data.load_train, put(tmp_path, text))


def test_first_bad_line_is_found_across_scan_blocks(tmp_path, rows, train_text, monkeypatch):
    monkeypatch.setattr(data, "_SCAN_BLOCK", 64)  # 1,100 rows: many blocks, as in a real file
    text = with_cell(with_cell(train_text, 1043, 18, "256"), 1090, 5, "x")
    path = put(tmp_path, text.replace("\n", "\r\n"))
    assert error_of(data.load_train, path) == (
        f"{path} line 1043, column pixel17: value 256 is outside 0–255")
    path = put(tmp_path, with_cell(train_text, 700, 0, "12"))
    assert "line 700, column label: label 12" in error_of(data.load_train, path)
    quoted = with_cell(train_text.replace("\n", "\n\n", 5), 900, 0, '"4"')
    digits = data.load_train(put(tmp_path, quoted), cache=False)
    assert digits.labels[900 - 2 - 5] == 4 and len(digits) == 1100
    np.testing.assert_array_equal(digits.pixels, rows[0])


def test_truncated_last_row(tmp_path, train_text):
    text = train_text[: len(train_text) - 1000]  # cut mid-row, no final newline
    last = text.split("\n")[-1]
    kept = last.count(",") + 1
    assert error_of(data.load_train, put(tmp_path, text)) == (
        f"{tmp_path / 'train.csv'} line 1101, column pixel{kept - 1}: missing "
        f"(the row has {kept} of 785 values; truncated?)")


def test_row_with_extra_or_missing_value(tmp_path, train_text):
    lines = train_text.split("\n")
    lines[5] += ",0"
    path = put(tmp_path, "\n".join(lines))
    assert error_of(data.load_train, path) == (
        f"{path} line 6, column 786: extra value '0' (the header has 785 columns)")
    lines = train_text.split("\n")
    lines[5] = lines[5].rsplit(",", 1)[0]
    path = put(tmp_path, "\n".join(lines))
    assert error_of(data.load_train, path) == (
        f"{path} line 6, column pixel783: missing (the row has 784 of 785 values; truncated?)")


def test_header_problems(tmp_path, train_text):
    header, body = train_text.split("\n", 1)
    names = header.split(",")
    cases = {
        ",".join(names[:-1]): "line 1: 783 pixel columns, expected 784 (missing pixel783 "
                              "onwards)",
        header + ",pixel784": "line 1, column 786: extra column 'pixel784' (expected 784 "
                              "pixel columns)",
        header.replace("pixel17,", "pixel71,"): "line 1, column 19: expected pixel17, "
                                                "found 'pixel71'",
        header.replace("label", "digit"): "line 1, column 1: expected 'label' or 'pixel0', "
                                          "found 'digit'",
    }
    for bad_header, problem in cases.items():
        path = put(tmp_path, bad_header + "\n" + body)
        assert error_of(data.load_train, path) == f"{path} {problem}"
    path = put(tmp_path, body)
    assert error_of(data.load_train, path) == (
        f"{path} line 1: no header row (found data); expected label,pixel0,…,pixel783")


def test_train_and_test_files_cannot_be_swapped(tmp_path, train_text, test_text):
    test_file = put(tmp_path, test_text, "test.csv")
    assert error_of(data.load_train, test_file) == (
        f"{test_file} line 1: no label column; a training file starts label,pixel0,…,"
        "pixel783 (is this a test file?)")
    train_file = put(tmp_path, train_text)
    assert error_of(data.load_test, train_file) == (
        f"{train_file} line 1, column label: a test file has no labels "
        "(is this a training file?)")
    solution = put(tmp_path, "ImageId,Label\n1,7\n", "solution.csv")
    assert "is a submission file" in error_of(data.load_test, solution)


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "is empty (expected a CSV with a header row)"),
    (b"\xef\xbb\xbf\r\n", "is empty (expected a CSV with a header row)"),
])
def test_empty_files(tmp_path, content, problem):
    path = put(tmp_path, content)
    assert error_of(data.load_train, path) == f"{path} {problem}"


def test_header_only(tmp_path, train_text, test_text):
    for text, load in ((train_text, data.load_train), (test_text, data.load_test)):
        path = put(tmp_path, text.split("\n", 1)[0] + "\r\n")
        assert error_of(load, path) == f"{path} has a header but no data rows"


def test_nul_and_non_utf8_bytes(tmp_path, train_text):
    raw = train_text.encode()
    line_start = raw.index(b"\n", raw.index(b"\n") + 1) + 1  # line 3
    at = raw.index(b",", line_start) + 1  # first pixel of line 3
    path = put(tmp_path, raw[:at] + b"\x00" + raw[at + 1:])
    assert error_of(data.load_train, path) == (
        f"{path} line 3, column pixel0: NUL byte (a binary file, not a CSV?)")
    path = put(tmp_path, raw[:at] + b"\xff" + raw[at + 1:])
    assert error_of(data.load_train, path) == (
        f"{path} line 3, column pixel0: byte 0xff is not UTF-8 text (a binary file, not a CSV?)")


def test_missing_file_and_folder(tmp_path):
    assert "no such file" in error_of(data.load_train, tmp_path / "nope.csv")
    assert "is a folder" in error_of(data.load_train, tmp_path)


@settings(max_examples=int(os.environ.get("KDIGITS_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.integers(2, 6), column=st.integers(0, 784),
       value=st.text(alphabet='0123456789 +-.,"eE\r\tx', max_size=5))
def test_fast_and_careful_paths_agree(tmp_path, train_text, line, column, value):
    """Whatever one cell holds, the loader either accepts it with the value Python's own
    reading gives, or names that exact line with a one-line error: never a crash."""
    text = "\n".join(with_cell(train_text, line, column, "0").split("\n")[:6]) + "\n"
    text = with_cell(text, line, column, value)
    path = put(tmp_path, text)
    try:
        digits = data.load_train(path, cache=False)
    except KdigitsError as error:
        assert "\n" not in str(error) and f" line {line}" in str(error)
        return
    cell = value.strip().strip('"').strip()
    got = digits.labels[line - 2] if column == 0 else digits.pixels[line - 2, column - 1]
    assert got == int(cell)


# --------------------------------------------------------------------------- zip


def test_kaggle_zip_loads_like_the_csvs(tmp_path, rows, train_text, test_text):
    zipped = make_zip(tmp_path / "digit-recognizer.zip",
                      {"train.csv": train_text, "test.csv": test_text,
                       "sample_submission.csv": "ImageId,Label\n1,0\n"})
    train = data.load_train(zipped)
    test = data.load_test(zipped)
    np.testing.assert_array_equal(train.pixels, rows[0])
    np.testing.assert_array_equal(train.labels, rows[1])
    assert test.labels is None and len(test) == 1100
    assert train.sha256 == hashlib.sha256(train_text.encode()).hexdigest()
    assert train.source == f"{zipped}:train.csv"


def test_bad_zip_and_bad_member(tmp_path, train_text):
    zipped = make_zip(tmp_path / "d.zip", {"train.csv": with_cell(train_text, 4, 2, "300")})
    assert error_of(data.load_train, zipped) == (
        f"{zipped}:train.csv line 4, column pixel1: value 300 is outside 0–255")
    assert error_of(data.load_test, zipped) == f"{zipped} has no test.csv inside (found: train.csv)"
    fake = put(tmp_path, train_text, "fake.zip")
    assert "is not a readable zip file" in error_of(data.load_train, fake)


# --------------------------------------------------------------------------- cache


def test_second_load_comes_from_the_cache(tmp_path, private_cache, train_text, monkeypatch):
    path = put(tmp_path, train_text)
    first = data.load_train(path)
    assert (private_cache / "arrays" / f"{first.sha256}.npy").is_file()

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed although the cache holds these bytes")

    monkeypatch.setattr(data, "_parse_body", no_parsing)
    second = data.load_train(path)
    np.testing.assert_array_equal(second.pixels, first.pixels)
    np.testing.assert_array_equal(second.labels, first.labels)
    assert second.pixels.flags.c_contiguous and second.labels.flags.c_contiguous


def test_a_changed_file_is_never_served_stale(tmp_path, train_text):
    path = put(tmp_path, train_text)
    before = data.load_train(path)
    put(tmp_path, with_cell(train_text, 2, 1, "255"))
    after = data.load_train(path)
    assert after.sha256 != before.sha256
    assert after.pixels[0, 0] == 255 and before.pixels[0, 0] != 255


def test_cache_hit_still_checks_train_versus_test(tmp_path, test_text):
    path = put(tmp_path, test_text, "test.csv")
    data.load_test(path)
    with pytest.raises(KdigitsError, match="no label column"):
        data.load_train(path)


def test_damaged_or_unwritable_cache_only_costs_speed(tmp_path, private_cache, rows,
                                                      train_text):
    path = put(tmp_path, train_text)
    sha = data.load_train(path).sha256
    (private_cache / "arrays" / f"{sha}.npy").write_bytes(b"garbage")
    np.testing.assert_array_equal(data.load_train(path).pixels, rows[0])
    assert np.load(private_cache / "arrays" / f"{sha}.npy").size == 1100 * 785  # rewritten
    shutil.rmtree(private_cache / "arrays")
    (private_cache / "arrays").write_text("a file where the folder should be")
    np.testing.assert_array_equal(data.load_train(path).labels, rows[1])


def test_cache_can_be_bypassed(tmp_path, private_cache, train_text):
    data.load_train(put(tmp_path, train_text), cache=False)
    assert not (private_cache / "arrays").exists()


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("KDIGITS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.default_cache_dir() == tmp_path / "kdigits"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data.default_cache_dir() == Path.home() / ".cache" / "kdigits"
