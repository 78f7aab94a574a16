"""caret's ``print.confusionMatrix``, character for character.

A user who reads caret's print-out every day should see the very same block from kdigits,
so that two results can be compared by eye (or by ``diff``). That needs R's own number
formatting, not Python's: R chooses significant digits, common decimals per column, fixed
versus scientific notation by width, ``< 2.2e-16`` for tiny p-values, ``NA`` vs ``NaN``.
The helpers below port the few pieces of R involved (``formatReal``/``scientific`` from
``format.c``, ``printMatrix``, ``format.pval``, ``round``); every ``.caret.txt`` in
``tests/golden/caret/`` is reproduced exactly by the tests.

Values passed to the R helpers are floats, with ``None`` standing for R's ``NA`` (which
prints as ``NA``) and ``float("nan")`` for ``NaN`` (which prints as ``NaN``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from kaggle_digits.constants import BY_CLASS_ROWS, DEFAULT_PRINT_MODE, PRINT_MODES
from kaggle_digits.errors import KdigitsError
from kaggle_digits.stats import ConfusionStats

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from kaggle_digits.plots import PNG

R_WIDTH = 80  # getOption("width") in the R session that made the golden print-outs
_GAP = 1  # R_print.gap
_KP_MAX = 27  # powers of ten that an 80-bit long double holds exactly
_TEN = [np.longdouble(10) ** i for i in range(_KP_MAX + 1)]
_EPS = 2.220446049250313e-16  # .Machine$double.eps

_DROPPED = {
    "sens_spec": {"precision", "recall", "f1"},
    "prec_recall": {"sensitivity", "specificity", "pos_pred_value", "neg_pred_value"},
    "everything": set(),
}

Value = float | None  # None is R's NA


# --------------------------------------------------------------------------- R numbers

def round_r(x: float, digits: int) -> float:
    """R ≥ 4.0's ``round(x, digits)``: the nearer of the two decimal candidates.

    Differs from Python's ``round`` (which rounds the exact binary value) in rare ties;
    caret prints overall statistics as ``round(x, 4)``.
    """
    if math.isnan(x) or math.isinf(x) or x == 0:
        return x
    if x < 0:
        return -round_r(-x, digits)
    if digits == 0:
        return float(np.rint(x))
    if math.log10(2) * (0.5 + math.frexp(x)[1] - 1) + digits > 15:
        return x  # already as precise as a double can show
    pow10 = 10.0**digits
    x10 = pow10 * x
    i10 = math.floor(x10)
    xd = i10 / pow10
    xu = math.ceil(x10) / pow10
    du, dd = xu - x, x - xd
    return xu if du < dd or (du == dd and i10 % 2 == 1) else xd


def _scientific(x: float, digits: int) -> tuple[bool, int, int, bool]:
    """R's ``scientific()``: (negative, exponent, significant digits, rounding widens).

    The scaled value is rounded in 80-bit long double arithmetic, as R does, so that
    halfway cases land on the same side.
    """
    if x == 0:
        return False, 0, 1, False
    neg = x < 0
    r = -x if neg else x
    kp = math.floor(math.log10(r)) - digits + 1
    r_prec = np.longdouble(r)
    if abs(kp) < 10:
        r_prec = r_prec / _TEN[kp] if kp > 0 else r_prec * _TEN[-kp]
    elif kp <= -308:
        r_prec = np.longdouble(r * 1e303) / np.longdouble(10.0 ** (kp + 303))
    else:
        r_prec = r_prec / np.longdouble(10.0**kp)
    if r_prec < _TEN[digits - 1]:
        r_prec *= 10
        kp -= 1
    alpha = float(np.rint(r_prec))
    nsig = digits
    for _ in range(digits):
        alpha /= 10.0
        if alpha == math.floor(alpha):
            nsig -= 1
        else:
            break
    if nsig == 0 and digits > 0:
        nsig = 1
        kp += 1
    kpower = kp + digits - 1
    rgt = min(max(digits - kpower, 0), _KP_MAX)
    fuzz = 0.5 / _TEN[rgt]
    widens = bool(0 < kpower <= _KP_MAX and r < _TEN[kpower] - fuzz)
    return neg, kpower, nsig, widens


def format_info(values: Sequence[Value], digits: int) -> tuple[int, int, int]:
    """R's ``formatReal``: common (width, decimals, exponent digits; 0 = fixed notation).

    Fixed notation with enough decimals to show every value to ``digits`` significant
    digits, unless scientific notation is narrower.
    """
    finite = [v for v in values if v is not None and math.isfinite(v)]
    has_na = any(v is None for v in values)
    has_nan = any(v is not None and math.isnan(v) for v in values)
    has_pinf = any(v is not None and v == math.inf for v in values)
    has_ninf = any(v is not None and v == -math.inf for v in values)
    w = d = e = 0
    if finite:
        neg = 0
        rgt = mxl = mxsl = mxns = mxe = -(10**9)
        mne = 10**9
        for v in finite:
            neg_i, kpower, nsig, widens = _scientific(v, digits)
            left = kpower + 1
            if widens:
                left -= 1
            sleft = neg_i + (1 if left <= 0 else left)
            right = nsig - left
            neg = neg or neg_i
            rgt, mxl, mxsl = max(rgt, right), max(mxl, left), max(mxsl, sleft)
            mxns, mxe, mne = max(mxns, nsig), max(mxe, kpower), min(mne, kpower)
        if mxl < 0:
            mxsl = 1 + neg
        rgt = max(rgt, 0)
        width_fixed = mxsl + rgt + (rgt != 0)
        e = 2 if mxe >= 100 or mne <= -99 else 1
        d = mxns - 1
        w = neg + (d > 0) + d + 4 + e
        if width_fixed <= w:
            e, d, w = 0, rgt, width_fixed
    if has_na:
        w = max(w, 2)
    if has_nan or has_pinf:
        w = max(w, 3)
    if has_ninf:
        w = max(w, 4)
    return w, d, e


def encode_real(x: Value, w: int, d: int, e: int) -> str:
    """One value in the layout ``format_info`` chose, right-justified to width ``w``."""
    if x is None:
        text = "NA"
    elif math.isnan(x):
        text = "NaN"
    elif math.isinf(x):
        text = "Inf" if x > 0 else "-Inf"
    elif e:
        text = f"{x:#.{d}e}" if d else f"{x:.0e}"
        mantissa, exponent = text.split("e")
        sign, digits_ = exponent[0], exponent[1:].lstrip("0")
        text = f"{mantissa}e{sign}{digits_.rjust(e + 1, '0')}"
    else:
        text = f"{x:.{d}f}"
    return text.rjust(w)


def format_r(values: Sequence[Value], digits: int = 7) -> list[str]:
    """R's ``format(values, digits = digits)``: common layout and width for the vector."""
    w, d, e = format_info(values, digits)
    return [encode_real(v, w, d, e) for v in values]


