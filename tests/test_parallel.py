"""`kdigits cv --jobs`: folds in worker processes give the sequential run's numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def only_run(root: Path) -> Path:
    (run,) = root.iterdir()
    return run


@pytest.mark.slow  # two small real cv runs
def test_two_workers_equal_the_sequential_run_with_the_same_threads(kdigits, tmp_path,
                                                                   sample_files):
    common = ["cv", "--model", "mlp", "--train", str(sample_files["train"]), "--folds", "3",
              "--epochs", "1", "--threads", "1"]
    runs = {}
    for jobs in ("1", "2"):
        root = tmp_path / f"jobs{jobs}"
        done = kdigits(*common, "--jobs", jobs, "--runs-dir", str(root))
        assert done.returncode == 0, done.stdout + done.stderr
        runs[jobs] = only_run(root)
    assert "2 folds at a time, 1 CPU thread each" in done.stdout
    for name in ("oof.csv", "holdout.csv"):
        assert (runs["1"] / name).read_bytes() == (runs["2"] / name).read_bytes(), name
    configs = [json.loads((run / "config.json").read_text()) for run in runs.values()]
    assert [c["threads_per_fold"] for c in configs] == [1, 1]
    folds = [json.loads((runs["2"] / "folds" / f"fold-{k}.json").read_text())["seed"]
             for k in (1, 2, 3)]
    assert folds == [43, 44, 45]  # seed + fold, as in the main process


def test_jobs_with_nothing_to_share_is_refused(kdigits, tmp_path, sample_files):
    done = kdigits("cv", "--model", "knn", "--train", str(sample_files["train"]), "--folds",
                   "1", "--jobs", "2", "--runs-dir", str(tmp_path / "runs"))
    assert (done.returncode, done.stderr.strip()) == (
        2, "error: --jobs 2 has nothing to share out: one fold of one model; drop --jobs "
           "(or ask for --folds or --members)")
    done = kdigits("submit", "--model", "mlp", "--jobs", "2", "--out", str(tmp_path / "s.csv"))
    assert (done.returncode, done.stderr.strip()) == (
        2, "error: --jobs trains seeded members at once, and mlp trains one; drop --jobs or "
           "add --members N")


def test_bad_jobs_and_threads_are_one_line(kdigits, tmp_path, sample_files):
    for option, value in (("--jobs", "0"), ("--threads", "0")):
        done = kdigits("cv", "--model", "logreg", "--train", str(sample_files["train"]),
                       option, value, "--runs-dir", str(tmp_path / "runs"))
        assert done.returncode == 2
        assert done.stderr.strip() == f"error: {option} must be 1 or more, not 0"
        assert not (tmp_path / "runs").exists()


@pytest.mark.slow  # two small real cv runs with 2 members per fold
def test_members_in_workers_equal_members_trained_together(kdigits, tmp_path, sample_files):
    """`best`'s way: each fold's seeded members train in separate workers and are averaged
    by the main process into the numbers of one process training them in turn."""
    common = ["cv", "--model", "mlp-fast", "--members", "2", "--train",
              str(sample_files["train"]), "--folds", "2", "--epochs", "1", "--threads", "1"]
    runs = {}
    for jobs in ("1", "2"):
        root = tmp_path / f"jobs{jobs}"
        done = kdigits(*common, "--jobs", jobs, "--runs-dir", str(root))
        assert done.returncode == 0, done.stdout + done.stderr
        runs[jobs] = only_run(root)
    assert "2 fold members (of 2 per fold) at a time, 1 CPU thread each" in done.stdout
    for name in ("oof.csv", "holdout.csv"):
        assert (runs["1"] / name).read_bytes() == (runs["2"] / name).read_bytes(), name
    assert not (runs["2"] / "members").exists()  # averaged into the fold files, then gone
    for k in (1, 2):
        records = [json.loads((run / "folds" / f"fold-{k}.json").read_text())
                   for run in runs.values()]
        assert [[i["member"] for i in r["fit_info"]] for r in records] == [[1, 2], [1, 2]]
        assert ([(h["member"], h["epoch"], h["loss"]) for h in records[0]["history"]]
                == [(h["member"], h["epoch"], h["loss"]) for h in records[1]["history"]])


@pytest.mark.parametrize("jobs", [1, 2])
def test_members_finished_in_an_earlier_session_are_reused(tmp_path, sample_files, jobs):
    """A member saved before Ctrl-C is averaged in, not trained again, whether the run is
    resumed with workers or without (`kdigits cv --resume RUN`, as the message says)."""
    import queue

    from kaggle_digits import runs

    options = runs.CVOptions(model="mlp-fast", members=2, train=sample_files["train"],
                             folds=2, holdout=0.0, epochs=1, runs_dir=tmp_path, jobs=2)
    plan, _ = runs.plan_from_options(options)
    runs._member_in_worker(str(plan.run_dir), None, 1, 2, queue.Queue())
    marker = plan.run_dir / "members" / "fold-1-member-2.json"
    record = json.loads(marker.read_text())
    record["fit_info"][0]["from_earlier_session"] = True
    marker.write_text(json.dumps(record))
    result = runs.run_cv(runs.resume_cv(plan.run_dir), jobs=jobs)
    fold = json.loads((plan.run_dir / "folds" / "fold-1.json").read_text())
    assert [i.get("from_earlier_session", False) for i in fold["fit_info"]] == [False, True]
    assert len(result.folds) == 2 and not (plan.run_dir / "members").exists()


@pytest.mark.slow  # two small real cv runs, one with 3 workers
def test_mixed_in_members_in_workers_equal_the_run_trained_in_turn(tmp_path, sample_files):
    """`best`'s recipe in workers: the mixed-in nets, two groups of them as `best` has, are
    fold members like the others, and the main process averages them (each group's mean
    as one member) as one process does. The groups come from a params file, as a tuned
    recipe's would."""
    from kaggle_digits import runs

    recipe = {"mix_with": "mlp", "mix_members": 2, "mix_variants": [{}, {"width": 32}]}
    params = tmp_path / "groups.json"
    params.write_text(json.dumps({"format": "kdigits-params/1", "model": "mlp-fast",
                                  "recipe": recipe}))
    made = {}
    for jobs in (1, 3):
        options = runs.CVOptions(params=params, train=sample_files["train"],
                                 folds=1, epochs=1, threads=1, jobs=jobs,
                                 runs_dir=tmp_path / f"jobs{jobs}")
        plan, _ = runs.plan_from_options(options)
        assert runs.shared_members(plan) == 5
        runs.run_cv(plan, jobs=jobs)
        made[jobs] = plan.run_dir
    for name in ("oof.csv", "holdout.csv"):
        assert (made[1] / name).read_bytes() == (made[3] / name).read_bytes(), name
    fold = json.loads((made[3] / "folds" / "fold-1.json").read_text())
    assert [i["member"] for i in fold["fit_info"]] == [1, 2, 3, 4, 5]
    training = json.loads((made[3] / "config.json").read_text())["training"]
    assert {key: training[key] for key in recipe} == recipe


