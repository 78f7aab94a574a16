"""``kdigits score`` (caret's statistics of a submission) and ``kdigits validate``.

Both must answer in a moment, before an upload: library modules are imported inside the
commands, and nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from kaggle_digits.cli.app import app, console
from kaggle_digits.constants import DEFAULT_PRINT_MODE, PRINT_MODES
from kaggle_digits.errors import KdigitsError
from kaggle_digits.locations import locations

# caret's ``mode`` (which by-class rows are shown) as a choice Typer can list and check.
Mode = StrEnum("Mode", {mode: mode for mode in PRINT_MODES})
DEFAULT_MODE = Mode(DEFAULT_PRINT_MODE)
WHERE = locations()  # the project folders, or a Kaggle notebook's


@app.command()
def score(
    submission: Annotated[Path, typer.Argument(help="Predictions: an ImageId,Label CSV.")],
    solution: Annotated[Path, typer.Option("--solution", "-s",
                                           help="True labels: an ImageId,Label CSV.")],
    labels: Annotated[str | None, typer.Option(
        "--labels", help="Class levels in order, e.g. 0-9 or 0,1,2.",
        show_default="the sorted union of both files' labels")] = None,
    mode: Annotated[Mode, typer.Option(
        metavar="MODE", help=f"caret's print mode: {', '.join(PRINT_MODES)}.")
    ] = DEFAULT_MODE,
    json_path: Annotated[str | None, typer.Option(
        "--json", help="Also write the statistics as JSON to PATH ('-': stdout only).",
        metavar="PATH")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --json file.")]
    = False,
) -> None:
    """Score a submission against a solution file, with caret's confusionMatrix statistics."""
    from kaggle_digits.caret_text import print_caret
    from kaggle_digits.fileio import refuse_existing, refuse_missing_folder, write_json
    from kaggle_digits.submission_file import parse_levels, score_files

    levels = parse_levels(labels) if labels is not None else None
    stats = score_files(submission, solution, levels)
    if json_path == "-":
        sys.stdout.write(json.dumps(stats.to_json(), indent=2, allow_nan=False) + "\n")
        return
    if json_path is not None:  # before printing anything
        refuse_missing_folder(json_path, "--json")
        refuse_existing(Path(json_path), force)
    print_caret(console, stats, mode.value,
                title=f"{submission} vs {solution}: {stats.n:,} images")
    if json_path is not None:
        write_json(json_path, stats.to_json(), force=force)
        console.print(f"wrote {json_path}", highlight=False)


@app.command()
def validate(
    submission: Annotated[Path, typer.Argument(help="The submission CSV to check.")],
    test: Annotated[Path, typer.Option(
        "--test", help="The competition's test.csv (or digit-recognizer.zip): sets the "
                       "number of rows.")] = WHERE.test,
) -> None:
    """Check a submission the way Kaggle will, before uploading it."""
    from kaggle_digits.submission_file import validate_submission

    checked = validate_submission(submission, test)
    if not checked.ok:
        raise KdigitsError(checked.message())
    console.print(checked.message(), highlight=False, soft_wrap=True)
