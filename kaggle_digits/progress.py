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
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBars

from kaggle_digits.predict import Advance
from kaggle_digits.train import Progress


def is_live(console: Console) -> bool:
    """Whether ``console`` can redraw a display in place: a terminal, or a notebook with
    ipywidgets (Rich's live display in Jupyter is an ipywidgets Output)."""
    if console.is_terminal:
        return True
    return console.is_jupyter and importlib.util.find_spec("ipywidgets") is not None


class CVProgress(Progress):
    """Rich bars for folds, epochs and batches (loss, accuracy, validation accuracy, ETA),
    or plain lines where nothing can be redrawn."""

    def __init__(self, out: Console) -> None:
        self.out, self.live = out, is_live(out)
        self.bars = RichBars(TextColumn("{task.description:<9}"), BarColumn(bar_width=28),
                             MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                             TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                             console=out, disable=not self.live)
        self.fold_task = self.epoch_task = self.batch_task = None
        self.fold, self.folds, self.epochs, self.member_label = 0, 0, 0, ""
        self.last_val: float | None = None  # shown on the batch bar during the next epoch

    def __enter__(self) -> CVProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(*exc)

    def fold_started(self, fold: int, folds: int, train_rows: int) -> None:
        self.fold, self.folds = fold, folds
        if self.fold_task is None:
            self.fold_task = self.bars.add_task("folds", total=folds, info="")
        self.bars.update(self.fold_task, info=f"fold {fold}: training on {train_rows:,} rows")
        if not self.live:
            self.out.print(f"fold {fold}/{folds}: training on {train_rows:,} rows",
                           highlight=False)

    def fit_started(self, preset: str, member: int, members: int, epochs: int,
                    steps: int) -> None:
        self.epochs, self.last_val = epochs, None
        self.member_label = f" (seed {member}/{members})" if members > 1 else ""
        if epochs == 0:  # scikit-learn: one fit, nothing to count
            self._reset("epoch_task", "fitting", None, f"{preset}{self.member_label}")
            return
        self._reset("epoch_task", "epochs", epochs, self.member_label.strip())
        self._reset("batch_task", "batches", steps, "")

    def _reset(self, name: str, label: str, total: int | None, info: str) -> None:
        task = getattr(self, name)
        if task is None:
            setattr(self, name, self.bars.add_task(label, total=total, info=info))
        else:
            self.bars.reset(task, total=total, description=label, info=info)

    def epoch_started(self, epoch: int) -> None:
        if self.batch_task is not None:
            self.bars.reset(self.batch_task, info="")

    def batch_done(self, batch: int, logs: dict) -> None:
        val = "" if self.last_val is None else f" val acc {self.last_val:.4f}"
        self.bars.update(self.batch_task, completed=batch,
                         info=f"loss {logs.get('loss', np.nan):.4f} "
                              f"acc {logs.get('accuracy', np.nan):.4f}{val}")

    def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
        val = self.last_val = logs.get("val_accuracy")
        info = f"val acc {val:.4f}" if val is not None else ""
        self.bars.update(self.epoch_task, completed=epoch,
                         info=f"{info}{self.member_label}".strip())
        if not self.live:
            parts = [f"  epoch {epoch}/{self.epochs}{self.member_label}",
                     f"loss {logs.get('loss', np.nan):.4f}",
                     f"accuracy {logs.get('accuracy', np.nan):.4f}"]
            if val is not None:
                parts.append(f"val_accuracy {val:.4f}")
            self.out.print("  ".join([*parts, f"{seconds:.1f} s"]), highlight=False)

    def fit_done(self) -> None:
        if self.epochs == 0 and self.epoch_task is not None:
            self.bars.update(self.epoch_task, total=1, completed=1)

    def fold_done(self, fold: int, folds: int, summary: dict) -> None:
        if self.fold_task is None:
            self.fold_task = self.bars.add_task("folds", total=folds, info="")
        self.bars.advance(self.fold_task)  # folds in workers finish in any order
        self.bars.update(self.fold_task, info="")
        kept = "  (finished in an earlier session)" if summary.get("resumed") else ""
        self.out.print(f"fold {fold}/{folds}  accuracy {summary['accuracy']:.4f}  "
                       f"kappa {summary['kappa']:.4f}  {summary['wall_s']:.1f} s{kept}",
                       highlight=False)


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
    """One bar per task: what submitting trains and predicts."""
    return RichBars(TextColumn("[bold]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console)


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
