"""Verbs for looking: ``report``, ``eda``, ``show``, ``compare``.

Library modules are imported inside each command so that ``kdigits --help`` does not pay
for pandas, Jinja2 or matplotlib.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from kaggle_digits.cli.app import app, console, folder
from kaggle_digits.errors import KdigitsError
from kaggle_digits.locations import locations

if TYPE_CHECKING:
    from kaggle_digits.report import RunSummary

WHERE = locations()  # the project folders, or a Kaggle notebook's


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Run folder written by `kdigits cv`.")],
) -> None:
    """Write report.html (self-contained) and report.md with its PNGs into a run folder."""
    from kaggle_digits.report import write_report

    html, md = write_report(run)
    console.print(f"[bold]report[/] {html}")
    console.print(f"[bold]markdown[/] {md} (PNGs beside it)")


@app.command()
def eda(
    train: Annotated[Path, typer.Option(help="Labelled training data (CSV or Kaggle zip).")]
        = WHERE.train,
    out: Annotated[Path, typer.Option(help="Folder for the figures and summary.json.",
                                      callback=folder)] = WHERE.reports / "eda",
    force: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
) -> None:
    """Explore training data: label shares, per-digit mean/median/sd, samples, histogram."""
    from kaggle_digits import data
    from kaggle_digits.eda import write_eda

    digits = data.load_train(train)
    with console.status("drawing figures…"):
        summary = write_eda(digits.pixels, digits.labels, out, source=str(train),
                            sha256=digits.sha256, force=force)
    console.print(f"[bold]{train}[/]: {summary.rows:,} rows, SHA-256 {summary.sha256[:12]}…")
    table = Table(title="Labels", title_justify="left")
    table.add_column("digit", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    table.add_column("mean pixel", justify="right")
    for digit, count in summary.label_counts.items():
        table.add_row(str(digit), f"{count:,}", f"{summary.label_shares[digit]:.2%}",
                      f"{summary.mean_ink_per_digit[digit]:.1f}")
    console.print(table)
    console.print(f"pixels: mean {summary.pixel_mean:.2f}, sd {summary.pixel_std:.2f}, "
                  f"{summary.zero_share:.1%} are 0, {summary.full_share:.1%} are 255")
    console.print("wrote:")
    for path in summary.files:
        console.print(f"  {path}")


@app.command()
def show(
    index: Annotated[int, typer.Argument(help="0-based row of the data file.")],
    test: Annotated[bool, typer.Option("--test", help="Show a test.csv row instead.")] = False,
    train: Annotated[Path | None, typer.Option(
        help="Labelled training data.",
        show_default=f"the run's train file with --run, else {WHERE.train}")] = None,
    test_file: Annotated[Path, typer.Option(help="Test data, for --test.")]
        = WHERE.test,
    run: Annotated[Path | None, typer.Option(
        help="Run folder: also show its out-of-fold or holdout prediction for this row.")]
        = None,
) -> None:
    """Draw one digit in the terminal, with its label or a run's prediction."""
    from kaggle_digits import data
    from kaggle_digits.eda import digit_text

    if test and run is not None:
        raise KdigitsError("runs hold predictions for train.csv rows only; drop --test")
    if train is None:
        from kaggle_digits.runs import finished_run, train_path

        train = (train_path(finished_run(run))[0] if run is not None else None) or WHERE.train
    digits = data.load_test(test_file) if test else data.load_train(train)
    if not 0 <= index < len(digits.pixels):
        raise KdigitsError(f"row {index} is out of range: {digits.source} has rows "
                           f"0–{len(digits.pixels) - 1}")
    if test:
        console.print(f"[bold]{test_file}[/] row {index} (ImageId {index + 1}), no label")
    else:
        console.print(f"[bold]{train}[/] row {index}: label [bold]{digits.labels[index]}[/]")
    console.print(digit_text(digits.pixels[index], color=console.color_system is not None))
    if run is not None:
        from kaggle_digits.runs import run_prediction

        said = run_prediction(run, index, digits.sha256)
        where = ("holdout" if said["set"] == "holdout"
                 else f"out-of-fold, fold {said['fold']}")
        verdict = ("[green]right[/]" if said["prediction"] == said["label"]
                   else "[bold red]wrong[/]")
        top = ", ".join(f"{k}: {p:.3f}" for k, p in said["top"])
        console.print(f"run {said['run']} ({where}): predicted [bold]{said['prediction']}[/] "
                      f"with p = {said['probability']:.3f} — {verdict}; top 3: {top}")


