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
from kaggle_digits.cli.app import (
    LabelSmoothingOption,
    LayerOptions,
    MixOption,
    PrecisionOption,
    app,
    console,
    folder,
)
from kaggle_digits.constants import DEFAULT_MODEL, DEFAULT_PRINT_MODE, PRINT_MODES
from kaggle_digits.errors import KdigitsError
from kaggle_digits.locations import locations
from kaggle_digits.params import Params, parse_options
from kaggle_digits.progress import CVProgress, numbered, plural
from kaggle_digits.splits import SplitConfig

WHERE = locations()  # the project folders, or a Kaggle notebook's
SPLIT_DEFAULTS = SplitConfig()
TUNED = "the --params file's"  # what an unset split or recipe option takes, if given


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
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(
        help="Model preset (see `kdigits models`) or FILE.py:FUNCTION.",
        show_default=f"{DEFAULT_MODEL}, or {TUNED}")] = None,
    train: Annotated[Path | None, typer.Option(
        help="Training CSV or Kaggle zip.",
        show_default=f"{WHERE.train}; with --resume, the run's")] = None,
    folds: Annotated[int | None, typer.Option(
        help="k for stratified k-fold; 1 = one train/test split.",
        show_default=f"{SPLIT_DEFAULTS.folds}, or {TUNED}")] = None,
    holdout: Annotated[float | None, typer.Option(
        help="Stratified share held out from all training and selection; 0 for none.",
        show_default=f"{SPLIT_DEFAULTS.holdout:g}, or {TUNED}")] = None,
    percent: Annotated[float | None, typer.Option(
        help="Use a stratified P% sample of the training rows (for speed).",
        show_default=f"{SPLIT_DEFAULTS.percent:g}, or {TUNED}")] = None,
    test_size: Annotated[float | None, typer.Option(
        help="Test share of the one train/test split (--folds 1 only).",
        show_default=f"{SPLIT_DEFAULTS.test_size:g}, or {TUNED}")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed for splits, weights and shuffling; fold k trains with seed + k.",
        show_default=f"{SPLIT_DEFAULTS.seed}, or {TUNED}")] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Training epochs.", show_default=f"the preset's, or {TUNED}")] = None,
    members: Annotated[int | None, typer.Option(
        help="Models with different seeds trained and averaged per fold.",
        show_default=f"the preset's, or {TUNED}")] = None,
    mix: MixOption = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Training batch size.", show_default=f"the preset's, or {TUNED}")] = None,
    learning_rate: Annotated[float | None, typer.Option(
        help="Learning rate.", show_default=f"the preset's, or {TUNED}")] = None,
    optimizer: Annotated[str | None, typer.Option(
        help="Optimizer: adam, rmsprop, sgd, adadelta and the other Keras optimizers.",
        show_default=f"the preset's, or {TUNED}")] = None,
    option: LayerOptions = None,
    early_stopping: Annotated[int | None, typer.Option(
        metavar="PATIENCE", show_default="off",
        help="Stop a fold's training when the loss on the recipe's validation split (else "
             "10% of its training rows; never its test rows or the holdout) has not "
             "improved for PATIENCE epochs, and keep the best epoch's weights.")] = None,
    tta: Annotated[bool | None, typer.Option(
        "--tta/--no-tta", show_default=f"the preset's, or {TUNED}",
        help="Test-time augmentation: score each fold's test rows and the holdout by the "
             "mean of every digit and its four 1-pixel shifts.")] = None,
    precision: PrecisionOption = None,
    label_smoothing: LabelSmoothingOption = None,
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
        help="Folds trained at once in worker processes, or fold members when each fold "
             "has several (best: 5 with its mix); CPU threads are shared out, and with "
             "several GPUs each worker gets one.")] = 1,
    threads: Annotated[int | None, typer.Option(
        help="CPU threads per fold; recorded, since it sets a CPU model's last digits.",
        show_default="all, or an equal share with --jobs")] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Only the plan, one line per fold and the short summary: no "
                              "layer table, epoch lines, fold table or caret blocks.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Everything: caret's by-class block with every statistic "
                                "(--mode everything, unless --mode is given).")] = False,
    name: Annotated[str | None, typer.Option(
        metavar="TAG", show_default="none",
        help="Label the run: folder <time>-<model>-TAG; `runs` and `compare` show it, and "
             "TAG names the run wherever one is asked for.")] = None,
) -> None:
    """Cross-validate a model: stratified folds, a holdout, caret statistics, a run folder.

    On a terminal the epoch lines stay in the scrollback above live bars; every run ends
    with a short summary and the next commands. The report is written either way.
    """
    from kaggle_digits.caret_text import print_caret
    from kaggle_digits.report import write_report

    if mode not in PRINT_MODES:
        raise KdigitsError(f"--mode must be one of {', '.join(PRINT_MODES)}, not {mode!r}")
    if quiet and verbose:
        raise KdigitsError("--quiet and --verbose exclude each other; choose one")
    if verbose and ctx.get_parameter_source("mode").name == "DEFAULT":  # type: ignore[union-attr]
        mode = "everything"
    options = runs.CVOptions(
        model=model, train=train, folds=folds, holdout=holdout, percent=percent,
        test_size=test_size, seed=seed, epochs=epochs, members=members, mix=mix,
        batch_size=batch_size, learning_rate=learning_rate, optimizer=optimizer,
        early_stopping=early_stopping, tta=tta, precision=precision,
        label_smoothing=label_smoothing,
        model_options=parse_options(option) or None, params=params, runs_dir=runs_dir, jobs=jobs,
        threads=threads, name=name)
    # Loading the data and Keras takes seconds: a spinner says so at once, and the plan
    # lines are printed above it as they are known.
    with console.status("Loading the training data and the model…"):
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
        _print_plan(plan, layers=not quiet)
    if jobs > 1:
        members = runs.shared_members(plan)
        what = "folds" if members == 1 else f"fold members (of {members} per fold)"
        console.print(f"{jobs} {what} at a time, "
                      f"{plural(plan.config.get('threads_per_fold') or 1, 'CPU thread')} each",
                      highlight=False)
    with CVProgress(console, history=not quiet) as progress:
        result = runs.run_cv(plan, progress, jobs=jobs)

    if not quiet:
        console.print()
        console.print(fold_table(result))
        console.print()
        print_caret(console, result.oof, mode, title=f"Pooled out-of-fold predictions "
                    f"({result.oof.n:,} rows, {plural(len(result.folds), 'fold model')})")
        if result.holdout is not None:
            console.print()
            print_caret(console, result.holdout, mode, title=f"Holdout ({result.holdout.n:,} "
                        "rows never trained on; predicted by the fold ensemble)")
    html, _ = write_report(result.run_dir)
    console.print()
    _print_summary(plan, result, html)
    console.print(str(result.run_dir), highlight=False, soft_wrap=True, markup=False)


