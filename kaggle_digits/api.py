"""The Python API: the whole Kaggle loop as functions, for scripts and notebooks.

::

    import kaggle_digits as kd

    cv = kd.cross_validate("cnn-fast", percent=10, folds=3)
    cv.oof                        # caret's statistics: its print-out, or HTML in a notebook
    cv.oof.heatmap()
    made = kd.make_submission(run=cv)
    kd.validate(made.path)

Each function calls the library functions its CLI verb calls (``kdigits cv`` →
`runs.plan_cv`/`runs.run_cv`/`report.write_report`, ``submit`` → `submit.plan_submit`/
`plan_models`/`run_submit`, ``score`` → `submission_file.score_files`, …), with the CLI's
defaults (`kaggle_digits.locations`: the project's folders, or a Kaggle notebook's), and
returns a result object instead of printing. Problems a user can cause raise
:class:`~kaggle_digits.errors.KdigitsError` with the CLI's one-line message. Progress shows
as live bars on a terminal or in Jupyter (`kaggle_digits.progress`); ``progress=False``
is silent.

``submit``, ``ensemble`` and ``report`` are module names in this package (and
``from kaggle_digits import submit`` must keep giving the module), so their functions here
are :func:`make_submission`, :func:`make_ensemble` and :func:`write_report`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kaggle_digits import runs
from kaggle_digits.caret_text import CaretStats, caret_html, check_mode
from kaggle_digits.constants import DEFAULT_PRINT_MODE
from kaggle_digits.data import Digits
from kaggle_digits.errors import KdigitsError
from kaggle_digits.locations import locations
from kaggle_digits.stats import ConfusionStats, stats_from_table
from kaggle_digits.submission_file import Validation, validate_submission

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from kaggle_digits.ensemble import EnsembleSubmission
    from kaggle_digits.report import PairedRuns, RunSummary
    from kaggle_digits.submit import SubmitResult

PathLike = str | os.PathLike[str]


# --- data ------------------------------------------------------------------------------

def load_train(path: PathLike | None = None) -> Digits:
    """Labelled digits from train.csv or Kaggle's zip (default: ``data/train.csv``, or the
    Kaggle notebook's input): ``.pixels`` N×784 uint8, ``.labels``, ``.sha256``."""
    from kaggle_digits import data

    return data.load_train(locations().train if path is None else path)


def load_test(path: PathLike | None = None) -> Digits:
    """Unlabelled digits from test.csv (default: ``data/test.csv``, or the notebook's)."""
    from kaggle_digits import data

    return data.load_test(locations().test if path is None else path)


# --- cross-validation ------------------------------------------------------------------

@dataclass
class CrossValidation:
    """A finished cross-validation run, as a notebook wants to look at it.

    ``oof`` is caret's statistics of the pooled out-of-fold predictions and ``holdout``
    those of the rows no model trained on (predicted by the fold ensemble; None without a
    holdout); both print as caret does. ``folds`` has one row per fold. Everything is also
    in ``run_dir`` (metrics.json, oof.csv, holdout.csv, models/), and ``report`` is its
    report.html when one was written.
    """

    run_dir: Path
    model: str
    oof: CaretStats
    holdout: CaretStats | None
    folds: pd.DataFrame  # index fold; accuracy, kappa, epochs, wall_s, user_s, system_s
    timing: dict[str, float]
    report: Path | None = None
    resumed: list[int] = field(default_factory=list)  # folds kept from an earlier session

    @property
    def accuracy(self) -> float:
        """Pooled out-of-fold accuracy: the CV estimate."""
        return self.oof.accuracy

    def _summary(self) -> list[str]:
        accuracy, sd = runs.mean_sd(self.folds["accuracy"].tolist())
        spread = f" ± {sd:.4f} over folds" if sd is not None else ""
        lines = [f"{self.model}: {len(self.folds)}-fold cross-validation in {self.run_dir}",
                 f"pooled out-of-fold accuracy {self.oof.accuracy:.4f} "
                 f"(kappa {self.oof.kappa:.4f}; fold mean {accuracy:.4f}{spread}; "
                 f"{self.oof.n:,} rows)"]
        if self.holdout is not None:
            lines.append(f"holdout accuracy {self.holdout.accuracy:.4f} "
                         f"({self.holdout.n:,} rows never trained on)")
        lines.append(f"training time {self.timing.get('wall_s', float('nan')):.1f} s")
        if self.report is not None:
            lines.append(f"report: {self.report}")
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._summary())

    def _repr_html_(self) -> str:
        import html

        summary = "<br>".join(html.escape(line) for line in self._summary())
        shown = {"accuracy": "{:.4f}", "kappa": "{:.4f}", "epochs": "{:.0f}",
                 "wall_s": "{:.1f}", "user_s": "{:.1f}", "system_s": "{:.1f}"}
        parts = [f"<p>{summary}</p>",
                 self.folds.to_html(formatters={k: v.format for k, v in shown.items()},
                                    na_rep="–"),
                 "<h4>Pooled out-of-fold predictions</h4>", caret_html(self.oof, self.oof.mode)]
        if self.holdout is not None:
            parts += ["<h4>Holdout (never trained on; predicted by the fold ensemble)</h4>",
                      caret_html(self.holdout, self.holdout.mode)]
        return "\n".join(parts)


