"""How the command line reports trouble: one line per error or warning, naming the file.

``numaopt.cli.main`` prints every ``NumaoptError`` through ``error_text``; commands print
warnings with ``warn`` and wrap the search in ``naming(path)`` (the search knows requests,
not files, so its "no plan" errors get the problem file's name here). Option callbacks
(``seconds``) turn a bad number into a usage error (exit 2) before anything runs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from numaopt.errors import MAX_SOURCE_CHARS, NumaoptError, one_line_message
from numaopt.inputs import bounded_seconds

__all__ = ["error_text", "in_file", "naming", "seconds", "warn"]


def error_text(exc: NumaoptError) -> str:
    """The lines printed for ``exc``: each one line of at most 420 characters with the prefix
    (a refused layout has one line per finding)."""
    lines = [one_line_message(line) for line in str(exc).split("\n")]
    return "numaopt: error: " + "\n".join(lines)


def warn(message: str, source: str | None = None) -> None:
    """``numaopt: warning: SOURCE: message`` on stderr, one line."""
    if source and not message.startswith(f"{source}: "):
        message = f"{one_line_message(source, MAX_SOURCE_CHARS)}: {message}"
    typer.echo(f"numaopt: warning: {one_line_message(message)}", err=True)


def in_file(exc: NumaoptError, source: str) -> NumaoptError:
    """``exc`` (same class, same exit code) with its message prefixed by ``source``."""
    if str(exc).startswith(f"{source}: "):
        return exc
    named = copy.copy(exc)
    named.args = (f"{source}: {exc}",)
    return named


@contextmanager
def naming(source: object) -> Iterator[None]:
    """Errors raised inside name ``source`` (the problem file a search came from)."""
    try:
        yield
    except NumaoptError as exc:
        raise in_file(exc, str(source)) from None


def seconds(value: float | None) -> float | None:
    """Typer callback for a duration option: positive, finite, at most a day (NaN refused)."""
    if value is None:
        return None
    try:
        return bounded_seconds(value, "a number of seconds")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
