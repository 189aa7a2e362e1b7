"""The numaopt error family: every user mistake becomes one of these, never a traceback.

The CLI maps each class to an exit code (see ``exit_code``): 1 bad input, 3 no plan,
4 a QEMU or guest check failed.
"""

from __future__ import annotations


class NumaoptError(Exception):
    """Base of every error numaopt reports to a user as one line."""

    exit_code = 1


class InputError(NumaoptError):
    """Bad input from a file or the command line: ``where: what is wrong (what is valid)``."""

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None):
        self.source = source
        self.where = where
        self.detail = message
        parts = [p for p in (source, where) if p]
        super().__init__(": ".join([*parts, message]))


class ProblemError(InputError):
    """A problem file is malformed or inconsistent; ``where`` is the TOML key path."""


class QemuArgsError(InputError):
    """A file of QEMU arguments could not be read; ``where`` names the argument."""


class LayoutError(NumaoptError):
    """A guest layout breaks a rule of the target rule set."""


class QemuError(NumaoptError):
    """QEMU refused a configuration, or could not be run."""

    exit_code = 4