@app.command()
def compare(
    runs: Annotated[list[Path] | None, typer.Argument(
        help="Run folders or --name tags (default: every finished run under --root); "
             "entries that are not finished runs are skipped with a note.")] = None,
    root: Annotated[Path, typer.Option(help="Where to look for runs by default.",
                                       callback=folder)] = WHERE.runs,
    out: Annotated[Path | None, typer.Option(
        help="Scatter of accuracy vs training time.",
        show_default=f"a new {WHERE.reports}/compare-<time>.png on each call")] = None,
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
) -> None:
    """Compare runs: accuracy, kappa and training time, the trade-off in one line, and
    whether the most accurate run's lead holds digit by digit."""
    from kaggle_digits.report import (
        compare_plot_path,
        compare_runs,
        label,
        pair_with_leader,
        paired_lines,
        tradeoff,
        write_compare_plot,
    )

    if out is not None:  # before reading any run: a wrong --out costs nothing
        from kaggle_digits.fileio import refuse_existing, refuse_missing_folder

        refuse_missing_folder(out, "--out")
        refuse_existing(out, force)
    skipped: list[str] = []
    try:
        summaries = compare_runs(runs or None, root=root, skipped=skipped)
    finally:  # what was skipped, even when nothing was left to compare
        for note in skipped:
            console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    console.print(compare_table(summaries))
    console.print(tradeoff(summaries), highlight=False)
    for line in paired_lines(pair_with_leader(summaries)):
        console.print(line, highlight=False, soft_wrap=True)
    path = write_compare_plot(summaries, out or compare_plot_path(WHERE.reports), force=force)
    console.print(f"wrote {path} ({', '.join(label(s, summaries) for s in summaries)})",
                  highlight=False, soft_wrap=True)


def compare_table(summaries: list[RunSummary]) -> Table:
    """One row per run: the full run ID on one line, never cut (IDs of one day share their
    first 9 characters), with folds, weights and changed settings wrapped to its width
    beneath it; the light box leaves the numbers room at 80 columns."""
    from kaggle_digits.plots import minutes_text

    width = max(len(s.name) for s in summaries)
    table = Table(title="Runs, best out-of-fold accuracy first", title_justify="left",
                  title_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  caption="below each run: folds, weights, and what differs from the preset",
                  caption_justify="left")
    table.add_column("run", no_wrap=True, overflow="fold")
    for name in ("OOF acc. ± sd", "holdout", "kappa", "train min"):
        table.add_column(name, justify="right")
    for s in summaries:
        sd = f" ± {s.oof_accuracy_sd:.2%}" if s.oof_accuracy_sd == s.oof_accuracy_sd else ""
        details = _pack(s.details, max(width, 24))
        table.add_row(Text(s.name).append(f"\n{details}", style="dim"),
                      f"{s.oof_accuracy:.2%}{sd}", _pct(s.holdout_accuracy), f"{s.kappa:.4f}",
                      minutes_text(s.train_minutes))
    return table


def _pack(items: list[str], width: int, indent: str = "  ") -> str:
    """Items joined by " · ", a new line only between items ("1 epoch" stays whole)."""
    lines = [""]
    for item in items:
        joined = f"{lines[-1]} · {item}" if lines[-1] else item
        if lines[-1] and len(indent + joined) > width:
            lines.append(item)
        else:
            lines[-1] = joined
    return "\n".join(indent + line for line in lines)


def _pct(value: float) -> str:
    return "—" if value != value else f"{value:.2%}"
