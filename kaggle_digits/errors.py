"""The one exception type for problems a user can cause or fix.

Library code raises ``KdigitsError`` with a one-line message at the place the problem
is found; only the CLI turns it into ``error: …`` on stderr and an exit code.
"""


class KdigitsError(Exception):
    """A problem with the user's input, files or environment, described in one line."""

    exit_code = 2


class Interrupted(KdigitsError):
    """Ctrl-C: the work finished so far has been kept; the message says how to go on."""

    exit_code = 130


def last_line(text: str) -> str:
    """The last non-blank line of a tool's output: where its reason usually is."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
