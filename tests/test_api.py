"""The Python API (`import kaggle_digits as kd`) on real sample data: the run folders,
submissions and statistics the CLI makes, handed back as objects instead of printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

import kaggle_digits as kd
from kaggle_digits.caret_text import caret_text
from kaggle_digits.errors import KdigitsError


def test_import_is_light_and_the_api_names_are_functions():
    """The API loads on first use; ``submit``, ``ensemble`` and ``report`` stay modules."""
    probe = """
import json, sys
import kaggle_digits as kd
heavy = lambda: sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras",
                                                                "pandas", "sklearn"})
before = heavy()
names = [kd.load_train, kd.cross_validate, kd.make_submission, kd.make_ensemble,
         kd.write_report, kd.score, kd.validate, kd.compare, kd.open_run, kd.resume]
after_names = heavy()
import kaggle_digits.ensemble, kaggle_digits.report, kaggle_digits.submit
print(json.dumps({"before": before, "after_names": after_names,
                  "callable": all(callable(f) for f in names) and callable(kd.make_submission),
                  "modules": [type(m).__name__ for m in (kd.submit, kd.ensemble, kd.report)],
                  "in_dir": "cross_validate" in dir(kd)}))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert found == {"before": [], "after_names": [], "callable": True,
                     "modules": ["module"] * 3, "in_dir": True}
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        kd.nonsense  # noqa: B018


@pytest.fixture(scope="module")
def cv(sample_files: dict, tmp_path_factory: pytest.TempPathFactory) -> kd.CrossValidation:
    return kd.cross_validate("knn", train=sample_files["train"], folds=2, percent=40,
                             runs_dir=tmp_path_factory.mktemp("runs"), progress=False)


def test_cross_validate_returns_the_run_and_its_caret_statistics(cv):
    metrics = json.loads((cv.run_dir / "metrics.json").read_text())
    assert cv.oof.to_json() == metrics["oof"]
    assert cv.holdout is not None and cv.holdout.to_json() == metrics["holdout"]
    assert (cv.oof.n, cv.holdout.n) == (1080, 120)  # 40% of 3,000 rows, 10% held out
    assert cv.accuracy == metrics["oof"]["overall"]["accuracy"] > 0.85  # kNN, real digits
    assert list(cv.folds.index) == [1, 2]
    assert cv.folds["accuracy"].tolist() == [f["accuracy"] for f in metrics["folds"]]
    assert cv.report == cv.run_dir / "report.html" and cv.report.is_file()
    config = json.loads((cv.run_dir / "config.json").read_text())
    assert config["command"].startswith("kaggle_digits.cross_validate(model='knn', train=")
    assert config["split"] == {"folds": 2, "holdout": 0.1, "percent": 40, "test_size": 0.2,
                               "seed": 42}
    assert repr(cv.oof) == caret_text(cv.oof)
    assert cv._repr_html_().count('class="kdigits-by-class"') == 2  # OOF and holdout
    assert f"in {cv.run_dir}" in repr(cv) and "holdout accuracy" in repr(cv)


def test_open_run_reads_the_same_results_back(cv):
    again = kd.open_run(cv.run_dir, mode="everything")
    assert again.oof.to_json() == cv.oof.to_json() and again.oof.mode == "everything"
    assert again.holdout is not None and again.holdout.to_json() == cv.holdout.to_json()
    pd.testing.assert_frame_equal(again.folds, cv.folds)
    assert again.report == cv.report and again.model == "knn"