# The settings' names where the Python API calls them otherwise, for the recorded command.
API_NAMES = {"model_options": "options"}


def cross_validate(model: str | None = None, *, train: PathLike | None = None,
                   folds: int | None = None, holdout: float | None = None,
                   percent: float | None = None, test_size: float | None = None,
                   seed: int | None = None, epochs: int | None = None,
                   batch_size: int | None = None, learning_rate: float | None = None,
                   optimizer: str | None = None, members: int | None = None,
                   mix: str | None = None,
                   early_stopping: int | None = None, tta: bool | None = None,
                   precision: str | None = None, label_smoothing: float | None = None,
                   params: PathLike | None = None, runs_dir: PathLike | None = None,
                   jobs: int = 1, threads: int | None = None, name: str | None = None,
                   options: dict | None = None, mode: str = DEFAULT_PRINT_MODE, report: bool = True,
                   progress: bool = True) -> CrossValidation:
    """``kdigits cv``: stratified k-fold CV of a preset, with a holdout, in a new run folder.

    An argument left at None takes the params file's value (``params``) or else the
    default: ``cnn-fast``, 5 folds, a 0.1 holdout, 100% of the rows, seed 42.

    ``percent`` cuts a stratified sample first (for speed); ``folds=1`` is one train/test
    split (``test_size``); fold k trains with ``seed + k``. ``epochs``, ``batch_size``,
    ``learning_rate``, ``optimizer`` and ``members`` override the preset's recipe (Keras
    models only); ``mix`` ("cnn-fast:2", or "none") trains another model's nets beside
    them and averages them in as one member (``best``'s recipe mixes in two ``cnn-fast``
    pairs, plain and deskewed, each pair one member; "cnn-fast:N" keeps both, N nets each);
    ``early_stopping`` (a patience in epochs) stops each fold on the loss of
    10% of its training rows and keeps the best epoch; ``tta`` scores folds and holdout
    with test-time augmentation (default: the recipe's); ``precision`` "bfloat16" trains
    and predicts in mixed precision; ``label_smoothing`` (0.1 is common) trains towards
    smoothed targets; ``params`` trains with a `kdigits tune` best.json.
    ``model`` may be a preset or your own ``FILE.py:FUNCTION``. ``jobs`` trains that many
    folds at once in worker processes, ``threads`` CPU threads each (as
    ``kdigits cv --jobs --threads``); ``name`` labels the run (``--name``); ``options``
    sets layer options, e.g. ``{"elastic": 34}`` (``--option elastic=34``).
    ``mode`` is caret's print mode for the statistics. An interrupted run keeps its
    finished folds: finish it with :func:`resume`.
    """
    check_mode(mode)  # every mistake fails before the run folder is made
    asked = runs.CVOptions(
        model=model, train=Path(train) if train is not None else None, folds=folds,
        holdout=holdout, percent=percent, test_size=test_size, seed=seed, epochs=epochs,
        members=members, mix=mix, batch_size=batch_size, learning_rate=learning_rate,
        optimizer=optimizer, early_stopping=early_stopping, tta=tta, precision=precision,
        label_smoothing=label_smoothing, params=Path(params) if params is not None else None,
        runs_dir=Path(runs_dir) if runs_dir is not None else None, jobs=jobs,
        threads=threads, name=name, model_options=options or None)
    called = {API_NAMES.get(k, k): v for k, v in vars(asked).items()  # as it was called
              if v is not None and not (k == "jobs" and v == 1)}
    plan, _ = runs.plan_from_options(asked, command=_call("cross_validate", called),
                                     extra={"mode": mode})
    return _cross_validate(plan, mode=mode, report=report, progress=progress, jobs=jobs)


