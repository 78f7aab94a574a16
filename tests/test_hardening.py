"""Concurrency, full disks and read-only folders: nothing a user had is lost, nothing
written is half of one thing and half of another, and every failure is one line.

Races are made real rather than hoped for: threads and processes are held at a barrier
until all of them are about to publish the same file, and two `kdigits cv` runs, both told
the same time, are given a runs folder whose plain name for that time is already taken, so
both must find their own name at the same moment.
"""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import threading
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
from conftest import EXIT_CODE

from kaggle_digits import fileio
from kaggle_digits.cli import main
from kaggle_digits.errors import KdigitsError
from kaggle_digits.fileio import atomic_output
from kaggle_digits.submission_file import read_label_file, submission_problems

REPO = Path(__file__).resolve().parents[1]
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}


def kdigits_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "kaggle_digits", *args], cwd=REPO,
                            env={**os.environ, **QUIET, **(env or {})}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = process.communicate(timeout=600)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def run_cli(*args: str) -> tuple[int, str, str]:
    """The real entry point in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["kdigits", *args]), redirect_stdout(out), \
            redirect_stderr(err), pytest.raises(SystemExit, match=EXIT_CODE) as stop:
        main()
    return stop.value.code or 0, out.getvalue(), err.getvalue()


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (temp files included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real rows cut from data/: two disjoint 300-row train files, a 100-row test file,
    and a submission/solution pair for the cheap `score --json` writes."""
    folder = tmp_path_factory.mktemp("small")
    with (REPO / "data" / "train.csv").open("rb") as handle:
        lines = [handle.readline() for _ in range(601)]
    with (REPO / "data" / "test.csv").open("rb") as handle:
        test = b"".join(handle.readline() for _ in range(101))
    with (REPO / "data" / "solution.csv").open("rb") as handle:
        solution = b"".join(handle.readline() for _ in range(101))
    paths = {"train_a": folder / "train-a.csv", "train_b": folder / "train-b.csv",
             "test": folder / "test.csv", "solution": folder / "answers.csv"}
    paths["train_a"].write_bytes(b"".join(lines[:301]))
    paths["train_b"].write_bytes(lines[0] + b"".join(lines[301:]))
    paths["test"].write_bytes(test)
    paths["solution"].write_bytes(solution)
    return paths


# --------------------------------------------------------------------------- same output


def test_threads_publishing_the_same_file_one_wins(tmp_path: Path):
    """Eight writers pass the up-front check together and publish at the same instant:
    exactly one file appears, whole, and every other writer gets the one-line refusal."""
    target = tmp_path / "submission.csv"
    writers = 8
    barrier = threading.Barrier(writers)
    results: list[object] = [None] * writers

    def write(n: int) -> None:
        try:
            with atomic_output(target) as handle:
                handle.write(f"ImageId,Label\n{n * 'x'}1,{n}\n")
                barrier.wait(timeout=30)  # everyone is inside, temp file written
            results[n] = "won"
        except KdigitsError as error:
            results[n] = str(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [n for n, r in enumerate(results) if r == "won"]
    assert len(winners) == 1, results
    assert all(r == f"{target} already exists; use --force to replace it"
               for r in results if r != "won")
    assert target.read_text() == f"ImageId,Label\n{winners[0] * 'x'}1,{winners[0]}\n"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temp files


CHILD = """
import sys, time
from pathlib import Path
from kaggle_digits.errors import KdigitsError
from kaggle_digits.submission_file import write_submission
n, go, target = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
print("ready", flush=True)
while not go.exists():
    time.sleep(0.0005)
try:
    write_submission(target, [n] * 28000)
except KdigitsError as error:
    print(error, file=sys.stderr)
    sys.exit(2)
"""


def test_processes_writing_the_same_submission_one_wins(tmp_path: Path):
    """Six processes call `write_submission` on one path at the same moment (released
    together once all have started): one full 28,000-row file, five refusals, no temp
    files. Each writes a different label, so a mixed file would show."""
    target, go = tmp_path / "out" / "submission.csv", tmp_path / "go"
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(n), str(go), str(target)],
                                 cwd=REPO, text=True, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE) for n in range(6)]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    go.touch()
    done = [finish(child) for child in children]
    winners = [n for n, d in enumerate(done) if d.returncode == 0]
    assert len(winners) == 1, [d.stderr for d in done]
    losers = [d for d in done if d.returncode]
    assert len(losers) == 5
    for d in losers:
        assert d.returncode == 2 and d.stderr.strip() == \
            f"{target} already exists; use --force to replace it"
    written = read_label_file(target)
    assert written.image_ids.tolist() == list(range(1, 28001))
    assert set(written.labels.tolist()) == {winners[0]}
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_two_submits_to_the_same_out_never_mix(tmp_path: Path, small: dict[str, Path]):
    """Two real `kdigits submit` processes, different training data, the same --out: one
    bundle (csv, probabilities, record) all from the winner; the other exits 2 in one line.
    (knn: a real preset that trains in a moment, so the race is about writing.)"""
    out = tmp_path / "same.csv"
    processes = {name: kdigits_process("submit", "--model", "knn", "--train", str(small[name]),
                                       "--test", str(small["test"]), "--out", str(out))
                 for name in ("train_a", "train_b")}
    done = {name: finish(p) for name, p in processes.items()}
    codes = sorted(d.returncode for d in done.values())
    assert codes == [0, 2], {n: d.stderr[-2000:] for n, d in done.items()}
    winner = next(n for n, d in done.items() if d.returncode == 0)
    loser = done[next(n for n in done if n != winner)]
    assert "already exists; use --force to replace it" in one_error_line(loser.stderr)

    assert submission_problems(out, 100) == []
    labels = read_label_file(out).labels
    probabilities = np.load(out.with_suffix(".probs.npy"))
    np.testing.assert_array_equal(probabilities.argmax(axis=1), labels)
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["train"]["path"] == str(small[winner])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.csv", "same.json",
                                                           "same.probs.npy"]


