"""The numaopt command line: the app and its entry point. Only numaopt.cli prints or exits.

Exit codes: 0 ok, 1 bad input or a layout the target refuses, 2 usage, 3 no plan
(infeasible / nothing in time), 4 QEMU or the guest check failed.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from numaopt.cli.check import check_command
from numaopt.cli.errors import error_text
from numaopt.cli.fuzz import fuzz_app
from numaopt.cli.generate import generate_command
from numaopt.cli.guest import guest_build_command, replay_command, verify_command
from numaopt.cli.host import host_app
from numaopt.cli.launch import launch_command
from numaopt.cli.plot import plot_command
from numaopt.cli.schema import schema_command
from numaopt.cli.solve import solve_command
from numaopt.cli.usage import NoArgsIsHelpError, PlainUsage, UsageError, usage_error_line
from numaopt.errors import NumaoptError
from numaopt.files import stdout_failed
from numaopt.processes import sigterm_as_interrupt

app = typer.Typer(
    help="Search, check and render QEMU guest NUMA layouts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts mention [guest], [host] literally: no rich markup
)


def _version(value: bool) -> None:
    if value:
        from numaopt import __version__

        typer.echo(f"numaopt {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", help="Print numaopt's version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """Search, check and render QEMU guest NUMA layouts."""


app.command("solve", cls=PlainUsage)(solve_command)
app.command("check", cls=PlainUsage)(check_command)
app.command("launch", cls=PlainUsage, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    launch_command
)
app.command("plot", cls=PlainUsage)(plot_command)
app.command("schema", cls=PlainUsage)(schema_command)
app.command("generate", cls=PlainUsage)(generate_command)
app.command("verify", cls=PlainUsage)(verify_command)
app.add_typer(fuzz_app, name="fuzz")  # a campaign, and `fuzz replay DIR`
app.command("replay", cls=PlainUsage, hidden=True)(replay_command)  # the older name of `fuzz replay`
app.add_typer(host_app, name="host")
guest_app = typer.Typer(help="The guest kit (kernel + probe initramfs) for boot checks.", no_args_is_help=True)
guest_app.command("build", cls=PlainUsage)(guest_build_command)
app.add_typer(guest_app, name="guest")


def main(args: list[str] | None = None) -> None:
    """Entry point: every numaopt error becomes one line on stderr (one per finding for a
    refused layout) and its exit code. ``args`` defaults to the command line (tests pass them)."""
    try:
        with sigterm_as_interrupt():  # a supervisor's stop cleans up like Ctrl-C (exit 130)
            code = app(args=args, prog_name="numaopt", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `numaopt` or `numaopt host` alone: the help, as click shows it
        typer.echo(exc.format_message(), err=True)
        sys.exit(2)
    except UsageError as exc:
        typer.echo(usage_error_line(exc), err=True)
        sys.exit(2)
    except typer.Abort:  # click's name for a KeyboardInterrupt it caught
        typer.echo("numaopt: interrupted", err=True)
        sys.exit(130)
    except NumaoptError as exc:
        typer.echo(error_text(exc), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("numaopt: interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        if not stdout_failed(exc):
            raise
        typer.echo(f"numaopt: error: stdout: cannot write: {exc.strerror}", err=True)
        sys.exit(1)
    if isinstance(code, int) and code != 0:  # typer.Exit(code) from a command
        sys.exit(code)
    if args is None and sys.argv[1:2] == ["solve"]:
        _exit_at_once()


def _exit_at_once() -> None:
    """End a finished `numaopt solve` without the interpreter's teardown: freeing every
    imported module (numpy, SciPy, OR-Tools) took 0.3 s on an idle 2-core machine and 1 s
    under load, after the plan was written, outside the time limit the user set. Everything
    is written and closed by now; only the standard streams need flushing."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError as exc:
        typer.echo(f"numaopt: error: stdout: cannot write: {exc.strerror}", err=True)
        os._exit(1)
    os._exit(0)