def resume(run: PathLike | CrossValidation, *, train: PathLike | None = None,
           jobs: int = 1, mode: str = DEFAULT_PRINT_MODE, report: bool = True,
           progress: bool = True) -> CrossValidation:
    """``kdigits cv --resume``: finish an interrupted run with its own settings, training
    only the folds (and members) it had not finished (same data, checked by SHA-256; same
    seeds); ``jobs`` shares them among worker processes."""
    check_mode(mode)
    return _cross_validate(runs.resume_cv(_run_path(run), train), mode=mode, report=report,
                           progress=progress, jobs=jobs)


def _cross_validate(plan: runs.CVPlan, *, mode: str, report: bool,
                    progress: bool, jobs: int = 1) -> CrossValidation:
    if progress:
        from kaggle_digits.progress import CVProgress

        console = _console()
        sizes, k = plan.split.sizes(), len(plan.split.folds)
        how = f"{k}-fold CV" if k > 1 else "one train/test split"
        console.print(f"{plan.model}: {how} on {sizes['cv_rows']:,} rows, "
                      f"{sizes['holdout_rows']:,} held out; run folder {plan.run_dir}",
                      highlight=False, soft_wrap=True)
        with CVProgress(console) as bars:
            result = runs.run_cv(plan, bars, jobs=jobs)
    else:
        result = runs.run_cv(plan, jobs=jobs)
    written = None
    if report:
        from kaggle_digits.report import write_report as write

        written, _ = write(result.run_dir)
    return CrossValidation(
        result.run_dir, plan.model, CaretStats.of(result.oof, mode),
        None if result.holdout is None else CaretStats.of(result.holdout, mode),
        _fold_frame(result.folds), dict(result.timing), written, list(result.resumed))


def open_run(run: PathLike, *, mode: str = DEFAULT_PRINT_MODE) -> CrossValidation:
    """A finished run folder (made by the CLI or the API) as a :class:`CrossValidation`;
    its statistics are recomputed from the stored confusion tables, so they are the run's."""
    found = runs.finished_run(run)
    metrics = found.metrics or {}

    def stats(key: str) -> CaretStats | None:
        stored = metrics.get(key)
        if not stored:
            return None
        table = np.asarray(stored["table"], dtype=np.int64)
        return CaretStats.of(stats_from_table(table, stored["classes"]), mode)

    oof = stats("oof")
    if oof is None:
        raise KdigitsError(f"{found.path}/metrics.json has no out-of-fold statistics")
    report = found.path / "report.html"
    return CrossValidation(found.path, found.model, oof, stats("holdout"),
                           _fold_frame(metrics.get("folds") or []),
                           dict(metrics.get("timing") or {}),
                           report if report.is_file() else None)


