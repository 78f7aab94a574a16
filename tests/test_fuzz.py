"""Fuzzed CSVs: whatever a file holds, kdigits either accepts a truly valid file or says
why not in one line (exit 2) — never a traceback, never exit 1.

Each example starts from small *real* files (the first 20 rows of data/train.csv,
data/test.csv and data/solution.csv), applies one to four mutations (drop or duplicate
cells, rows and columns; insert text, floats, huge numbers, negatives, quotes, blank lines,
NUL bytes, non-UTF-8 bytes, Unicode line separators, Rich markup; truncate anywhere; BOM;
CRLF or CR line ends) and runs `data check`, `score` and `validate` in-process through the
real entry point (`kaggle_digits.cli.main`), so hundreds of examples cost seconds.

An accepted file is checked against an independent reading written here (the CSV module
and plain Python, the way pandas/Kaggle would read the file): `data check` must have
loaded exactly the digits that are in it, `score` must report the accuracy of the rows as
written, and `validate` must only pass a file Kaggle would take.

Hypothesis runs derandomized (a fixed sequence, no example database), so CI sees the same
cases every time. KDIGITS_FUZZ_EXAMPLES sets the total number of examples over the five
tests (default 300; `make fuzz` runs 3,000).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from contextlib import redirect_stderr, redirect_stdout
from itertools import islice
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaggle_digits import data
from kaggle_digits.cli import main

REPO = Path(__file__).resolve().parents[1]
ROWS = 20
TOTAL = int(os.environ.get("KDIGITS_FUZZ_EXAMPLES", "300"))
BOM = b"\xef\xbb\xbf"


def fuzz_settings(share: float) -> settings:
    """This test's share of the example budget, derandomized so CI is repeatable."""
    return settings(max_examples=max(10, round(TOTAL * share)), derandomize=True,
                    database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --------------------------------------------------------------------------- base files


def head_bytes(path: Path, lines: int = ROWS + 1) -> bytes:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make data` (make test does it for you)")
    with path.open("rb") as handle:
        return b"".join(islice(handle, lines))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Valid real files, plus a scratch path per test for the mutated copy."""
    folder = tmp_path_factory.mktemp("fuzz")
    solution = head_bytes(REPO / "data" / "solution.csv")
    rows = [line.split(b",") for line in solution.splitlines()[1:]]
    # A plausible submission: real labels with every fourth one wrong (accuracy 0.75).
    submission = b"ImageId,Label\n" + b"".join(
        b"%s,%d\n" % (image_id, (int(label) + (n % 4 == 3)) % 10)
        for n, (image_id, label) in enumerate(rows))
    contents = {"train": head_bytes(REPO / "data" / "train.csv"),
                "test": head_bytes(REPO / "data" / "test.csv"),
                "solution": solution, "submission": submission}
    paths = {}
    for name, content in contents.items():
        paths[name] = folder / f"{name}.csv"
        paths[name].write_bytes(content)
    paths["scratch"] = folder / "mutated.csv"
    return paths


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Parsed-array cache in a temp folder: fuzzing must not fill the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KDIGITS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        patch.setenv("COLUMNS", "120")
        yield


# --------------------------------------------------------------------------- mutations

PAYLOADS = [
    b"", b"abc", b"dark", b"3.5", b"1e3", b"0.0", b"-1", b"-0", b"+7", b"256", b"10",
    b"0255", b"9" * 30, b"-" + b"9" * 25, b"9223372036854775808", b"18446744073709551616",
    b"nan", b"NaN", b"inf", b"1_000", b"0x1f", b'"5"', b'"', b'""', b'"a,b"', b"'3'",
    b" 7 ", b"\t", b" ", b"\x00", b"\xff", b"\xc3", b"\xfe\xff", BOM, b"\r", b"\n",
    b"\r\n", b"\n\n", b",", b",,", b"\x0b", b"\x0c", b"\x1c", b"\x1e", b"\xc2\x85",
    b"\xe2\x80\xa8", b"\xd9\xa3", b"\xef\xbc\x95", b"[/]", b"[bold]x[/bold]", b"[red]",
    b"label", b"pixel0", b"pixel784", b"ImageId", b"Label", b"ImageId,Label", b"\\",
]
# What a line break can be replaced with: the real ones, and characters that Python's
# str.splitlines() treats as line breaks but CSV readers (pandas, Kaggle) do not.
SEPARATORS = [b"\r", b"\r\n", b"\n\n", b"", b",", b" ", b"\x0b", b"\x0c", b"\x1c", b"\x1d",
              b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9"]
KINDS = (
    "replace_cell", "prefix_cell", "suffix_cell", "drop_cell", "dup_cell",
    "drop_row", "dup_row", "swap_rows", "blank_line", "space_line",
    "drop_column", "dup_column", "header_cell",
    "insert_bytes", "replace_byte", "replace_newline", "truncate", "append",
    "bom", "crlf", "cr", "strip_final_newline",
)
# Mostly the listed payloads and single mutations: a second random mutation usually hides
# the first behind an earlier error, and the interesting cases are one odd thing at a time.
payload = st.one_of(st.sampled_from(PAYLOADS), st.sampled_from(PAYLOADS),
                    st.sampled_from(PAYLOADS), st.binary(min_size=1, max_size=6))
mutation = st.tuples(st.sampled_from(KINDS), st.integers(0, 1 << 16), st.integers(0, 1 << 16),
                     payload)
mutations = st.one_of(st.lists(mutation, min_size=1, max_size=1),
                      st.lists(mutation, min_size=1, max_size=1),
                      st.lists(mutation, min_size=2, max_size=4))


def mutate(raw: bytes, kind: str, a: int, b: int, payload: bytes) -> bytes:
    """One mutation; ``a`` and ``b`` pick the line/cell/offset (modulo the sizes)."""
    whole = {
        "insert_bytes": lambda: raw[:a % (len(raw) + 1)] + payload + raw[a % (len(raw) + 1):],
        "replace_byte": lambda: raw[:a % (len(raw) + 1)] + payload + raw[a % (len(raw) + 1) + 1:],
        "truncate": lambda: raw[:a % (len(raw) + 1)],
        "append": lambda: raw + payload,
        "bom": lambda: BOM + raw,
        "crlf": lambda: raw.replace(b"\n", b"\r\n"),
        "cr": lambda: raw.replace(b"\n", b"\r"),
        "strip_final_newline": lambda: raw.rstrip(b"\n"),
    }
    if kind in whole:
        return whole[kind]()
    if kind == "replace_newline":
        breaks = [m.start() for m in re.finditer(b"\n", raw)]
        if not breaks:
            return raw
        at = breaks[a % len(breaks)]
        return raw[:at] + SEPARATORS[b % len(SEPARATORS)] + raw[at + 1:]

    lines = raw.split(b"\n")
    trailing = len(lines) > 1 and lines[-1] == b""
    body = lines[:-1] if trailing else lines
    i = 0 if kind == "header_cell" else a % len(body)
    cells = body[i].split(b",")
    j = b % len(cells)
    if kind in ("replace_cell", "header_cell"):
        cells[j] = payload
    elif kind == "prefix_cell":
        cells[j] = payload + cells[j]
    elif kind == "suffix_cell":
        cells[j] = cells[j] + payload
    elif kind == "drop_cell":
        del cells[j]
    elif kind == "dup_cell":
        cells.insert(j, cells[j])
    elif kind == "drop_row":
        del body[i]
    elif kind == "dup_row":
        body.insert(i, body[i])
    elif kind == "swap_rows":
        k = b % len(body)
        body[i], body[k] = body[k], body[i]
    elif kind in ("blank_line", "space_line"):
        body.insert(i, b"" if kind == "blank_line" else b"  \t")
    elif kind in ("drop_column", "dup_column"):
        for n, line in enumerate(body):
            row = line.split(b",")
            if j < len(row):
                if kind == "drop_column":
                    del row[j]
                else:
                    row.insert(j, row[j])
            body[n] = b",".join(row)
    if kind in ("replace_cell", "header_cell", "prefix_cell", "suffix_cell", "drop_cell",
                "dup_cell") and i < len(body):
        body[i] = b",".join(cells)
    return b"\n".join(body) + (b"\n" if trailing else b"")


def apply(raw: bytes, steps: list[tuple]) -> bytes:
    for step in steps:
        raw = mutate(raw, *step)
    return raw


# --------------------------------------------------------------------------- running


def run_cli(*args: str) -> tuple[int, str, str]:
    """The real entry point in-process: (exit code, stdout, stderr). Any exception other
    than SystemExit escapes and fails the example — that would be a traceback for a user."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["kdigits", *args]), redirect_stdout(out), \
            redirect_stderr(err):
        try:
            main()
            code: object = 0
        except SystemExit as stop:
            code = stop.code
    return (0 if code is None else code), out.getvalue(), err.getvalue()  # type: ignore[return-value]


def check_outcome(code: int, err: str, raw: bytes) -> None:
    """Exit 0, or exit 2 with exactly one ``error: …`` line on stderr."""
    assert code in (0, 2), f"exit {code} for {raw[:200]!r}…\n{err}"
    if code == 2:
        assert "Traceback" not in err
        lines = err.rstrip("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith("error: "), \
            f"not one error line for {raw[:200]!r}…:\n{err}"


def fuzz(paths: dict[str, Path], base: str, steps: list[tuple]) -> tuple[Path, bytes]:
    raw = apply(paths[base].read_bytes(), steps)
    paths["scratch"].write_bytes(raw)
    return paths["scratch"], raw


# --------------------------------------------------------------------------- oracles
# Independent readings of what *should* be accepted, written the plain way.

_INT = re.compile(r"[+-]?[0-9]+")


def read_digits(raw: bytes) -> tuple[bool, np.ndarray, np.ndarray | None] | None:
    """(has_label, pixels, labels) if the bytes are a valid train/test CSV, else None.

    Tolerated, as any CSV reader would: a UTF-8 BOM, CRLF, blank lines, quoted cells and
    spaces around a number, a leading ``+``/zeros, ``pixel1…pixel784`` names.
    """
    if b"\x00" in raw:
        return None
    try:
        text = raw.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    try:
        names = [n.strip() for n in next(csv.reader([lines[0]], strict=True))]
    except (csv.Error, StopIteration):
        return None
    has_label = names[:1] == ["label"]
    pixels = names[1:] if has_label else names
    if pixels not in ([f"pixel{i}" for i in range(784)], [f"pixel{i}" for i in range(1, 785)]):
        return None
    rows = []
    for line in lines[1:]:
        if not line.encode().strip():
            continue
        if "\r" in line:
            return None
        try:
            cells = [c.strip() for c in next(csv.reader([line], strict=True))]
        except csv.Error:
            return None
        if len(cells) != len(names) or not all(_INT.fullmatch(c) for c in cells):
            return None
        values = [int(c) for c in cells]
        if not all(0 <= v <= 255 for v in values) or (has_label and values[0] > 9):
            return None
        rows.append(values)
    if not rows:
        return None
    table = np.array(rows, dtype=np.uint8)
    return (has_label, table[:, 1:], table[:, 0]) if has_label else (False, table, None)


def read_labels(raw: bytes) -> dict[int, int] | None:
    """ImageId → Label if the bytes are a clean ``ImageId,Label`` file, as pandas (and so
    Kaggle) splits it: lines end at \\n, \\r\\n or \\r and nowhere else; else None."""
    try:
        text = raw.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = re.split(r"\r\n|\r|\n", text)
    if lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != "ImageId,Label" or len(lines) < 2:
        return None
    found: dict[int, int] = {}
    for line in lines[1:]:
        parts = line.split(",")
        if len(parts) != 2 or not all(re.fullmatch(r"-?[0-9]+", p) for p in parts):
            return None
        image_id, label = (int(p) for p in parts)
        if image_id in found or not all(-(2**63) <= v < 2**63 for v in (image_id, label)):
            return None
        found[image_id] = label
    return found


# --------------------------------------------------------------------------- tests


def check_digits_file(paths: dict[str, Path], base: str, kind: str, steps: list[tuple]) -> None:
    path, raw = fuzz(paths, base, steps)
    args = ["data", "check", str(path)] + (["--kind", kind] if kind != "auto" else [])
    code, out, err = run_cli(*args)
    check_outcome(code, err, raw)
    if code != 0:
        return
    expected = read_digits(raw)
    assert expected is not None, f"`data check` accepted an invalid file: {raw[:300]!r}…"
    has_label, pixels, labels = expected
    assert kind in ("auto", "train" if has_label else "test")
    loaded = data.load_any(path)  # the cached arrays the command just wrote
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (len(pixels), 784)
    np.testing.assert_array_equal(loaded.pixels, pixels)
    if has_label:
        np.testing.assert_array_equal(loaded.labels, labels)
    else:
        assert loaded.labels is None
    assert f"rows    {len(pixels):,}" in out


@fuzz_settings(0.3)
@given(steps=mutations, kind=st.sampled_from(["auto", "auto", "train", "test"]))
def test_data_check_on_mutated_train_csv(files, steps, kind):
    check_digits_file(files, "train", kind, steps)


@fuzz_settings(0.15)
@given(steps=mutations, kind=st.sampled_from(["auto", "auto", "train", "test"]))
def test_data_check_on_mutated_test_csv(files, steps, kind):
    check_digits_file(files, "test", kind, steps)


def check_score(paths: dict[str, Path], mutated: str, steps: list[tuple], as_json: bool) -> None:
    path, raw = fuzz(paths, mutated, steps)
    other = "solution" if mutated == "submission" else "submission"
    sub, sol = (path, paths[other]) if mutated == "submission" else (paths[other], path)
    code, out, err = run_cli("score", str(sub), "--solution", str(sol),
                             *(["--json", "-"] if as_json else []))
    check_outcome(code, err, raw)
    if code != 0:
        return
    predicted, truth = read_labels(sub.read_bytes()), read_labels(sol.read_bytes())
    assert predicted is not None and truth is not None, \
        f"`score` accepted a file pandas would not read as written: {raw[:300]!r}…"
    assert predicted.keys() == truth.keys()
    accuracy = np.mean([predicted[i] == truth[i] for i in truth])
    if as_json:
        stats = json.loads(out)
        assert stats["overall"]["accuracy"] == pytest.approx(accuracy)
        assert np.sum(stats["table"]) == len(truth)
    else:
        shown = re.search(r"Accuracy : (\S+)", out)
        assert shown and float(shown[1]) == pytest.approx(accuracy, abs=1e-4), out


@fuzz_settings(0.2)
@given(steps=mutations, as_json=st.booleans())
def test_score_with_a_mutated_submission(files, steps, as_json):
    check_score(files, "submission", steps, as_json)


@fuzz_settings(0.15)
@given(steps=mutations, as_json=st.booleans())
def test_score_against_a_mutated_solution(files, steps, as_json):
    check_score(files, "solution", steps, as_json)


@fuzz_settings(0.2)
@given(steps=mutations)
def test_validate_on_a_mutated_submission(files, steps):
    path, raw = fuzz(files, "submission", steps)
    code, out, err = run_cli("validate", str(path), "--test", str(files["test"]))
    check_outcome(code, err, raw)
    if code != 0:
        assert "is not a valid submission" in err or "not found" in err
        return
    rows = read_labels(raw)
    assert rows is not None, f"`validate` passed a file Kaggle would reject: {raw[:300]!r}…"
    assert sorted(rows) == list(range(1, ROWS + 1))
    assert set(rows.values()) <= set(range(10))
    assert f"has {ROWS:,} rows" in out


def test_unmutated_files_pass(files):
    """The starting points are valid, so every rejection above is the mutation's doing."""
    assert run_cli("data", "check", str(files["train"]))[0] == 0
    assert run_cli("data", "check", str(files["test"]))[0] == 0
    assert run_cli("validate", str(files["submission"]), "--test", str(files["test"]))[0] == 0
    code, out, _ = run_cli("score", str(files["submission"]), "-s", str(files["solution"]),
                           "--json", "-")
    assert code == 0 and json.loads(out)["overall"]["accuracy"] == pytest.approx(0.75)


# Cases the fuzzer found, kept as plain tests so they never come back: (file, mutations).
REGRESSIONS = {
    # A label beyond int64 crashed NumPy (OverflowError) in read_label_file.
    "huge label": ("submission", [("replace_cell", 3, 1, b"99999999999999999999")]),
    "huge negative ImageId": ("solution", [("replace_cell", 5, 0, b"-9223372036854775809")]),
    # Rich read "[/]" in the quoted cell as markup and raised MarkupError in the error path.
    "rich markup in a cell": ("submission", [("suffix_cell", 2, 1, b"[/]")]),
    # str.splitlines() split rows at \x0b / \x85, so validate passed a file that pandas
    # (and Kaggle) reads as one row with three fields.
    "vertical tab as a line break": ("submission", [("replace_newline", 4, 6, b"")]),
    "NEL as a line break": ("submission", [("replace_newline", 4, 11, b"")]),
    # Old-Mac (CR-only) line ends made the header one line with \r inside: csv.Error.
    "CR line ends in a train file": ("train", [("cr", 0, 0, b"")]),
    "CR line ends in a test file": ("test", [("cr", 0, 0, b"")]),
}


@pytest.mark.parametrize("case", list(REGRESSIONS))
def test_fuzz_regressions(files, case: str):
    base, steps = REGRESSIONS[case]
    path, raw = fuzz(files, base, steps)
    if base in ("train", "test"):
        commands = [["data", "check", str(path)]]
    else:
        other = files["solution" if base == "submission" else "submission"]
        pair = [str(path), "-s", str(other)] if base == "submission" else [str(other), "-s",
                                                                           str(path)]
        commands = [["score", *pair]]
        if base == "submission":
            commands.append(["validate", str(path), "--test", str(files["test"])])
    for args in commands:
        code, _, err = run_cli(*args)
        check_outcome(code, err, raw)
        assert code == 2, f"{args[0]} accepted {raw[:120]!r}…"
