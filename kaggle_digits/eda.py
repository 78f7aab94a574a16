"""Looking at the data before modelling: summary numbers, EDA figures, one digit in a terminal.

Everything here starts from validated ``Digits`` (``kaggle_digits.data``) and only describes
them; nothing is fitted. The per-digit images are pixel-wise statistics over every row of
a class, so a blurry mean and a wide standard deviation show where writers disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rich.text import Text

from kaggle_digits import plots
from kaggle_digits.constants import CLASSES, N_CLASSES, N_PIXELS, SIDE
from kaggle_digits.fileio import refuse_existing, write_bytes, write_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class EdaConfig:
    samples_per_class: int = 10
    seed: int = 0  # which sample digits are drawn: fixed so the figure is reproducible


@dataclass(frozen=True)
class EdaSummary:
    source: str
    sha256: str
    rows: int
    label_counts: dict[int, int]
    pixel_mean: float
    pixel_std: float
    zero_share: float  # share of pixels that are exactly 0 (background)
    full_share: float  # share of pixels that are exactly 255
    mean_ink_per_digit: dict[int, float]  # mean pixel value of the class's images
    files: list[Path] = field(default_factory=list)

    @property
    def label_shares(self) -> dict[int, float]:
        return {d: c / self.rows for d, c in self.label_counts.items()}

    def to_json(self) -> dict:
        return {
            "source": self.source, "sha256": self.sha256, "rows": self.rows,
            "label_counts": self.label_counts, "label_shares": self.label_shares,
            "pixel_mean": self.pixel_mean, "pixel_std": self.pixel_std,
            "zero_share": self.zero_share, "full_share": self.full_share,
            "mean_ink_per_digit": self.mean_ink_per_digit,
            "files": [p.name for p in self.files],
        }


def summarise(pixels: np.ndarray, labels: np.ndarray, *, source: str = "",
              sha256: str = "") -> EdaSummary:
    """The numbers behind the figures; pixel moments in float64 so 33 million uint8
    values add up exactly enough."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=10)
    flat = np.asarray(pixels)
    total = flat.size
    histogram = np.bincount(flat.ravel(), minlength=256)
    values = np.arange(256, dtype=np.float64)
    mean = float(histogram @ values / total)
    std = float(np.sqrt(histogram @ (values - mean) ** 2 / total))
    ink = {d: float(flat[labels == d].mean()) if counts[d] else float("nan") for d in CLASSES}
    return EdaSummary(source=source, sha256=sha256, rows=int(labels.size),
                      label_counts={d: int(counts[d]) for d in CLASSES},
                      pixel_mean=mean, pixel_std=std,
                      zero_share=float(histogram[0] / total),
                      full_share=float(histogram[255] / total), mean_ink_per_digit=ink)


def per_digit_images(pixels: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Pixel-wise mean, median and standard deviation per class, each 10×784 float."""
    labels = np.asarray(labels)
    out = {"mean": np.zeros((N_CLASSES, N_PIXELS)), "median": np.zeros((N_CLASSES, N_PIXELS)),
           "std": np.zeros((N_CLASSES, N_PIXELS))}
    for digit in CLASSES:
        rows = np.asarray(pixels)[labels == digit].astype(np.float64)
        if rows.size:
            out["mean"][digit] = rows.mean(axis=0)
            out["median"][digit] = np.median(rows, axis=0)
            out["std"][digit] = rows.std(axis=0)
    return out


EDA_FILES = ("label_distribution.png", "mean_digits.png", "median_digits.png",
             "std_digits.png", "samples.png", "pixel_histogram.png", "summary.json")


def eda_figures(pixels: np.ndarray, labels: np.ndarray, summary: EdaSummary,
                config: EdaConfig = EdaConfig()) -> dict[str, Figure]:
    """Every EDA figure by its file name, drawn but not yet written."""
    images = per_digit_images(pixels, labels)
    counts = summary.label_counts
    return {
        "label_distribution.png": plots.label_distribution(labels),
        # means and medians are pixel values, drawn on the pixels' own 0–255 scale; the
        # sd peaks near 128 at most, so its colour bar spans the values it shows
        "mean_digits.png": plots.digit_panels(
            images["mean"], "Pixel-wise mean per digit",
            captions=[f"{d}  (n={counts[d]:,})" for d in CLASSES], vmax=255,
            label="mean pixel value (0–255)"),
        "median_digits.png": plots.digit_panels(
            images["median"], "Pixel-wise median per digit", vmax=255,
            label="median pixel value (0–255)"),
        "std_digits.png": plots.digit_panels(
            images["std"], "Pixel-wise standard deviation per digit (bright = writers differ)",
            cmap="magma", label="standard deviation of the pixel value"),
        "samples.png": plots.sample_grid(pixels, labels, config.samples_per_class, config.seed),
        "pixel_histogram.png": plots.intensity_histogram(pixels),
    }


def write_eda(pixels: np.ndarray, labels: np.ndarray, out_dir: str | Path, *,
              source: str = "", sha256: str = "", force: bool = False,
              config: EdaConfig = EdaConfig()) -> EdaSummary:
    """Write every EDA figure and ``summary.json`` into ``out_dir``.

    Existing files are checked before anything is drawn, so a refusal costs nothing
    and never leaves half a set of new figures beside old ones.
    """
    out = Path(out_dir)
    for name in EDA_FILES:
        refuse_existing(out / name, force)
    summary = summarise(pixels, labels, source=source, sha256=sha256)
    figures = eda_figures(pixels, labels, summary, config)
    written = [write_bytes(out / name, plots.png_bytes(figure), force=force)
               for name, figure in figures.items()]
    summary.files.extend(written)
    summary.files.append(out / "summary.json")
    write_json(out / "summary.json", summary.to_json(), force=force)
    return summary


_SHADES = " ░▒▓█"


def digit_text(pixels: np.ndarray, *, color: bool = True) -> Text:
    """One 28×28 digit for a terminal.

    With colour, each character is an upper half block whose foreground is one pixel row
    and background the next, both in true grey levels: 28×14 characters, square pixels.
    Without colour (a pipe, a log file) grey levels become shade characters, two per pixel
    so the digit keeps its aspect ratio.
    """
    image = np.asarray(pixels, dtype=np.uint8).reshape(SIDE, SIDE)
    text = Text()
    if color:
        for top, bottom in zip(image[0::2], image[1::2], strict=True):
            for upper, lower in zip(top, bottom, strict=True):
                text.append("▀", style=f"rgb({upper},{upper},{upper}) on "
                                       f"rgb({lower},{lower},{lower})")
            text.append("\n")
    else:
        levels = np.minimum(image.astype(np.int64) * len(_SHADES) // 256, len(_SHADES) - 1)
        for row in levels:
            text.append("".join(_SHADES[v] * 2 for v in row).rstrip() + "\n")
    text.right_crop(1)  # the last newline
    return text
