"""``kdigits tune``: search a preset's recipe and layer options with Optuna.

Parsing and rendering only; the search itself is `kaggle_digits.tune`. Optuna (and with it
SQLAlchemy) is imported inside the command, so ``kdigits --help`` does not pay for it, and
``--show-space`` never imports TensorFlow.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichBars
from rich.table import Table

from kaggle_digits.cli.app import app, console, folder
from kaggle_digits.constants import DEFAULT_MODEL, DEFAULT_PRINT_MODE, PRINT_MODES
from kaggle_digits.errors import Interrupted, KdigitsError
from kaggle_digits.locations import locations
from kaggle_digits.splits import SplitConfig
from kaggle_digits.train import Progress

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from kaggle_digits import tune as tuning

TABLE_ROWS = 40  # longer studies show their best trials; trials.csv has them all

WHERE = locations()  # the project folders, or a Kaggle notebook's


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _chosen(chosen: dict[str, Any]) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in chosen.items())


def _state(trial: FrozenTrial) -> str:
    return trial.state.name.lower()


def _seconds(trial: FrozenTrial) -> float | None:
    return trial.duration.total_seconds() if trial.duration is not None else None


class TuneDisplay(Progress):
    """Bars for trials (best so far, pruned), the current trial's folds, epochs and batches
    — or, with --jobs, one bar per running trial read from the study — and one plain line
    per finished trial when the console is not a terminal."""

    def __init__(self, out: Console, trials: int, folds: int) -> None:
        self.out, self.live, self.folds = out, out.is_terminal, folds
        self.bars = RichBars(TextColumn("{task.description:<10}"), BarColumn(bar_width=24),
                             MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                             TimeElapsedColumn(), console=out, disable=not self.live)
        self.trial_task = self.bars.add_task("trials", total=trials, info="")
        self.tasks: dict[str, Any] = {}
        self.done = self.pruned = 0
        self.number = -1

    def __enter__(self) -> TuneDisplay:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.__exit__(*exc)

    def _bar(self, key: str, label: str, total: int | None, **fields: Any) -> None:
        if key not in self.tasks:
            self.tasks[key] = self.bars.add_task(label, total=total, info="")
        else:
            self.bars.reset(self.tasks[key], total=total, description=label)
        self.bars.update(self.tasks[key], **fields)

    # --- trials ---------------------------------------------------------------------------

    def trial_started(self, number: int, chosen: dict[str, Any]) -> None:
        self.number = number
        self._bar("folds", f"trial {number}", self.folds, info=_chosen(chosen))

    def trial_done(self, trial: FrozenTrial, best: FrozenTrial | None) -> None:
        from optuna.trial import TrialState

        self.done += 1
        self.pruned += trial.state == TrialState.PRUNED
        best_text = (f"best {best.value:.4f} (trial {best.number})" if best is not None
                     else "no complete trial yet")
        pruned = f" · {self.pruned} pruned" if self.pruned else ""
        self.bars.update(self.trial_task, completed=self.done, info=best_text + pruned)
        folds = trial.user_attrs.get("fold_accuracy") or []
        seconds = _seconds(trial)
        if trial.state == TrialState.COMPLETE:
            what = f"accuracy {trial.value:.4f}"
        elif trial.state == TrialState.PRUNED:
            what = f"pruned after fold {len(folds)}/{self.folds}"
        else:
            what = _state(trial)
        parts = [f"trial {trial.number}", what]
        if folds:
            parts.append("folds " + " ".join(f"{a:.4f}" for a in folds))
        if seconds is not None:
            parts.append(f"{seconds:.1f} s")
        parts += [_chosen(trial.params), f"· {best_text}"]
        self.out.print("  ".join(parts), highlight=False, soft_wrap=True)

    def running(self, trials: list[FrozenTrial]) -> None:
        """--jobs: one bar per trial the workers are running, from what they store."""
        live = set()
        for trial in trials:
            at = trial.user_attrs.get("at") or {}
            key = f"trial-{trial.number}"
            live.add(key)
            info = (f"fold {at['fold']}/{at['folds']}" if "fold" in at else "starting")
            if key not in self.tasks:
                self.tasks[key] = self.bars.add_task(f"trial {trial.number}", total=None,
                                                     info=info)
            self.bars.update(self.tasks[key], total=at.get("epochs"),
                             completed=at.get("epoch", 0), info=f"{info} · epochs")
        for key in [k for k in self.tasks if k.startswith("trial-") and k not in live]:
            self.bars.remove_task(self.tasks.pop(key))

    # --- training events of the trial in this process ---------------------------------------

    def fold_started(self, fold: int, folds: int, train_rows: int) -> None:
        self.bars.update(self.tasks["folds"], completed=fold - 1)

    def fit_started(self, preset: str, member: int, members: int, epochs: int,
                    steps: int) -> None:
        self._bar("epochs", "epochs", epochs, info="")
        self._bar("batches", "batches", steps, info="")

    def epoch_started(self, epoch: int) -> None:
        self.bars.reset(self.tasks["batches"])

    def batch_done(self, batch: int, logs: dict) -> None:
        self.bars.update(self.tasks["batches"], completed=batch,
                         info=f"loss {logs.get('loss', float('nan')):.4f}")

    def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
        val = logs.get("val_accuracy")
        self.bars.update(self.tasks["epochs"], completed=epoch,
                         info=f"val acc {val:.4f}" if val is not None else "")

    def fold_done(self, fold: int, folds: int, summary: dict) -> None:
        self.bars.update(self.tasks["folds"], completed=fold)


def space_table(tunable: tuning.Tunable, epochs: int | None) -> Table:
    from kaggle_digits import tune as tuning

    table = Table(title=f"Search space of {tunable.name}", title_justify="left",
                  title_style="bold")
    for column in ("knob", "tunes", "values", "preset's value", "meaning"):
        table.add_column(column)
    for knob in tuning.describe_space(tunable, epochs):
        table.add_row(knob.name, knob.part, knob.values, _value(knob.preset_value),
                      knob.meaning)
    notes = []
    if epochs:
        notes.append(f"epochs fixed at {epochs} (--epochs)")
    if not tunable.preset.options():
        notes.append(f"{tunable.name}: recipe knobs only (its layer list takes no options)")
    table.caption = "; ".join(notes) or None
    table.caption_justify = "left"
    return table


def trials_table(summary: tuning.TuneSummary) -> Table:
    from optuna.trial import TrialState

    trials = summary.trials
    if len(trials) > TABLE_ROWS:
        trials = sorted(sorted(trials, key=lambda t: (t.state != TrialState.COMPLETE,
                                                      -(t.value or 0)))[:TABLE_ROWS],
                        key=lambda t: t.number)
    names = list(dict.fromkeys(k for t in trials for k in t.params))
    shown = "" if len(trials) == len(summary.trials) else (
        f" (the best {len(trials)} of {len(summary.trials)}; all in trials.csv)")
    table = Table(title=f"Trials of study {summary.study_name}{shown}", title_justify="left",
                  title_style="bold")
    for column in ("trial", "state", "CV accuracy", "folds", "s", *names):
        table.add_column(column, justify="right" if column != "state" else "left",
                         no_wrap=True)
    best = summary.best.number if summary.best is not None else None
    for t in trials:
        folds = t.user_attrs.get("fold_accuracy") or []
        seconds = _seconds(t)
        table.add_row(str(t.number), _state(t),
                      f"{t.value:.4f}" if t.state == TrialState.COMPLETE else "–",
                      " ".join(f"{a:.3f}" for a in folds) or "–",
                      f"{seconds:.0f}" if seconds is not None else "–",
                      *(_value(t.params[n]) if n in t.params else "–" for n in names),
                      style="bold" if t.number == best else None)
    return table


def _command() -> str:
    return shlex.join(["kdigits", *sys.argv[1:]])


@app.command()
def tune(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(
        help="Keras preset (see `kdigits models`) or FILE.py:FUNCTION.")] = DEFAULT_MODEL,
    trials: Annotated[int, typer.Option(
        help="Trials this command runs (split over --jobs); a study grows with each run.")
    ] = 20,
    timeout: Annotated[float | None, typer.Option(
        metavar="MINUTES", help="Start no new trial after this many minutes.",
        show_default="no limit")] = None,
    folds: Annotated[int, typer.Option(help="k of the stratified k-fold objective.")] = 3,
    percent: Annotated[float, typer.Option(
        help="Tune on a stratified P% sample of the training rows.")] = 100.0,
    holdout: Annotated[float, typer.Option(
        help="Stratified share kept out of tuning; scored for the best trial at the end.")
    ] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the split; fold k trains with seed + k.")
                    ] = 42,
    jobs: Annotated[int, typer.Option(
        help="Worker processes on this machine (one GPU each when there are several; the "
             "CPU cores split between them otherwise).")] = 1,
    storage: Annotated[str | None, typer.Option(
        envvar="KDIGITS_STORAGE", show_default="SQLite in the study folder",
        help="Study database: a sqlite:/// or postgresql:// URL (several machines can share "
             "a PostgreSQL one).")] = None,
    study: Annotated[str | None, typer.Option(
        show_default="MODEL-<hash of data and options>",
        help="Study name; the same command continues the same study.")] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Fix the epochs of every trial (takes epochs out of the search).",
        show_default="searched")] = None,
    startup_trials: Annotated[int, typer.Option(
        help="Trials that finish before the median pruner stops any.")] = 5,
    prune: Annotated[bool, typer.Option(
        help="Stop trials whose mean accuracy after a fold is below the median.")] = True,
    train: Annotated[Path, typer.Option(help="Training CSV or Kaggle zip.")] = WHERE.train,
    runs_dir: Annotated[Path, typer.Option(
        help="Where study folders (tune-<study>/) are created.", callback=folder)
    ] = WHERE.runs,
    show_space: Annotated[bool, typer.Option(
        "--show-space", help="Print the model's search space and exit.")] = False,
    mode: Annotated[str, typer.Option(
        help=f"caret print mode of the holdout: {', '.join(PRINT_MODES)}.")
    ] = DEFAULT_PRINT_MODE,
    worker: Annotated[bool, typer.Option("--worker", hidden=True)] = False,
    session: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Search a preset's recipe and layer options with Optuna; write best.json for cv/submit."""
    from kaggle_digits import tune as tuning

    if show_space:
        if epochs is not None and epochs < 1:
            raise KdigitsError(f"--epochs must be 1 or more, not {epochs}")
        console.print(space_table(tuning.resolve_model(model), epochs))
        return
    if mode not in PRINT_MODES:
        raise KdigitsError(f"--mode must be one of {', '.join(PRINT_MODES)}, not {mode!r}")
    if (not worker and not prune
            and ctx.get_parameter_source("startup_trials").name != "DEFAULT"):  # type: ignore[union-attr]
        raise KdigitsError("--startup-trials only delays pruning, and --no-prune turns it off: "
                           "drop one of them")
    settings = tuning.TuneSettings(
        model=model, train=train, split=SplitConfig(folds=folds, holdout=holdout,
                                                    percent=percent, seed=seed),
        trials=trials, timeout_min=timeout, jobs=1 if worker else jobs, epochs=epochs,
        storage=storage, study=study, startup_trials=startup_trials, prune=prune,
        runs_dir=runs_dir)
    plan = tuning.prepare(settings)
    opened = tuning.open_study(plan)
    if worker:
        tuning.optimize(plan, opened, TuneDisplay(console, trials, folds),
                        session or tuning.new_session(), publish=True)
        return
    _print_plan(plan, opened)
    session = tuning.new_session()
    started = time.perf_counter()
    try:
        with TuneDisplay(console, trials, len(plan.split.folds)) as display:
            if settings.jobs == 1:
                tuning.optimize(plan, opened, display, session)
            else:
                tuning.run_workers(plan, opened, display, session)
    except Interrupted:
        _finish(plan, opened, session, time.perf_counter() - started, mode)
        raise
    _finish(plan, opened, session, time.perf_counter() - started, mode)


