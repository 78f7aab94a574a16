"""Figures people look at: every chart kdigits draws, as PNG bytes.

Each function takes clean arrays (already validated by the caller) and returns a matplotlib
``Figure``; :func:`png_bytes` turns it into bytes that the report embeds and fileio writes.
matplotlib is imported here and only here, on the Agg backend, so nothing needs a display
and ``kdigits --help`` never pays for importing it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_digits.constants import CLASSES, N_CLASSES, SIDE
from kaggle_digits.fileio import write_bytes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(figure: Figure) -> bytes:
    """Render and free the figure: reports draw many, and pyplot keeps them alive."""
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(figure)
    return buffer.getvalue()


@dataclass(frozen=True)
class PNG:
    """A rendered figure that a notebook shows as an image (IPython asks for
    ``_repr_png_``). Handed out instead of a matplotlib Figure because kdigits draws on the
    Agg backend, which a notebook's inline display never hears about."""

    data: bytes

    def _repr_png_(self) -> bytes:
        return self.data

    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        return write_bytes(path, self.data, force=force)


def _as_images(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(pixels).reshape(-1, SIDE, SIDE)


def _hide_axes(axis: Any) -> None:
    axis.set_xticks([])
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)


# --- EDA -------------------------------------------------------------------------------------

def label_distribution(labels: np.ndarray) -> Figure:
    """Relative frequencies, percentages on the bars: balance is judged by share, not count."""
    plt = _pyplot()
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=10)[:10]
    shares = counts / max(counts.sum(), 1)
    figure, axis = plt.subplots(figsize=(8, 4.2))
    bars = axis.bar(CLASSES, shares * 100, color="#4c72b0")
    axis.bar_label(bars, labels=[f"{s:.1%}\n({c:,})" for s, c in zip(shares, counts, strict=True)],
                   padding=2, fontsize=8)
    axis.axhline(10, color="#999999", linestyle="--", linewidth=1, label="uniform (10%)")
    axis.set_xticks(CLASSES)
    axis.set_xlabel("digit")
    axis.set_ylabel("share of rows (%)")
    axis.set_ylim(0, shares.max() * 100 * 1.25 + 0.5)
    axis.set_title(f"Label distribution ({counts.sum():,} rows)")
    axis.legend(loc="upper right", fontsize=8, frameon=False)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


def digit_panels(images: np.ndarray, title: str, *, cmap: str = "gray_r",
                 captions: Sequence[str] | None = None, vmax: float | None = None,
                 label: str = "pixel value") -> Figure:
    """One panel per digit 0–9 (a 10×28×28 stack), sharing a colour scale so that
    panels compare with each other, with a colour bar that gives the values. The scale
    runs from 0 to ``vmax`` (default: the largest value shown), and the colour bar's
    ``label`` names the quantity, not a range: its ticks show the range it spans."""
    plt = _pyplot()
    stack = _as_images(images)
    figure, axes = plt.subplots(2, 5, figsize=(9.5, 4.6), layout="constrained")
    vmax = vmax if vmax is not None else float(stack.max()) or 1.0
    shown = None
    for digit, axis in enumerate(axes.flat):
        shown = axis.imshow(stack[digit], cmap=cmap, vmin=0, vmax=vmax)
        axis.set_title(captions[digit] if captions else str(digit), fontsize=10)
        _hide_axes(axis)
    figure.colorbar(shown, ax=axes, shrink=0.8, label=label)
    figure.suptitle(title)
    return figure


