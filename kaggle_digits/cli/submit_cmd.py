"""``kdigits submit``, ``ensemble`` and ``upload``: the end of the Kaggle loop."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table

from kaggle_digits import submit as sub
from kaggle_digits.caret_text import print_caret
from kaggle_digits.cli.app import app, console
from kaggle_digits.errors import KdigitsError
from kaggle_digits.stats import ConfusionStats
from kaggle_digits.train import Progress

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_MODEL = "cnn-fast"


def _command() -> str:
    return shlex.join(["kdigits", *sys.argv[1:]])


class _TrainingBar(Progress):
    """Draws `train.fit`'s events as one Rich bar per model: batches, epoch, loss."""

    def __init__(self, bar: RichProgress) -> None:
        self.bar, self.task, self.epochs, self.total, self.title = bar, None, 0, 1, ""

    def fit_started(self, preset: str, member: int, members: int, epochs: int,
                    steps: int) -> None:
        self.epochs, self.total = epochs, max(epochs * steps, 1)  # 0 for scikit-learn
        self.title = preset if members == 1 else f"{preset} {member}/{members}"
        self.task = self.bar.add_task(f"Training {self.title}", total=self.total)

    def batch_done(self, batch: int, logs: dict) -> None:
        self.bar.advance(self.task, 1)

    def epoch_done(self, epoch: int, logs: dict, seconds: float) -> None:
        self.bar.update(self.task, description=f"Training {self.title} · epoch "
                        f"{epoch}/{self.epochs} · loss {logs.get('loss', float('nan')):.4f}"
                        f" · acc {logs.get('accuracy', float('nan')):.4f}")

    def fit_done(self) -> None:
        self.bar.update(self.task, completed=self.total)


def _bar() -> RichProgress:
    return RichProgress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console)


@contextmanager
def _training_progress() -> Iterator[Progress]:
    with _bar() as bar:
        yield _TrainingBar(bar)


@contextmanager
def _prediction_bar(total: int, what: str) -> Iterator[sub.Advance]:
    with _bar() as bar:
        task = bar.add_task(what, total=total)
        yield lambda rows: bar.advance(task, rows)


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
    answer = sub.upload(path, message, rows=rows)
    console.print(f"Uploaded to Kaggle ({sub.COMPETITION}): {answer}", highlight=False)