def test_submission_from_the_run_is_valid_scored_and_ensembles(cv, sample_files, tmp_path):
    data = {"train": sample_files["train"], "test": sample_files["test"]}
    made = kd.make_submission(run=cv, out=tmp_path / "folds.csv", progress=False, **data)
    assert isinstance(made.score, kd.CaretStats) and made.solution == sample_files["solution"]
    checked = kd.validate(made.path, sample_files["test"])
    assert checked and str(checked).startswith(f"OK: {made.path} has 1,000 rows")
    scored = kd.score(made.path, sample_files["solution"], "0-9")
    assert scored.table.tolist() == made.score.table.tolist()
    record = json.loads(made.path.with_suffix(".json").read_text())
    assert record["command"] == f"kaggle_digits.make_submission(run={str(cv.run_dir)!r}, " \
        f"train={str(data['train'])!r}, test={str(data['test'])!r}, " \
        f"out={str(made.path)!r})"

    shifted = kd.make_submission(run=cv, out=tmp_path / "tta.csv", tta=True, progress=False,
                                 **data)
    both = kd.make_ensemble([made.path, shifted.path], out=tmp_path / "both.csv")
    assert both.ensemble.method == "mean-probabilities"
    assert np.allclose(both.ensemble.probabilities,
                       (made.probabilities + shifted.probabilities) / 2, atol=1e-6)
    assert isinstance(both.score, kd.CaretStats) and both.solution == sample_files["solution"]
    folds = len(record["fold_models"])  # each fold model counts, when weighed by members
    mix = kd.make_ensemble([made.path, both.path], out=tmp_path / "mix.csv", weights="members")
    assert [item["weight"] for item in mix.ensemble.inputs] == [pytest.approx(1 / 3),
                                                                pytest.approx(2 / 3)]
    assert json.loads((tmp_path / "mix.json").read_text())["members"] == 3 * folds

    with pytest.raises(KdigitsError, match=r"^no Kaggle credentials"):  # checked, then refused
        kd.upload(made.path, "knn folds", test=sample_files["test"])

    lines = made.path.read_text().splitlines()
    (tmp_path / "short.csv").write_text("\n".join(lines[:-1]) + "\n")
    short = kd.validate(tmp_path / "short.csv", sample_files["test"])
    assert not short and any("expected 1000" in p for p in short.problems)


def test_compare_and_write_report(cv):
    compared = kd.compare([cv])
    assert list(compared.frame.index) == [cv.run_dir.name]
    assert compared.frame.loc[cv.run_dir.name, "oof_accuracy"] == cv.accuracy
    assert "Need two runs" in compared.tradeoff and compared.tradeoff in repr(compared)
    assert compared.paired == [] and "Paired" not in repr(compared)  # one run: no pair
    assert kd.write_report(cv) == cv.report


def test_progress_is_plain_lines_outside_a_terminal_and_silent_on_request(
        sample_files, tmp_path, capsys):
    options = {"train": sample_files["train"], "folds": 2, "percent": 20, "holdout": 0,
               "report": False}
    kd.cross_validate("knn", runs_dir=tmp_path / "quiet", progress=False, **options)
    assert capsys.readouterr().out == ""
    kd.cross_validate("knn", runs_dir=tmp_path / "told", **options)
    out = capsys.readouterr().out
    assert "knn: 2-fold CV on 600 rows, 0 held out; run folder" in out
    assert "fold 1/2: training on 300 rows" in out and "fold 2/2  accuracy" in out
    assert "\r" not in out and "\x1b" not in out  # nothing redrawn in a plain file


def test_user_errors_are_kdigits_errors_before_any_work(sample_files, tmp_path: Path, cv):
    with pytest.raises(KdigitsError, match="unknown model 'nope'"):
        kd.cross_validate("nope", train=sample_files["train"], runs_dir=tmp_path)
    with pytest.raises(KdigitsError, match="mode must be one of"):
        kd.cross_validate("knn", train=sample_files["train"], runs_dir=tmp_path, mode="x")
    with pytest.raises(KdigitsError, match="--epochs apply to Keras models only, not knn"):
        kd.cross_validate("knn", train=sample_files["train"], runs_dir=tmp_path, epochs=1)
    assert not any(tmp_path.iterdir())  # no run folder was started
    with pytest.raises(KdigitsError, match="give either --model or --run"):
        kd.make_submission("knn", run=cv, progress=False)
    with pytest.raises(KdigitsError, match="not a kdigits run folder"):
        kd.open_run(tmp_path)


def test_a_params_file_supplies_the_model_and_split_left_unset(tmp_path, sample_files):
    """As `kdigits cv --params`: arguments left out come from the file, not the defaults."""
    params = tmp_path / "best.json"
    params.write_text(json.dumps({
        "format": "kdigits-params/1", "model": "mlp", "recipe": {"epochs": 1},
        "split": {"folds": 2, "holdout": 0.1, "percent": 50.0, "test_size": 0.2, "seed": 7}}))
    cv = kd.cross_validate(params=params, train=sample_files["train"], runs_dir=tmp_path,
                           report=False, progress=False)
    config = json.loads((cv.run_dir / "config.json").read_text())
    assert config["model"] == "mlp" and config["training"]["epochs"] == 1
    assert config["split"]["folds"] == 2 and config["split"]["seed"] == 7
    assert kd.cross_validate(params=params, train=sample_files["train"], runs_dir=tmp_path,
                             folds=3, report=False, progress=False).folds.shape[0] == 3
