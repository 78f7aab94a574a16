"""The speed bench must keep running: a smoke run on a few real rows, checking the JSON it
writes, not any timing (speed is measured by `make bench`, never asserted in tests)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO


def test_train_speed_runs_each_backend_and_compares_it_with_tensorflow(tmp_path) -> None:
    """A quick run writes its report; with `--backends` each model trains once per backend
    (here TensorFlow and JAX, which `make test` installs), records where it ran, and gets
    its speed as a ratio of TF's."""
    out = tmp_path / "train_speed.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "train_speed.py"), "--quick",
                           "--models", "mlp", "--backends", "tensorflow,jax", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["baseline"] == "cnn"
    assert {"cpu", "cores", "tensorflow", "date"} <= set(report["machine"])
    results = report["results"]
    assert [(r["model"], r["backend"]) for r in results] == [
        ("cnn", "tensorflow"), ("mlp", "tensorflow"), ("cnn", "jax"), ("mlp", "jax")]
    for result in results:
        assert result["device"] and 0.0 < result["accuracy"] <= 1.0
        assert result["predict_images_per_s"] > 0 and result["peak_rss_mib"] > 0
        assert len(result["epochs"]) == 1
        assert ("vs_tensorflow" in result) == (result["backend"] == "jax")
        assert result["ratios"]["train_s_vs_cnn_total"] > 0  # against cnn on its own backend
    assert results[2]["backend_versions"]["jax"]
    assert results[2]["vs_tensorflow"]["train_s"] > 0


