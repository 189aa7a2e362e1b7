"""The numaopt error family: every user mistake becomes one of these, never a traceback.

The CLI maps each class to an exit code (see ``exit_code``): 1 bad input, 3 no plan,
4 a QEMU or guest check failed.
"""

from __future__ import annotations

# The CLI prints "numaopt: error: " and the message: together at most 420 characters (a
# refused layout's finding with a long path and its fix fits; a 4 MB value does not).
MAX_MESSAGE_CHARS = 400
MAX_SOURCE_CHARS = 160  # the file (or key path) part of a message


def one_line_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as one line of at most ``limit`` characters: control characters (newlines
    included) escaped, a longer text cut in the middle so both its start (where) and its
    end (what is valid) stay readable. Costs O(limit) whatever the length of ``text``."""
    if len(text) > 4 * limit:
        text = text[: 2 * limit] + text[-limit:]  # only these parts can survive the cut
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) <= limit:
        return text
    tail = limit // 3
    return text[: limit - tail - 3] + "..." + text[len(text) - tail :]


class NumaoptError(Exception):
    """Base of every error numaopt reports to a user as one line."""

    exit_code = 1


class InputError(NumaoptError):
    """Bad input from a file or the command line: ``where: what is wrong (what is valid)``.

    Always one line of at most ``MAX_MESSAGE_CHARS``, whatever the parts hold (a path or a
    key from the file may be long or hold a newline): ``one_line_message`` is the last guard.
    """

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None):
        self.source = source
        self.where = where
        self.detail = message
        # A long path keeps its start and its file name, and leaves room for what is wrong.
        parts = [one_line_message(p, MAX_SOURCE_CHARS) for p in (source, where) if p]
        super().__init__(one_line_message(": ".join([*parts, message])))


class ProblemError(InputError):
    """A problem file is malformed or inconsistent; ``where`` is the TOML key path."""


class QemuArgsError(InputError):
    """A file of QEMU arguments could not be read; ``where`` names the argument."""


class LayoutError(NumaoptError):
    """A guest layout breaks a rule of the target rule set."""


class QemuError(NumaoptError):
    """QEMU refused a configuration, or could not be run."""

    exit_code = 4
