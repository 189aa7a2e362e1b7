"""``numaopt fuzz``: a campaign (``numaopt fuzz --count ...``), and ``numaopt fuzz replay DIR``
to boot one of its reproducers again.

``fuzz`` is a group that runs its own callback when no subcommand is named, so a campaign's
command line is the same as when ``fuzz`` was a plain command; ``replay`` is the one
subcommand. ``numaopt replay DIR`` stays as a hidden alias for command lines written before.
"""

from __future__ import annotations

import copy
import functools
import inspect
import typing
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from numaopt.cli.guest import fuzz_command, replay_command
from numaopt.cli.usage import PlainUsage

if TYPE_CHECKING:  # typer >= 0.29 carries its own click, whose classes these must name
    from typer._click.core import Context, ParameterSource
    from typer._click.exceptions import MissingParameter, UsageError
else:
    try:
        from typer._click.core import Context, ParameterSource
        from typer._click.exceptions import MissingParameter, UsageError
    except ImportError:  # older typer uses the click package
        from click.core import Context, ParameterSource
        from click.exceptions import MissingParameter, UsageError

__all__ = ["fuzz_app"]


class _FuzzGroup(TyperGroup):
    """The usage line as ``numaopt fuzz [OPTIONS] [replay DIR]``: a campaign names no command."""

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return [piece.replace("COMMAND [ARGS]...", "[replay DIR]") for piece in super().collect_usage_pieces(ctx)]


@functools.wraps(fuzz_command)
def _campaign(ctx: typer.Context, **values: Any) -> None:
    # Click runs a group's callback before its subcommand: the campaign only when none is named.
    if ctx.invoked_subcommand is not None:
        given = [p.opts[0] for p in ctx.command.params if ctx.get_parameter_source(p.name or "") is ParameterSource.COMMANDLINE]
        if given:
            raise UsageError(f"{given[0]} is a campaign option: numaopt fuzz {ctx.invoked_subcommand} takes none of them", ctx)
        return
    for param in ctx.command.params:  # required by a campaign, not by `fuzz replay`
        if param.name in _REQUIRED and values[param.name] is None:
            raise MissingParameter(ctx=ctx, param=param)  # type: ignore[arg-type]  # Typer made it: a _TyperParameter
    fuzz_command(**values)


# Typer reads the callback's signature: fuzz's options (those a campaign requires given a
# default of None, so that `fuzz replay DIR` parses without them), plus the context.
_options = list(inspect.signature(fuzz_command).parameters.values())
_REQUIRED = frozenset(p.name for p in _options if p.default is inspect.Parameter.empty)


def _optional(parameter: inspect.Parameter) -> inspect.Parameter:
    """``parameter`` with a default of None, its help saying a campaign needs it."""
    base, *extras = typing.get_args(parameter.annotation)
    infos = [copy.copy(extra) for extra in extras]
    for info in infos:
        info.help = f"{info.help} Required for a campaign."
    return parameter.replace(default=None, annotation=Annotated[base | None, *infos])


_options = [_optional(p) if p.name in _REQUIRED else p for p in _options]
_context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
_campaign.__signature__ = inspect.Signature([_context, *_options])  # type: ignore[attr-defined]
_campaign.__annotations__ = {"ctx": typer.Context, **{p.name: p.annotation for p in _options}}

fuzz_app = typer.Typer(cls=_FuzzGroup, add_completion=False, rich_markup_mode=None)
fuzz_app.callback(invoke_without_command=True)(_campaign)
fuzz_app.command("replay", cls=PlainUsage)(replay_command)