# `kdigits …` whose run folders are named as if it were always FROZEN_NOW: the real
# entry point, with only the clock behind `runs.create_run_dir` (its `now=`) fixed.
FROZEN_NOW = datetime(2026, 11, 23, 12, 0, 0)
AT_FROZEN_NOW = f"""
import datetime, sys
from kaggle_digits import runs
from kaggle_digits.cli import main
real = runs.create_run_dir
runs.create_run_dir = lambda root, model, now=None: real(root, model, now={FROZEN_NOW!r})
sys.argv = ["kdigits", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_two_cv_runs_started_together_get_their_own_folders(tmp_path: Path,
                                                            small: dict[str, Path]):
    """Two real `kdigits cv` processes started together and told the same time, whose
    plain folder name is taken beforehand: both runs hit the collision path at the same
    moment and must settle on different suffixed names; both must finish intact."""
    root = tmp_path / "runs"
    root.mkdir()
    plain = f"{FROZEN_NOW:%Y%m%d-%H%M%S}-knn"
    (root / plain).mkdir()
    taken = set(os.listdir(root))
    processes = [subprocess.Popen(
        [sys.executable, "-c", AT_FROZEN_NOW, "cv", "--model", "knn", "--folds", "2",
         "--train", str(small["train_a"]), "--runs-dir", str(root)],
        cwd=REPO, env={**os.environ, **QUIET}, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE) for _ in range(2)]
    done = [finish(p) for p in processes]
    assert [d.returncode for d in done] == [0, 0], [d.stderr[-2000:] for d in done]
    folders = [Path(d.stdout.strip().splitlines()[-1]) for d in done]
    assert folders[0] != folders[1]
    assert sorted(f.name for f in folders) == [f"{plain}-2", f"{plain}-3"]
    for folder in folders:
        assert folder.parent == root and folder.name not in taken
        assert folder.name.rsplit("-", 1)[-1] in {"2", "3"}  # went through the collision
        metrics = json.loads((folder / "metrics.json").read_text())
        assert [f["fold"] for f in metrics["folds"]] == [1, 2]
        assert (folder / "oof.csv").read_bytes().count(b"\n") == 1 + 270  # 300 − 10% holdout
    # Same seed, same data: the two runs agree to the byte, so neither saw the other's files.
    assert (folders[0] / "oof.csv").read_bytes() == (folders[1] / "oof.csv").read_bytes()


# --------------------------------------------------------------------------- disk, permissions


class _FillingFile:
    """A file object on a disk with ``room`` bytes left: writing past it is ENOSPC."""

    def __init__(self, handle, room: int) -> None:
        self._handle, self._room = handle, room

    def write(self, data):
        if len(data) > self._room:  # what fits reaches the disk, as it would
            self._handle.write(data[:self._room])
            self._handle.flush()
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name: str):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


class _FullDiskOS:
    """``os`` as `kaggle_digits.fileio` sees it, on a nearly full disk: writes fail after
    ``room`` bytes, or only ``fsync`` fails (delayed allocation reports ENOSPC there)."""

    def __init__(self, room: int | None) -> None:
        self.room = room

    def __getattr__(self, name: str):
        return getattr(os, name)

    def fdopen(self, fd: int, *args, **kwargs):
        handle = os.fdopen(fd, *args, **kwargs)
        return handle if self.room is None else _FillingFile(handle, self.room)

    def fsync(self, fd: int) -> None:
        if self.room is None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.fsync(fd)


@pytest.fixture
def scored(tmp_path: Path, small: dict[str, Path]) -> tuple[list[str], Path]:
    """`kdigits score … --json out/score.json --force` with a previous score.json and an
    unrelated file already in out/ (the solution scored against itself: cheap, real)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "score.json").write_text('{"previous": "result"}\n')
    (out / "notes.txt").write_bytes(b"the user's own file\n")
    args = ["score", str(small["solution"]), "-s", str(small["solution"]), "--json",
            str(out / "score.json"), "--force"]
    return args, out


