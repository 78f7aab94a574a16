"""``kdigits submit``, ``ensemble`` and ``upload``: the end of the Kaggle loop."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kaggle_digits.caret_text import print_caret
from kaggle_digits.cli.app import (
    LabelSmoothingOption,
    LayerOptions,
    MixOption,
    PrecisionOption,
    app,
    console,
)
from kaggle_digits.constants import COMPETITION, DEFAULT_MODEL
from kaggle_digits.ensemble import make_ensemble
from kaggle_digits.errors import KdigitsError
from kaggle_digits.kaggle_api import upload as kaggle_upload
from kaggle_digits.locations import locations
from kaggle_digits.parallel import threads_per_job
from kaggle_digits.params import parse_options
from kaggle_digits.progress import plural, prediction_progress, training_progress
from kaggle_digits.stats import ConfusionStats
from kaggle_digits.submission_file import expected_rows
from kaggle_digits.submit import SubmitConfig, plan_models, plan_submit, run_submit
from kaggle_digits.train import member_count

if TYPE_CHECKING:
    import pandas as pd
WHERE = locations()  # the project folders, or a Kaggle notebook's
# Said in words that wrap: an unbreakable path is cut short in an 80-column help.
DEFAULT_OUT = (str(WHERE.submission("")) if WHERE.kaggle_kernel
               else f"a new file in {WHERE.submissions}/ named by {{what}} and time")


def _command() -> str:
    return shlex.join(["kdigits", *sys.argv[1:]])


def _distribution_table(table: pd.DataFrame) -> Table:
    view = Table(title="Predicted class distribution", title_justify="left")
    view.add_column("digit", justify="right")
    view.add_column("predicted", justify="right")
    view.add_column("share", justify="right")
    has_train = "train" in table
    if has_train:
        view.add_column("train labels", justify="right")
        view.add_column("share", justify="right")
        view.add_column("Δ share", justify="right")
    for digit, row in table.iterrows():
        cells = [str(digit), f"{row['predicted']:,.0f}", f"{row['predicted_share']:.2%}"]
        if has_train:
            delta = 100 * (row["predicted_share"] - row["train_share"])
            cells += [f"{row['train']:,.0f}", f"{row['train_share']:.2%}", f"{delta:+.2f} pt"]
        view.add_row(*cells)
    return view


def _print_score(stats: ConfusionStats, solution: Path) -> None:
    print_caret(console, stats, title=f"Submission vs {solution}")
    rows = int(stats.table.sum())
    console.print(f"Local score (accuracy on {rows:,} images): {stats.accuracy:.4f}",
                  highlight=False)


def _upload(path: Path, message: str | None, rows: int) -> None:
    if not message:
        raise KdigitsError("--upload needs a message: -m 'what this submission is'")
    answer = kaggle_upload(path, message, rows=rows)
    console.print(f"Uploaded to Kaggle ({COMPETITION}): {answer}", highlight=False)


@app.command()
def submit(
    model: Annotated[str | None, typer.Option(
        help="Preset or FILE.py:FUNCTION to train on all of train.csv.",
        show_default=f"{DEFAULT_MODEL}, or the --params file's")] = None,
    run: Annotated[Path | None, typer.Option(
        help="Reuse a `kdigits cv` run folder: average its fold models' probabilities.")] = None,
    refit: Annotated[bool, typer.Option(
        help="With --run: train once on all rows with the run's config instead.")] = False,
    train: Annotated[Path, typer.Option(
        help="Training data (CSV or digit-recognizer.zip).")] = WHERE.train,
    test: Annotated[Path, typer.Option(help="Test data to predict.")] = WHERE.test,
    out: Annotated[Path | None, typer.Option(
        help="Submission file (.csv), in a folder that exists; its .probs.npy and .json "
             "go beside it.", show_default=DEFAULT_OUT.format(what="model"))] = None,
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    seed: Annotated[int | None, typer.Option(
        help="Random seed for training.", show_default="the recipe's: 42, or the run's with "
                                                       "--refit")] = None,
    tta: Annotated[bool | None, typer.Option(
        "--tta/--no-tta", show_default="the recipe's, or the run's",
        help="Test-time augmentation: average the image and its four 1-pixel shifts.")] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Training epochs (fewer: a quicker, rougher model).",
        show_default="the recipe's")
    ] = None,
    members: Annotated[int | None, typer.Option(
        help="Models with different seeds trained and averaged.",
        show_default="the recipe's")] = None,
    mix: MixOption = None,
    option: LayerOptions = None,
    early_stopping: Annotated[int | None, typer.Option(
        metavar="PATIENCE", show_default="off",
        help="Stop training when the loss on the recipe's validation split (else 10% of "
             "train.csv, carved out, not trained on) has not improved for PATIENCE epochs, "
             "and keep the best epoch's weights.")
    ] = None,
    precision: PrecisionOption = None,
    label_smoothing: LabelSmoothingOption = None,
    jobs: Annotated[int, typer.Option(
        help="Seeded members (best: 5 with its mix) trained at once, in worker processes "
             "sharing the CPU threads (with several GPUs, one each).")] = 1,
    solution: Annotated[Path | None, typer.Option(
        help="ImageId,Label answers to score against.",
        show_default="solution.csv beside --test, if it belongs to it")] = None,
    upload: Annotated[bool, typer.Option(help="Upload to Kaggle after writing.")] = False,
    message: Annotated[str | None, typer.Option(
        "-m", "--message", help="Upload message (with --upload).")] = None,
    params: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Train with a `kdigits tune` best.json: its model, recipe and "
                             "layer options.")] = None,
    name: Annotated[str | None, typer.Option(
        metavar="TAG", show_default="none",
        help="Label the submission: TAG goes into the file name, after the model, and into "
             "its JSON record.")] = None,
) -> None:
    """Train a preset (or reuse a cv run), predict test.csv and write a Kaggle submission."""
    plan = plan_submit(SubmitConfig(model=model, run=run, refit=refit, train=train, test=test,
                                    out=out, force=force, seed=seed, epochs=epochs,
                                    members=members, mix=mix,
                                    early_stopping=early_stopping,
                                    precision=precision,
                                    label_smoothing=label_smoothing, jobs=jobs,
                                    model_options=parse_options(option) or None,
                                    tta=tta, solution=solution,
                                    upload=upload, message=message, params=params,
                                    name=name),
                       command=_command())
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    where = plan.record
    on = f" ({where['backend']} on {where['device']})" if where.get("backend") else ""
    if plan.trains:
        console.print(f"Training [bold]{plan.name}[/] on all {len(plan.train):,} rows of "
                      f"{plan.train_path}{on}", highlight=False)
        at_once = min(jobs, member_count(plan.training))  # type: ignore[union-attr]
        if at_once > 1:
            console.print(f"{at_once} members at a time, "
                          f"{plural(threads_per_job(at_once), 'CPU thread')} each",
                          highlight=False)
        with training_progress(console) as progress:
            models = plan_models(plan, progress)
    else:
        models = plan_models(plan)
        console.print(f"Averaging the {plural(len(models), 'fold model')} of "
                      f"{plan.cv_run.path}{on}", highlight=False)  # type: ignore[union-attr]
    result = run_submit(plan, models, prediction_progress=prediction_progress(console))

    console.print(_distribution_table(result.distribution))
    if result.score is not None:
        _print_score(result.score, result.solution)  # type: ignore[arg-type]
    if upload:
        _upload(result.path, message, len(result.labels))
    console.print(str(result.path), highlight=False, soft_wrap=True)


@app.command()
def ensemble(
    submissions: Annotated[list[Path], typer.Argument(
        help="Two or more submission CSVs for the same test file (best first: it breaks ties).",
        show_default=False)],
    out: Annotated[Path | None, typer.Option(
        help="Ensemble submission (.csv), in a folder that exists.",
        show_default=DEFAULT_OUT.format(what="'ensemble'"))] = None,
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    solution: Annotated[Path | None, typer.Option(
        help="ImageId,Label answers to score against.",
        show_default="solution.csv beside the inputs' test file, if it belongs to it")
    ] = None,
    test: Annotated[Path, typer.Option(
        help="Test file the inputs predict, when their records do not say.")
    ] = WHERE.test,
    weights: Annotated[str | None, typer.Option(
        help="Each input's say, comma-separated in the inputs' order (e.g. 1,2), or "
             "'members': each file's model count, from its record.",
        show_default="equal")] = None,
) -> None:
    """Average the inputs' saved probabilities (or majority-vote plain submissions)."""
    made = make_ensemble(submissions, out=out, force=force, solution=solution, test=test,
                         weights=weights, command=_command())
    result = made.ensemble
    how = ("mean of saved probabilities" if result.method == "mean-probabilities"
           else "majority vote (ties: earliest file)")
    view = Table(title=f"Ensemble of {len(submissions)} submissions: {how}",
                 title_justify="left")
    view.add_column("input")
    view.add_column("probabilities")
    view.add_column("weight", justify="right")
    view.add_column("agrees with ensemble", justify="right")
    for item, share in zip(result.inputs, result.agreement, strict=True):
        view.add_row(item["path"], "yes" if item["probabilities"] else "no",
                     f"{item['weight']:.3g}", f"{share:.2%}")
    console.print(view)
    console.print(_distribution_table(made.distribution))
    if made.score is not None:
        _print_score(made.score, made.solution)  # type: ignore[arg-type]
    console.print(str(made.path), highlight=False, soft_wrap=True)


@app.command()
def upload(
    submission: Annotated[Path, typer.Argument(help="The submission CSV to upload.",
                                               show_default=False)],
    message: Annotated[str, typer.Option("-m", "--message", help="Submission description.",
                                         show_default=False)],
    test: Annotated[Path, typer.Option(
        help="Test file the submission must match (Kaggle's 28,000 rows if absent).")
    ] = WHERE.test,
) -> None:
    """Validate a submission, then upload it to Kaggle's digit-recognizer competition."""
    _upload(submission, message, expected_rows(test))
    console.print(str(submission), highlight=False, soft_wrap=True)