def sample_grid(pixels: np.ndarray, labels: np.ndarray, per_class: int = 10,
                seed: int = 0) -> Figure:
    """A row of randomly drawn examples per digit: the spread of handwriting at a glance.
    Drawn as one mosaic image, which renders in a fraction of the time of 100 axes."""
    plt = _pyplot()
    images = _as_images(pixels)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    cell = SIDE + 4  # a white gutter between digits
    mosaic = np.zeros((10 * cell, per_class * cell), dtype=np.uint8)
    for digit in CLASSES:
        rows = np.flatnonzero(labels == digit)
        chosen = rng.choice(rows, size=min(per_class, rows.size), replace=False)
        for column, row in enumerate(chosen):
            top, left = digit * cell + 2, column * cell + 2
            mosaic[top:top + SIDE, left:left + SIDE] = images[row]
    figure, axis = plt.subplots(figsize=(per_class * 0.62 + 0.8, 6.8))
    axis.imshow(mosaic, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks(np.arange(N_CLASSES) * cell + cell / 2, [str(d) for d in CLASSES])
    axis.tick_params(length=0, labelsize=11)
    for spine in axis.spines.values():
        spine.set_visible(False)
    axis.set_title(f"Random training digits, {per_class} per class")
    return figure


def intensity_histogram(pixels: np.ndarray) -> Figure:
    """Log-scale counts: about four fifths of MNIST pixels are 0, which a linear axis
    would turn into one bar and nothing else."""
    plt = _pyplot()
    counts = np.bincount(np.asarray(pixels, dtype=np.uint8).ravel(), minlength=256)
    total = counts.sum()
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.stairs(counts, np.arange(257) - 0.5, fill=True, color="#4c72b0")
    axis.set_yscale("log")
    axis.set_xlim(-2, 258)
    axis.set_xlabel("pixel intensity (0 = background, 255 = ink)")
    axis.set_ylabel("pixels (log scale)")
    axis.set_title(f"Pixel intensities over {total:,} pixels: {counts[0] / total:.1%} are 0, "
                   f"{counts[255] / total:.1%} are 255", fontsize=11)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


# --- report ----------------------------------------------------------------------------------

def confusion_heatmap(table: np.ndarray, classes: Sequence[str], title: str) -> Figure:
    """Counts with row % (of the prediction) and column % (of the true class) in each cell.

    Rows are Prediction and columns Reference, as in caret's table, so the picture reads
    like the print-out beside it. Correct cells are green and errors red on their own
    scale: on one shared scale a 97% diagonal would wash every mistake out to white.
    """
    plt = _pyplot()
    from matplotlib.colors import LinearSegmentedColormap

    table = np.asarray(table, dtype=np.int64)
    k = table.shape[0]
    row_share = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    col_share = table / np.maximum(table.sum(axis=0, keepdims=True), 1)
    diagonal = np.eye(k, dtype=bool)
    off = np.where(diagonal, 0.0, col_share)
    worst = off.max() or 1.0
    greens = LinearSegmentedColormap.from_list("ok", ["#e8f5e9", "#2e7d32"])
    reds = LinearSegmentedColormap.from_list("bad", ["#ffffff", "#c62828"])
    colours = np.empty((k, k, 4))
    for r in range(k):
        for c in range(k):
            colours[r, c] = (greens(col_share[r, c]) if r == c
                             else reds(min(off[r, c] / worst, 1.0)))
    size = max(6.0, 0.85 * k + 1.5)
    figure, axis = plt.subplots(figsize=(size, size * 0.92))
    axis.imshow(colours, interpolation="nearest")
    for r in range(k):
        for c in range(k):
            count = table[r, c]
            strong = (r == c and col_share[r, c] > 0.5) or (r != c and off[r, c] / worst > 0.6)
            colour = "white" if strong else "#222222"
            if count == 0:
                axis.text(c, r, "·", ha="center", va="center", color="#bbbbbb", fontsize=9)
                continue
            axis.text(c, r - 0.13, f"{count:,}", ha="center", va="center", color=colour,
                      fontsize=9 if k <= 10 else 7, fontweight="bold")
            axis.text(c, r + 0.22, f"{_pct(row_share[r, c])}|{_pct(col_share[r, c])}",
                      ha="center", va="center", color=colour, fontsize=6.5)
    axis.set_xticks(range(k), classes)
    axis.set_yticks(range(k), classes)
    axis.xaxis.set_ticks_position("top")
    axis.xaxis.set_label_position("top")
    axis.set_xlabel("Reference (true label)")
    axis.set_ylabel("Prediction")
    axis.set_title(f"{title}\ncell: count, then row % | column % "
                   "(share of the prediction | share of the true class)",
                   fontsize=10, y=-0.09)
    axis.tick_params(length=0)
    return figure


def per_class_chart(by_class: Mapping[str, Mapping[str, float | None]],
                    title: str) -> Figure:
    """Sensitivity, specificity and PPV per class as dots on a zoomed axis: all sit
    near 1, and bars starting at 0 would hide the differences that matter."""
    plt = _pyplot()
    classes = list(by_class)
    measures = [("sensitivity", "Sensitivity (recall)", "o", "#c44e52"),
                ("pos_pred_value", "Pos Pred Value (precision)", "s", "#4c72b0"),
                ("specificity", "Specificity", "^", "#55a868")]
    values = {key: np.array([_num(by_class[c].get(key)) for c in classes])
              for key, *_ in measures}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
    low = float(finite.min()) if finite.size else 0.0
    bottom = max(0.0, np.floor((low - 0.01) * 50) / 50)
    figure, axis = plt.subplots(figsize=(9, 4.4))
    x = np.arange(len(classes))
    for offset, (key, label, marker, colour) in zip((-0.2, 0.0, 0.2), measures, strict=True):
        axis.scatter(x + offset, values[key], marker=marker, s=42, color=colour, label=label,
                     zorder=3)
        axis.vlines(x + offset, bottom, values[key], color=colour, alpha=0.35, linewidth=2)
    axis.set_xticks(x, [f"Class: {c}" for c in classes], fontsize=8)
    axis.set_ylim(bottom, 1.0 + (1.0 - bottom) * 0.04)
    axis.set_ylabel(f"value (axis starts at {bottom:.2f})")
    axis.grid(axis="y", color="#dddddd", zorder=0)
    axis.set_title(title)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False,
                fontsize=9)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


