"""EDA on real digits: the numbers in the summary, the per-digit images, the files, and one
digit drawn in a terminal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kaggle_digits import eda, plots
from kaggle_digits.errors import KdigitsError


def test_summary_counts_shares_and_pixel_moments(train_sample):
    pixels, labels = train_sample
    summary = eda.summarise(pixels, labels)
    assert summary.rows == 3000
    assert list(summary.label_counts.values()) == np.bincount(labels, minlength=10).tolist()
    assert sum(summary.label_shares.values()) == pytest.approx(1.0)
    assert summary.pixel_mean == pytest.approx(pixels.mean())
    assert summary.pixel_std == pytest.approx(pixels.std())
    assert summary.zero_share == pytest.approx((pixels == 0).mean())
    assert summary.full_share == pytest.approx((pixels == 255).mean())
    assert 0.7 < summary.zero_share < 0.9  # MNIST: most of every image is background
    # a 1 is a single stroke: the least ink of any digit, far less than a 0
    ink = summary.mean_ink_per_digit
    assert min(ink, key=ink.get) == 1 and ink[0] > 1.8 * ink[1]


def test_per_digit_images_are_pixelwise_statistics_of_each_class(train_sample):
    pixels, labels = train_sample
    images = eda.per_digit_images(pixels, labels)
    threes = pixels[labels == 3].astype(float)
    np.testing.assert_allclose(images["mean"][3], threes.mean(axis=0))
    np.testing.assert_allclose(images["median"][3], np.median(threes, axis=0))
    np.testing.assert_allclose(images["std"][3], threes.std(axis=0))
    for stat in ("mean", "median", "std"):
        assert images[stat].shape == (10, 784)
    corners = images["mean"].reshape(10, 28, 28)[:, :3, :3]
    assert corners.max() == 0  # nobody writes in the corners of the 28×28 box


def test_write_eda_writes_every_figure_and_refuses_to_overwrite(train_sample, tmp_path):
    pixels, labels = train_sample
    summary = eda.write_eda(pixels, labels, tmp_path, source="sample", sha256="abc")
    assert sorted(p.name for p in summary.files) == sorted(eda.EDA_FILES)
    for name in eda.EDA_FILES:
        if name.endswith(".png"):
            assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["rows"] == 3000 and saved["label_counts"]["1"] == summary.label_counts[1]

    before = (tmp_path / "mean_digits.png").stat().st_mtime_ns
    with pytest.raises(KdigitsError, match="already exists; use --force"):
        eda.write_eda(pixels, labels, tmp_path)
    assert (tmp_path / "mean_digits.png").stat().st_mtime_ns == before
    eda.write_eda(pixels[:500], labels[:500], tmp_path, force=True)
    assert json.loads((tmp_path / "summary.json").read_text())["rows"] == 500


def test_colour_bars_span_the_values_their_pictures_show(train_sample):
    """Means and medians are pixel values on 0–255; the sd picture's colour bar runs from
    0 to the largest sd drawn (about half of 255), and its label claims no 0–255 range."""
    pixels, labels = train_sample
    summary = eda.summarise(pixels, labels)
    figures = eda.eda_figures(pixels, labels, summary)
    largest_sd = eda.per_digit_images(pixels, labels)["std"].max()
    assert 90 < largest_sd < 128  # real digits: far below the 0–255 pixel range
    for name, top, label in (("mean_digits.png", 255, "mean pixel value (0–255)"),
                             ("median_digits.png", 255, "median pixel value (0–255)"),
                             ("std_digits.png", largest_sd,
                              "standard deviation of the pixel value")):
        colour_bar = figures[name].axes[-1]
        assert colour_bar.get_ylabel() == label
        assert colour_bar.get_ylim() == pytest.approx((0, top))
    for figure in figures.values():
        plots.png_bytes(figure)


def test_digit_text_without_colour_uses_shades_two_per_pixel(train_sample):
    pixels, _ = train_sample
    text = eda.digit_text(pixels[0], color=False).plain
    lines = text.split("\n")
    assert len(lines) == 28 and max(len(line) for line in lines) <= 56
    image = pixels[0].reshape(28, 28).astype(np.int64)
    r, c = np.unravel_index(image.argmax(), image.shape)
    assert lines[r][2 * c:2 * c + 2] == "██"
    assert set(text) <= set(" ░▒▓█\n")
    ink = sum(ch != " " for ch in text if ch != "\n")
    assert ink == 2 * np.count_nonzero(image * 5 // 256)  # every visible pixel, twice


def test_digit_text_in_colour_packs_two_pixel_rows_per_line(train_sample):
    text = eda.digit_text(train_sample[0][0], color=True)
    lines = text.plain.split("\n")
    assert len(lines) == 14 and all(line == "▀" * 28 for line in lines)
    image = train_sample[0][0].reshape(28, 28)
    styles = {str(span.style) for span in text.spans}
    v = image.max()
    assert any(f"rgb({v},{v},{v})" in s for s in styles)


def test_eda_command_prints_summary_and_writes_files(kdigits_here, sample_files, tmp_path):
    out = tmp_path / "eda"
    done = kdigits_here("eda", "--train", str(sample_files["train"]), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "3,000 rows" in done.stdout
    assert "are 0" in done.stdout and "summary.json" in done.stdout
    assert (out / "samples.png").exists()
    again = kdigits_here("eda", "--train", str(sample_files["train"]), "--out", str(out))
    assert again.returncode == 2
    assert "error:" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr


def test_show_draws_a_train_digit_with_its_label(kdigits_here, sample_files, train_sample):
    labels = train_sample[1]
    done = kdigits_here("show", "12", "--train", str(sample_files["train"]))
    assert done.returncode == 0, done.stderr
    assert f"row 12: label {labels[12]}" in done.stdout
    assert "█" in done.stdout  # not a terminal: shade characters


def test_show_test_row_names_its_kaggle_image_id(kdigits_here, sample_files):
    done = kdigits_here("show", "0", "--test", "--test-file", str(sample_files["test"]))
    assert done.returncode == 0, done.stderr
    assert "row 0 (ImageId 1), no label" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("show", "3000"), "out of range"),
    (("show", "0", "--test", "--run", "runs/x"), "train.csv rows only"),
])
def test_show_refuses_bad_requests_in_one_line(kdigits_here, sample_files, args, message):
    done = kdigits_here(*args, "--train", str(sample_files["train"]),
                   "--test-file", str(sample_files["test"]))
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
