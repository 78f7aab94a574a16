"""The run report and run comparison, built from real `kdigits cv` runs on real digits."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_kdigits

from kaggle_digits import report, runs
from kaggle_digits.errors import KdigitsError


def cross_validate(train: Path, runs_dir: Path, *args: str) -> Path:
    done = run_kdigits("cv", "--train", str(train), "--folds", "2", "--runs-dir",
                       str(runs_dir), *args, env={"TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = [p for p in runs_dir.iterdir() if p.is_dir()]
    return run


@pytest.fixture(scope="module")
def mlp_run(sample_files, tmp_path_factory) -> Path:
    """A real 2-fold, 1-epoch MLP run on 3,000 real digits (with a 10% holdout)."""
    return cross_validate(sample_files["train"], tmp_path_factory.mktemp("runs-mlp"),
                          "--model", "mlp", "--epochs", "1")


@pytest.fixture(scope="module")
def forest_run(sample_files, tmp_path_factory) -> Path:
    """A second real run, of a scikit-learn preset, to compare against."""
    return cross_validate(sample_files["train"], tmp_path_factory.mktemp("runs-forest"),
                          "--model", "random-forest")


@pytest.fixture
def run_copy(mlp_run, tmp_path) -> Path:
    """A copy of the real run that a test may damage."""
    return Path(shutil.copytree(mlp_run, tmp_path / mlp_run.name))


def metrics_of(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_report_for_a_small_real_run(mlp_run):
    html_path, md_path = report.write_report(mlp_run)
    assert html_path == mlp_run / "report.html" and md_path == mlp_run / "report.md"
    html = html_path.read_text()
    metrics = metrics_of(mlp_run)

    # overall statistics, caret's names, the run's own numbers (pooled OOF and holdout)
    for name in ("Overall Statistics", "Accuracy", "95% CI", "No Information Rate",
                 "P-Value [Acc &gt; NIR]", "Kappa", "Mcnemar&#39;s Test P-Value"):
        assert name in html
    for key in ("oof", "holdout"):
        overall = metrics[key]["overall"]
        shown = dict(report.overall_table(metrics[key]))  # caret's formats: "0.99", not "0.9900"
        for name, field in (("Accuracy", "accuracy"), ("Kappa", "kappa")):
            assert f"<td>{shown[name]}</td>" in html
            assert float(shown[name]) == round(overall[field], 4)
    assert "Confusion Matrix and Statistics" in html  # caret's own print-out

    # Statistics by Class: one table per evaluation, 10 class rows each, weakest marked
    tables = re.findall(r'<table class="by-class">(.*?)</table>', html, re.S)
    assert len(tables) == 2
    for table in tables:
        assert re.findall(r"Class: (\d)", table) == [str(d) for d in range(10)]
        assert len(re.findall(r'<tr class="weak">', table)) == report.ReportConfig().weakest
    by_class = metrics["oof"]["by_class"]
    worst = min(by_class, key=lambda c: by_class[c]["f1"])
    assert re.search(rf'<tr class="weak"><td class="left">Class: {worst}<', tables[0])

    # embedded images only: confusion ×2, per-class ×2, curves, gallery; nothing external
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == 6
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r"(?:src|href)=\"(?:https?:|//|file:)", html)
    assert "<script" not in html and "<link" not in html

    # folds table with mean ± sd computed from metrics.json
    accuracies = np.array([f["accuracy"] for f in metrics["folds"]])
    assert f"{accuracies.mean():.4f} ± {accuracies.std(ddof=1):.4f}" in html

    # markdown: same content, PNGs beside it in the run folder
    markdown = md_path.read_text()
    assert "| Class: 9 |" in markdown or "| **Class: 9** |" in markdown
    for png in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown):
        assert (mlp_run / png).read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_most_confused_pairs_come_from_the_run_table(mlp_run):
    evaluation = report.evaluations(metrics_of(mlp_run))[0]
    table = evaluation.table
    pairs = report.confused_pairs(evaluation, top=5)
    counts = [p["count"] for p in pairs]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0
    off_diagonal = table[~np.eye(10, dtype=bool)]
    assert counts[0] == off_diagonal.max()
    for pair in pairs:
        truth, predicted = int(pair["true"]), int(pair["predicted"])
        assert truth != predicted
        assert table[predicted, truth] == pair["count"]  # rows = Prediction
        assert pair["share"] == pytest.approx(pair["count"] / table[:, truth].sum())


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_gallery_shows_the_most_confident_mistakes(mlp_run):
    predictions = runs.load_predictions(mlp_run)
    mistakes = report.confident_mistakes(predictions, top=12)
    assert len(mistakes) == 12
    assert (mistakes["prediction"] != mistakes["label"]).all()
    assert mistakes["probability"].is_monotonic_decreasing
    oof = pd.read_csv(mlp_run / "oof.csv")
    wrong = oof[oof["prediction"] != oof["label"]]
    top_oof = wrong[[f"prob_{k}" for k in range(10)]].max(axis=1).max()
    assert mistakes["probability"].iloc[0] >= top_oof - 1e-9


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_report_is_rewritten_on_rerun_and_from_the_cli(kdigits, run_copy):
    (run_copy / "report.html").write_text("stale")
    done = kdigits("report", str(run_copy))
    assert done.returncode == 0, done.stderr
    assert "report.html" in done.stdout
    assert (run_copy / "report.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_report_escapes_config_text_and_skips_gallery_for_a_changed_train_file(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    config["command"] = "kdigits cv --train '<img src=x onerror=alert(1)>.csv'"
    config["data"]["train_sha256"] = "0" * 64
    (run_copy / "config.json").write_text(json.dumps(config))
    html = report.write_report(run_copy)[0].read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html
    # wrong images under right captions would be worse than no gallery
    assert "Gallery not drawn" in html and "has changed since the run" in html
    assert len(re.findall(r'<img src="data:image/png', html)) == 5


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_unfinished_run_is_refused_in_one_line(kdigits, run_copy):
    (run_copy / "metrics.json").unlink()
    with pytest.raises(KdigitsError, match="has not finished"):
        report.write_report(run_copy)
    done = kdigits("report", str(run_copy))
    assert done.returncode == 2 and "has not finished" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_show_with_a_run_prints_its_prediction(kdigits, mlp_run, sample_files):
    oof = pd.read_csv(mlp_run / "oof.csv")
    row = oof.iloc[7]
    # no --train: the run's own train file (recorded in config.json) is shown
    done = kdigits("show", str(int(row["row"])), "--run", str(mlp_run))
    assert done.returncode == 0, done.stderr
    assert f"{sample_files['train']} row {int(row['row'])}: label {int(row['label'])}" \
        in done.stdout
    probability = row[f"prob_{int(row['prediction'])}"]
    assert f"fold {int(row['fold'])}): predicted {int(row['prediction'])}" in done.stdout
    assert f"p = {probability:.3f}" in done.stdout


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_compare_two_real_runs(kdigits, mlp_run, forest_run, tmp_path):
    summaries = report.compare_runs([mlp_run, forest_run])
    assert {s.model for s in summaries} == {"mlp", "random-forest"}
    assert summaries[0].oof_accuracy >= summaries[1].oof_accuracy
    for summary, run in ((s, mlp_run if s.model == "mlp" else forest_run) for s in summaries):
        metrics = metrics_of(run)
        assert summary.oof_accuracy == metrics["oof"]["overall"]["accuracy"]
        assert summary.holdout_accuracy == metrics["holdout"]["overall"]["accuracy"]
        assert summary.train_minutes == pytest.approx(
            sum(f["wall_s"] for f in metrics["folds"]) / 60)
    mlp = next(s for s in summaries if s.model == "mlp")
    assert mlp.parameters.startswith(f"{metrics_of(mlp_run)['parameters']:,} weights")
    assert "1 epochs" in mlp.parameters

    out = tmp_path / "compare.png"
    done = kdigits("compare", str(mlp_run), str(forest_run), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "the training time of" in done.stdout or "no trade-off" in done.stdout
    refused = kdigits("compare", str(mlp_run), str(forest_run), "--out", str(out))
    assert refused.returncode == 2 and "--force" in refused.stderr


def test_tradeoff_sentence_weighs_the_best_against_the_fastest():
    def run(name, accuracy, minutes):
        return report.RunSummary(name, name, "", 3, accuracy, 0.001, accuracy, 0.9, minutes)

    line = report.tradeoff([run("mlp", 0.976, 0.5), run("cnn-fast", 0.990, 7.0)])
    assert line.startswith("cnn-fast: +1.40 points for 14.0× the training time of mlp")
    assert "97.60% → 99.00% accuracy, 2.4× fewer errors; 0.5 → 7.0 min" in line
    same = report.tradeoff([run("mlp", 0.99, 0.5), run("cnn", 0.98, 7.0)])
    assert "both the most accurate" in same


def test_compare_without_runs_says_so(kdigits, tmp_path):
    done = kdigits("compare", "--root", str(tmp_path))
    assert done.returncode == 2
    assert "no finished runs to compare" in done.stderr and "Traceback" not in done.stderr


def test_overall_table_prints_every_number_as_caret_does(train_sample):
    """The report's Overall Statistics table and the caret print-out beside it show the
    same text for every value, p-values included (R's format.pval, not Python's %g)."""
    from kaggle_digits.caret_text import caret_text
    from kaggle_digits.stats import confusion_stats

    _, labels = train_sample
    labels = labels.astype(np.int64)
    rng = np.random.default_rng(3)
    noisy = np.where(rng.random(len(labels)) < 0.03, rng.integers(0, 10, len(labels)), labels)
    for predicted in (noisy, np.where(labels == 3, 5, labels)):  # mild and lopsided errors
        stats = confusion_stats(predicted, labels, list(range(10)))
        printed = caret_text(stats, mode="everything")
        rows = dict(report.overall_table(stats.to_json()))
        assert list(rows) == ["Accuracy", "95% CI", "No Information Rate",
                              "P-Value [Acc > NIR]", "Kappa", "Mcnemar's Test P-Value"]
        for name, text in rows.items():
            assert re.search(rf"^ *{re.escape(name)} : {re.escape(text)} *$", printed, re.M), \
                (name, text)