def _print_summary(plan: runs.CVPlan, result: runs.CVResult, html: Path) -> None:
    """The run on one screen (each line fits 80 columns but for paths): its scores, its
    time, its report, and the next commands, one per line so they copy whole."""
    folds, t = len(result.folds), result.timing
    how = f"{folds}-fold CV" if folds > 1 else "one train/test split"
    console.print(f"[bold]Summary[/]: {plan.model}, {how}", highlight=False, soft_wrap=True)
    oof, (_, sd) = result.oof, runs.mean_sd([f["accuracy"] for f in result.folds])
    spread = f" ± {sd:.4f} (sd over folds)" if sd is not None else ""
    rows = [("OOF", f"accuracy {oof.accuracy:.4f}{spread}, kappa {oof.kappa:.4f}, "
                    f"{oof.n:,} rows")]
    hold = result.holdout
    if hold is not None:
        low, high = hold.overall["accuracy_lower"], hold.overall["accuracy_upper"]
        rows.append(("holdout", f"accuracy {hold.accuracy:.4f}, exact 95% CI {low:.4f}–"
                                f"{high:.4f}, kappa {hold.kappa:.4f}, {hold.n:,} rows"))
    earlier = (f"; {numbered(result.resumed, 'fold')} from an earlier session"
               if result.resumed else "")
    minutes = f"{t['minutes']:.2f}" if t["minutes"] < 10 else f"{t['minutes']:.1f}"
    rows += [("time", f"{minutes} min training: wall {t['wall_s']:.1f} s, user "
                      f"{t['user_s']:.1f} s, system {t['system_s']:.1f} s{earlier}"),
             ("report", str(html))]
    for label, text in rows:
        console.print(f"  {label:<9}{text}", highlight=False, soft_wrap=True, markup=False)
    run = shlex.quote(str(result.run_dir))
    console.print(f"Next: a Kaggle submission from the {plural(folds, 'fold model')}, "
                  "or the report again:", highlight=False, soft_wrap=True)
    for command in (f"kdigits submit --run {run}", f"kdigits report {run}"):
        console.print(f"  {command}", highlight=False, soft_wrap=True, markup=False)


