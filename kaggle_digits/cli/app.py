"""The Typer application and the one place errors become exit codes.

Commands live in one small module per verb group (``kaggle_digits/cli/*_cmd.py``); each
parses options, calls library functions and renders the result. No maths here.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from kaggle_digits.errors import KdigitsError
from kaggle_digits.version import __version__

app = typer.Typer(
    name="kdigits",
    help="Kaggle Digit Recognizer: data, cross-validation, caret statistics, submissions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Get, check and describe competition data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

console = Console(soft_wrap=True, emoji=False)  # never break a path; ":x" is no emoji
err_console = Console(stderr=True, soft_wrap=True, emoji=False)


def _version(value: bool) -> None:
    if value:
        console.print(f"kdigits {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    backend: str | None = typer.Option(
        None, "--backend", metavar="NAME", show_default=False,
        help="Keras backend: tensorflow (default), jax or torch; same as KERAS_BACKEND."),
) -> None:
    """Kaggle Digit Recognizer: data, cross-validation, caret statistics, submissions."""
    if backend is not None:  # before any verb imports Keras, which reads it once
        from kaggle_digits.backend import select

        select(backend)


def fail(message: str, code: int = 2) -> None:
    """Print one error line to stderr and exit; the single exit path for user errors."""
    # The message may quote the user's file, and "[/]" there is not Rich markup.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                      soft_wrap=True)
    sys.exit(code)


def main() -> None:
    """Console-script entry point: run the app, map errors to one line and an exit code."""
    try:
        result = app(standalone_mode=False)
    except KdigitsError as error:
        fail(str(error), error.exit_code)
    except typer.Exit as stop:
        sys.exit(stop.exit_code)
    except typer.TyperException as error:  # usage errors: Typer's own message, exit 2
        error.show()  # type: ignore[attr-defined]
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        fail("interrupted", 130)
    except OSError as error:
        where = f" {error.filename}" if getattr(error, "filename", None) else ""
        fail(f"cannot access{where}: {error.strerror or error}")
    sys.exit(result if isinstance(result, int) else 0)