@pytest.mark.slow  # two small real submissions with 2 members
def test_submit_members_in_workers_equal_members_trained_in_turn(kdigits, tmp_path,
                                                                 sample_files):
    one_thread = {variable: "1" for variable in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS",
                                                 "MKL_NUM_THREADS", "TF_NUM_INTEROP_THREADS")}
    made = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}.csv"
        done = kdigits("submit", "--model", "mlp-fast", "--members", "2", "--epochs", "1",
                       "--train", str(sample_files["train"]), "--test",
                       str(sample_files["test"]), "--out", str(out), "--jobs", jobs,
                       env=one_thread if jobs == "1" else None)
        assert done.returncode == 0, done.stdout + done.stderr
        made[jobs] = out
    assert (made["1"].with_suffix(".probs.npy").read_bytes()
            == made["2"].with_suffix(".probs.npy").read_bytes())
    records = [json.loads(path.with_suffix(".json").read_text()) for path in made.values()]
    assert [r["jobs"] for r in records] == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(  # kept nets cleared away
        f"jobs{j}{suffix}" for j in (1, 2) for suffix in (".csv", ".json", ".probs.npy"))


def test_submit_jobs_without_training_is_refused(kdigits, tmp_path):
    done = kdigits("submit", "--run", str(tmp_path), "--jobs", "2")
    assert done.returncode == 2
    assert done.stderr.startswith("error: --jobs trains members at once; with --run")