def _fold_frame(folds: Sequence[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    columns = ["fold", "accuracy", "kappa", "epochs", "wall_s", "user_s", "system_s"]
    return pd.DataFrame([{k: f.get(k) for k in columns} for f in folds],
                        columns=columns).set_index("fold")


# --- submissions -----------------------------------------------------------------------

def make_submission(model: str | None = None, *, run: PathLike | CrossValidation | None = None,
                    refit: bool = False, train: PathLike | None = None,
                    test: PathLike | None = None, out: PathLike | None = None,
                    force: bool = False, seed: int | None = None, epochs: int | None = None,
                    members: int | None = None, mix: str | None = None,
                    early_stopping: int | None = None, precision: str | None = None,
                    label_smoothing: float | None = None,
                    jobs: int = 1, tta: bool | None = None, solution: PathLike | None = None,
                    params: PathLike | None = None, name: str | None = None,
                    options: dict | None = None, progress: bool = True) -> SubmitResult:
    """``kdigits submit``: train a preset on every row (or average a cv run's fold
    models, or ``refit`` the run's config on every row), predict the test file and write
    the bundle: ``out`` (Kaggle's ``ImageId,Label``), ``.probs.npy`` and ``.json``.

    The result has ``path``, ``labels``, ``probabilities``, ``distribution`` (predicted
    vs training class shares) and, when a solution is known (``solution``, or the
    solution.csv belonging to the test file), ``score`` as caret's statistics. Nothing is
    trained if an option or an input file is wrong, or ``out`` exists without ``force``.
    ``mix`` ("cnn-fast:2", or "none") overrides the recipe's mixed-in nets, as ``--mix``.
    ``jobs`` trains the seeded members at once in worker processes, ``early_stopping``
    stops on 10% carved from the training rows, ``name`` labels the file and its record,
    ``options`` sets layer options (``{"elastic": 34}``); ``tta`` (test-time augmentation)
    defaults to the recipe's, or to the cv run's; ``precision`` "bfloat16" trains in mixed
    precision; ``label_smoothing`` (0.1 is common) trains towards smoothed targets.
    """
    from kaggle_digits.submit import SubmitConfig, plan_models, plan_submit, run_submit

    config = SubmitConfig(model=model, run=None if run is None else _run_path(run),
                          refit=refit, train=_path(train), test=_path(test), out=_path(out),
                          force=force, seed=seed, epochs=epochs, members=members,
                          mix=mix, early_stopping=early_stopping, precision=precision,
                          label_smoothing=label_smoothing, jobs=jobs,
                          tta=tta, solution=_path(solution), params=_path(params), name=name,
                          model_options=options or None)
    defaults = asdict(SubmitConfig())
    given = {API_NAMES.get(k, k): v for k, v in asdict(config).items() if v != defaults[k]}
    plan = plan_submit(config, command=_call("make_submission", given))
    if not progress:
        result = run_submit(plan, plan_models(plan))
    else:
        from kaggle_digits.progress import prediction_progress, training_progress

        console = _console()
        for note in plan.notes:
            console.print(f"note: {note}", highlight=False, soft_wrap=True)
        if plan.trains:
            with training_progress(console) as bars:
                models = plan_models(plan, bars)
        else:
            models = plan_models(plan)
        result = run_submit(plan, models, prediction_progress=prediction_progress(console))
    return replace(result, score=_caret(result.score))


def make_ensemble(submissions: Sequence[PathLike], *, out: PathLike | None = None,
                  force: bool = False, solution: PathLike | None = None,
                  test: PathLike | None = None,
                  weights: Sequence[float] | str | None = None) -> EnsembleSubmission:
    """``kdigits ensemble``: the mean of the inputs' saved probabilities (or a majority
    vote, ties to the earliest file), written as a submission bundle and scored when its
    solution is known. ``weights``: one number per input, or ``"members"`` to weigh each
    by the models it averages (equal when None)."""
    from kaggle_digits.ensemble import make_ensemble as combine

    given = {"submissions": [str(s) for s in submissions], "out": out, "force": force,
             "solution": solution, "test": test,
             "weights": weights if weights is None or isinstance(weights, str)
             else list(weights)}
    made = combine(submissions, out=out, force=force, solution=solution,
                   test=locations().test if test is None else test, weights=weights,
                   command=_call("make_ensemble", given))
    return replace(made, score=_caret(made.score))


def score(submission: PathLike, solution: PathLike, labels: str | Sequence[int] | None = None,
          *, mode: str = DEFAULT_PRINT_MODE) -> CaretStats:
    """``kdigits score``: caret's statistics of a submission against a solution file, rows
    matched by ImageId. ``labels`` are the class levels in order (``"0-9"``, ``[0, 1]``);
    by default the sorted union of both files' labels."""
    from kaggle_digits.submission_file import parse_levels, score_files

    levels = parse_levels(labels) if isinstance(labels, str) else labels
    return CaretStats.of(score_files(submission, solution,
                                     None if levels is None else list(levels)), mode)


def validate(submission: PathLike, test: PathLike | None = None) -> Validation:
    """``kdigits validate``: check a submission as Kaggle will, against the row count of
    ``test`` (default: ``data/test.csv``, or the notebook's). True when valid; its
    ``problems`` say what Kaggle would reject, and it prints the CLI's line."""
    return validate_submission(submission, locations().test if test is None else test)


def upload(submission: PathLike, message: str, *, test: PathLike | None = None) -> str:
    """``kdigits upload``: validate, then submit to Kaggle's digit-recognizer (needs the
    kaggle package and credentials); returns Kaggle's answer."""
    from kaggle_digits.kaggle_api import upload as kaggle_upload
    from kaggle_digits.submission_file import expected_rows

    return kaggle_upload(submission, message,
                         rows=expected_rows(locations().test if test is None else test))


# --- reports ---------------------------------------------------------------------------

def write_report(run: PathLike | CrossValidation) -> Path:
    """``kdigits report``: write report.html (self-contained) and report.md with its PNGs
    into the run folder; returns the HTML's path."""
    from kaggle_digits.report import write_report as write

    html, _ = write(_run_path(run))
    return html


@dataclass
class Comparison:
    """``kdigits compare``: finished runs, best out-of-fold accuracy first, and the
    trade-off between the most accurate and the fastest in one line."""

    summaries: list[RunSummary]
    tradeoff: str
    paired: list[PairedRuns] = field(default_factory=list)  # each run against the first

    @property
    def frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [asdict(s) for s in self.summaries]
        return pd.DataFrame(rows).drop(columns="path").set_index("name")  # paths: noise

    @property
    def paired_text(self) -> str:
        from kaggle_digits.report import paired_lines

        return "\n".join(paired_lines(self.paired))

    def __repr__(self) -> str:
        return "\n".join(filter(None, [self.frame.to_string(), self.tradeoff,
                                        self.paired_text]))

    def _repr_html_(self) -> str:
        import html

        paired = f"\n<pre>{html.escape(self.paired_text)}</pre>" if self.paired else ""
        return f"{self.frame.to_html()}\n<p>{html.escape(self.tradeoff)}</p>{paired}"


def compare(runs: Sequence[PathLike | CrossValidation] | None = None, *,
            root: PathLike | None = None) -> Comparison:
    """Compare finished runs (default: every one under ``root``, i.e. ``runs/``)."""
    from kaggle_digits.report import compare_runs, pair_with_leader, tradeoff

    folders = [_run_path(r) for r in runs] if runs else None
    summaries = compare_runs(folders, root=locations().runs if root is None else root)
    return Comparison(summaries, tradeoff(summaries), pair_with_leader(summaries))


# --- helpers ---------------------------------------------------------------------------

def _run_path(run: PathLike | CrossValidation) -> Path:
    return run.run_dir if isinstance(run, CrossValidation) else Path(run)


def _path(value: PathLike | None) -> Path | None:
    return None if value is None else Path(value)


def _caret(stats: ConfusionStats | None) -> CaretStats | None:
    return None if stats is None else CaretStats.of(stats)


def _console() -> Console:
    """Rich finds out by itself whether this is a terminal, Jupyter or a plain file."""
    from rich.console import Console

    return Console(soft_wrap=True)


def _call(function: str, arguments: dict[str, Any]) -> str:
    """How this call is recorded as the run's or submission's "command" (the CLI records
    its command line there)."""
    shown = ", ".join(f"{k}={(str(v) if isinstance(v, Path) else v)!r}"
                      for k, v in arguments.items() if v is not None)
    return f"kaggle_digits.{function}({shown})"
