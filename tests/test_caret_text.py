"""caret's print-out character for character, and the R number formatting beneath it."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import GOLDEN
from rich.console import Console

from kaggle_digits.caret_text import (
    CaretStats,
    as_character,
    caret_text,
    format_pval,
    format_r,
    print_caret,
    print_matrix,
    round_r,
)
from kaggle_digits.constants import BY_CLASS_ROWS, PRINT_MODES
from kaggle_digits.errors import KdigitsError
from kaggle_digits.stats import confusion_stats

CASES = sorted(p.name.removesuffix(".caret.txt")
               for p in GOLDEN.glob("*.caret.txt")) or ["golden-data-missing"]
NAN = float("nan")


def golden(name: str):
    """(stats of the case, caret's print-out)."""
    json_path, text_path = GOLDEN / f"{name}.json", GOLDEN / f"{name}.caret.txt"
    if not (json_path.exists() and text_path.exists()):
        pytest.fail(f"caret golden data missing: {text_path}")
    case = json.loads(json_path.read_text())
    classes = np.array(case["classes"])
    stats = confusion_stats(classes[case["prediction"]], classes[case["reference"]],
                            case["classes"])
    return stats, text_path.read_text()


def test_every_golden_print_out_is_there():
    assert len(CASES) == 41, CASES


@pytest.mark.parametrize("name", CASES)
def test_caret_print_out_character_for_character(name: str):
    stats, expected = golden(name)
    assert caret_text(stats) == expected  # trailing spaces and final newline included


def test_modes_choose_caret_rows():
    stats, _ = golden("seed-example")

    def row_names(mode: str) -> list[str]:
        lines = caret_text(stats, mode).splitlines()
        first_block = lines[lines.index("Statistics by Class:") + 3:]
        return [line[:20].rstrip() for line in first_block if not line.startswith(" ")]

    assert row_names("sens_spec") == [
        "Sensitivity", "Specificity", "Pos Pred Value", "Neg Pred Value", "Prevalence",
        "Detection Rate", "Detection Prevalence", "Balanced Accuracy"] * 2
    assert row_names("prec_recall")[:4] == ["Precision", "Recall", "F1", "Prevalence"]
    assert len(row_names("everything")) == 2 * 11
    with pytest.raises(ValueError, match="mode"):
        caret_text(stats, "kappa")


def test_two_class_everything_mode_lists_f1():
    stats, _ = golden("case001")
    text = caret_text(stats, "everything")
    assert "                     F1 : 0.6996" in text
    assert "              Precision : 0.7500" in text
    assert text.splitlines()[-2] == "       'Positive' Class : 0            "


def test_print_caret_keeps_every_character():
    stats, expected = golden("case006")
    buffer = io.StringIO()
    print_caret(Console(file=buffer, width=60, color_system=None), stats, title="case006")
    assert buffer.getvalue() == "case006\n" + expected.rstrip("\n") + "\n"


# R's own output for each expression, from R 4.x (format.c / format.R)
@pytest.mark.parametrize(("values", "digits", "expected"), [
    ([1.0, 10.0, 100.0], 7, ["  1", " 10", "100"]),
    ([3.14159], 3, ["3.14"]),
    ([0.5, 0.25], 4, ["0.50", "0.25"]),
    ([0.001234, 123.4], 4, ["1.234e-03", "1.234e+02"]),  # scientific is narrower
    ([123456789.0, 0.1], 7, ["123456789.0", "        0.1"]),
    ([1e-20], 7, ["1e-20"]),
    ([100000.0], 7, ["1e+05"]),
    ([123456.0], 7, ["123456"]),
    ([9.9996], 4, ["10"]),  # rounding to 4 digits widens
    ([-1.5, 2.25], 7, ["-1.50", " 2.25"]),
    ([None, 1.5], 7, [" NA", "1.5"]),
    ([NAN, 0.25, 1.0], 4, [" NaN", "0.25", "1.00"]),
    ([2.220446049250313e-16], 2, ["2.2e-16"]),
    ([2.220446049250313e-16], 1, ["2e-16"]),
    ([1e-300], 4, ["1e-300"]),
    ([0.0], 7, ["0"]),
])
def test_format_r_matches_r(values, digits, expected):
    assert format_r(values, digits) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (0.3, "0.3"), (0.1 + 0.2, "0.3"), (1 / 3, "0.333333333333333"), (1.0, "1"),
    (0.0001, "1e-04"), (0.0012, "0.0012"), (-0.0345, "-0.0345"), (NAN, "NaN"),
])
def test_as_character(value, expected):
    assert as_character(value) == expected


def test_round_r():
    assert round_r(0.15, 1) == 0.1  # 0.15 is stored just below 0.15
    assert round_r(0.125, 2) == 0.12  # exact tie: to even
    assert round_r(2.5, 0) == 2.0
    assert round_r(0.97679999999, 4) == 0.9768
    assert round_r(-0.32486, 4) == -0.3249


@pytest.mark.parametrize(("values", "expected"), [
    ([1e-20, 0.006712], ["< 2.2e-16", "0.006712"]),  # wide neighbour: "< 2.2e-16"
    ([1e-20, 0.7728], ["<2e-16", "0.7728"]),  # narrow neighbour: "<2e-16"
    ([1e-20, 0.03998], ["< 2e-16", "0.03998"]),
    ([1e-20, None], ["< 2.2e-16", "NA"]),
    ([0.0003330786, 0.1614115754], ["0.0003331", "0.1614116"]),  # one fixed group
    ([1.3624387e-15, 0.0015843286], ["1.362e-15", "0.001584"]),  # two groups
    ([0.0076372598, 1.0], ["0.007637", "1.000000"]),
    ([NAN, NAN], ["NA", "NA"]),
])
def test_format_pval(values, expected):
    assert format_pval(values, 4) == expected


