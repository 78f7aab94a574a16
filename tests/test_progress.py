"""What `kdigits cv` and `kdigits submit` show while they work: on a terminal (a real
pseudo-terminal, read back through a small model of the screen), piped into a file, and
with ``--quiet``/``--verbose``."""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import REPO
from rich.console import Console

from kaggle_digits.progress import (
    CVProgress,
    EtaColumn,
    epoch_line,
    finish_time,
    numbered,
    plural,
)

ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}
CSI = re.compile(r"\x1b\[([?0-9;]*)([A-Za-z])")
OSC = re.compile(r"\x1b\][^\x07\x1b]*(\x07|\x1b\\)")
# 2 folds × 2 epochs of the mlp preset on 1,500 real digits: seconds, with val_loss.
MLP = ["--model", "mlp", "--folds", "2", "--percent", "50", "--epochs", "2"]
EPOCH = re.compile(r"^  epoch (\d)/2  loss (\d\.\d{4})  accuracy (\d\.\d{4})  "
                   r"val_loss \d\.\d{4}  val_accuracy (\d\.\d{4})  \d+\.\d s$", re.M)


class Screen:
    """The lines a terminal keeps, scrollback included, after some output: the part of
    VT100 that Rich's live display uses (cursor up, erase line, carriage return, and the
    terminal's own wrapping at its width)."""

    def __init__(self, width: int) -> None:
        self.width, self.lines, self.row, self.col = width, [[]], 0, 0

    def feed(self, text: str) -> Screen:
        text, i = OSC.sub("", text), 0
        while i < len(text):
            control = CSI.match(text, i)
            if control:
                self._control(control.group(1), control.group(2))
                i = control.end()
                continue
            char, i = text[i], i + 1
            if char == "\n":
                self._move(self.row + 1)
            elif char == "\r":
                self.col = 0
            elif char >= " ":
                if self.col >= self.width:
                    self._move(self.row + 1)
                line = self.lines[self.row]
                line.extend(" " * (self.col + 1 - len(line)))
                line[self.col] = char
                self.col += 1
        return self

    def _move(self, row: int) -> None:
        self.row, self.col = max(0, row), 0
        while len(self.lines) <= self.row:
            self.lines.append([])

    def _control(self, params: str, command: str) -> None:
        n = int(params) if params.isdigit() else None
        if command == "A":
            col = self.col
            self._move(self.row - (n or 1))
            self.col = col
        elif command == "K":
            line = self.lines[self.row]
            del line[0 if n == 2 else self.col:]
        elif command == "G":
            self.col = (n or 1) - 1

    @property
    def text(self) -> str:
        return "\n".join("".join(line).rstrip() for line in self.lines).strip("\n")


