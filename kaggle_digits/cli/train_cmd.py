"""``kdigits cv``, ``models`` and ``runs``: cross-validate a preset and see what ran.

Parsing and rendering only: splitting, training and pooling live in `kaggle_digits.runs`,
`train` and `splits`. On a terminal, training shows three live bars (folds, epochs,
batches); piped into a file or CI log it prints one plain line per epoch instead, since a
redrawn bar there is just noise.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBars
from rich.table import Table

from kaggle_digits import runs
from kaggle_digits.cli.app import app, console
from kaggle_digits.errors import KdigitsError
from kaggle_digits.splits import SplitConfig
from kaggle_digits.train import Progress

DEFAULTS = {"model": "cnn-fast", "train": Path("data/train.csv"), "folds": 5, "holdout": 0.1,
            "percent": 100.0, "test_size": 0.2, "seed": 42}
MODES = ("sens_spec", "prec_recall", "everything")
RUNS = Path("runs")


class CVProgress(Progress):
    """Rich bars for folds, epochs and batches (loss, accuracy, validation accuracy, ETA),
    or plain lines when the console is not a terminal."""

    def __init__(self, out: Console) -> None:
        self.out, self.live = out, out.is_terminal
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
        self.bars.update(self.fold_task, completed=fold, info="")
        kept = "  (finished in an earlier session)" if summary.get("resumed") else ""
        self.out.print(f"fold {fold}/{folds}  accuracy {summary['accuracy']:.4f}  "
                       f"kappa {summary['kappa']:.4f}  {summary['wall_s']:.1f} s{kept}",
                       highlight=False)


def _command() -> str:
    return shlex.join(["kdigits", *sys.argv[1:]])


def summary_table(model: str) -> Table:
    """Keras' ``summary()`` as a Rich table."""
    from kaggle_digits.train import layer_summary

    rows = layer_summary(model)
    table = Table(title=f"{model}: layers", title_justify="left", title_style="bold")
    table.add_column("Layer (type)")
    table.add_column("Output shape")
    table.add_column("Param #", justify="right")
    for name, shape, params in rows:
        table.add_row(name, shape, f"{params:,}")
    table.caption = f"Total params: {sum(r[2] for r in rows):,}"
    table.caption_justify = "left"
    return table


def fold_table(result: runs.CVResult) -> Table:
    table = Table(title="Cross-validation by fold", title_justify="left", title_style="bold")
    for column in ("fold", "accuracy", "kappa", "epochs", "wall / user / sys s"):
        table.add_column(column, justify="right", no_wrap=True)

    def seconds(f: dict) -> str:
        return f"{f['wall_s']:.1f} / {f['user_s']:.1f} / {f['system_s']:.1f}"

    for f in result.folds:
        table.add_row(str(f["fold"]), f"{f['accuracy']:.4f}", f"{f['kappa']:.4f}",
                      str(f["epochs"] or "–"), seconds(f))

    def mean_sd(key: str) -> str:
        values = np.array([f[key] for f in result.folds], dtype=float)
        sd = f" ± {values.std(ddof=1):.4f}" if values.size > 1 else ""
        return f"{values.mean():.4f}{sd}"

    means = {k: float(np.mean([f[k] for f in result.folds]))
             for k in ("wall_s", "user_s", "system_s")}
    table.add_section()
    table.add_row("mean ± sd", mean_sd("accuracy"), mean_sd("kappa"), "", seconds(means),
                  style="bold")
    return table


def _given(**options: Any) -> list[str]:
    return ["--" + k.replace("_", "-") for k, v in options.items() if v is not None]