def test_print_matrix_wraps_at_80_columns_like_r():
    columns = [["0.5"] for _ in range(10)]
    lines = print_matrix(columns, [f"Column {i}" for i in range(10)], ["row"], right=True)
    assert max(len(line) for line in lines) < 80
    assert len(lines) == 4  # two blocks of header + one row
    assert lines[0].startswith("    Column 0 Column 1")
    assert lines[1].endswith("      0.5")


def test_long_class_names_keep_r_table_layout():
    """Row labels under 'Prediction' get R's two-space offset when they are long."""
    stats = confusion_stats(np.array(["seven", "one-hundred", "seven"]),
                            np.array(["seven", "seven", "one-hundred"]),
                            ["seven", "one-hundred"])
    lines = caret_text(stats).splitlines()
    assert lines[2] == "             Reference"
    assert lines[3] == "Prediction    seven one-hundred"
    assert lines[4] == "  seven           1           1"
    assert lines[5] == "  one-hundred     1           0"


# --------------------------------------------------------------------------- notebooks

class _Tables(HTMLParser):
    """The cell texts of every <table class="…">, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: list[list[str]] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.current = self.tables.setdefault(dict(attrs)["class"], [])
        elif tag == "tr" and self.current is not None:
            self.current.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.current is not None and self.cell is not None:
            self.current[-1].append("".join(self.cell))
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_tables(text: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(text)
    return parser.tables


def printed_cells(text: str, classes: tuple[str, ...]) -> tuple[dict, dict]:
    """What R printed, read back from the print-out: ({overall name: text},
    {(row name, class): text}); the by-class block is cut by its column headers, since
    caret right-justifies every cell under its "Class: …" label."""
    lines = text.splitlines()
    named = {name.strip(): value.strip() for name, value in
             (line.split(" : ", 1) for line in lines if " : " in line)}
    row_names = [label for _, label in BY_CLASS_ROWS]
    if len(classes) == 2:
        positive = named["'Positive' Class"]
        return named, {(row, positive): named[row] for row in row_names if row in named}
    cells, pending = {}, list(classes)
    ends: list[int] = []
    shown: list[str] = []
    for line in lines[lines.index("Statistics by Class:") + 2:]:
        if line.startswith(" ") and "Class: " in line:  # a block's header
            ends, shown, position = [], [], 0
            while pending and f"Class: {pending[0]}" in line[position:]:
                position = line.index(f"Class: {pending[0]}", position) + 7 + len(pending[0])
                ends.append(position)
                shown.append(pending.pop(0))
            continue
        label = max((r for r in row_names if line.startswith(r)), key=len)
        starts = [len(label), *ends[:-1]]
        for name, start, end in zip(shown, starts, ends, strict=True):
            cells[label, name] = line[start:end].strip()
    return named, cells


@pytest.mark.parametrize("name", CASES)
def test_caret_stats_print_as_caret_and_show_the_same_texts_as_html(name: str):
    stats, expected = golden(name)
    shown = CaretStats.of(stats)
    assert repr(shown) == str(shown) == expected
    named, cells = printed_cells(expected, stats.classes)
    tables = html_tables(shown._repr_html_())
    overall = {row[0]: row[1] for row in tables["kdigits-overall"]}
    assert overall == {key: named[key] for key in overall}
    assert list(overall) == ["Accuracy", "95% CI", "No Information Rate",
                             "P-Value [Acc > NIR]", "Kappa", "Mcnemar's Test P-Value"]
    header, *rows = tables["kdigits-by-class"]
    html_cells = {(row[0], column.removeprefix("Class: ")): value
                  for row in rows for column, value in zip(header[1:], row[1:], strict=True)}
    assert html_cells == cells
    confusion = tables["kdigits-confusion"]
    assert [[int(c.replace(",", "")) for c in row[1:]] for row in confusion[1:]] == \
        stats.table.tolist()


def test_caret_stats_modes_frame_and_heatmap():
    stats, _ = golden("seed-example")
    for mode in PRINT_MODES:
        shown = CaretStats.of(stats, mode)
        assert repr(shown) == caret_text(stats, mode)
        rows = [row[0] for row in html_tables(shown._repr_html_())["kdigits-by-class"][1:]]
        assert ("F1" in rows) == (mode != "sens_spec")
        assert ("Sensitivity" in rows) == (mode != "prec_recall")
    assert shown.with_mode("sens_spec").mode == "sens_spec"
    assert shown.accuracy == stats.accuracy and shown.to_json() == stats.to_json()
    with pytest.raises(KdigitsError, match="mode must be one of"):
        CaretStats.of(stats, "kappa")

    frame = CaretStats.of(stats).by_class_frame()
    assert list(frame.index) == list(stats.classes)
    assert list(frame.columns) == [label for _, label in BY_CLASS_ROWS]
    expected = [[stats.by_class[name][key] for key, _ in BY_CLASS_ROWS]
                for name in stats.classes]
    assert np.array_equal(frame.to_numpy(), np.array(expected), equal_nan=True)

    picture = CaretStats.of(stats).heatmap()
    assert picture._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")


def test_caret_stats_html_shows_na_as_caret_does():
    """A class never predicted and never present: caret's NA and NaN, in the HTML too."""
    stats = CaretStats.of(confusion_stats([0, 1, 1, 0], [0, 1, 0, 0], [0, 1, 2]))
    _, cells = printed_cells(repr(stats), stats.classes)
    assert cells["Sensitivity", "2"] == "NA" and cells["Pos Pred Value", "2"] == "NA"
    tables = html_tables(stats._repr_html_())
    header, *rows = tables["kdigits-by-class"]
    by_row = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}
    assert by_row["Sensitivity"]["Class: 2"] == "NA"
