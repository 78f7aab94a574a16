"""``kdigits submit``, ``ensemble`` and ``upload``: the end of the Kaggle loop."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kaggle_digits.caret_text import print_caret
from kaggle_digits.cli.app import app, console
from kaggle_digits.constants import COMPETITION, DEFAULT_MODEL
from kaggle_digits.ensemble import make_ensemble
from kaggle_digits.errors import KdigitsError
from kaggle_digits.kaggle_api import upload as kaggle_upload
from kaggle_digits.locations import locations
from kaggle_digits.progress import prediction_progress, training_progress
from kaggle_digits.stats import ConfusionStats
from kaggle_digits.submission_file import expected_rows
from kaggle_digits.submit import SubmitConfig, plan_models, plan_submit, run_submit

if TYPE_CHECKING:
    import pandas as pd
WHERE = locations()  # the project folders, or a Kaggle notebook's
DEFAULT_OUT = (str(WHERE.submission("")) if WHERE.kaggle_kernel
               else f"{WHERE.submissions}/submission-{{model}}-<timestamp>.csv")


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
        help=f"Preset or FILE.py:FUNCTION to train on all of train.csv (default: "
             f"{DEFAULT_MODEL}).")] = None,
    run: Annotated[Path | None, typer.Option(
        help="Reuse a `kdigits cv` run folder: average its fold models' probabilities.")] = None,
    refit: Annotated[bool, typer.Option(
        help="With --run: train once on all rows with the run's config instead.")] = False,
    train: Annotated[Path, typer.Option(
        help="Training data (CSV or digit-recognizer.zip).")] = WHERE.train,
    test: Annotated[Path, typer.Option(help="Test data to predict.")] = WHERE.test,
    out: Annotated[Path | None, typer.Option(
        help=f"Submission file (default: {DEFAULT_OUT.format(model='<model>')}).",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed for training.")] = None,
    tta: Annotated[bool, typer.Option(
        help="Test-time augmentation: average the image and its four 1-pixel shifts.")] = False,
    epochs: Annotated[int | None, typer.Option(
        min=1, help="Override the preset's epochs (quick runs).")] = None,
    members: Annotated[int | None, typer.Option(
        min=1, help="Override the preset's number of seeded members averaged (best: 3).")
    ] = None,
    solution: Annotated[Path | None, typer.Option(
        help="ImageId,Label answers to score against (default: solution.csv beside --test, "
             "if there is one).", show_default=False)] = None,
    upload: Annotated[bool, typer.Option(help="Upload to Kaggle after writing.")] = False,
    message: Annotated[str | None, typer.Option("-m", "--message",
                                                help="Upload message.")] = None,
    params: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Train with a `kdigits tune` best.json: its model, recipe and "
                             "layer options.")] = None,
    name: Annotated[str | None, typer.Option(
        metavar="TAG", help="Label the submission: submission-<model>-TAG-<time>.csv, "
                            "and recorded in its JSON.")] = None,
) -> None:
    """Train a preset (or reuse a cv run), predict test.csv and write a Kaggle submission."""
    plan = plan_submit(SubmitConfig(model=model, run=run, refit=refit, train=train, test=test,
                                    out=out, force=force, seed=seed, epochs=epochs,
                                    members=members, tta=tta, solution=solution,
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
        with training_progress(console) as progress:
            models = plan_models(plan, progress)
    else:
        models = plan_models(plan)
        console.print(f"Averaging the {len(models)} fold models of {plan.cv_run.path}{on}",  # type: ignore[union-attr]
                      highlight=False)
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
        help=f"Ensemble submission (default: {DEFAULT_OUT.format(model='ensemble')}).",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    solution: Annotated[Path | None, typer.Option(
        help="ImageId,Label answers to score against (default: the solution.csv beside the "
             "test file the inputs were made for, if it belongs to it).",
        show_default=False)] = None,
    test: Annotated[Path, typer.Option(
        help="Test file the inputs predict, when their records do not say.")
    ] = WHERE.test,
) -> None:
    """Average the inputs' saved probabilities (or majority-vote plain submissions)."""
    made = make_ensemble(submissions, out=out, force=force, solution=solution, test=test,
                         command=_command())
    result = made.ensemble
    how = ("mean of saved probabilities" if result.method == "mean-probabilities"
           else "majority vote (ties: earliest file)")
    view = Table(title=f"Ensemble of {len(submissions)} submissions: {how}",
                 title_justify="left")
    view.add_column("input")
    view.add_column("probabilities")
    view.add_column("agrees with ensemble", justify="right")
    for item, share in zip(result.inputs, result.agreement, strict=True):
        view.add_row(item["path"], "yes" if item["probabilities"] else "no", f"{share:.2%}")
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