def _print_plan(plan: tuning.Tuning, opened: Any) -> None:
    from kaggle_digits import tune as tuning

    s, sizes = plan.settings, plan.split.sizes()
    earlier = len(opened.get_trials(deepcopy=False))
    console.print(
        f"[bold]{plan.tunable.name}[/] on {sizes['rows_in_play']:,} rows "
        f"({s.train}): objective = mean {len(plan.split.folds)}-fold stratified CV accuracy "
        f"on {sizes['cv_rows']:,} rows; {sizes['holdout_rows']:,} held out, never used to "
        f"select · seed {s.split.seed}", highlight=False, soft_wrap=True)
    where = tuning.shown_url(plan.storage_url)
    console.print(f"study {plan.study_name!r} in {where}: "
                  + (f"continuing after {earlier} trials" if earlier else "new"),
                  highlight=False, soft_wrap=True)
    jobs = tuning.shares(s.trials, s.jobs)
    how = (f"{s.trials} trials in this process" if len(jobs) == 1 else
           f"{s.trials} trials in {len(jobs)} worker processes ({', '.join(map(str, jobs))})")
    prune = (f"median pruning after each fold once {s.startup_trials} trials have finished"
             if s.prune else "no pruning")
    timeout = f"; no new trial after {s.timeout_min:g} min" if s.timeout_min else ""
    console.print(f"{how}; {prune}{timeout}", highlight=False)
    console.print(f"searching: {', '.join(plan.space)}"
                  + (f" (epochs fixed at {s.epochs})" if s.epochs else ""), highlight=False)