@pytest.mark.parametrize("room", [0, 100, None], ids=["first write", "mid-file", "fsync"])
def test_full_disk_is_one_line_and_keeps_the_old_file(scored, monkeypatch, room):
    """ENOSPC is simulated (a real full disk cannot be made without privileges) by giving
    `fileio` an ``os`` whose files fill up after ``room`` bytes, or whose fsync fails."""
    args, out = scored
    before = snapshot(out)
    monkeypatch.setattr(fileio, "os", _FullDiskOS(room))
    code, _, err = run_cli(*args)
    assert code == 2
    assert one_error_line(err) == \
        f"error: cannot write {out / 'score.json'}: no space left on device"
    assert snapshot(out) == before  # old score.json intact, no temp file left behind


@pytest.mark.parametrize("error", [errno.EACCES, errno.EROFS])
def test_read_only_folder_is_one_line_and_changes_nothing(scored, monkeypatch, error):
    """Tests run as root, and root writes through ``chmod 555``; so the refusal a
    read-only folder (EACCES) or read-only mount (EROFS) gives is simulated where it
    happens: creating the temp file in the folder. The next test does it for real when
    not root."""
    args, out = scored
    before = snapshot(out)

    def refuse(*_, **kwargs):
        raise PermissionError(error, os.strerror(error), kwargs.get("dir"))

    monkeypatch.setattr(fileio, "tempfile", SimpleNamespace(mkstemp=refuse))
    code, _, err = run_cli(*args)
    assert code == 2
    assert one_error_line(err) == (f"error: cannot write {out / 'score.json'}: permission "
                                   "denied (read-only folder?)")
    assert snapshot(out) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_really_read_only_folder(scored):
    args, out = scored
    before = snapshot(out)
    out.chmod(0o555)
    try:
        code, _, err = run_cli(*args)
    finally:
        out.chmod(0o755)
    assert code == 2 and "permission denied" in one_error_line(err)
    assert snapshot(out) == before


def test_publish_failure_after_writing_leaves_no_temp_file(scored, monkeypatch):
    """The last step (renaming the finished temp file over the old one) can fail too, e.g.
    a folder made read-only mid-write: still one line, old file kept, temp file removed."""
    args, out = scored
    before = snapshot(out)

    class ReadOnlyAtTheEnd(_FullDiskOS):
        def replace(self, src, dst):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))

    monkeypatch.setattr(fileio, "os", ReadOnlyAtTheEnd(room=1 << 20))
    code, _, err = run_cli(*args)
    assert code == 2 and "permission denied" in one_error_line(err)
    assert snapshot(out) == before


def test_without_force_an_existing_file_is_refused_before_any_write(scored):
    args, out = scored
    before = snapshot(out)
    code, _, err = run_cli(*args[:-1])  # drop --force
    assert code == 2
    assert one_error_line(err) == (f"error: {out / 'score.json'} already exists; use --force "
                                   "to replace it")
    assert snapshot(out) == before