@app.command()
def cv(
    model: Annotated[str | None, typer.Option(
        help="Model preset (see `kdigits models`).", show_default="cnn-fast")] = None,
    train: Annotated[Path | None, typer.Option(
        help="Training CSV or Kaggle zip.", show_default="data/train.csv")] = None,
    folds: Annotated[int | None, typer.Option(
        help="k for stratified k-fold; 1 = one train/test split.", show_default="5")] = None,
    holdout: Annotated[float | None, typer.Option(
        help="Stratified share held out from all training and selection; 0 for none.",
        show_default="0.1")] = None,
    percent: Annotated[float | None, typer.Option(
        help="Use a stratified P% sample of the training rows (for speed).",
        show_default="100")] = None,
    test_size: Annotated[float | None, typer.Option(
        help="Test share of the split when --folds 1.", show_default="0.2")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed for splits, weights and shuffling; fold k trains with seed + k.",
        show_default="42")] = None,
    epochs: Annotated[int | None, typer.Option(help="Override the preset's epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Override the preset's batch size.")] = None,
    learning_rate: Annotated[float | None, typer.Option(
        help="Override the preset's learning rate.")] = None,
    optimizer: Annotated[str | None, typer.Option(
        help="Override the preset's optimizer (adam, rmsprop, sgd, adadelta, …).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are created.")] = RUNS,
    resume: Annotated[Path | None, typer.Option(
        metavar="RUN", help="Finish an interrupted run, reusing its finished folds and its "
                            "settings.")] = None,
    mode: Annotated[str, typer.Option(
        help="caret print mode: sens_spec, prec_recall or everything.")] = "sens_spec",
) -> None:
    """Cross-validate a model: stratified folds, a holdout, caret statistics, a run folder."""
    from kaggle_digits.caret_text import print_caret
    from kaggle_digits.train import config_for

    if mode not in MODES:
        raise KdigitsError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    if resume is not None:
        clash = _given(model=model, folds=folds, holdout=holdout, percent=percent,
                       test_size=test_size, seed=seed, epochs=epochs, batch_size=batch_size,
                       learning_rate=learning_rate, optimizer=optimizer)
        if clash:
            raise KdigitsError(f"--resume takes its settings from {resume}/config.json; "
                               f"drop {', '.join(clash)}")
        plan = runs.resume_cv(resume, train)
    else:
        name = model or DEFAULTS["model"]
        split = SplitConfig(folds=DEFAULTS["folds"] if folds is None else folds,
                            holdout=DEFAULTS["holdout"] if holdout is None else holdout,
                            percent=DEFAULTS["percent"] if percent is None else percent,
                            test_size=DEFAULTS["test_size"] if test_size is None else test_size,
                            seed=DEFAULTS["seed"] if seed is None else seed)
        training = config_for(name, epochs=epochs, batch_size=batch_size,
                              learning_rate=learning_rate, optimizer=optimizer,
                              seed=split.seed)
        train_path = train or DEFAULTS["train"]
        options = {"model": name, "train": str(train_path), **split.to_json(),
                   "epochs": epochs, "batch_size": batch_size,
                   "learning_rate": learning_rate, "optimizer": optimizer,
                   "runs_dir": str(runs_dir), "mode": mode}
        plan = runs.plan_cv(train_path, split, training, runs_dir=runs_dir,
                            command=_command(), options=options)
    _print_plan(plan)
    with CVProgress(console) as progress:
        result = runs.run_cv(plan, progress)

    console.print()
    console.print(fold_table(result))
    console.print()
    print_caret(console, result.oof, mode, title=f"Pooled out-of-fold predictions "
                f"({result.oof.n:,} rows, {len(result.folds)} fold models)")
    if result.holdout is not None:
        console.print()
        print_caret(console, result.holdout, mode, title=f"Holdout ({result.holdout.n:,} "
                    "rows never trained on; predicted by the fold ensemble)")
    t = result.timing
    console.print(f"\ntraining time over all folds: wall {t['wall_s']:.1f} s, user "
                  f"{t['user_s']:.1f} s, system {t['system_s']:.1f} s"
                  + (f" (folds {', '.join(map(str, result.resumed))} from an earlier session)"
                     if result.resumed else ""), highlight=False)
    report = runs.write_report(result.run_dir)
    if report is not None:
        console.print(f"report: {report[0]}", highlight=False, soft_wrap=True)
    console.print(str(result.run_dir), highlight=False, soft_wrap=True, markup=False)