def _finish(plan: tuning.Tuning, opened: Any, session: str, wall_s: float, mode: str) -> None:
    from optuna.trial import TrialState

    from kaggle_digits import tune as tuning
    from kaggle_digits.caret_text import print_caret

    summary = tuning.summarize(plan, opened, session, wall_s)
    files = tuning.write_study_files(plan, opened, summary, _command())
    if not summary.trials:
        return
    console.print()
    console.print(trials_table(summary))
    mine = summary.this_run
    pruned = summary.count(TrialState.PRUNED, mine)
    complete = summary.count(TrialState.COMPLETE, mine)
    failed = summary.count(TrialState.FAIL, mine)
    line = (f"this run: {len(mine)} trials ({complete} complete, {pruned} pruned"
            + (f", {failed} failed" if failed else "")
            + f") in {wall_s:.1f} s; the study has {len(summary.trials)}")
    if pruned:
        line += (f"; pruning saved ≈ {summary.saved_s(mine):.1f} s (estimate: the pruned "
                 "trials' skipped folds × their own mean fold time)")
    console.print(line, highlight=False, soft_wrap=True)
    best = summary.best
    if best is None:
        console.print("no trial has completed yet: no best.json", highlight=False)
        return
    folds = " ".join(f"{a:.4f}" for a in best.user_attrs.get("fold_accuracy") or [])
    console.print(f"best: trial {best.number}, mean CV accuracy {best.value:.4f} "
                  f"(folds {folds}) with {_chosen(best.params)}", highlight=False,
                  soft_wrap=True)
    stats = tuning.holdout_stats(plan, best)
    if stats is not None:
        console.print()
        print_caret(console, stats, mode, title=f"Holdout ({stats.n:,} rows never used to "
                    f"select; predicted by trial {best.number}'s fold ensemble)")
    console.print()
    for name in ("trials", "history", "importance"):
        if files.get(name) is not None:
            console.print(f"{name}: {files[name]}", highlight=False, soft_wrap=True)
    if files.get("importance") is None:
        console.print("importance: needs two complete trials that differ", highlight=False)
    best_json = files["best"]
    console.print(f"next: kdigits cv --params {best_json}\n      kdigits submit --params "
                  f"{best_json}", highlight=False, soft_wrap=True)
    console.print(str(best_json), highlight=False, soft_wrap=True, markup=False)