@app.command()
def submit(
    model: Annotated[str | None, typer.Option(
        help=f"Preset to train on all of train.csv [default: {DEFAULT_MODEL}].")] = None,
    run: Annotated[Path | None, typer.Option(
        help="Reuse a `kdigits cv` run folder: average its fold models' probabilities.")] = None,
    refit: Annotated[bool, typer.Option(
        help="With --run: train once on all rows with the run's config instead.")] = False,
    train: Annotated[Path, typer.Option(
        help="Training data (CSV or digit-recognizer.zip).")] = Path("data/train.csv"),
    test: Annotated[Path, typer.Option(help="Test data to predict.")] = Path("data/test.csv"),
    out: Annotated[Path | None, typer.Option(
        help="Submission file [default: submissions/submission-<model>-<timestamp>.csv].",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed for training.")] = None,
    tta: Annotated[bool, typer.Option(
        help="Test-time augmentation: average the image and its four 1-pixel shifts.")] = False,
    epochs: Annotated[int | None, typer.Option(
        min=1, help="Override the preset's epochs (quick runs).")] = None,
    solution: Annotated[Path | None, typer.Option(
        help="ImageId,Label answers to score against [default: solution.csv beside --test, "
             "if there is one].", show_default=False)] = None,
    upload: Annotated[bool, typer.Option(help="Upload to Kaggle after writing.")] = False,
    message: Annotated[str | None, typer.Option("-m", "--message",
                                                help="Upload message.")] = None,
) -> None:
    """Train a preset (or reuse a cv run), predict test.csv and write a Kaggle submission."""
    from kaggle_digits.data import load_test, load_train
    from kaggle_digits.runs import load_run

    if run is None and refit:
        raise KdigitsError("--refit only applies with --run RUN")
    if run is not None and model is not None:
        raise KdigitsError("give either --model or --run, not both")
    if run is not None and not refit and (epochs is not None or seed is not None):
        raise KdigitsError("--epochs and --seed only apply when training "
                           "(--model, or --run with --refit)")
    if upload:
        if not message:
            raise KdigitsError("--upload needs a message: -m 'what this submission is'")
        sub.require_credentials()  # before training, not after

    cv_run = load_run(run) if run is not None else None
    name = cv_run.model if cv_run is not None else (model or DEFAULT_MODEL)
    training = None
    if cv_run is None or refit:  # settle the config first: a bad option costs no training
        training = sub.training_config(name, {"seed": seed, "epochs": epochs}, cv_run)
    label = name if cv_run is None else f"{name}-{'refit' if refit else 'folds'}"
    out = out or sub.default_output(label)
    sub.refuse_bundle(out, force)  # before any training: a refusal costs nothing

    train_data = load_train(train)
    test_data = load_test(test)
    solution = solution or sub.default_solution(test, test_data.sha256)
    if solution is not None:
        sub.check_solution(solution, len(test_data.pixels))
    record = sub.base_record(_command(), model=name, run=str(cv_run.path) if cv_run else None,
                             refit=refit, tta=tta,
                             train=sub.file_record(train, train_data.sha256),
                             test=sub.file_record(test, test_data.sha256))
    from kaggle_digits import backend
    from kaggle_digits.models import get_preset, keras_module

    keras = get_preset(name).is_keras
    if keras:
        keras_module()  # quietly, before the device is asked of the backend's library
    where = backend.record(keras)
    record.update(where)
    on = f" ({where['backend']} on {where['device']})" if where["backend"] else ""
    if training is not None:
        if cv_run is not None and cv_run.config.get("data", {}).get("train_sha256") not in (
                None, train_data.sha256):
            console.print(f"[yellow]note:[/] {train} is not the train file {cv_run.path} was "
                          "cross-validated on (SHA-256 differs)", highlight=False)
        console.print(f"Training [bold]{name}[/] on all {len(train_data.pixels):,} rows of "
                      f"{train}{on}", highlight=False)
        with _training_progress() as progress:
            predictors = [sub.train_full(training, train_data.pixels, train_data.labels,
                                         progress=progress)]
        record["config"] = training.to_json()
    else:
        predictors = sub.run_models(cv_run)
        record.update(config=cv_run.config.get("training"),
                      fold_models=[str(p) for p in cv_run.model_paths])
        console.print(f"Averaging the {len(predictors)} fold models of {cv_run.path}{on}",
                      highlight=False)

    steps = sub.prediction_steps(len(test_data.pixels), len(predictors), tta)
    with _prediction_bar(steps, f"Predicting {test.name}" + (" (TTA ×5)" if tta else "")) as step:
        probabilities = sub.average_probabilities(predictors, test_data.pixels, tta=tta,
                                                  advance=step)
    labels = probabilities.argmax(axis=1)
    stats = sub.score(labels, solution) if solution is not None else None
    if stats is not None:
        record["score"] = sub.score_record(stats, solution)
    path = sub.write_bundle(out, probabilities, record, force=force)

    console.print(_distribution_table(sub.class_distribution(labels, train_data.labels)))
    if stats is not None:
        _print_score(stats, solution)
    if upload:
        _upload(path, message, len(labels))
    console.print(str(path), highlight=False, soft_wrap=True)


@app.command()
def ensemble(
    submissions: Annotated[list[Path], typer.Argument(
        help="Two or more submission CSVs for the same test file (best first: it breaks ties).",
        show_default=False)],
    out: Annotated[Path | None, typer.Option(
        help="Ensemble submission [default: submissions/submission-ensemble-<timestamp>.csv].",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    solution: Annotated[Path | None, typer.Option(
        help="ImageId,Label answers to score against [default: data/solution.csv when it has "
             "as many rows].", show_default=False)] = None,
) -> None:
    """Average the inputs' saved probabilities (or majority-vote plain submissions)."""
    out = out or sub.default_output("ensemble")
    sub.refuse_bundle(out, force)
    result = sub.ensemble(submissions)
    stats = None
    if solution is None:
        builtin = Path("data/solution.csv")
        if builtin.is_file() and sub.label_rows(builtin) == len(result.labels):
            solution = builtin
    if solution is not None:
        stats = sub.score(result.labels, solution)
    record = sub.base_record(_command(), method=result.method, inputs=result.inputs,
                             agreement=result.agreement)
    if stats is not None:
        record["score"] = sub.score_record(stats, solution)
    path = sub.write_ensemble(result, out, record, force=force)

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
    console.print(_distribution_table(sub.class_distribution(result.labels, None)))
    if stats is not None:
        _print_score(stats, solution)
    console.print(str(path), highlight=False, soft_wrap=True)


@app.command()
def upload(
    submission: Annotated[Path, typer.Argument(help="The submission CSV to upload.",
                                               show_default=False)],
    message: Annotated[str, typer.Option("-m", "--message", help="Submission description.",
                                         show_default=False)],
    test: Annotated[Path, typer.Option(
        help="Test file the submission must match (Kaggle's 28,000 rows if absent).")
    ] = Path("data/test.csv"),
) -> None:
    """Validate a submission, then upload it to Kaggle's digit-recognizer competition."""
    _upload(submission, message, sub.expected_rows(test))
    console.print(str(submission), highlight=False, soft_wrap=True)
