"""The run report and run comparison, built from real `kdigits cv` runs on real digits."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
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
def test_report_is_rewritten_on_rerun_and_from_the_cli(kdigits_here, run_copy):
    (run_copy / "report.html").write_text("stale")
    done = kdigits_here("report", str(run_copy))
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
def test_unfinished_run_is_refused_in_one_line(kdigits_here, run_copy):
    (run_copy / "metrics.json").unlink()
    with pytest.raises(KdigitsError, match="has not finished"):
        report.write_report(run_copy)
    done = kdigits_here("report", str(run_copy))
    assert done.returncode == 2 and "has not finished" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_show_with_a_run_prints_its_prediction(kdigits_here, mlp_run, sample_files):
    oof = pd.read_csv(mlp_run / "oof.csv")
    row = oof.iloc[7]
    # no --train: the run's own train file (recorded in config.json) is shown
    done = kdigits_here("show", str(int(row["row"])), "--run", str(mlp_run))
    assert done.returncode == 0, done.stderr
    assert f"{sample_files['train']} row {int(row['row'])}: label {int(row['label'])}" \
        in done.stdout
    probability = row[f"prob_{int(row['prediction'])}"]
    assert f"fold {int(row['fold'])}): predicted {int(row['prediction'])}" in done.stdout
    assert f"p = {probability:.3f}" in done.stdout


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_compare_two_real_runs(kdigits_here, mlp_run, forest_run, tmp_path):
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
    assert mlp.weights == metrics_of(mlp_run)["parameters"]
    assert mlp.settings == "1 epoch"  # only what differs from the preset's recipe
    assert mlp.details == ["2 folds", report.short_count(mlp.weights) + " weights", "1 epoch"]
    assert next(s for s in summaries if s.model == "random-forest").details == ["2 folds"]

    out = tmp_path / "compare.png"
    done = kdigits_here("compare", str(mlp_run), str(forest_run), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "the training time of" in done.stdout or "no trade-off" in done.stdout
    refused = kdigits_here("compare", str(mlp_run), str(forest_run), "--out", str(out))
    assert refused.returncode == 2 and "--force" in refused.stderr


@pytest.mark.slow  # uses real `kdigits cv` runs
def test_compare_pairs_runs_of_one_split_digit_by_digit(kdigits_here, mlp_run, forest_run,
                                                        run_copy, tmp_path):
    """Two runs on the same train.csv and split scored the same digits: the paired test
    covers every OOF and holdout row, and its counts are the two runs' own accuracies
    (metrics.json) told apart digit by digit. A run on another train.csv is not paired."""
    summaries = report.compare_runs([mlp_run, forest_run])
    [pair] = report.pair_with_leader(summaries)
    leader, other = (mlp_run, forest_run) if summaries[0].model == "mlp" else (forest_run,
                                                                               mlp_run)
    assert (pair.leader, pair.other) == (summaries[0].model, summaries[1].model)
    for part, key, csv in (("OOF", "oof", "oof.csv"), ("holdout", "holdout", "holdout.csv")):
        test = pair.parts[part]
        rows = len(pd.read_csv(leader / csv))
        assert test.digits == rows == len(pd.read_csv(other / csv))
        lead = (metrics_of(leader)[key]["overall"]["accuracy"]
                - metrics_of(other)[key]["overall"]["accuracy"])
        assert test.right_only_first - test.right_only_second == round(lead * rows)
        aligned = pd.read_csv(leader / csv).merge(pd.read_csv(other / csv), on="row")
        right_leader = aligned["prediction_x"] == aligned["label_x"]
        right_other = aligned["prediction_y"] == aligned["label_y"]
        assert test.right_only_first == int((right_leader & ~right_other).sum())
        assert test.right_only_second == int((right_other & ~right_leader).sum())
        assert test.discordant > 0 and 0 < test.p_value <= 1

    done = kdigits_here("compare", str(mlp_run), str(forest_run), "--out",
                        str(tmp_path / "compare.png"))
    assert done.returncode == 0, done.stderr
    oof = pair.parts["OOF"]
    # OOF rows outnumber the holdout's, so their count sets the column's width
    assert f"  {pair.leader} vs {pair.other}\n    OOF     {oof.digits:,} digits: " in done.stdout
    assert (f"digits: {oof.right_only_first:,} right only in {pair.leader}, "
            f"{oof.right_only_second:,} only in {pair.other}, p ") in done.stdout

    config = json.loads((run_copy / "config.json").read_text())
    config["data"]["train_sha256"] = "0" * 64
    (run_copy / "config.json").write_text(json.dumps(config))
    elsewhere = report.pair_with_leader(report.compare_runs([forest_run, run_copy]))
    assert [p.parts for p in elsewhere] == [{}]
    assert "another train.csv" in elsewhere[0].note


def test_pairing_uses_the_digits_two_runs_share_and_refuses_unknown_train_files(tmp_path):
    """Runs on other rows (--percent, another holdout) pair on the rows both scored, part by
    part; a run without a holdout pairs on OOF only; a run that does not record its
    train.csv's SHA-256 is not paired, and the note says why."""
    def fake_run(name: str, sha: str | None, oof: dict, holdout: dict | None = None):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"data": {"train_sha256": sha}}))
        for csv, rows in (("oof.csv", oof), ("holdout.csv", holdout)):
            if rows is not None:
                pd.DataFrame([{"row": r, "fold": 1, "label": label, "prediction": said}
                              for r, (label, said) in rows.items()]).to_csv(folder / csv,
                                                                            index=False)
        return replace(summary(name, 0.9, 1.0), path=folder)

    right, wrong = (3, 3), (3, 5)
    leader = fake_run("leader", "a" * 64, {r: right for r in range(10)},
                      {r: wrong for r in (10, 11)})
    # rows 5–14: of the 5 shared OOF rows, 5 and 6 read wrong here only; no holdout
    other = fake_run("other", "a" * 64, {r: wrong if r in (5, 6) else right
                                         for r in range(5, 15)})
    unknown = fake_run("unknown", None, {r: right for r in range(10)})
    paired, unpaired = report.pair_with_leader([leader, other, unknown])
    assert list(paired.parts) == ["OOF"]
    oof = paired.parts["OOF"]
    assert (oof.digits, oof.right_only_first, oof.right_only_second) == (5, 2, 0)
    assert oof.p_value == pytest.approx(0.5)  # 2 of 2 discordant: 2 · (1/2)²
    assert unpaired.parts == {} and "does not record" in unpaired.note
    (other.path / "oof.csv").write_text("row,fold\n5,1\n")  # damaged: no labels
    [damaged] = report.pair_with_leader([leader, other])
    assert damaged.parts == {} and "cannot be read" in damaged.note
    lines = report.paired_lines([paired, unpaired])
    assert lines[1:] == ["  leader vs other",
                         "    OOF     5 digits: 2 right only in leader, 0 only in other, p = 0.5",
                         "  leader vs unknown: " + unpaired.note]


