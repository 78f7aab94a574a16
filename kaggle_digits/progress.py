"""How training and prediction show their progress: the CLI and the Python API share it.

Training reports events to a :class:`kaggle_digits.train.Progress`; the classes here draw
them with Rich. Where they draw decides how:

* a terminal: live bars, redrawn in place;
* a Jupyter notebook (Rich's ``Console.is_jupyter``): the same live bars, redrawn in place
  inside one output widget — Rich needs ipywidgets for that (``pip install
  kaggle-digits[notebook]``); without it, the plain lines below instead;
* anything else (a file, a CI log, a notebook without ipywidgets): one plain line per
  epoch and per fold, since a redrawn bar there becomes thousands of lines of noise.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBars
from rich.table import Column
from rich.text import Text

from kaggle_digits.predict import Advance
from kaggle_digits.train import Progress


def is_live(console: Console) -> bool:
    """Whether ``console`` can redraw a display in place: a terminal, or a notebook with
    ipywidgets (Rich's live display in Jupyter is an ipywidgets Output)."""
    if console.is_terminal:
        return True
    return console.is_jupyter and importlib.util.find_spec("ipywidgets") is not None


def plural(count: int, noun: str) -> str:
    """``1 epoch``, ``2 epochs``: a count with its noun in the right number."""
    return f"{count:,} {noun if count == 1 else noun + 's'}"


def numbered(numbers: Sequence[int], noun: str) -> str:
    """``fold 1``, ``folds 1, 3``: a noun naming the numbered things that follow it."""
    return f"{noun if len(numbers) == 1 else noun + 's'} {', '.join(map(str, numbers))}"


def clock(seconds: float) -> str:
    """h:mm:ss, as Rich writes elapsed and remaining time."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


def finish_time(started: float, now: float, fraction: float) -> float | None:
    """When the work will be done if the rest goes as fast as the part done so far (the
    elapsed time over the done ``fraction``); None before anything is done."""
    if fraction <= 0:
        return None
    return now + (now - started) * max(0.0, 1.0 - fraction) / fraction


class EtaColumn(ProgressColumn):
    """``eta h:mm:ss``, counted down to the task's ``finish_at`` field.

    Rich's own estimate is a speed over the task's recent updates, so a bar that moves once
    per fold never gets one (it stayed ``-:--:--`` for a whole 2-fold run). Here the
    display says when the work will end, worked out from all the work below the bar
    (batches of every epoch, member and fold), and counts down between updates.
    """

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text("eta 0:00:00", style="progress.remaining")
        finish = task.fields.get("finish_at")
        if finish is None:
            return Text("eta -:--:--", style="progress.remaining")
        return Text(f"eta {clock(max(0.0, finish - task.get_time()))}",
                    style="progress.remaining")


def _metric(logs: dict, key: str) -> float:
    value = logs.get(key)
    return np.nan if value is None else float(value)


def epoch_line(epoch: int, epochs: int, logs: dict, seconds: float, member: str = "",
               *, short: bool = False) -> str:
    """One line per epoch, as Keras users read them: training and validation loss and
    accuracy, and the epoch's seconds (``short``: acc and val_acc, for narrow terminals)."""
    names = {"accuracy": "acc", "val_accuracy": "val_acc"} if short else {}
    parts = [f"  epoch {epoch}/{epochs}{member}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in ("loss", "accuracy") or logs.get(key) is not None:
            parts.append(f"{names.get(key, key)} {_metric(logs, key):.4f}")
    return "  ".join([*parts, f"{seconds:.1f} s"])


class CVProgress(Progress):
    """Rich bars for folds, epochs and batches (loss, accuracy, validation loss and
    accuracy, ETA), with the history lines (one per fold and epoch) printed above them so
    they stay in the terminal's scrollback; plain lines only where nothing can be redrawn.

    ``history=False`` leaves out the per-epoch lines (``kdigits cv --quiet``); each fold's
    result line is always printed. In Jupyter the bars are one live widget and nothing is
    printed per epoch (each print would be an output of its own).
    """

    def __init__(self, out: Console, *, history: bool = True) -> None:
        self.out, self.live = out, is_live(out)
        self.history = history and (out.is_terminal or not self.live)
        info = Column(no_wrap=True, overflow="ellipsis", min_width=10)
        self.bars = RichBars(TextColumn("{task.description:<7}"), BarColumn(bar_width=20),
                             MofNCompleteColumn(), TextColumn("{task.fields[info]}",
                                                              table_column=info),
                             TimeElapsedColumn(), EtaColumn(),
                             console=out, disable=not self.live)
        self.fold_task: TaskID | None = None
        self.epoch_task: TaskID | None = None
        self.batch_task: TaskID | None = None
        self.epochs, self.steps, self.member_label = 0, 0, ""
        # What this session trains, for the ETA: folds not resumed, each one fold's worth
        # of work shared among its nets (equally, or as `fit_plan` says for a mix) and
        # each net's share counted in batches (or as one piece of work for scikit-learn
        # and for folds trained in worker processes, which report no batches).
        self.folds, self.resumed, self.members = 0, 0, 1
        self.started: float | None = None
        self.shares: list[float] = []  # of a fold's work, per net (`fit_plan`)
        self.share, self.work_done = 1.0, 0.0  # the net training now; nets finished
        self.fits_done, self.fit_done_batches = 0, 0
        self.fit_started_at = self.epoch_started_at = 0.0
        self.folds_done = 0

    def __enter__(self) -> CVProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(*exc)

    def _print(self, line: str) -> None:
        """A line above the live bars (it stays in the scrollback), or a plain line.

        Plain lines are never wrapped (one line per event, for grep); above live bars a
        line wider than the terminal is wrapped by Rich, since the terminal's own wrapping
        loses its end when the bars are redrawn below it."""
        self.out.print(line, highlight=False, markup=False, soft_wrap=not self.live)

    def _fold_bar(self, folds: int) -> TaskID:
        if self.fold_task is None:
            self.folds = folds
            self.fold_task = self.bars.add_task("folds", total=folds, info="",
                                                finish_at=None)
        return self.fold_task

    # --- the ETA: done share of this session's work, and the time it took ----------------

    def _run_fraction(self, fit_fraction: float = 0.0) -> float:
        todo = max(1, self.folds - self.resumed)
        if self.fits_done == 0 and fit_fraction == 0:
            return self.folds_done / todo  # folds in workers report no fits
        return min(1.0, (self.work_done + self.share * fit_fraction) / todo)

    def _update_run_eta(self, fit_fraction: float = 0.0) -> None:
        if self.fold_task is None or self.started is None:
            return
        now = self.bars.get_time()
        self.bars.update(self.fold_task, finish_at=finish_time(
            self.started, now, self._run_fraction(fit_fraction)))

    # --- events ------------------------------------------------------------------------

    def fold_started(self, fold: int, folds: int, train_rows: int) -> None:
        task = self._fold_bar(folds)
        if self.started is None:
            self.started = self.bars.get_time()
        self.bars.update(task, info=f"fold {fold}: training on {train_rows:,} rows")
        if self.history:
            self._print(f"fold {fold}/{folds}: training on {train_rows:,} rows")

    def fit_plan(self, costs: Sequence[float]) -> None:
        self.shares = [cost / sum(costs) for cost in costs]

    def fit_started(self, preset: str, member: int, members: int, epochs: int,
                    steps: int) -> None:
        self.epochs, self.steps, self.members = epochs, steps, members
        planned = len(self.shares) == members and 1 <= member <= members
        self.share = self.shares[member - 1] if planned else 1 / members
        self.fit_started_at, self.fit_done_batches = self.bars.get_time(), 0
        self.member_label = f" (seed {member}/{members})" if members > 1 else ""
        if epochs == 0:  # scikit-learn: one fit, nothing to count
            self._reset("epoch_task", "fitting", None, f"{preset}{self.member_label}")
            return
        self._reset("epoch_task", "epochs", epochs, self.member_label.strip())
        self._reset("batch_task", "batches", steps, "")

    def _reset(self, name: str, label: str, total: int | None, info: str) -> None:
        task = getattr(self, name)
        if task is None:
            setattr(self, name, self.bars.add_task(label, total=total, info=info,
                                                   finish_at=None))
        else:
            self.bars.reset(task, total=total, description=label, info=info,
                            finish_at=None)

    def epoch_started(self, epoch: int) -> None:
        self.epoch_started_at = self.bars.get_time()
        if self.batch_task is not None:
            self.bars.reset(self.batch_task, total=self.steps, info="", finish_at=None)

    def batch_done(self, batch: int, logs: dict) -> None:
        assert self.batch_task is not None and self.epoch_task is not None  # fit_started
        now = self.bars.get_time()
        self.bars.update(self.batch_task, completed=batch,
                         info=f"loss {_metric(logs, 'loss'):.4f} "
                              f"acc {_metric(logs, 'accuracy'):.4f}",
                         finish_at=finish_time(self.epoch_started_at, now,
                                               batch / max(1, self.steps)))
        fit_fraction = (self.fit_done_batches + batch) / max(1, self.epochs * self.steps)
        self.bars.update(self.epoch_task,
                         finish_at=finish_time(self.fit_started_at, now, fit_fraction))
        self._update_run_eta(fit_fraction)

    def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
        self.fit_done_batches = epoch * self.steps
        # Every bar now shows this epoch: the batch bar its final training loss and
        # accuracy, the epoch bar its validation loss and accuracy.
        if self.batch_task is not None:
            self.bars.update(self.batch_task, info=f"loss {_metric(logs, 'loss'):.4f} "
                                                   f"acc {_metric(logs, 'accuracy'):.4f}")
        if logs.get("val_accuracy") is not None:
            info = (f"val_loss {_metric(logs, 'val_loss'):.4f} "
                    f"val_acc {_metric(logs, 'val_accuracy'):.4f}")
        else:
            info = f"loss {_metric(logs, 'loss'):.4f} acc {_metric(logs, 'accuracy'):.4f}"
        assert self.epoch_task is not None  # fit_started came first
        self.bars.update(self.epoch_task, completed=epoch, info=f"{info}{self.member_label}")
        if self.history:
            line = epoch_line(epoch, self.epochs, logs, seconds, self.member_label)
            if self.live and len(line) > self.out.width:
                line = epoch_line(epoch, self.epochs, logs, seconds, self.member_label,
                                  short=True)
            self._print(line)

    def fit_done(self) -> None:
        self.fits_done += 1
        self.work_done += self.share
        if self.epochs == 0 and self.epoch_task is not None:
            self.bars.update(self.epoch_task, total=1, completed=1)
        self._update_run_eta()

    def fold_done(self, fold: int, folds: int, summary: dict) -> None:
        task = self._fold_bar(folds)
        if summary.get("resumed"):
            self.resumed += 1
        else:
            self.folds_done += 1
        self.bars.advance(task)  # folds in workers finish in any order
        self.bars.update(task, info=f"fold {fold}: accuracy {summary['accuracy']:.4f}")
        self._update_run_eta()
        kept = "  (finished in an earlier session)" if summary.get("resumed") else ""
        self._print(f"fold {fold}/{folds}  accuracy {summary['accuracy']:.4f}  "
                    f"kappa {summary['kappa']:.4f}  {summary['wall_s']:.1f} s{kept}")


class TrainingBar(Progress):
    """Draws `train.fit`'s events as one Rich bar per model: batches, epoch, loss."""

    def __init__(self, bar: RichBars) -> None:
        self.bar, self.task, self.epochs, self.total, self.title = bar, None, 0, 1, ""
        self.steps, self.epoch = 0, 1

    def fit_started(self, preset: str, member: int, members: int, epochs: int,
                    steps: int) -> None:
        self.epochs, self.steps = epochs, steps
        self.total = max(epochs * steps, 1)  # 0 for scikit-learn
        self.title = preset if members == 1 else f"{preset} {member}/{members}"
        self.task = self.bar.add_task(f"Training {self.title}", total=self.total)

    def epoch_started(self, epoch: int) -> None:
        self.epoch = epoch

    def batch_done(self, batch: int, logs: dict) -> None:
        # from the batch number, not a count: a worker's member sends only some batches
        self.bar.update(self.task, completed=(self.epoch - 1) * self.steps + batch)

    def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
        self.bar.update(self.task, completed=epoch * self.steps,
                        description=f"Training {self.title} · epoch "
                        f"{epoch}/{self.epochs} · loss {logs.get('loss', float('nan')):.4f}"
                        f" · acc {logs.get('accuracy', float('nan')):.4f}")

    def fit_done(self) -> None:
        self.bar.update(self.task, completed=self.total)


class TrainingBars(Progress):
    """One `TrainingBar` per seeded member, whether members train in turn or at once in
    worker processes (whose events arrive interleaved, through `for_member`)."""

    def __init__(self, bar: RichBars) -> None:
        self.bar, self.members = bar, {}
        self.current: Progress = Progress()

    def for_member(self, member: int) -> Progress:
        return self.members.setdefault(member, TrainingBar(self.bar))

    def fit_started(self, preset: str, member: int, members: int, epochs: int,
                    steps: int) -> None:
        self.current = self.for_member(member)
        self.current.fit_started(preset, member, members, epochs, steps)

    def epoch_started(self, epoch: int) -> None:
        self.current.epoch_started(epoch)

    def batch_done(self, batch: int, logs: dict) -> None:
        self.current.batch_done(batch, logs)

    def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
        self.current.epoch_done(epoch, logs, seconds)

    def fit_done(self) -> None:
        self.current.fit_done()


def bars(console: Console) -> RichBars:
    """One bar per task: what submitting trains and predicts. On a narrow terminal the
    bar and then the title give way, never the count and times."""
    bar = min(40, max(10, console.width - 75))
    title = Column(no_wrap=True, overflow="ellipsis", max_width=max(12, console.width - bar - 30))
    return RichBars(TextColumn("[bold]{task.description}", table_column=title),
                    BarColumn(bar_width=bar), MofNCompleteColumn(table_column=Column(no_wrap=True)),
                    TimeElapsedColumn(table_column=Column(no_wrap=True)),
                    TimeRemainingColumn(table_column=Column(no_wrap=True)), console=console)


@contextmanager
def training_progress(console: Console) -> Iterator[Progress]:
    """A training bar for a full-data fit (``submit``)."""
    with bars(console) as bar:
        yield TrainingBars(bar)


def prediction_progress(console: Console
                        ) -> Callable[[int, str], AbstractContextManager[Advance]]:
    """A `submit.PredictionProgress` drawing on ``console``: given the rows to predict and
    a title, a bar whose ``advance`` is called with each chunk's rows."""

    @contextmanager
    def prediction_bar(total: int, what: str) -> Iterator[Advance]:
        with bars(console) as bar:
            task = bar.add_task(what, total=total)
            yield lambda rows: bar.advance(task, rows)

    return prediction_bar