def as_character(x: Value) -> str:
    """R's ``as.character`` of a double (15 significant digits), as ``paste`` shows it."""
    return format_r([x], 15)[0]


def format_pval(values: Sequence[Value], digits: int) -> list[str]:
    """R's ``format.pval(pv, digits)``: NA as ``NA``, values below machine epsilon as
    ``< 2.2e-16`` (fewer digits and no space when the other values are narrow); values
    from 1e-4 up share one layout, smaller ones another."""
    out = ["NA"] * len(values)
    present = [i for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    tiny = [i for i in present if values[i] < _EPS]  # type: ignore[operator]
    regular = [i for i in present if i not in tiny]
    # fixed-looking and exponent-looking p-values are formatted as two separate groups
    for fixed in (True, False):
        group = [i for i in regular if _pval_fixed(values[i], digits) == fixed]  # type: ignore[arg-type]
        for i, text in zip(group, format_r([values[i] for i in group], digits), strict=True):
            out[i] = text
    if tiny:
        eps_digits = max(1, digits - 2)
        if regular:
            nc = max(len(out[i]) for i in regular)
            if eps_digits > 1 and eps_digits + 6 > nc:
                eps_digits = max(1, nc - 7)
            sep = "" if eps_digits == 1 and nc <= 6 else " "
        else:
            sep = "" if eps_digits == 1 else " "
        eps_text = format_r([_EPS], eps_digits)[0]
        for i in tiny:
            out[i] = f"<{sep}{eps_text}"
    return out


def _pval_fixed(p: float, digits: int) -> bool:
    expo = math.floor(math.log10(p if p > 0 else 1e-50))
    return expo >= -3 or (expo == -4 and digits > 1)


# --------------------------------------------------------------------------- R matrices

def print_matrix(columns: Sequence[Sequence[str]], col_labels: Sequence[str],
                 row_labels: Sequence[str], *, right: bool, row_name: str | None = None,
                 col_name: str | None = None, width: int = R_WIDTH) -> list[str]:
    """R's ``printMatrix`` for already-formatted cells: the lines it prints.

    Row labels are left-justified; cells and column labels are right-justified when
    ``right`` (numbers) and left-justified otherwise; columns wrap into blocks that fit
    ``width``, each with its own header, as R does.
    """
    rlabw = max((len(label) for label in row_labels), default=0)
    lbloff = 0
    if row_name is not None:
        lbloff = 2 if len(row_name) < rlabw + 2 else len(row_name) - rlabw
        rlabw += lbloff
    widths = [max([len(label), *(len(cell) for cell in column)]) + _GAP
              for label, column in zip(col_labels, columns, strict=True)]

    def cell(text: str, j: int) -> str:
        if right:
            return text.rjust(widths[j])
        return " " * _GAP + text.ljust(widths[j] - _GAP)

    lines: list[str] = []
    start = 0
    while start < len(columns):
        total, stop = rlabw + widths[start], start + 1
        while stop < len(columns) and total + widths[stop] < width:
            total += widths[stop]
            stop += 1
        if col_name is not None:
            lines.append(" " * rlabw + col_name)
        head = row_name.ljust(rlabw) if row_name is not None else " " * rlabw
        lines.append(head + "".join(cell(col_labels[j], j) for j in range(start, stop)))
        for i, label in enumerate(row_labels):
            lines.append(" " * lbloff + label.ljust(rlabw - lbloff)
                         + "".join(cell(columns[j][i], j) for j in range(start, stop)))
        start = stop
    return lines


# --------------------------------------------------------------------------- caret

def caret_text(stats: ConfusionStats, mode: str = DEFAULT_PRINT_MODE) -> str:
    """What ``print(confusionMatrix(...), mode = mode)`` prints in R (digits = 4)."""
    if mode not in PRINT_MODES:
        raise ValueError(f"mode must be one of {', '.join(PRINT_MODES)}, not {mode!r}")
    lines = ["Confusion Matrix and Statistics", ""]
    counts = [str(v) for v in stats.table.ravel()]
    count_width = max(len(c) for c in counts)
    k = len(stats.classes)
    columns = [[str(stats.table[i, j]).rjust(count_width) for i in range(k)] for j in range(k)]
    lines += print_matrix(columns, stats.classes, stats.classes, right=True,
                          row_name="Prediction", col_name="Reference")

    names, texts = _overall_block(stats)
    rows = mode_rows(mode)
    if k > 2:
        lines += ["", "Overall Statistics"]
        lines += _label_value_lines(names, texts)
        lines += ["", "Statistics by Class:", ""]
        columns = [class_column(stats, name, rows) for name in stats.classes]
        lines += print_matrix(columns, [f"Class: {c}" for c in stats.classes],
                              [label for _, label in rows], right=True)
    else:
        positive = stats.positive or stats.classes[0]
        values = class_column(stats, positive, rows)
        names += ["", *(label for _, label in rows), "", "'Positive' Class"]
        texts += ["", *values, "", positive]
        lines += _label_value_lines(names, texts, blank_row=True)
    return "\n".join(lines) + "\n"


def mode_rows(mode: str) -> list[tuple[str, str]]:
    """caret's by-class rows that ``mode`` prints: (our key, caret's row name)."""
    return [(key, label) for key, label in BY_CLASS_ROWS if key not in _DROPPED[mode]]


def class_column(stats: ConfusionStats, name: str, rows: Sequence[tuple[str, str]]
                 ) -> list[str]:
    """One class's by-class values as caret prints them: R's ``format(digits = 4)`` over
    the column, so the values of one class share their decimals (padded to one width)."""
    values = [_value(stats, name, key) for key, _ in rows]
    w, d, e = format_info(values, 4)
    return [encode_real(v, w, d, e) for v in values]


def _value(stats: ConfusionStats, name: str, key: str) -> Value:
    if (name, key) in stats.not_available:
        return None
    return stats.by_class[name][key]


def overall_rows(stats: ConfusionStats) -> list[tuple[str, str]]:
    """caret's Overall Statistics as (name, text) pairs, for tables outside the print-out
    (the HTML report), so every page shows caret's numbers in caret's format."""
    names, texts = _overall_block(stats)
    return [(name, text) for name, text in zip(names, texts, strict=True) if name]


def _overall_block(stats: ConfusionStats) -> tuple[list[str], list[str]]:
    """caret's overall names and texts: ``round(x, 4)`` pasted, p-values by format.pval."""
    o = stats.overall
    shown = {key: as_character(round_r(o[key], 4)) for key in o}
    shown["accuracy_p_value"], shown["mcnemar_p_value"] = format_pval(
        [_na(o["accuracy_p_value"]), _na(o["mcnemar_p_value"])], 4)
    names = ["Accuracy", "95% CI", "No Information Rate", "P-Value [Acc > NIR]", "",
             "Kappa", "", "Mcnemar's Test P-Value"]
    texts = [shown["accuracy"], f"({shown['accuracy_lower']}, {shown['accuracy_upper']})",
             shown["no_information_rate"], shown["accuracy_p_value"], "",
             shown["kappa"], "", shown["mcnemar_p_value"]]
    return names, texts


def _na(x: float) -> Value:
    return None if math.isnan(x) else x


def _label_value_lines(names: list[str], texts: list[str], *,
                       blank_row: bool = False) -> list[str]:
    """caret's two-column character matrix: right-justified ``Name :``, left-aligned text."""
    labels = [f"{n} :" if n else "" for n in names]
    label_width = max(len(label) for label in labels)
    labels = [label.rjust(label_width) for label in labels]
    if blank_row:
        labels, texts = [*labels, ""], [*texts, ""]
    return print_matrix([labels, texts], ["", ""], [""] * len(labels), right=False)


def print_caret(console: Console, stats: ConfusionStats, mode: str = DEFAULT_PRINT_MODE,
                title: str | None = None) -> None:
    """Show caret's print-out on a Rich console: same characters, headings in bold."""
    from rich.text import Text

    if title:
        console.print(Text(title, style="bold cyan"))
    text = Text(caret_text(stats, mode).rstrip("\n"))
    for heading in ("Confusion Matrix and Statistics", "Overall Statistics",
                    "Statistics by Class:"):
        text.highlight_words([heading], style="bold")
    console.print(text, soft_wrap=True, highlight=False, markup=False)


# --------------------------------------------------------------------------- notebooks

@dataclass(frozen=True, eq=False, repr=False)
class CaretStats(ConfusionStats):
    """Confusion statistics that show themselves the way caret does.

    ``print(stats)`` and ``repr(stats)`` are caret's print-out character for character (so
    a notebook's text output can be diffed against an R session), and a notebook renders
    the same numbers, in the same formats, as HTML tables (``_repr_html_``). A subclass of
    :class:`~kaggle_digits.stats.ConfusionStats`, so it goes wherever those go.
    """

    mode: str = DEFAULT_PRINT_MODE  # caret's print mode: which by-class rows show

    @classmethod
    def of(cls, stats: ConfusionStats, mode: str = DEFAULT_PRINT_MODE) -> CaretStats:
        """The same statistics, printing in ``mode`` (sens_spec, prec_recall, everything)."""
        check_mode(mode)
        values = {f.name: getattr(stats, f.name) for f in fields(ConfusionStats)}
        return cls(**values, mode=mode)

    def with_mode(self, mode: str) -> CaretStats:
        check_mode(mode)
        return replace(self, mode=mode)

    def __repr__(self) -> str:
        return caret_text(self, self.mode)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        return caret_html(self, self.mode)

    def by_class_frame(self) -> pd.DataFrame:
        """Every by-class statistic (all of caret's rows, whatever the print mode), one row
        per class, under caret's row names; NA and NaN are both NaN here."""
        import pandas as pd  # lazy: printing statistics does not need pandas

        labels = [label for _, label in BY_CLASS_ROWS]
        values = [[np.nan if (v := _value(self, name, key)) is None else v
                   for key, _ in BY_CLASS_ROWS] for name in self.classes]
        return pd.DataFrame(values, index=pd.Index(self.classes, name="class"),
                            columns=labels)

    def heatmap(self, title: str | None = None) -> PNG:
        """The confusion table as the report draws it (rows Prediction, columns Reference,
        as in the print-out); a notebook shows the returned picture."""
        from kaggle_digits import plots

        figure = plots.confusion_heatmap(self.table, self.classes,
                                         title or f"Confusion matrix ({self.n:,} rows)")
        return plots.PNG(plots.png_bytes(figure))


def check_mode(mode: str) -> None:
    """A wrong print mode is the user's mistake: one line, before any work is done."""
    if mode not in PRINT_MODES:
        raise KdigitsError(f"mode must be one of {', '.join(PRINT_MODES)}, not {mode!r}")


# numbers right-aligned, as in the print-out (Jupyter does this already; other viewers may not)
_STYLE = "<style>.kdigits-caret td, .kdigits-caret thead th {text-align: right}</style>"


def caret_html(stats: ConfusionStats, mode: str = DEFAULT_PRINT_MODE) -> str:
    """caret's print-out as HTML tables: the same blocks, row names and number texts
    (R's formats, NA vs NaN), without the fixed-width layout a browser does not need."""
    check_mode(mode)
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in stats.classes)
    body = "".join(
        f"<tr><th>{e(row)}</th>"
        + "".join(f"<td>{count:,}</td>" for count in stats.table[i]) + "</tr>"
        for i, row in enumerate(stats.classes))
    parts = [
        f'<div class="kdigits-caret">{_STYLE}',
        f"<p><b>Confusion Matrix and Statistics</b> ({stats.n:,} rows)</p>",
        '<table class="kdigits-confusion"><thead><tr><th>Prediction \\ Reference</th>'
        f"{head}</tr></thead><tbody>{body}</tbody></table>",
        "<p><b>Overall Statistics</b></p>",
        '<table class="kdigits-overall"><tbody>'
        + "".join(f"<tr><th>{e(name)}</th><td>{e(text)}</td></tr>"
                  for name, text in overall_rows(stats))
        + "</tbody></table>",
    ]
    rows = mode_rows(mode)
    shown = stats.classes if len(stats.classes) > 2 else (stats.positive or stats.classes[0],)
    columns = [class_column(stats, name, rows) for name in shown]
    heading = ("Statistics by Class:" if len(stats.classes) > 2
               else f"Statistics of the 'Positive' Class: {shown[0]}")
    parts += [
        f"<p><b>{e(heading)}</b></p>",
        '<table class="kdigits-by-class"><thead><tr><th></th>'
        + "".join(f"<th>Class: {e(name)}</th>" for name in shown) + "</tr></thead>"
        "<tbody>"
        + "".join(f"<tr><th>{e(label)}</th>"
                  + "".join(f"<td>{e(column[i].strip())}</td>" for column in columns)
                  + "</tr>" for i, (_, label) in enumerate(rows))
        + "</tbody></table>",
        "</div>",
    ]
    return "\n".join(parts)