def test_train_speed_compares_bfloat16_with_float32(tmp_path) -> None:
    """`--precisions` trains each model in each arithmetic, back to back, records which,
    and gives bfloat16 its ratios against float32 (and against cnn in bfloat16)."""
    out = tmp_path / "precision.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "train_speed.py"), "--quick",
                           "--models", "mlp", "--precisions", "float32,bfloat16",
                           "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    assert [(r["model"], r["precision"]) for r in results] == [
        ("cnn", "float32"), ("cnn", "bfloat16"), ("mlp", "float32"), ("mlp", "bfloat16")]
    for result in results:
        assert result["config"]["precision"] == result["precision"]
        assert ("vs_float32" in result) == (result["precision"] == "bfloat16")
        assert result["ratios"]["train_s_vs_cnn_total"] > 0
    assert results[3]["vs_float32"]["train_s"] > 0
    assert results[3]["vs_float32"]["accuracy_points"] == pytest.approx(
        100 * (results[3]["accuracy"] - results[2]["accuracy"]))
    bad = subprocess.run([sys.executable, str(REPO / "bench" / "train_speed.py"),
                          "--precisions", "float16"], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "unknown precision float16" in bad.stderr


def test_peak_records_a_commands_exit_status_and_peak_memory(tmp_path) -> None:
    """bench/peak.py passes the command's exit status through and records the peak memory
    of the child: one that holds 200 MiB must be reported at 200 MiB or more."""
    out = tmp_path / "peak.json"
    hold = "import sys; block = b'x' * (200 * 2**20); sys.exit(3)"  # every page written
    done = subprocess.run([sys.executable, str(REPO / "bench" / "peak.py"), str(out), "--",
                           sys.executable, "-c", hold], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 3, done.stderr
    record = json.loads(out.read_text())
    assert record["returncode"] == 3 and record["command"][-2:] == ["-c", hold]
    assert record["peak_rss_mib"] >= 200 and record["wall_s"] >= 0
    assert "peak RSS" in done.stderr


def test_mixed_ensembles_scores_each_mix_by_members_and_by_runs(tmp_path) -> None:
    """Members whose mistakes are known, on the built-in test's own labels: run a (one
    member, 3 min) is wrong on the first 100 digits, run b (two identical 1-min members)
    confidently wrong on the next 300. Averaged per member, b's two votes outweigh a's one
    on those 300; averaged per run, as `kdigits ensemble` does, they do not."""
    from kaggle_digits import submission_file

    labels = submission_file.read_label_file(REPO / "data" / "solution.csv").labels
    rows, wrong = np.arange(len(labels)), (labels + 1) % 10

    def member(folder: str, number: int, minutes: float, bad: slice, right: float) -> None:
        probabilities = np.zeros((len(labels), 10))
        probabilities[rows, labels] = 1.0
        probabilities[rows[bad], labels[bad]] = right
        probabilities[rows[bad], wrong[bad]] = 1.0 - right
        (tmp_path / folder).mkdir(exist_ok=True)
        np.savez(tmp_path / folder / f"member-{number}.npz", plain=probabilities,
                 tta=probabilities, record=json.dumps({"train_minutes": minutes,
                                                       "threads": 2}))

    member("best_members-a", 1, 3.0, slice(0, 100), right=0.2)
    for number in (1, 2):
        member("best_members-b", number, 1.0, slice(100, 400), right=0.1)
    done = subprocess.run([sys.executable, str(REPO / "bench" / "mixed_ensembles.py"), "a",
                           "b", "--results", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    mixes = json.loads((tmp_path / "mixed_ensembles.json").read_text())["mixes"]
    got = {(m["members"]["a"], m["members"]["b"]): (m["train_minutes"], m["accuracy"],
                                                    m["accuracy_tta_runs_weighed_equally"],
                                                    m["frontier"]) for m in mixes}
    n = len(labels)
    assert got == {(0, 1): (1.0, 1 - 300 / n, 1 - 300 / n, True),
                   (0, 2): (2.0, 1 - 300 / n, 1 - 300 / n, False),
                   (1, 0): (3.0, 1 - 100 / n, 1 - 100 / n, True),
                   (1, 1): (4.0, 1.0, 1.0, True),
                   (1, 2): (5.0, 1 - 300 / n, 1.0, False)}
    again = subprocess.run([sys.executable, str(REPO / "bench" / "mixed_ensembles.py"), "a",
                            "a", "--results", str(tmp_path)], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode != 0 and "named twice" in again.stderr


def test_mixed_cv_mixes_finished_runs_of_one_split_only(kd, sample_files, tmp_path) -> None:
    """Each run's own accuracy comes back as its metrics.json has it, the mix is scored
    with caret's interval, and runs on another split are refused, not mixed."""
    runs = tmp_path / "runs"
    runs.mkdir()
    for model, seed, name in (("mlp", "7", "mlp-7"), ("logreg", "7", "logreg-7"),
                              ("logreg", "8", "logreg-8"), ("mlp", "7", "mlp-7b")):
        epochs = ("--epochs", "2" if name == "mlp-7b" else "1") if model == "mlp" else ()
        code, _, err = kd("cv", "--model", model, "--train", str(sample_files["train"]),
                          "--folds", "1", "--seed", seed, *epochs,
                          "--runs-dir", str(runs), "--name", name)
        assert code == 0, err
    folders = {json.loads((p / "config.json").read_text())["name"]: p for p in runs.iterdir()}
    out = tmp_path / "mixed.json"
    script = str(REPO / "bench" / "mixed_cv.py")
    done = subprocess.run([sys.executable, script, str(folders["mlp-7"]),
                           str(folders["logreg-7"]), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    mixed = json.loads(out.read_text())
    for name in ("mlp-7", "logreg-7"):
        metrics = json.loads((folders[name] / "metrics.json").read_text())
        model = name.split("-")[0]
        assert mixed["oof"][f"{model} ×1"]["accuracy"] == metrics["oof"]["overall"]["accuracy"]
    mix = mixed["holdout"]["mix, members weighed equally"]
    assert mix["lower"] < mix["accuracy"] < mix["upper"]
    assert mixed["holdout"]["rows"] * (1 - mix["accuracy"]) == pytest.approx(mix["errors"])
    weighed = subprocess.run([sys.executable, script, str(folders["mlp-7"]),
                              str(folders["logreg-7"]), "--weights", "1,3", "--out", str(out)],
                             capture_output=True, text=True, timeout=120)
    assert weighed.returncode == 0, weighed.stderr[-2000:]
    columns = [f"prob_{k}" for k in range(10)]
    frames = [pd.read_csv(folders[name] / "holdout.csv") for name in ("mlp-7", "logreg-7")]
    by_hand = (frames[0][columns].to_numpy() + 3 * frames[1][columns].to_numpy()) / 4
    errors = int((by_hand.argmax(axis=1) != frames[0]["label"].to_numpy()).sum())
    assert json.loads(out.read_text())["holdout"]["mix, weighed 1,3"]["errors"] == errors
    # two runs of one preset keep a row each, told apart by name (the same run twice: by place)
    twice = subprocess.run([sys.executable, script, str(folders["mlp-7"]), str(folders["mlp-7b"]),
                            str(folders["mlp-7"]), "--out", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert twice.returncode == 0, twice.stderr[-2000:]
    written = json.loads(out.read_text())
    labelled = [("mlp ×1 mlp-7 #1", "mlp-7"), ("mlp ×1 mlp-7b", "mlp-7b"),
                ("mlp ×1 mlp-7 #3", "mlp-7")]
    assert [r["label"] for r in written["runs"]] == [label for label, _ in labelled]
    for label, name in labelled:  # mlp-7b trained 2 epochs: a row of its own errors
        oof = pd.read_csv(folders[name] / "oof.csv")
        errors = int((oof[columns].to_numpy().argmax(axis=1) != oof["label"]).sum())
        assert written["oof"][label]["errors"] == errors
    assert written["oof"]["mlp ×1 mlp-7b"] != written["oof"]["mlp ×1 mlp-7 #1"]
    refused = subprocess.run([sys.executable, script, str(folders["mlp-7"]),
                              str(folders["logreg-8"]), "--out", str(out)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "different data or splits" in refused.stderr


def test_hard_digits_counts_what_every_kept_net_misses(sample_files, tmp_path) -> None:
    """Three kept nets that read the 1,000 sample digits right except: digit 1 wrong in all
    three (one answer), digit 2 wrong in all three (different answers), digit 3 in one."""
    import pandas as pd

    labels = pd.read_csv(sample_files["solution"])["Label"].to_numpy()
    for net, (second, third) in enumerate(((1, 1), (2, 3), (3, 4))):
        answers = labels.copy()
        answers[0] = (labels[0] + 1) % 10
        answers[1] = (labels[1] + second) % 10
        if net == 0:
            answers[2] = (labels[2] + third) % 10
        probs = np.eye(10, dtype=np.float32)[answers]
        folder = tmp_path / "results" / f"best_members-n{net}"
        folder.mkdir(parents=True)
        np.savez(folder / "member-1.npz", plain=probs, tta=probs, record=np.array("{}"))
    done = subprocess.run([sys.executable, str(REPO / "bench" / "hard_digits.py"),
                           "--results", str(tmp_path / "results"),
                           "--data", str(sample_files["solution"].parent)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "results" / "hard_digits.json").read_text())
    assert (report["missed_by_every_net"], report["of_which_same_wrong_answer"]) == (2, 1)
    assert report["nets"] == {"best_members-n0/member-1": 3, "best_members-n1/member-1": 2,
                              "best_members-n2/member-1": 2}
    assert report["missed_by_at_least"] == {"1": 3, "2": 2, "3": 2}
    assert [d["image_id"] for d in report["digits_missed_by_every_net"]] == [1, 2]
    assert (tmp_path / "results" / "hard_digits.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tta_views_ranks_view_sets_on_the_runs_unseen_rows(kd, sample_files, tmp_path) -> None:
    """Two runs of one split (an MLP and logistic regression, the mix of a group) scored
    on their 600 unseen rows per view set, and on the test file beside them; a view set's
    unseen errors add up over the groups."""
    import pandas as pd

    runs = tmp_path / "runs"
    for model in ("mlp", "logreg"):
        epochs = ("--epochs", "1") if model == "mlp" else ()
        code, _, err = kd("cv", "--model", model, "--train", str(sample_files["train"]),
                          "--folds", "1", "--seed", "7", *epochs, "--runs-dir", str(runs),
                          "--name", model)
        assert code == 0, err
    mlp, logreg = sorted(runs.iterdir())  # folder names: <time>-<model>-<name>
    out = tmp_path / "views.json"
    group = ["--runs", str(logreg), str(mlp)]
    done = subprocess.run([sys.executable, str(REPO / "bench" / "tta_views.py"), *group,
                           *group, "--data", str(sample_files["solution"].parent),
                           "--sets", "none", "shipped (4 shifts)",
                           "--cache", str(tmp_path / "cache"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    sets = json.loads(out.read_text())["sets"]
    columns = [f"prob_{k}" for k in range(10)]
    parts = [pd.concat([pd.read_csv(run / part) for part in ("oof.csv", "holdout.csv")])
             for run in (mlp, logreg)]
    mix = parts[0][columns].to_numpy() + parts[1][columns].to_numpy()
    errors = int((mix.argmax(axis=1) != parts[0]["label"].to_numpy()).sum())
    assert sets["none"]["unseen_rows"] == 2 * len(mix)
    # the fold models' own predictions, as cv saved them (6 decimals: a near tie may flip)
    assert abs(sets["none"]["unseen_errors"] - 2 * errors) <= 2
    assert len(sets["none"]["test_errors"]) == 2
    assert sets["none"]["test_errors"][0] == sets["none"]["test_errors"][1] < 300
    assert sets["shipped (4 shifts)"]["views"] == ["id", "s-1+0", "s+1+0", "s+0-1", "s+0+1"]
    assert set(sets) == {"none", "shipped (4 shifts)"}


def test_pseudo_labels_trains_teacher_student_and_control_and_keeps_each_fit(tmp_path) -> None:
    """A quick run on the built-in split: the student learns the teacher's sure answers,
    the counts add up, a rerun reuses the kept fits, and a kept fit made with other
    settings is refused rather than mixed in."""
    out = tmp_path / "pseudo.json"
    command = [sys.executable, str(REPO / "bench" / "pseudo_labels.py"), "--quick", "--model",
               "mlp", "--splits", "builtin", "--seeds", "1", "--control", "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    [fit] = report["fits"]
    test_rows = report["totals"]["digits"]
    assert test_rows == fit["digits"]
    assert 0 < fit["pseudo_rows"] <= test_rows and 0 <= fit["pseudo_wrong"] <= fit["pseudo_rows"]
    # each kept fit's probabilities, read against the built-in test's own labels
    labels = pd.read_csv(REPO / "data" / "solution.csv")["Label"].to_numpy()[:test_rows]
    right = {}
    for kind in ("teacher", "student", "control"):
        with np.load(tmp_path / "pseudo" / f"builtin-seed1-{kind}.npz") as kept:
            right[kind] = kept["probabilities"].argmax(axis=1) == labels
        assert fit[f"{kind}_errors"] == int((~right[kind]).sum())
        assert 0 < fit[f"{kind}_errors"] < test_rows  # a 1-epoch MLP errs, but reads most
    for first, second in (("student", "teacher"), ("student", "control"),
                          ("control", "teacher")):
        versus = fit[f"{first}_vs_{second}"]
        assert versus["right_only_first"] == int((right[first] & ~right[second]).sum())
        assert versus["right_only_second"] == int((right[second] & ~right[first]).sum())
        assert report["totals"][f"{first}_vs_{second}"][f"right_only_{first}"] == (
            versus["right_only_first"])
    kept = sorted(path.name for path in (tmp_path / "pseudo").iterdir())
    assert kept == [f"builtin-seed1-{kind}.npz" for kind in ("control", "student", "teacher")]

    stamps = {path: path.stat().st_mtime_ns for path in (tmp_path / "pseudo").iterdir()}
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(out.read_text())["fits"] == report["fits"]
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps

    other = subprocess.run([*command, "--confidence", "0.5"], cwd=REPO, capture_output=True,
                           text=True, timeout=600)
    assert other.returncode != 0 and "trained with other settings" in other.stderr

    # a teacher file holds the built-in test's 28,000 rows: not for the quick cut
    teacher = subprocess.run([*command, "--teacher", str(tmp_path / "best.probs.npy")],
                             cwd=REPO, capture_output=True, text=True, timeout=600)
    assert teacher.returncode != 0 and "without --quick" in teacher.stderr
