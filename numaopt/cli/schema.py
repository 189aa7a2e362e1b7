"""``numaopt schema``: the JSON Schema of problem files, for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from numaopt.files import write_atomically


def schema_command(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here (atomically) instead of stdout.")] = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of problem files.

    Editors validate and complete problem files with it: save it (numaopt schema --out numaopt-problem.schema.json) and point the editor at it, e.g. with a first line '#:schema ./numaopt-problem.schema.json' (taplo, Even Better TOML). It is made from the same declaration the reader checks files against; numaopt checks more than a schema can say (CPU lists, sizes, sums, group names). See docs/problem-format.md.
    """
    from numaopt.problem.schema import problem_schema

    text = json.dumps(problem_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomically(out, text, "--out")
