"""Command line: importing the command modules registers their verbs on ``app``."""

from kaggle_digits.cli import (  # noqa: F401  (imported for their commands)
    data_cmd,
    report_cmd,
    score_cmd,
    submit_cmd,
    train_cmd,
    tune_cmd,
)
from kaggle_digits.cli.app import app, main

__all__ = ["app", "main"]