def _print_plan(plan: runs.CVPlan) -> None:
    split, sizes, training = plan.split, plan.split.sizes(), plan.training
    k = len(split.folds)
    how = (f"{k}-fold stratified CV" if k > 1 else
           f"one stratified train/test split ({split.config.test_size:g} test)")
    console.print(f"[bold]{plan.model}[/] on {sizes['rows_in_play']:,} rows "
                  f"({plan.config['data']['train']}): {how} on {sizes['cv_rows']:,} rows, "
                  f"{sizes['holdout_rows']:,} held out · seed {training.seed}", highlight=False,
                  soft_wrap=True)
    if split.holdout.size:
        console.print("holdout model: the fold ensemble (mean of the fold models' "
                      "probabilities); the holdout is never trained on", highlight=False,
                      soft_wrap=True)
    if plan.done:
        console.print(f"resuming {plan.run_dir}: folds {', '.join(map(str, plan.done))} "
                      "already finished", highlight=False)
    console.print(f"run folder: {plan.run_dir}", highlight=False, soft_wrap=True)
    from kaggle_digits.models import get_preset

    if get_preset(plan.model).is_keras:
        console.print(summary_table(plan.model))
        from kaggle_digits import backend

        console.print(f"backend: {backend.name()} on {backend.device()}", highlight=False)
        recipe = (f"{training.optimizer} lr {training.learning_rate:g}, {training.epochs} "
                  f"epochs, batch {training.batch_size}, {training.schedule} schedule"
                  + (f", mean of {training.members} seeds" if training.members > 1 else ""))
        console.print(f"recipe: {recipe}", highlight=False)


@app.command("models")
def models_cmd() -> None:
    """List the model presets: kind, parameters, training recipe and where each comes from."""
    from kaggle_digits.models import PRESETS

    table = Table(title="Model presets (kdigits cv --model NAME)", title_justify="left",
                  title_style="bold")
    for column, justify in (("name", "left"), ("kind", "left"), ("parameters", "right"),
                            ("recipe", "left"), ("source", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for preset in PRESETS.values():
        count, members = preset.parameters(), preset.recipe.members
        shown = "–" if count is None else f"{count:,}" + (f" ×{members}" if members > 1 else "")
        table.add_row(preset.name, preset.kind, shown,
                      preset.recipe.describe(), preset.source)
    console.print(table)


@app.command("runs")
def runs_cmd(
    runs_dir: Annotated[Path, typer.Option(help="Folder holding run folders.")] = RUNS,
) -> None:
    """List cross-validation runs: model, folds, OOF and holdout accuracy, kappa, minutes."""
    found = runs.list_runs(runs_dir)
    if not found:
        console.print(f"no runs under {runs_dir}/ yet: start one with `kdigits cv`",
                      highlight=False)
        return
    table = Table(title=f"Runs in {runs_dir}/", title_justify="left", title_style="bold")
    for column, justify in (("run", "left"), ("model", "left"), ("folds", "right"),
                            ("OOF acc", "right"), ("holdout acc", "right"),
                            ("kappa", "right"), ("minutes", "right"), ("status", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for run in found:
        total = len((run.config.get("rows") or {}).get("folds") or [])
        done = len(runs.finished_folds(run.path))
        metrics = run.metrics or {}
        oof = (metrics.get("oof") or {}).get("overall") or {}
        hold = (metrics.get("holdout") or {}).get("overall") or {}
        minutes = runs.minutes(run)
        table.add_row(run.name, run.model, f"{done}/{total}", _fmt(oof.get("accuracy")),
                      _fmt(hold.get("accuracy")), _fmt(oof.get("kappa")),
                      "–" if minutes is None else f"{minutes:.1f}",
                      "done" if run.finished else "[yellow]unfinished[/] (--resume)")
    console.print(table)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"
