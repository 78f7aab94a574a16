"""``kdigits cv``, ``models`` and ``runs``: cross-validate a preset and see what ran.

Parsing and rendering only: splitting, training and pooling live in `kaggle_digits.runs`,
`train` and `splits`. On a terminal, training shows three live bars (folds, epochs,
batches); piped into a file or CI log it prints one plain line per epoch instead, since a
redrawn bar there is just noise (`kaggle_digits.progress`, shared with the Python API).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich import box
from rich.table import Table

from kaggle_digits import runs
from kaggle_digits.cli.app import app, console
from kaggle_digits.constants import DEFAULT_MODEL, DEFAULT_PRINT_MODE, PRINT_MODES
from kaggle_digits.errors import KdigitsError
from kaggle_digits.locations import locations
from kaggle_digits.params import Params
from kaggle_digits.progress import CVProgress
from kaggle_digits.splits import SplitConfig

WHERE = locations()  # the project folders, or a Kaggle notebook's
SPLIT_DEFAULTS = SplitConfig()


def _command() -> str:
    return shlex.join(["kdigits", *sys.argv[1:]])


def summary_table(model: str, options: dict | None = None) -> Table:
    """Keras' ``summary()`` as a Rich table (``options``: the builder's tuned keywords)."""
    from kaggle_digits.train import layer_summary

    rows = layer_summary(model, **(options or {}))
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
        mean, sd = runs.mean_sd([f[key] for f in result.folds])
        return f"{mean:.4f}" + (f" ± {sd:.4f}" if sd is not None else "")

    means = {k: float(np.mean([f[k] for f in result.folds]))
             for k in ("wall_s", "user_s", "system_s")}
    table.add_section()
    table.add_row("mean ± sd", mean_sd("accuracy"), mean_sd("kappa"), "", seconds(means),
                  style="bold")
    return table


@app.command()
def cv(
    model: Annotated[str | None, typer.Option(
        help="Model preset (see `kdigits models`) or FILE.py:FUNCTION.",
        show_default=DEFAULT_MODEL)] = None,
    train: Annotated[Path | None, typer.Option(
        help="Training CSV or Kaggle zip.", show_default=str(WHERE.train))] = None,
    folds: Annotated[int | None, typer.Option(
        help="k for stratified k-fold; 1 = one train/test split.",
        show_default=str(SPLIT_DEFAULTS.folds))] = None,
    holdout: Annotated[float | None, typer.Option(
        help="Stratified share held out from all training and selection; 0 for none.",
        show_default=str(SPLIT_DEFAULTS.holdout))] = None,
    percent: Annotated[float | None, typer.Option(
        help="Use a stratified P% sample of the training rows (for speed).",
        show_default=f"{SPLIT_DEFAULTS.percent:g}")] = None,
    test_size: Annotated[float | None, typer.Option(
        help="Test share of the split when --folds 1.",
        show_default=str(SPLIT_DEFAULTS.test_size))] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed for splits, weights and shuffling; fold k trains with seed + k.",
        show_default=str(SPLIT_DEFAULTS.seed))] = None,
    epochs: Annotated[int | None, typer.Option(help="Override the preset's epochs.")] = None,
    members: Annotated[int | None, typer.Option(
        min=1, help="Override the preset's number of seeded members averaged per fold "
                    "(best: 3).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Override the preset's batch size.")] = None,
    learning_rate: Annotated[float | None, typer.Option(
        help="Override the preset's learning rate.")] = None,
    optimizer: Annotated[str | None, typer.Option(
        help="Override the preset's optimizer (adam, rmsprop, sgd, adadelta, …).")] = None,
    runs_dir: Annotated[Path | None, typer.Option(
        help="Where run folders are created.", show_default=str(WHERE.runs))] = None,
    resume: Annotated[Path | None, typer.Option(
        metavar="RUN", help="Finish an interrupted run, reusing its finished folds and its "
                            "settings.")] = None,
    mode: Annotated[str, typer.Option(
        help=f"caret print mode: {', '.join(PRINT_MODES)}.")] = DEFAULT_PRINT_MODE,
    params: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Train with a `kdigits tune` best.json: its model, recipe and "
                             "layer options, on the split it was tuned on; options given "
                             "here win.")] = None,
    jobs: Annotated[int, typer.Option(
        help="Folds trained at once, in worker processes (CPU threads are shared out; "
             "with several GPUs, one each).")] = 1,
    threads: Annotated[int | None, typer.Option(
        help="CPU threads per fold (default: all, or an equal share with --jobs); "
             "recorded, since it sets a CPU model's last digits.")] = None,
    name: Annotated[str | None, typer.Option(
        metavar="TAG", help="Label the run: folder <time>-<model>-TAG; `runs` and `compare` "
                            "show it, and TAG names the run wherever one is asked for.")]
        = None,
) -> None:
    """Cross-validate a model: stratified folds, a holdout, caret statistics, a run folder."""
    from kaggle_digits.caret_text import print_caret
    from kaggle_digits.report import write_report

    if mode not in PRINT_MODES:
        raise KdigitsError(f"--mode must be one of {', '.join(PRINT_MODES)}, not {mode!r}")
    options = runs.CVOptions(
        model=model, train=train, folds=folds, holdout=holdout, percent=percent,
        test_size=test_size, seed=seed, epochs=epochs, members=members,
        batch_size=batch_size, learning_rate=learning_rate, optimizer=optimizer,
        params=params, runs_dir=runs_dir, jobs=jobs, threads=threads, name=name)
    if resume is not None:
        clash = options.given()
        if clash:
            raise KdigitsError(f"--resume takes its settings from {resume}/config.json; "
                               f"drop {', '.join(clash)}")
        plan = runs.resume_cv(resume, train)
    else:
        plan, tuned = runs.plan_from_options(options, command=_command(),
                                             extra={"mode": mode})
        if tuned:
            _print_tuned(tuned, plan)
    _print_plan(plan)
    if jobs > 1:
        console.print(f"{jobs} folds at a time, {plan.config.get('threads_per_fold')} CPU "
                      "thread(s) each", highlight=False)
    with CVProgress(console) as progress:
        result = runs.run_cv(plan, progress, jobs=jobs)

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
    html, _ = write_report(result.run_dir)
    console.print(f"report: {html}", highlight=False, soft_wrap=True)
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
    from kaggle_digits.user_models import get_model

    if get_model(plan.model).is_keras:
        console.print(summary_table(plan.model, training.model_options))
        from kaggle_digits import backend

        console.print(f"backend: {backend.name()} on {backend.device()}", highlight=False)
        recipe = (f"{training.optimizer} lr {training.learning_rate:g}, {training.epochs} "
                  f"epochs, batch {training.batch_size}, {training.schedule} schedule"
                  + (f", mean of {training.members} seeds" if training.members > 1 else "")
                  + "".join(f", {k} {v:g}" if isinstance(v, float) else f", {k} {v}"
                            for k, v in training.model_options.items()))
        console.print(f"recipe: {recipe}", highlight=False)


def _print_tuned(tuned: Params, plan: runs.CVPlan) -> None:
    """Where the settings came from, and whether the holdout is still unseen by tuning."""
    console.print(f"parameters from {tuned.path}", highlight=False, soft_wrap=True)
    if tuned.split is not None and tuned.split != plan.split.config.to_json():
        console.print(f"[yellow]note:[/] this split differs from the one {tuned.path} was "
                      "tuned on, so its holdout may hold rows the tuning selected on",
                      highlight=False, soft_wrap=True)
    if tuned.train_sha256 not in (None, plan.config["data"]["train_sha256"]):
        console.print(f"[yellow]note:[/] {tuned.path} was tuned on another train file "
                      "(SHA-256 differs)", highlight=False, soft_wrap=True)


@app.command("models")
def models_cmd(
    model: Annotated[str | None, typer.Option(
        help="Show one model's layers and recipe: a preset, or FILE.py:FUNCTION.")] = None,
) -> None:
    """List the model presets: kind, parameters, training recipe and where each comes from."""
    from kaggle_digits.models import PRESETS
    from kaggle_digits.user_models import get_model

    if model is not None:
        chosen = get_model(model)
        if chosen.is_keras:
            console.print(summary_table(model, {}))
        console.print(f"{model}: {chosen.kind}; recipe: {chosen.recipe.describe()}; "
                      f"source: {chosen.source}", highlight=False, soft_wrap=True)
        return

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
    runs_dir: Annotated[Path, typer.Option(help="Folder holding run folders.")] = WHERE.runs,
) -> None:
    """List cross-validation runs: model, folds, OOF and holdout accuracy, kappa, minutes."""
    from kaggle_digits.plots import minutes_text

    found = runs.list_runs(runs_dir)
    if not found:
        console.print(f"no runs under {runs_dir}/ yet: start one with `kdigits cv`",
                      highlight=False)
        return
    # the full run ID on one line, never cut (two runs of a second share its first 15
    # characters); the light box leaves the numbers room at 80 columns
    table = Table(title=f"Runs in {runs_dir}/", title_justify="left", title_style="bold",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("run", no_wrap=True, overflow="fold")
    for column in ("folds", "OOF acc", "holdout", "kappa", "minutes"):
        table.add_column(column, justify="right")
    unfinished: list[runs.Run] = []
    for run in found:
        total = len((run.config.get("rows") or {}).get("folds") or [])
        done = len(runs.finished_folds(run.path))
        metrics = run.metrics or {}
        oof = (metrics.get("oof") or {}).get("overall") or {}
        hold = (metrics.get("holdout") or {}).get("overall") or {}
        minutes = runs.minutes(run)
        if not run.finished:
            unfinished.append(run)
        table.add_row(run.name, f"{done}/{total}", _fmt(oof.get("accuracy")),
                      _fmt(hold.get("accuracy")), _fmt(oof.get("kappa")),
                      "–" if minutes is None else minutes_text(minutes),
                      style=None if run.finished else "yellow")
    if unfinished:
        which = str(unfinished[0].path) if len(unfinished) == 1 else "RUN"
        table.caption = (f"unfinished: {', '.join(r.name for r in unfinished)}; finish with "
                         f"`kdigits cv --resume {which}`")
        table.caption_justify = "left"
    console.print(table)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"