def training_curves(history: pd.DataFrame) -> Figure:
    """Loss and accuracy per epoch, one colour per fold, solid = train, dashed = validation:
    a gap that opens between them is over-fitting, a flat line is a stalled optimiser."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    members = "member" in history and history["member"].nunique() > 1
    keys = ["fold", "member"] if members else ["fold"]
    for index, (key, rows) in enumerate(history.groupby(keys, sort=True)):
        colour = colours[index % len(colours)]
        fold = key[0]
        name = f"fold {int(fold)}" + (f" member {int(key[1])}" if members else "")
        for axis, metric in zip(axes, ("loss", "accuracy"), strict=True):
            for column, style, marker, part in ((metric, "-", "o", "train"),
                                                (f"val_{metric}", "--", "s", "validation")):
                if column in rows and rows[column].notna().any():
                    # hollow squares for validation: with one epoch there is no line to see
                    axis.plot(rows["epoch"], rows[column], style, marker=marker, markersize=5,
                              color=colour, markerfacecolor="white" if part != "train"
                              else colour, label=f"{name} {part}")
    losses = history[[c for c in ("loss", "val_loss") if c in history]].to_numpy(float)
    losses = losses[np.isfinite(losses) & (losses > 0)]
    if losses.size and losses.max() / losses.min() > 20:
        axes[0].set_yscale("log")  # else the first epoch flattens every later one to 0
    from matplotlib.ticker import MaxNLocator

    for axis, metric in zip(axes, ("loss", "accuracy"), strict=True):
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 2.5"
        axis.set_ylabel(metric + (" (log scale)" if axis.get_yscale() == "log" else ""))
        axis.set_title(f"{metric.capitalize()} per epoch")
        axis.grid(color="#eeeeee")
        axis.spines[["top", "right"]].set_visible(False)
        epochs = history["epoch"].dropna().unique()
        if epochs.size <= 12:
            axis.set_xticks(sorted(int(e) for e in epochs))
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8,
                  frameon=False, bbox_to_anchor=(0.5, -0.02 - 0.04 * (len(labels) // 7)))
    figure.tight_layout(rect=(0, 0.08 + 0.04 * (len(labels) // 7), 1, 1))
    return figure


def mistake_gallery(pixels: np.ndarray, true: Sequence[int], predicted: Sequence[int],
                    probability: Sequence[float], where: Sequence[str],
                    columns: int = 8) -> Figure:
    """The most confidently wrong digits, each captioned true → predicted and p: these are
    the label noise and the model's blind spots a reviewer should see with their own eyes."""
    plt = _pyplot()
    images = _as_images(pixels)
    n = len(images)
    rows = max(1, -(-n // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.4, rows * 2.0),
                                squeeze=False, layout="constrained")
    for i, axis in enumerate(axes.flat):
        _hide_axes(axis)
        if i >= n:
            axis.set_visible(False)
            continue
        axis.imshow(images[i], cmap="gray_r", vmin=0, vmax=255)
        axis.set_title(f"true {true[i]} → pred {predicted[i]}\np = {probability[i]:.3f}",
                       fontsize=8, color="#8b0000")
        axis.set_xlabel(where[i], fontsize=6.5, color="#555555")
    return figure


def tradeoff_scatter(names: Sequence[str], minutes: Sequence[float],
                     accuracy: Sequence[float], accuracy_sd: Sequence[float],
                     note: str = "") -> Figure:
    """Accuracy against training time: up is better, left is cheaper; error bars are the
    fold-to-fold sd, so two points whose bars overlap are not clearly different."""
    plt = _pyplot()
    minutes = np.asarray(minutes, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float) * 100
    sd = np.nan_to_num(np.asarray(accuracy_sd, dtype=float) * 100)
    figure, axis = plt.subplots(figsize=(8, 5))
    axis.errorbar(minutes, accuracy, yerr=sd, fmt="o", markersize=7, color="#4c72b0",
                  ecolor="#9bb3d6", capsize=4, zorder=3)
    positive = minutes[minutes > 0]
    if positive.size and positive.max() / positive.min() > 20:
        axis.set_xscale("log")
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        # plain minutes at 1-2-5 steps (0.5, 1, 2, 5, 10), not 10^0 and 10^1
        axis.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
    span = max(float(np.ptp(accuracy)), 0.5)
    axis.set_ylim(accuracy.min() - sd.max() - 0.3 * span, accuracy.max() + sd.max() + 0.3 * span)
    axis.set_xlim(left=0 if axis.get_xscale() == "linear" else None)
    low, high = axis.get_xlim()  # the right-most point off the frame
    axis.set_xlim(low, high * 1.3 if axis.get_xscale() == "log" else high + (high - low) * 0.08)
    _label_points(axis, [f"{name}\n{y:.2f}%, {minutes_text(x)} min" for name, x, y
                         in zip(names, minutes, accuracy, strict=True)], minutes, accuracy)
    axis.set_xlabel("training time (minutes, all folds)")
    axis.set_ylabel("out-of-fold accuracy (%) ± sd over folds")
    axis.set_title("Accuracy vs training time" + (f"\n{note}" if note else ""), fontsize=11)
    axis.grid(color="#eeeeee", zorder=0)
    axis.spines[["top", "right"]].set_visible(False)
    return figure


def _label_points(axis: Any, labels: Sequence[str], xs: Sequence[float],
                  ys: Sequence[float]) -> None:
    """Each label beside its point, in the first of four places (right or left, below or
    above) that keeps it inside the frame and off the labels already placed: the last
    label must not touch the figure's edge, and two runs of similar time must not print
    over each other."""
    renderer = axis.figure.canvas.get_renderer()
    frame = axis.get_window_extent(renderer)
    placed: list[Any] = []
    for text, x, y in zip(labels, xs, ys, strict=True):
        for dx, dy in ((8, -4), (8, 4), (-8, -4), (-8, 4)):
            note = axis.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                                 fontsize=9, ha="left" if dx > 0 else "right",
                                 va="top" if dy < 0 else "bottom")
            box = note.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 \
                and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in placed):
                break
            note.remove()
        else:  # nowhere free: the first place, overlapping rather than missing
            note = axis.annotate(text, (x, y), xytext=(8, -4), textcoords="offset points",
                                 fontsize=9, va="top")
            box = note.get_window_extent(renderer)
        placed.append(box)


def minutes_text(value: float) -> str:
    """Minutes to read at a glance: "30", "7.0", and two significant digits below one
    minute, so that a 1-second trial reads "0.017", not "0.0"."""
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2g}"


def _pct(share: float) -> str:
    """Whole percent from 10% up, one decimal below, "<0.1%" for the smallest: an error
    cell of 1 in 4,000 must not read as 0%."""
    if 0 < share < 0.00095:
        return "<0.1%"
    return f"{share:.1%}" if share < 0.0995 else f"{share:.0%}"


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)
