"""Every command's `--help`, as a user reads it at 80 and 200 columns: each option's help
is there whole (no Rich-markup brackets eaten, no path cut to "…"), each option says its
default, and a flag reads as a flag (no `<bool>`).

The walk takes the commands from the app itself, so a new command or option is checked
without this file changing.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from kaggle_digits.cli import app

# Options whose absence simply switches something off: "no default" is the honest answer.
NO_DEFAULT = {"--run", "--resume", "--params", "--message", "--json", "--zip",
              "models --model"}
BOX = re.compile(r"[│╭╮╰╯─]")


def _commands(command=None, path=()):
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands())


def _flat(text: str) -> str:
    """The help as one line of words: borders gone, wrapped lines joined."""
    return " ".join(BOX.sub(" ", text).split())


def _expected_default(param) -> str | None:
    """What `[default: …]` must say, or None where no default is due."""
    if isinstance(param.show_default, str):
        return f"[default: ({param.show_default})]"
    if param.is_flag:
        if not param.secondary_opts:
            return None  # a plain flag: off unless given
        return f"[default: {(param.opts if param.default else param.secondary_opts)[0][2:]}]"
    if param.default is None:
        return None
    value = param.default.value if hasattr(param.default, "value") else param.default
    return f"[default: {value}]"


@pytest.mark.parametrize("columns", ["80", "200"])
@pytest.mark.parametrize(("path", "command"), COMMANDS,
                         ids=[" ".join(p) or "kdigits" for p, _ in COMMANDS])
def test_help_shows_every_option_whole_with_its_default(path, command, columns) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": columns},
                                prog_name="kdigits")
    assert result.exit_code == 0, result.output
    out = result.output
    flat = _flat(out)
    assert "<bool>" not in out
    assert not re.search(r"\w \.(\s|$)", flat), "something was dropped before a full stop"
    ctx = typer.Context(command, info_name="kdigits")
    for param in command.get_params(ctx):
        if param.hidden if hasattr(param, "hidden") else False:
            continue
        name = param.opts[0] if param.param_type_name == "option" else param.name
        if param.help:
            assert " ".join(param.help.split()) in flat, f"{name}: help cut or dropped"
        if param.param_type_name != "option":
            continue
        expected = _expected_default(param)
        if expected is not None:
            assert expected in flat, f"{name}: {expected} missing"
        elif not param.is_flag and param.required is False:
            assert {param.opts[-1], f"{' '.join(path)} {param.opts[-1]}"} & NO_DEFAULT, (
                f"{' '.join(path)} {name}: no default shown; give show_default= its value "
                "or what it is computed from")
