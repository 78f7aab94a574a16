"""caret's print-out character for character, and the R number formatting beneath it."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import GOLDEN
from rich.console import Console

from kaggle_digits.caret_text import (
    as_character,
    caret_text,
    format_pval,
    format_r,
    print_caret,
    print_matrix,
    round_r,
)
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