def in_terminal(*args: str, columns: int = 120,
                timeout: float = 300) -> tuple[int, str]:
    """Run ``kdigits ARGS`` on a pseudo-terminal of ``columns``×40, as a user at a
    terminal would; returns its exit status and everything it wrote, escapes included."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**os.environ, **ENV, "TERM": "xterm-256color", "COLUMNS": str(columns),
           "LINES": "40", "PYTHONUNBUFFERED": "1"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "kaggle_digits", *args], cwd=REPO,
                               stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the process has closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        else:
            process.kill()
            pytest.fail(f"kdigits {' '.join(args)} ran past {timeout} s")
    finally:
        os.close(master)
    return process.wait(), b"".join(chunks).decode("utf-8", errors="replace")


def frames(raw: str) -> list[str]:
    """Every line the live display drew, in order (escapes removed)."""
    return [line for line in re.split(r"[\r\n]", CSI.sub("", OSC.sub("", raw))) if line]


def test_terminal_cv_keeps_the_history_above_live_bars(sample_files: dict,
                                                       tmp_path: Path) -> None:
    status, raw = in_terminal("cv", *MLP, "--train", str(sample_files["train"]),
                              "--runs-dir", str(tmp_path))
    screen = Screen(120).feed(raw).text
    assert status == 0, screen
    (run_dir,) = tmp_path.iterdir()

    # Something shows before the data and Keras are loaded: a spinner, then the plan.
    drawn = frames(raw)
    assert "Loading the training data and the model" in drawn[0]
    assert drawn.index(next(f for f in drawn if f.startswith("mlp on 1,500 rows"))) > 0

    # The history stays in the scrollback: per fold, a header, one line per epoch with
    # val_loss, and the fold's result, in that order.
    epochs = EPOCH.findall(screen)
    assert [e[0] for e in epochs] == ["1", "2", "1", "2"], screen
    for fold in (1, 2):
        start = screen.index(f"fold {fold}/2: training on 675 rows")
        assert start < screen.index(f"fold {fold}/2  accuracy")
    assert screen.index("fold 1/2  accuracy") < screen.index("fold 2/2: training on")

    # The run's ETA is worked out from the batches done, not left at -:--:--.
    running = [f for f in drawn if re.match(r"folds +\S+ +[01]/2 ", f)]
    assert any(re.search(r"eta \d:\d\d:\d\d", f) for f in running), running

    # At the end every bar shows the last epoch: the batch bar its training loss and
    # accuracy, the epoch bar its validation accuracy.
    _, loss, accuracy, val_accuracy = epochs[-1]
    bars = {line.split()[0]: line for line in screen.splitlines()
            if line.startswith(("folds ", "epochs ", "batches "))}
    assert f"loss {loss} acc {accuracy}" in bars["batches"], bars
    assert f"val_acc {val_accuracy}" in bars["epochs"], bars
    assert "2/2" in bars["folds"] and "eta 0:00:00" in bars["folds"], bars

    # The caret blocks stay by default, then the short summary and the next commands.
    assert "Cross-validation by fold" in screen and "Statistics by Class:" in screen
    summary = screen[screen.index("Summary: mlp, 2-fold CV"):].splitlines()
    assert summary[1].startswith("  OOF      accuracy 0.") and "(sd over folds)" in summary[1]
    assert re.match(r"  holdout  accuracy 0\.\d{4}, exact 95% CI 0\.\d{4}–0\.\d{4}, "
                    r"kappa 0\.\d{4}, 150 rows$", summary[2]), summary
    assert summary[4] == f"  report   {run_dir / 'report.html'}"
    assert summary[-3:] == [f"  kdigits submit --run {run_dir}", f"  kdigits report {run_dir}",
                            str(run_dir)]
    assert len(summary) <= 10  # fits one screen
    assert (run_dir / "report.html").is_file()


def test_piped_cv_prints_plain_lines_and_verbose_shows_everything(
        kdigits, sample_files: dict, tmp_path: Path) -> None:
    result = kdigits("cv", *MLP, "--train", str(sample_files["train"]), "--runs-dir",
                     str(tmp_path), "--verbose", env=ENV)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    (run_dir,) = tmp_path.iterdir()
    assert "\x1b" not in out and "Loading" not in out  # no escapes, bars or spinner
    assert not re.search(r"^(folds|epochs|batches) ", out, re.M)
    assert [e[0] for e in EPOCH.findall(out)] == ["1", "2", "1", "2"], out
    assert "fold 2/2: training on 675 rows" in out and "fold 2/2  accuracy" in out
    assert "mlp: layers" in out and "Cross-validation by fold" in out
    assert "\nrecipe: rmsprop lr 0.001, 2 epochs, batch 128\n" in out  # --epochs 2 on top
    # --verbose: caret's by-class block with every statistic (--mode everything).
    by_class = out[out.index("Statistics by Class:"):]
    assert "Sensitivity" in by_class and "F1" in by_class and "Recall" in by_class
    assert "Summary: mlp, 2-fold CV" in out
    assert out.strip().splitlines()[-3:] == [f"  kdigits submit --run {run_dir}",
                                             f"  kdigits report {run_dir}", str(run_dir)]


def test_quiet_cv_prints_the_plan_fold_lines_and_summary_only(
        kdigits, sample_files: dict, tmp_path: Path) -> None:
    result = kdigits("cv", "--model", "knn", "--folds", "2", "--percent", "50", "--train",
                     str(sample_files["train"]), "--runs-dir", str(tmp_path), "--quiet",
                     env=ENV)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    (run_dir,) = tmp_path.iterdir()
    for gone in ("Cross-validation by fold", "Confusion Matrix", "Statistics by Class"):
        assert gone not in out, gone
    assert "fold 1/2  accuracy" in out and "fold 2/2  accuracy" in out
    assert "Summary: knn, 2-fold CV" in out and "  holdout  accuracy" in out
    assert out.strip().splitlines()[-1] == str(run_dir)
    assert (run_dir / "report.html").is_file()  # written either way


def events(progress: CVProgress, clock: list[float], *, resumed: bool = False) -> None:
    """Fold 2 of 2 (fold 1 resumed or not shown), 2 epochs of 4 batches, one per second."""
    progress.bars.get_time = lambda: clock[0]  # type: ignore[method-assign]
    if resumed:
        progress.fold_done(1, 2, {"accuracy": 0.9, "kappa": 0.89, "wall_s": 9.0,
                                  "resumed": True})
    progress.fold_started(2, 2, 100)
    progress.fit_started("mlp", 1, 1, 2, 4)
    for epoch in (1, 2):
        progress.epoch_started(epoch)
        for batch in range(1, 5):
            if (epoch, batch) == (2, 3):
                return
            clock[0] += 1
            progress.batch_done(batch, {"loss": 1.0 / batch, "accuracy": 0.2 * batch})
        progress.epoch_done(epoch, {"loss": 0.25, "accuracy": 0.8, "val_loss": 0.3,
                                    "val_accuracy": 0.7}, 4.0)


def test_eta_is_elapsed_time_over_the_sessions_work() -> None:
    """Fold 1 was finished in an earlier session, so this session's work is fold 2 alone:
    6 of its 8 batches took 6 s, so it ends 2 s later, and so does the run."""
    clock = [0.0]
    live = Console(file=io.StringIO(), force_terminal=True, width=120)
    with CVProgress(live) as progress:
        events(progress, clock, resumed=True)
        tasks = {t.description: t for t in progress.bars.tasks}
        assert tasks["folds"].fields["finish_at"] == pytest.approx(8.0)
        assert tasks["epochs"].fields["finish_at"] == pytest.approx(8.0)
        assert EtaColumn().render(tasks["folds"]).plain == "eta 0:00:02"


def test_eta_of_a_mix_weighs_each_net_by_its_planned_share() -> None:
    """One fold, a big net planned at 80% of it and two small nets at 10% each: half the
    big net in 2 s is 40% of the run (ETA at 5 s), not a sixth of it (12 s)."""
    clock = [0.0]
    with CVProgress(Console(file=io.StringIO(), force_terminal=True)) as progress:
        progress.bars.get_time = lambda: clock[0]  # type: ignore[method-assign]
        progress.fold_started(1, 1, 100)
        progress.fit_plan([8.0, 1.0, 1.0])
        progress.fit_started("best", 1, 3, 1, 4)
        for batch in (1, 2):
            clock[0] += 1
            progress.batch_done(batch, {"loss": 1.0, "accuracy": 0.5})
        folds = progress.bars.tasks[0]
        assert folds.fields["finish_at"] == pytest.approx(5.0)
        clock[0] += 2
        progress.fit_done()
        progress.fit_started("cnn-fast", 2, 3, 1, 4)
        assert folds.fields["finish_at"] == pytest.approx(5.0)  # 4 s for 80%
        clock[0] += 2
        progress.batch_done(4, {"loss": 1.0, "accuracy": 0.5})
        assert folds.fields["finish_at"] == pytest.approx(6 / 0.9)


def test_eta_of_folds_in_workers_counts_folds() -> None:
    clock = [0.0]
    with CVProgress(Console(file=io.StringIO(), force_terminal=True)) as progress:
        progress.bars.get_time = lambda: clock[0]  # type: ignore[method-assign]
        progress.fold_started(1, 4, 100)
        progress.fold_started(2, 4, 100)
        assert EtaColumn().render(progress.bars.tasks[0]).plain == "eta -:--:--"
        clock[0] = 30.0
        progress.fold_done(2, 4, {"accuracy": 0.9, "kappa": 0.89, "wall_s": 30.0})
        assert progress.bars.tasks[0].fields["finish_at"] == pytest.approx(120.0)


@pytest.mark.parametrize("history", [True, False])
def test_plain_lines_without_a_terminal(history: bool) -> None:
    """Piped (or --quiet): one line per fold header, epoch and fold result; no bars."""
    text = io.StringIO()
    with CVProgress(Console(file=text, width=80), history=history) as progress:
        events(progress, [0.0])
    lines = text.getvalue().splitlines()
    expected = ["fold 2/2: training on 100 rows",
                "  epoch 1/2  loss 0.2500  accuracy 0.8000  val_loss 0.3000  "
                "val_accuracy 0.7000  4.0 s"]
    assert lines == (expected if history else [])


def test_quiet_and_verbose_together_is_a_one_line_error(kdigits, tmp_path: Path) -> None:
    result = kdigits("cv", "--quiet", "--verbose", "--runs-dir", str(tmp_path), env=ENV)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: --quiet and --verbose exclude each other; "
                                     "choose one")
    assert not list(tmp_path.iterdir())


def test_submit_from_a_run_counts_images_not_passes(sample_files: dict,
                                                    tmp_path: Path) -> None:
    """Two fold models with TTA score every test image ten times; the bar counts the
    1,000 images, and its title says how many passes each gets."""
    from kaggle_digits import runs, splits, train

    plan = runs.plan_cv(sample_files["train"], splits.SplitConfig(folds=2, holdout=0.1),
                        train.config_for("knn"), runs_dir=tmp_path / "runs")
    runs.run_cv(plan)
    out = tmp_path / "submission.csv"
    status, raw = in_terminal("submit", "--run", str(plan.run_dir), "--tta", "--train",
                              str(sample_files["train"]), "--test", str(sample_files["test"]),
                              "--out", str(out))
    screen = Screen(120).feed(raw).text
    assert status == 0, screen
    assert "Averaging the 2 fold models" in screen
    (bar,) = [line for line in screen.splitlines() if line.startswith("Predicting")]
    assert bar.startswith("Predicting test.csv (2 models × 5 TTA views)")
    assert " 1000/1000 " in bar, bar
    assert not re.search(r"/(2000|5000|10000)\b", raw)


def test_counts_read_as_english() -> None:
    assert [plural(n, "epoch") for n in (1, 2)] == ["1 epoch", "2 epochs"]
    assert plural(1, "fold model") == "1 fold model"
    assert plural(2_000, "row") == "2,000 rows"
    assert numbered([1], "fold") == "fold 1" and numbered([1, 3], "fold") == "folds 1, 3"
    long = epoch_line(3, 9, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6,
                             "val_accuracy": 0.75}, 2.0, " (seed 2/3)")
    assert long == ("  epoch 3/9 (seed 2/3)  loss 0.5000  accuracy 0.8000  val_loss 0.6000"
                    "  val_accuracy 0.7500  2.0 s")
    assert "acc 0.8000  val_loss 0.6000  val_acc 0.7500" in epoch_line(
        3, 9, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.75}, 2.0,
        short=True)
    assert "val_" not in epoch_line(1, 1, {"loss": 0.5, "accuracy": 0.8}, 1.0)


def test_finish_time_is_elapsed_time_over_work_done() -> None:
    assert finish_time(100.0, 110.0, 0.0) is None  # nothing done: no estimate yet
    assert finish_time(100.0, 110.0, 0.25) == pytest.approx(140.0)  # 10 s for a quarter
    assert finish_time(100.0, 110.0, 1.0) == pytest.approx(110.0)
