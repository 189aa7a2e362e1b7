"""Usage lines the way other tools print them: ``numaopt solve [OPTIONS] PROBLEM``, and
usage errors as one line.

Typer marks required arguments with braces (``{PROBLEM}``), which reads like a set of
choices; this command class prints the plain names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperCommand

if TYPE_CHECKING:  # typer >= 0.29 carries its own click, whose classes these must name
    from typer._click.core import Context
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
else:
    try:  # typer >= 0.29 carries its own click
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # older typer uses the click package
        from click.exceptions import NoArgsIsHelpError, UsageError


__all__ = ["NoArgsIsHelpError", "PlainUsage", "UsageError", "usage_error_line"]


class PlainUsage(TyperCommand):
    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return [piece.replace("{", "").replace("}", "") for piece in super().collect_usage_pieces(ctx)]


def usage_error_line(error: UsageError) -> str:
    """A usage error as one line: what was wrong, the usage line, and where help is.

    Click prints four lines (usage, a hint, a blank line, the error); numaopt's errors are
    one line each, usage errors included, so scripts and logs can rely on it."""
    context = error.ctx
    path = context.command_path if context is not None else "numaopt"
    message = " ".join(error.format_message().split()).replace("Value error, ", "").rstrip(".")
    usage = f"usage: {' '.join(context.get_usage().split()[1:])}; " if context is not None else ""
    return f"numaopt: error: {path}: {message} ({usage}see {path} --help)"