def summary(name: str, accuracy: float, minutes: float, tag: str | None = None):
    return report.RunSummary(name, name, tag, None, 1, "", 3, accuracy, 0.001, accuracy, 0.9,
                             minutes)


def test_tradeoff_sentence_weighs_the_best_against_the_best_faster_run():
    line = report.tradeoff([summary("mlp", 0.976, 0.5), summary("cnn-fast", 0.990, 7.0)])
    assert line.startswith("cnn-fast: +1.40 points for 14.0× the training time of mlp, "
                           "the most accurate of the faster runs")
    assert "97.60% → 99.00% accuracy, 2.4× fewer errors; 0.5 → 7.0 min" in line
    same = report.tradeoff([summary("mlp", 0.99, 0.5), summary("cnn", 0.98, 7.0)])
    assert "both the most accurate" in same
    # a 1-epoch trial is the fastest run, but the price of the best is paid against mlp
    toy = report.tradeoff([summary("toy", 0.12, 0.05), summary("mlp", 0.976, 0.5),
                           summary("cnn-fast", 0.990, 7.0)])
    assert toy.startswith("cnn-fast: +1.40 points for 14.0× the training time of mlp")


def test_compare_tells_a_best_run_from_before_its_mix_from_one_with_it():
    """Runs recorded before recipes had mixes trained none, and before mixes had groups one
    plain group: for `best` that differs from its recipe now, and a user's own model shows
    the --mix it was given."""
    def described(config: dict) -> str:
        return report.describe_settings(report.changed_settings(config))

    assert described({"model": "best", "training": {"members": 1}}) == "no mix"
    assert described({"model": "best", "training": {"members": 1, "mix_with": "cnn-fast",
                                                    "mix_members": 2}}) == (
        "1 mix group (plain)")  # before the deskewed group
    assert described({"model": "best", "training": {
        "members": 1, "mix_with": "cnn-fast", "mix_members": 2,
        "mix_variants": [{}, {"deskew": True}]}}) == ""
    assert described({"model": "cnn-fast", "training": {
        "members": 1, "mix_with": "cnn-fast", "mix_members": 1,
        "mix_variants": [{"deskew": True}, {"width": 2}]}}) == (
        "mix cnn-fast, 2×1 mixed in, 2 mix groups (deskew=true + width=2)")
    assert described({"model": "best", "training": {  # --mix cnn-fast:3 keeps both pairs
        "members": 1, "mix_with": "cnn-fast", "mix_members": 3,
        "mix_variants": [{}, {"deskew": True}]}}) == "2×3 mixed in"
    assert described({"model": "best", "training": {"members": 2, "mix_with": "mlp",
                                                    "mix_members": 3}}) == (
        "2 seeds, mix mlp, 3 mixed in")
    assert described({"model": "nets.py:wide", "options": {"mix": "cnn:1"},
                      "training": {"members": 1, "mix_with": "cnn", "mix_members": 1}}) == (
        "mix cnn, 1 mixed in")


