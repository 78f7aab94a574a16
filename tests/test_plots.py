"""Figures drawn from real digits: each test checks what the figure says, not only that it
renders — the numbers written on a chart must be the numbers in the data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestCentroid
from sklearn.neural_network import MLPClassifier

from kaggle_digits import plots
from kaggle_digits.stats import confusion_stats


def texts(figure) -> list[str]:
    return [t.get_text() for ax in figure.axes for t in ax.texts] + [
        ax.get_title() for ax in figure.axes]


@pytest.fixture(scope="module")
def centroid_stats(train_sample):
    """A real (weak) classifier's confusion statistics: nearest class mean, fitted on the
    first 2,000 digits and judged on the other 1,000."""
    pixels, labels = train_sample
    with warnings.catch_warnings():  # border pixels are 0 in every digit: expected
        warnings.simplefilter("ignore", UserWarning)
        model = NearestCentroid().fit(pixels[:2000], labels[:2000])
    return confusion_stats(model.predict(pixels[2000:]), labels[2000:], range(10))


def test_png_bytes_returns_a_png_and_frees_the_figure(train_sample):
    import matplotlib.pyplot as plt

    png = plots.png_bytes(plots.label_distribution(train_sample[1]))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    assert plt.get_fignums() == []


def test_label_distribution_bars_are_shares_with_percentages_written_on(train_sample):
    labels = train_sample[1]
    figure = plots.label_distribution(labels)
    axis = figure.axes[0]
    shares = np.bincount(labels, minlength=10) / labels.size
    heights = np.array([bar.get_height() for bar in axis.patches])
    np.testing.assert_allclose(heights, shares * 100)
    written = texts(figure)
    for share in shares:
        assert any(t.startswith(f"{share:.1%}") for t in written)
    plots.png_bytes(figure)


def test_confusion_heatmap_shows_every_count_and_both_percentages(centroid_stats):
    table = centroid_stats.table
    figure = plots.confusion_heatmap(table, centroid_stats.classes, "nearest centroid")
    written = texts(figure)
    for count in table[table > 0]:
        assert f"{count:,}" in written
    # 4 predicted where the truth is 9: share of the row (prediction) | of the column (truth)
    cell = table[4, 9]
    assert cell > 0, "nearest centroid confuses 9s for 4s on real digits"
    row_pct = plots._pct(cell / table[4].sum())
    col_pct = plots._pct(cell / table[:, 9].sum())
    assert f"{row_pct}|{col_pct}" in written
    axis = figure.axes[0]
    assert axis.get_xlabel().startswith("Reference") and axis.get_ylabel() == "Prediction"
    plots.png_bytes(figure)


def test_small_shares_keep_a_decimal_instead_of_reading_zero():
    assert plots._pct(0.0) == "0.0%"
    assert plots._pct(0.0003) == "<0.1%"
    assert plots._pct(0.004) == "0.4%"
    assert plots._pct(0.014) == "1.4%"
    assert plots._pct(0.25) == "25%"


def test_per_class_chart_axis_holds_every_value(centroid_stats):
    figure = plots.per_class_chart(centroid_stats.to_json()["by_class"], "centroid")
    axis = figure.axes[0]
    low, high = axis.get_ylim()
    values = [row[k] for row in centroid_stats.by_class.values()
              for k in ("sensitivity", "specificity", "pos_pred_value")]
    assert low <= min(values) and high >= max(values)
    assert low > 0, "the axis is zoomed: all values of a real classifier sit far above 0"
    assert [t.get_text() for t in axis.get_xticklabels()] == [f"Class: {d}" for d in range(10)]
    plots.png_bytes(figure)


def test_training_curves_draw_train_and_validation_per_fold(train_sample):
    pixels, labels = train_sample
    x = pixels / 255.0
    rows = []
    for fold, (train, valid) in enumerate([(slice(0, 1000), slice(1000, 1500)),
                                           (slice(1500, 2500), slice(2500, 3000))], start=1):
        model = MLPClassifier((32,), random_state=fold)
        for epoch in range(1, 4):
            model.partial_fit(x[train], labels[train], classes=np.arange(10))
            rows.append({"fold": fold, "epoch": epoch, "loss": model.loss_,
                         "accuracy": model.score(x[train], labels[train]),
                         "val_loss": np.nan,
                         "val_accuracy": model.score(x[valid], labels[valid]),
                         "seconds": 0.0, "member": 1})
    figure = plots.training_curves(pd.DataFrame(rows))
    loss_axis, accuracy_axis = figure.axes
    assert len(accuracy_axis.lines) == 4  # 2 folds × (train, validation)
    assert len(loss_axis.lines) == 2  # no validation loss recorded: nothing invented
    last = accuracy_axis.lines[0].get_ydata()
    assert last[-1] > last[0], "three epochs of real training raise training accuracy"
    plots.png_bytes(figure)


def test_mistake_gallery_captions_true_predicted_probability(train_sample):
    pixels, _ = train_sample
    figure = plots.mistake_gallery(pixels[:10], [4] * 10, [9] * 10, [0.987] * 10,
                                   [f"row {i}" for i in range(10)], columns=4)
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert len(titles) == 10
    assert titles[0] == "true 4 → pred 9\np = 0.987"
    plots.png_bytes(figure)


def test_tradeoff_scatter_names_points_and_switches_to_log_time():
    figure = plots.tradeoff_scatter(["mlp", "cnn-fast"], [0.5, 30.0], [0.975, 0.991],
                                    [0.002, 0.001], note="cnn-fast: +1.60 points")
    axis = figure.axes[0]
    assert {t.get_text() for t in axis.texts} == {"mlp\n97.50%, 0.5 min",
                                                  "cnn-fast\n99.10%, 30 min"}
    assert [plots.minutes_text(m) for m in (41.4, 7.04, 0.5, 0.0163)] == ["41", "7.0", "0.5",
                                                                           "0.016"]
    assert axis.get_title().endswith("\ncnn-fast: +1.60 points")
    assert axis.get_xscale() == "log"  # a 60× range would crush the fast run at 0
    plots.png_bytes(figure)


@pytest.mark.parametrize("minutes", [[0.01, 0.026, 0.058, 0.124], [0.2, 0.5, 9.0, 41.0]])
def test_tradeoff_labels_stay_inside_the_plot_and_apart(minutes):
    """The right-most label once ran into the figure's edge, and runs of similar time
    printed their labels over each other: every label now sits inside the axes, clear of
    the others (linear and log time axes)."""
    names = ["20261123-145524-knn-baseline", "knn", "mlp", "20261123-145535-logreg-quick-lr"]
    figure = plots.tradeoff_scatter(names, minutes, [0.8974, 0.8974, 0.7593, 0.8725],
                                    [0.003, 0.003, 0.0007, 0.0067])
    axis = figure.axes[0]
    renderer = figure.canvas.get_renderer()
    frame = axis.get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in axis.texts]
    assert len(boxes) == 4
    for box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plots.png_bytes(figure)
