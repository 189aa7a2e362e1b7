"""Usage lines the way other tools print them: ``numaopt solve [OPTIONS] PROBLEM``.

Typer marks required arguments with braces (``{PROBLEM}``), which reads like a set of
choices; this command class prints the plain names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperCommand

if TYPE_CHECKING:  # typer >= 0.29 carries its own click, whose Context the override must name
    from typer._click.core import Context


class PlainUsage(TyperCommand):
    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return [piece.replace("{", "").replace("}", "") for piece in super().collect_usage_pieces(ctx)]