def test_runs_are_labelled_by_name_then_model_then_folder():
    runs_ = [summary("20261123-100000-knn-base", 0.9, 1, tag="base"),
             summary("20261123-100001-knn", 0.9, 1), summary("20261123-100002-mlp", 0.9, 1)]
    runs_[1:] = [replace(s, model=s.name.split("-")[-1]) for s in runs_[1:]]
    assert [report.label(s, runs_) for s in runs_] == ["base", "knn", "mlp"]
    twice = [*runs_, replace(runs_[2], name="20261123-100003-mlp")]
    assert [report.label(s, twice) for s in twice][2:] == ["20261123-100002-mlp",
                                                            "20261123-100003-mlp"]


def test_compare_without_runs_says_so(kdigits_here, tmp_path):
    done = kdigits_here("compare", "--root", str(tmp_path))
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


@pytest.fixture
def in_folder(kdigits_here):
    """`in_folder(folder, *args)`: `kdigits ARGS` run from ``folder``, as a user in their
    project folder."""
    def run(folder: Path, *args: str, columns: int = 120):
        return kdigits_here(*args, cwd=folder, env={"COLUMNS": str(columns)})

    return run


@pytest.fixture
def runs_folder(mlp_run, forest_run, tmp_path) -> Path:
    """A project folder whose runs/ holds both real runs and the compare.png that older
    versions of kdigits left there."""
    runs_dir = tmp_path / "runs"
    for run in (mlp_run, forest_run):
        shutil.copytree(run, runs_dir / run.name)
    (runs_dir / "compare.png").write_bytes(b"\x89PNG left by an older kdigits")
    return tmp_path


