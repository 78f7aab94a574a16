"""Where the data is and where results go: the project folders, or a Kaggle notebook's.

On a laptop kdigits works in the current folder: ``data/train.csv``, ``data/test.csv``,
``runs/``, ``submissions/``. Inside a Kaggle notebook the competition is mounted read-only
under ``/kaggle/input/digit-recognizer/`` and only ``/kaggle/working/`` is kept, and
Kaggle's "Submit to competition" button takes ``/kaggle/working/submission.csv``; there,
every default points at those places, so no option has to be typed.

A Kaggle kernel is recognised by Kaggle's own environment variable
(``KAGGLE_KERNEL_RUN_TYPE``) or by the mounted competition folder. ``KDIGITS_KAGGLE_ROOT``
moves the ``/kaggle`` tree (tests build one in a temporary folder); it is rarely needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kaggle_digits.constants import COMPETITION

KERNEL_VARIABLE = "KAGGLE_KERNEL_RUN_TYPE"  # set by Kaggle in every notebook session
ROOT_VARIABLE = "KDIGITS_KAGGLE_ROOT"


@dataclass(frozen=True)
class Locations:
    """Default paths for every verb."""

    data: Path  # where train.csv and test.csv are read from
    runs: Path
    submissions: Path
    reports: Path
    kaggle_kernel: bool  # True inside a Kaggle notebook

    @property
    def train(self) -> Path:
        return self.data / "train.csv"

    @property
    def test(self) -> Path:
        return self.data / "test.csv"

    def submission(self, model: str, now: datetime | None = None) -> Path:
        """The default submission file: Kaggle's fixed name in a kernel (the one its
        "Submit to competition" button takes), else a timestamped file per model."""
        if self.kaggle_kernel:
            return self.submissions / "submission.csv"
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        return self.submissions / f"submission-{model}-{stamp}.csv"


def kaggle_root() -> Path:
    return Path(os.environ.get(ROOT_VARIABLE) or "/kaggle")


def kaggle_input() -> Path | None:
    """The mounted competition folder of a Kaggle notebook, or None outside one."""
    inputs = kaggle_root() / "input"
    candidates = [inputs / COMPETITION, inputs / "competitions" / COMPETITION]
    found = next((c for c in candidates if (c / "train.csv").is_file()), None)
    if found is None and os.environ.get(KERNEL_VARIABLE) and inputs.is_dir():
        # a competition attached under another name: the one folder holding both files
        found = next((c for c in sorted(inputs.iterdir())
                      if (c / "train.csv").is_file() and (c / "test.csv").is_file()), None)
    return found


def locations() -> Locations:
    """The defaults for this process: a Kaggle notebook's folders, or the project's."""
    competition = kaggle_input()
    if competition is not None:
        working = kaggle_root() / "working"
        return Locations(data=competition, runs=working / "runs", submissions=working,
                         reports=working / "reports", kaggle_kernel=True)
    return Locations(data=Path("data"), runs=Path("runs"), submissions=Path("submissions"),
                     reports=Path("reports"), kaggle_kernel=False)
