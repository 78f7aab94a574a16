"""The Typer application and the one place errors become exit codes.

Commands live in one small module per verb group (``kaggle_digits/cli/*_cmd.py``); each
parses options, calls library functions and renders the result. No maths here.

Every way a command can fail ends in :func:`main` as one ``error: …`` line on stderr:
kdigits' own errors, Click's usage errors (a missing option, a bad value) and Ctrl-C.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from kaggle_digits.errors import KdigitsError
from kaggle_digits.fileio import refuse_file_as_folder
from kaggle_digits.version import __version__

PROG = "kdigits"  # the name in usage lines and hints, also under `python -m kaggle_digits`


class _PlainFlags:
    """Typer's help shows every option's type, flags included (``--force  <bool>``); a
    flag takes no value, so it shows none, as Click's own help does."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class Command(_PlainFlags, TyperCommand):
    """Every kdigits verb."""


class Group(_PlainFlags, TyperGroup):
    """``kdigits`` and ``kdigits data``."""


class _Typer(typer.Typer):
    """A Typer app whose commands are :class:`Command` unless they ask for another."""

    def command(self, *args: Any, cls: type[TyperCommand] | None = None,
                **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or Command, **kwargs)


app = _Typer(
    name=PROG,
    cls=Group,
    help="Kaggle Digit Recognizer: data, cross-validation, caret statistics, submissions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = _Typer(help="Get, check and describe competition data.", no_args_is_help=True,
                  cls=Group)
app.add_typer(data_app, name="data")

console = Console(soft_wrap=True, emoji=False)  # never break a path; ":x" is no emoji
err_console = Console(stderr=True, soft_wrap=True, emoji=False)


def folder(param: typer.CallbackParam, value: Path | None) -> Path | None:
    """Callback of the folder options (``--runs-dir``, ``--data-dir``, …): a file given
    where a folder belongs is one clear line, before the command starts."""
    if value is not None:
        refuse_file_as_folder(value, param.opts[0] if param.opts else str(param.name))
    return value


def _version(value: bool) -> None:
    if value:
        console.print(f"kdigits {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    backend: str | None = typer.Option(
        None, "--backend", metavar="NAME", show_default="$KERAS_BACKEND, else tensorflow",
        help="Keras backend: tensorflow, jax or torch; same as KERAS_BACKEND."),
) -> None:
    """Kaggle Digit Recognizer: data, cross-validation, caret statistics, submissions."""
    if backend is not None:  # before any verb imports Keras, which reads it once
        from kaggle_digits.backend import select

        select(backend)


# `--option NAME=VALUE`, declared once for every verb that trains (cv, submit).
LayerOptions = Annotated[list[str] | None, typer.Option(
    "--option", metavar="NAME=VALUE", show_default="the model's",
    help="A layer option of the model, e.g. --option elastic=34 (`kdigits models "
         "--model NAME` lists them); repeat for more.")]

# `--precision NAME`, likewise for cv and submit (train.TrainConfig.precision).
PrecisionOption = Annotated[str | None, typer.Option(
    metavar="NAME", show_default="float32",
    help="Arithmetic of training and prediction: bfloat16 is Keras' mixed precision "
         "(weights kept in float32), faster on CPUs with AMX and on recent GPUs.")]

# `--label-smoothing S`, likewise (train.TrainConfig.label_smoothing).
LabelSmoothingOption = Annotated[float | None, typer.Option(
    metavar="S", show_default="the recipe's: 0",
    help="Train towards 1 - S + S/10 for the label and S/10 for each other digit "
         "(Keras' label_smoothing; 0.1 is common), not 1 and 0; --mix nets keep their "
         "own recipe.")]

# `--mix PRESET:N`, likewise for cv and submit (train.TrainConfig.mix_with, mix_members).
MixOption = Annotated[str | None, typer.Option(
    metavar="PRESET:N", show_default="the recipe's; best: cnn-fast:2, plain and deskewed",
    help="Also train N nets of another Keras model, by its own recipe, and average them in "
         "as one more member (the recipe's own mix preset keeps its groups: N per group); "
         "none drops the recipe's mix.")]


def fail(message: str, code: int = 2) -> None:
    """Print one error line to stderr and exit; the single exit path for user errors."""
    # The message may quote the user's file, and "[/]" there is not Rich markup.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                      soft_wrap=True)
    sys.exit(code)


def usage_line(error: typer.TyperException) -> str:
    """Click's four-line usage error (usage, hint, blank line, ``Error: …``) as one line:
    its message in kdigits' words, and where the command's help is."""
    option = getattr(error, "option_name", None) or ""
    possible = getattr(error, "possibilities", None)
    if re.fullmatch(r"-[0-9][0-9.]*", option):  # `kdigits show -1`
        message = f"{option} is not an option, and a number here cannot be negative"
    elif possible:  # Click's "(Possible options: …)" as a question
        message = f"{error.message}; did you mean {_either(sorted(possible))}?"
    else:
        message = error.format_message().strip().replace("Value error, ", "")
        message = re.sub(r"\.$", "", message.replace(". Did you mean", "; did you mean"))
    message = message[:1].lower() + message[1:]
    ctx = getattr(error, "ctx", None)
    where = ctx.command_path if ctx is not None else _command_path(sys.argv[1:])
    return f"{message} (see '{where} --help')"


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _command_path(args: list[str]) -> str:
    """``kdigits data check`` from the command line, for errors Click raises before it
    knows the command (an option missing its value)."""
    command, path = typer.main.get_command(app), [PROG]
    for token in args:
        found = getattr(command, "commands", {}).get(token)
        if found is not None:
            command = found
            path.append(token)
        elif not token.startswith("-"):
            break
    return " ".join(path)


def main() -> None:
    """Console-script entry point: run the app, map errors to one line and an exit code."""
    try:
        result = app(prog_name=PROG, standalone_mode=False)
    except KdigitsError as error:
        fail(str(error), error.exit_code)
    except typer.Exit as stop:
        if isinstance(stop.__cause__, KeyboardInterrupt):  # Typer's own Ctrl-C exit
            _interrupted()
        sys.exit(stop.exit_code)
    except typer.TyperException as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `kdigits`: the help, as is
            error.show()  # type: ignore[attr-defined]
            sys.exit(error.exit_code)
        fail(usage_line(error), getattr(error, "exit_code", 2) or 2)
    except (typer.Abort, KeyboardInterrupt):
        _interrupted()
    except OSError as error:
        where = f" {error.filename}" if getattr(error, "filename", None) else ""
        fail(f"cannot access{where}: {error.strerror or error}")
    sys.exit(result if isinstance(result, int) else 0)


def _interrupted() -> None:
    """Ctrl-C where the command had nothing more to say (those that keep work, such as
    `cv` and `tune`, raise `Interrupted` with how to go on)."""
    fail("interrupted (Ctrl-C); every file kdigits writes is written whole or not at all, "
         "so none is half-written", 130)