@pytest.mark.slow  # uses real `kdigits cv` runs
def test_compare_twice_in_a_row_writes_two_plots_and_replaces_nothing(runs_folder, in_folder):
    runs_dir = runs_folder / "runs"
    before = sorted(p.name for p in runs_dir.iterdir())
    globbed = sorted(str(p.relative_to(runs_folder)) for p in runs_dir.iterdir())  # runs/*
    first = in_folder(runs_folder, "compare", *globbed)
    assert first.returncode == 0, first.stderr
    assert ("note: skipped: runs/compare.png is not a kdigits run folder (no config.json)"
            in first.stdout)
    (plot,) = (runs_folder / "reports").iterdir()
    assert re.fullmatch(r"compare-\d{8}-\d{6}\.png", plot.name)
    assert f"wrote reports/{plot.name}" in first.stdout
    drawn = plot.read_bytes()
    assert drawn.startswith(b"\x89PNG")

    second = in_folder(runs_folder, "compare", *globbed)
    assert second.returncode == 0, second.stderr
    plots_now = sorted((runs_folder / "reports").iterdir())
    assert len(plots_now) == 2 and plot in plots_now
    assert plot.read_bytes() == drawn  # the first plot is never replaced
    assert sorted(p.name for p in runs_dir.iterdir()) == before  # nothing new in runs/

    out = runs_folder / "mine.png"
    assert in_folder(runs_folder, "compare", "--out", str(out)).returncode == 0
    refused = in_folder(runs_folder, "compare", "--out", str(out))
    assert refused.returncode == 2 and "use --force" in refused.stderr


@pytest.mark.slow  # uses real `kdigits cv` runs
def test_compare_fails_in_one_line_when_no_entry_is_a_finished_run(runs_folder, in_folder):
    unfinished = runs_folder / "runs" / next(p.name for p in (runs_folder / "runs").iterdir()
                                             if p.is_dir())
    (unfinished / "metrics.json").unlink()
    done = in_folder(runs_folder, "compare", "runs/compare.png", str(unfinished))
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: no finished runs to compare given: run "
                                   "`kdigits cv` first")
    assert "skipped: runs/compare.png is not a kdigits run folder" in done.stdout
    assert f"skipped: {unfinished} has not finished" in done.stdout
    assert not (runs_folder / "reports").exists()


@pytest.mark.slow  # uses real `kdigits cv` runs
def test_compare_shows_full_run_ids_at_80_columns(runs_folder, mlp_run, in_folder):
    long = runs_folder / "runs" / f"{mlp_run.name}-with-a-longish-tag"
    (runs_folder / "runs" / mlp_run.name).rename(long)
    done = in_folder(runs_folder, "compare", columns=80)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    table = lines[:next(i for i, line in enumerate(lines) if line.startswith("below each"))]
    assert max(len(line) for line in table) <= 80  # (sentences wrap in the terminal)
    assert any(line.startswith(long.name + " ") for line in lines)  # whole, on one line
    for run in (long, runs_folder / "runs" / next(
            p.name for p in (runs_folder / "runs").iterdir() if "forest" in p.name)):
        kappa = metrics_of(run)["oof"]["overall"]["kappa"]
        row = next(line for line in lines if line.startswith(run.name))
        assert f"{kappa:.4f}" in row
    assert "acc. %/min" not in done.stdout


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_report_config_table_shows_the_value_each_option_took(mlp_run):
    rows = dict(report.build_context(mlp_run)["config"])
    assert all(value != "" for value in rows.values())
    config = json.loads((mlp_run / "config.json").read_text())
    assert config["options"]["batch_size"] is None  # not given on the command line…
    assert rows["options.batch_size"] == f"{config['training']['batch_size']} (recipe)"
    assert rows["options.epochs"] == "1"  # …given
    assert rows["options.params"] == "none"
    (first, *_) = config["rows"]["folds"]
    assert rows["rows.folds"] == (f"2 folds, each {first['train_rows']:,} train / "
                                  f"{first['test_rows']:,} test rows")
    assert rows["training.model_options"] == "width=512 (builder defaults)"


@pytest.mark.slow  # uses a real `kdigits cv` run
def test_report_links_the_runs_curves_instead_of_copying_them(run_copy):
    (run_copy / "report-curves.png").write_bytes((run_copy / "curves.png").read_bytes())
    curves = (run_copy / "curves.png").read_bytes()
    _, md_path = report.write_report(run_copy)
    assert not (run_copy / "report-curves.png").exists()  # the old copy is gone
    assert (run_copy / "curves.png").read_bytes() == curves
    assert "![Training curves](curves.png)" in md_path.read_text()
    pngs = sorted(p.name for p in run_copy.glob("*.png"))
    assert pngs == ["curves.png", "report-confusion-holdout.png", "report-confusion-oof.png",
                    "report-mistakes.png", "report-per-class-holdout.png",
                    "report-per-class-oof.png"]
