"""`kdigits tune` on real digits: search spaces, a real study, pruning, Ctrl-C, bad input,
and two processes sharing one study on a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from conftest import REPO, TRAIN_CSV
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from kaggle_digits import tune
from kaggle_digits.errors import KdigitsError
from kaggle_digits.models import PRESETS
from kaggle_digits.splits import SplitConfig

TINY = ["--model", "mlp", "--percent", "3", "--folds", "2", "--epochs", "1",
        "--train", str(TRAIN_CSV)]
KERAS = [name for name, preset in PRESETS.items() if preset.is_keras]


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {"TF_CPP_MIN_LOG_LEVEL": "3",  # what kdigits sets for its users
            "KDIGITS_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "cache")}


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def trials_of(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=tune._with_driver(url)).get_trials()


# --------------------------------------------------------------------------- search spaces


def test_show_space_lists_the_knobs_without_importing_tensorflow(env: dict) -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "kaggle_digits", "tune",
                           "--model", "cnn-fast", "--show-space"], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:")}
    assert "kaggle_digits.tune" in modules  # the profile really was taken
    assert not {m for m in modules if m.split(".")[0] in ("tensorflow", "keras")}
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in done.stdout.splitlines() if line.startswith("│")}
    assert rows["learning_rate"][:3] == ["recipe", "0.0003 – 0.03, log scale", "0.003"]
    assert rows["shift"][:3] == ["layers", "0 – 0.15", "0.08"]
    assert rows["rotate"][2] == "0.025" and rows["dense"][2] == "128"
    assert set(rows) == {"learning_rate", "optimizer", "schedule", "batch_size", "epochs",
                         "dense", "dropout", "shift", "rotate", "conv1", "conv2", "pool_first"}


def test_a_preset_without_layer_options_says_so(kdigits, env) -> None:
    done = kdigits("tune", "--model", "mlp-deep", "--epochs", "2", "--show-space",
                   env={**env, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "mlp-deep: recipe knobs only (its layer list takes no options)" in done.stdout
    assert "epochs fixed at 2 (--epochs)" in done.stdout
    assert "│ epochs" not in done.stdout


@pytest.mark.parametrize("name", KERAS)
def test_every_keras_preset_has_a_space_around_its_own_values(name: str) -> None:
    tunable = tune.resolve_model(name)
    assert {"learning_rate", "batch_size", "schedule", "epochs"} <= set(tunable.space)
    for knob in tune.describe_space(tunable):
        d = tunable.space[knob.name]
        if isinstance(d, CategoricalDistribution):
            assert knob.preset_value in d.choices, knob
        else:
            assert d.low <= knob.preset_value <= d.high, knob
    layer_knobs = {k.name for k in tune.describe_space(tunable) if k.part == "layers"}
    left_out = set(tune.NOT_SEARCHED.get(name, {}))  # each with its reason
    assert layer_knobs == set(tunable.preset.options()) - left_out  # the rest, no other


def test_model_files_bring_their_own_space_and_scikit_learn_is_refused(tmp_path) -> None:
    from optuna.distributions import FloatDistribution

    with pytest.raises(KdigitsError, match=r"no such file mine\.py"):
        tune.resolve_model("mine.py:build")
    own = tmp_path / "own.py"
    own.write_text("import keras\nfrom optuna.distributions import FloatDistribution\n"
                   "SPACE = {'dropout': FloatDistribution(0.0, 0.5)}\n"
                   "def build(dropout=0.2):\n"
                   "    return [keras.Input((784,)), keras.layers.Dropout(dropout),\n"
                   "            keras.layers.Dense(10, activation='softmax')]\n")
    declared = tune.resolve_model(f"{own}:build")
    assert declared.space == {"dropout": FloatDistribution(0.0, 0.5)}
    plain = tmp_path / "plain.py"
    plain.write_text("import keras\ndef plain(width=32):\n"
                     "    return [keras.Input((784,)), keras.layers.Dense(width),\n"
                     "            keras.layers.Dense(10, activation='softmax')]\n")
    default = tune.resolve_model(f"{plain}:plain")  # no SPACE: the recipe knobs only
    assert "learning_rate" in default.space and "width" not in default.space
    with pytest.raises(KdigitsError, match="knn is a scikit-learn baseline"):
        tune.resolve_model("knn")


def test_trials_are_shared_between_workers_exactly() -> None:
    assert tune.shares(10, 3) == [4, 3, 3]
    assert tune.shares(2, 4) == [1, 1]  # no idle worker
    assert sum(tune.shares(7, 7)) == 7


# --------------------------------------------------------------------------- a real study


def test_tune_with_two_workers_then_cv_reproduces_the_best_trial_and_a_rerun_continues(
        kdigits, kd, tmp_path: Path, env: dict) -> None:
    runs = tmp_path / "runs"
    command = ["tune", *TINY, "--runs-dir", str(runs)]
    first = kdigits(*command, "--trials", "3", "--jobs", "2", "--no-prune", env=env)
    assert first.returncode == 0, first.stderr
    assert "3 trials in 2 worker processes (2, 1)" in first.stdout
    assert "this run: 3 trials (3 complete, 0 pruned)" in first.stdout
    (folder,) = runs.iterdir()
    assert folder.name.startswith("tune-mlp-")
    best_json = folder / "best.json"
    assert first.stdout.strip().splitlines()[-1] == str(best_json)
    for name in ("study.db", "trials.csv", "history.png", "importance.png"):
        assert (folder / name).stat().st_size > 0, name
    assert len(list((folder / "logs").glob("*-worker-*.log"))) == 2
    best = json.loads(best_json.read_text())
    url = best["study"]["storage"]
    trials = trials_of(url, best["study"]["name"])
    assert len({t.user_attrs["host"] for t in trials}) == 2  # two worker processes
    assert best["objective"]["value"] == max(t.value for t in trials)
    assert best["model"] == "mlp" and best["recipe"]["epochs"] == 1
    assert set(best["model_options"]) == {"width"}
    assert best["split"]["percent"] == 3 and best["split"]["folds"] == 2
    assert "Holdout (126 rows never used to select" in first.stdout

    # cv and the rerun in this process (a worker's thread count: the same fits)
    code, out, err = kd("cv", "--params", str(best_json), "--runs-dir", str(tmp_path / "cv"))
    assert code == 0, err
    run_dir = Path(out.strip().splitlines()[-1])
    config = json.loads((run_dir / "config.json").read_text())
    training = config["training"]
    assert {k: training[k] for k in best["recipe"]} == best["recipe"]
    assert training["model_options"] == best["model_options"]
    assert config["split"] == best["split"] and config["options"]["params"] == str(best_json)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # same split, seeds and fit: the cv run is the best trial again, fold for fold
    assert [f["accuracy"] for f in metrics["folds"]] == best["objective"]["folds"]
    assert metrics["holdout"]["overall"]["accuracy"] == best["holdout"]["accuracy"]

    code, again, err = kd(*command, "--trials", "1", env={"COLUMNS": "120"})
    assert code == 0, err
    assert "continuing after 3 trials" in again
    assert "the study has 4" in again
    assert len(trials_of(url, best["study"]["name"])) == 4
    assert len((folder / "trials.csv").read_text().splitlines()) == 1 + 4


def test_pruning_stops_a_poor_trial_after_its_first_fold(tmp_path: Path, env: dict,
                                                         monkeypatch) -> None:
    monkeypatch.setenv("KDIGITS_CACHE_DIR", env["KDIGITS_CACHE_DIR"])
    settings = tune.TuneSettings(model="mlp", train=TRAIN_CSV, epochs=1, trials=2,
                                 split=SplitConfig(folds=3, percent=3), startup_trials=1,
                                 runs_dir=tmp_path)
    tuning = tune.prepare(settings)
    study = tune.open_study(tuning)
    good = {"learning_rate": 0.005, "optimizer": "adam", "schedule": "constant",
            "batch_size": 64, "width": 512}
    study.enqueue_trial(good)  # Optuna's own way to try given settings first
    study.enqueue_trial({**good, "learning_rate": 0.0001, "optimizer": "rmsprop",
                         "batch_size": 512, "width": 128})  # barely learns in one epoch
    session = tune.new_session()
    tune.optimize(tuning, study, tune.TuneProgress(), session)
    first, second = study.get_trials()
    assert first.state == TrialState.COMPLETE and len(first.user_attrs["fold_accuracy"]) == 3
    assert second.state == TrialState.PRUNED
    assert len(second.user_attrs["fold_accuracy"]) == 1  # folds 2 and 3 never trained
    assert second.intermediate_values[1] < first.intermediate_values[1]
    summary = tune.summarize(tuning, study, session)
    assert summary.count(TrialState.PRUNED, summary.this_run) == 1
    assert summary.saved_s() == pytest.approx(2 * second.user_attrs["fold_seconds"][0])
    assert summary.best.number == 0


def test_ctrl_c_keeps_finished_trials(tmp_path: Path, env: dict) -> None:
    runs = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "kaggle_digits", "tune", *TINY, "--trials", "50",
         "--runs-dir", str(runs)], cwd=REPO, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **env})
    assert process.stdout is not None
    for line in process.stdout:  # plain lines: one per finished trial
        if line.startswith("trial 0 "):
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    message = one_error_line(err)
    assert "interrupted;" in message and "run the same command again to continue" in message
    (folder,) = runs.iterdir()
    url = f"sqlite:///{folder / 'study.db'}"
    trials = trials_of(url, folder.name.removeprefix("tune-"))
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert finished and trials[0].state == TrialState.COMPLETE
    assert [t.state for t in trials[len(finished):]] in ([], [TrialState.FAIL])
    assert (folder / "best.json").is_file()  # what finished is summarised all the same


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("args", "message"), [
    (["--storage", "mysql://db/x"], "error: unknown storage URL scheme 'mysql'"),
    (["--storage", "postgresql://127.0.0.1:1/x"],
     "error: cannot open the study database postgresql://127.0.0.1:1/x: connection to "
     "server at \"127.0.0.1\", port 1 failed: Connection refused"),
    (["--jobs", "0"], "error: --jobs must be 1 or more, not 0"),
    (["--trials", "0"], "error: --trials must be 1 or more, not 0"),
    (["--model", "knn"], "error: knn is a scikit-learn baseline"),
])
def test_bad_input_is_one_line_and_creates_nothing(kd, tmp_path: Path, args: list,
                                                   message: str) -> None:
    code, _, err = kd("tune", *TINY, *args, "--runs-dir", str(tmp_path / "runs"))
    assert code == 2
    assert one_error_line(err).startswith(message)
    assert not (tmp_path / "runs").exists()


def test_a_study_of_another_model_is_refused_and_keeps_its_trials(kd, tmp_path: Path,
                                                                    env: dict,
                                                                    monkeypatch) -> None:
    monkeypatch.setenv("KDIGITS_CACHE_DIR", env["KDIGITS_CACHE_DIR"])
    tuning = tune.prepare(tune.TuneSettings(model="mlp", train=TRAIN_CSV, study="shared",
                                            split=SplitConfig(folds=2, percent=3), epochs=1,
                                            runs_dir=tmp_path))
    study = tune.open_study(tuning)
    study.add_trial(optuna.trial.create_trial(
        params={"learning_rate": 0.001}, value=0.9,
        distributions={"learning_rate": tuning.space["learning_rate"]}))
    code, _, err = kd("tune", *TINY[2:], "--model", "mlp-fast", "--study", "shared",
                      "--runs-dir", str(tmp_path))
    assert code == 2
    assert one_error_line(err) == (
        "error: study 'shared' was created for model mlp, not mlp-fast; choose another "
        "--study")
    code, _, err = kd("tune", *TINY, "--folds", "3", "--study", "shared", "--runs-dir",
                      str(tmp_path))
    assert code == 2 and one_error_line(err).startswith(
        "error: study 'shared' was tuned with folds 2 (this command: folds 3)")
    trials = trials_of(tuning.storage_url, "shared")
    assert [(t.number, t.state, t.value) for t in trials] == [(0, TrialState.COMPLETE, 0.9)]


def test_a_bad_params_file_is_one_line(kd, tmp_path: Path) -> None:
    bad = tmp_path / "best.json"
    bad.write_text(json.dumps({"format": "kdigits-params/1", "model": "cnn",
                               "recipe": {"epochs": 1}, "model_options": {"width": 64}}))
    code, _, err = kd("cv", "--params", str(bad), "--runs-dir", str(tmp_path / "runs"))
    assert code == 2
    assert one_error_line(err) == ("error: cnn has no option width; it takes dropout "
                                   "(default 0.5)")
    code, _, err = kd("submit", "--params", str(bad), "--model", "mlp")
    assert code == 2
    assert one_error_line(err) == f"error: {bad} was tuned for cnn, not mlp; drop --model"
    assert not (tmp_path / "runs").exists()


def test_a_params_file_from_before_mixes_trains_no_mix_and_a_new_one_keeps_its_own(
        tmp_path: Path) -> None:
    """`best`'s recipe mixes in two cnn-fast nets since its params files began: a file
    written before (no mix keys) rebuilds the net alone that its trial trained."""
    from kaggle_digits import params, train

    old = tmp_path / "old.json"
    old.write_text(json.dumps({"format": "kdigits-params/1", "model": "best",
                               "recipe": {"epochs": 7, "members": 1}}))
    config = train.config_for("best", **params.load(old).overrides())
    assert (config.epochs, config.mix_with, config.mix_members) == (7, None, 0)
    assert config.label_smoothing == 0  # nor did it smooth labels, whatever a recipe says now
    old.write_text(json.dumps({"format": "kdigits-params/1", "model": "cnn-fast",
                               "recipe": {"epochs": 7}}))
    assert train.config_for("cnn-fast").label_smoothing > 0  # the recipe since 2026-12-07
    assert train.config_for("cnn-fast", **params.load(old).overrides()).label_smoothing == 0
    new = tmp_path / "new.json"
    new.write_text(json.dumps(params.record(train.config_for("best", epochs=7))))
    config = train.config_for("best", **params.load(new).overrides())
    assert (config.epochs, config.mix_with, config.mix_members, config.mix_variants) == (
        7, "cnn-fast", 2, [{}, {"deskew": True}])
    before_groups = tmp_path / "pair.json"  # a mix, written before mixes had groups
    before_groups.write_text(json.dumps({"format": "kdigits-params/1", "model": "best",
                                         "recipe": {"mix_with": "cnn-fast",
                                                    "mix_members": 2}}))
    config = train.config_for("best", **params.load(before_groups).overrides())
    assert (config.mix_members, config.mix_variants, train.member_count(config)) == (
        2, [{}], 3)


# --------------------------------------------------------------------------- PostgreSQL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 (Debian's binaries, `make postgres`).

    initdb refuses to run as root, so as root the server runs as the `postgres` system
    user in a folder of its own under /tmp; it is stopped and deleted afterwards."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL server not installed (/usr/lib/postgresql/*/bin): run "
                    "`make postgres`")
    bindir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="kdigits-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "kdigits",
                        "--auth=trust", "-E", "UTF8", "--locale=C"], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([*pg_ctl, "-l", str(folder / "server.log"), "-w", "-o",
                        f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}", "start"],
                       check=True, capture_output=True, timeout=120)
        yield f"postgresql://kdigits@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True,
                           timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_two_processes_share_one_study_on_postgresql(postgres: str, tmp_path: Path,
                                                    env: dict) -> None:
    command = [sys.executable, "-m", "kaggle_digits", "tune", *TINY, "--trials", "3",
               "--storage", postgres, "--study", "shared", "--startup-trials", "2"]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", **env}
    processes = [subprocess.Popen([*command, "--runs-dir", str(tmp_path / f"machine-{k}")],
                                  cwd=REPO, text=True, env=full_env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for k in (1, 2)]
    results = [p.communicate(timeout=600) for p in processes]
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert "this run: 3 trials" in out
    trials = trials_of(postgres, "shared")
    assert sorted(t.number for t in trials) == list(range(6))  # none lost, none twice
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    sessions = [t.user_attrs["session"] for t in trials]
    assert sorted(sessions.count(s) for s in set(sessions)) == [3, 3]  # 3 per process
    for k in (1, 2):
        best = json.loads((tmp_path / f"machine-{k}" / "tune-shared" / "best.json").read_text())
        assert best["study"]["storage"] == postgres


def test_a_study_of_best_before_its_mix_groups_is_refused_by_name(tmp_path: Path) -> None:
    """A study named with --study keeps its name when `best`'s recipe changes; one created
    before the deskewed pair joined the mix searched another recipe and is not continued."""
    tuning = tune.prepare(tune.TuneSettings(model="best", train=TRAIN_CSV, study="mine",
                                            split=SplitConfig(folds=2, percent=3), epochs=1,
                                            runs_dir=tmp_path))
    study = tune.open_study(tuning)
    earlier = {k: v for k, v in study.user_attrs[tune.ATTR].items() if k != "mix_variants"}
    study.set_user_attr(tune.ATTR, earlier)  # what kdigits recorded before mix groups
    with pytest.raises(KdigitsError) as refused:
        tune.open_study(tuning)
    assert str(refused.value) == (
        "study 'mine' was tuned with mix groups [{}] (this command: mix groups "
        '[{}, {"deskew": true}]); use the same options, or another --study')
    study.set_user_attr(tune.ATTR, {k: v for k, v in earlier.items() if k != "mix"})
    with pytest.raises(KdigitsError, match=r"tuned with mix none, mix groups \[\{\}\] "
                                           r"\(this command: mix cnn-fast:2, "):
        tune.open_study(tuning)
    plain = tune.prepare(tune.TuneSettings(model="mlp-fast", train=TRAIN_CSV, study="theirs",
                                           split=SplitConfig(folds=2, percent=3), epochs=1,
                                           runs_dir=tmp_path))
    assert "mix" not in plain.identity  # what an older kdigits recorded too: still continued
    tune.open_study(plain)  # creates it
    assert tune.open_study(plain).user_attrs[tune.ATTR]["model"] == "mlp-fast"  # continues