def _print_plan(plan: runs.CVPlan, *, layers: bool = True) -> None:
    """What will run, printed before any training (``layers``: Keras' layer table too)."""
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
        console.print(f"resuming {plan.run_dir}: {numbered(sorted(plan.done), 'fold')} "
                      "already finished", highlight=False, soft_wrap=True)
    console.print(f"run folder: {plan.run_dir}", highlight=False, soft_wrap=True)
    from kaggle_digits.user_models import get_model

    if get_model(plan.model).is_keras:
        if layers:
            console.print(summary_table(plan.model, training.model_options))
        from kaggle_digits import backend

        console.print(f"backend: {backend.name()} on {backend.device()}", highlight=False)
        from kaggle_digits.report import describe_settings  # layer options as compare words them

        recipe = ", ".join(filter(None, [training.recipe().describe(),
                                         describe_settings(training.model_options)]))
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
    name: Annotated[str | None, typer.Argument(
        show_default=False, help="The same as --model: `kdigits models best`.")] = None,
    model: Annotated[str | None, typer.Option(
        help="Show one model's layers and recipe: a preset, or FILE.py:FUNCTION.")] = None,
) -> None:
    """List the model presets: kind, parameters, training recipe and where each comes from."""
    from kaggle_digits.models import PRESETS
    from kaggle_digits.user_models import get_model

    if name is not None and model is not None and name != model:
        raise KdigitsError(f"two models to show ({name} and --model {model}); give one")
    model = name if model is None else model
    if model is not None:
        chosen = get_model(model)
        if chosen.is_keras:
            console.print(summary_table(model, {}))
        console.print(f"{model}: {chosen.kind}; recipe: {chosen.recipe.describe()}; "
                      f"source: {chosen.source}", highlight=False, soft_wrap=True)
        if chosen.options():
            console.print("layer options (--option NAME=VALUE): " + ", ".join(
                f"{k}={v:g}" if isinstance(v, float) else f"{k}={v!r}"
                for k, v in chosen.options().items()), highlight=False,
                soft_wrap=True)
        return

    table = Table(title="Model presets (kdigits cv --model NAME)", title_justify="left",
                  title_style="bold")
    for column, justify in (("name", "left"), ("kind", "left"), ("parameters", "right"),
                            ("recipe", "left"), ("source", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for preset in PRESETS.values():
        count, members = preset.parameters(), preset.recipe.members
        shown = "–" if count is None else f"{count:,}" + (f" ×{members}" if members > 1 else "")
        recipe = preset.recipe
        if recipe.mix_with is not None:  # the nets averaged in, by their own count
            # every group counts the preset's listed weights (a test builds each to check)
            nets = recipe.mix_members * len(recipe.mix_variants)
            shown += f" + {nets}×{PRESETS[recipe.mix_with].parameters():,}"
        table.add_row(preset.name, preset.kind, shown,
                      preset.recipe.describe(), preset.source)
    console.print(table)


@app.command("runs")
def runs_cmd(
    runs_dir: Annotated[Path, typer.Option(help="Folder holding run folders.",
                                           callback=folder)] = WHERE.runs,
) -> None:
    """List cross-validation runs: model, folds, OOF and holdout accuracy, kappa, minutes."""
    from kaggle_digits.plots import minutes_text

    found = runs.list_runs(runs_dir)
    if not found:
        missing = "" if runs_dir.is_dir() else " (the folder does not exist)"
        console.print(f"no runs under {runs_dir}/ yet{missing}: start one with `kdigits cv`",
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
