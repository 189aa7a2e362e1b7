"""generate and fuzz take the same generation knobs (numaopt/cli/knobs.py): the same names and
help, values that make the same Knobs, the same one-line error for a bad value, and fuzz's
old spelling --families still working. Nothing here boots a guest: fuzz runs an empty shard
(--count 1 --shard 1/2), which writes its journal header, knobs included, and stops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from numaopt.cli import app
from numaopt.cli.knobs import FUZZ_DEFAULTS, KNOB_OPTIONS
from numaopt.generate import KnobError

ROOT = Path(__file__).resolve().parents[2]

# Per knob, a value other than both commands' defaults that the default knobs accept.
OTHER_VALUES = {
    "target": "qemu",
    "nodes": "2-3",
    "vcpus_per_node": "2",
    "threads": "1",
    "sockets": "whole",
    "memory_per_node": "256MiB",
    "memory_granule": "64MiB",
    "memoryless": "0",
    "cpuless": "1",
    "family": "flat,socket",
    "distance_range": "12-40",
    "max_skew": "3",
    "levels": "2",
    "topology": "direct",
    "diameter": "1",
    "metric": "yes",
    "symmetry": "symmetric",
    "machine": "pc",
    "hmat": "0.3",
    "dimms": "0.5",
    "families": "none,flat",
}
# The knobs whose defaults differ between the commands, set alike in both.
SAME_START = ["--nodes", "1-3", "--vcpus-per-node", "1-2", "--memory-per-node", "128MiB-256MiB"]


def flag(name: str) -> str:
    return next(option.flag for option in KNOB_OPTIONS if option.name == name)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def generated_knobs(out: Path, *args: str) -> dict[str, Any]:
    """The knobs generate records for ``args`` (an empty batch: nothing is generated)."""
    result = invoke("generate", "--count", "0", "--quiet", "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "index.jsonl").read_text().splitlines()[0])["knobs"]  # type: ignore[no-any-return]


def fuzzed_knobs(out: Path, *args: str) -> dict[str, Any]:
    """The knobs fuzz journals for ``args`` (an empty shard: nothing boots)."""
    result = invoke("fuzz", "--count", "1", "--shard", "1/2", "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "journal.jsonl").read_text().splitlines()[0])["knobs"]  # type: ignore[no-any-return]


def help_records(command: str) -> dict[str, tuple[str, str] | None]:
    """Each option's line in ``command --help`` (flags and metavar, help and default), by name."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    ctx = typer.Context(group.commands[command], info_name=command)
    return {str(param.name): param.get_help_record(ctx) for param in group.commands[command].params}


def test_every_knob_option_reads_the_same_in_both_helps() -> None:
    generate, fuzz = help_records("generate"), help_records("fuzz")
    for knob in KNOB_OPTIONS:
        if knob.hidden:
            assert generate[knob.name] is fuzz[knob.name] is None
        elif knob.name in FUZZ_DEFAULTS:  # the same line but for the default
            assert generate[knob.name] == (generate[knob.name][0], fuzz[knob.name][1].replace(  # type: ignore[index]
                f"[default: {FUZZ_DEFAULTS[knob.name]}]", f"[default: {knob.default}]"))
            assert generate[knob.name] != fuzz[knob.name]
        else:
            assert generate[knob.name] == fuzz[knob.name]
        assert generate[knob.name] is None or generate[knob.name][0].startswith(knob.flag + " ")  # type: ignore[index]


@pytest.mark.parametrize("name", [option.name for option in KNOB_OPTIONS])
def test_fuzz_takes_every_generate_knob_by_the_same_name(tmp_path: Path, name: str) -> None:
    given = [flag(name), OTHER_VALUES[name]]
    if name in ("levels", "topology", "diameter"):
        given += ["--family", "synth"]  # the CP-SAT properties are searched by synth alone
    start = [arg for pair in zip(SAME_START[::2], SAME_START[1::2], strict=True) if pair[0] not in given for arg in pair]
    knobs = generated_knobs(tmp_path / "batch", *start, *given)
    assert knobs == fuzzed_knobs(tmp_path / "campaign", *start, *given)
    assert generated_knobs(tmp_path / "defaults", *start) != knobs  # the knob took effect


def test_fuzz_keeps_its_smaller_defaults(tmp_path: Path) -> None:
    knobs = fuzzed_knobs(tmp_path / "campaign")
    assert (knobs["nodes"], knobs["vcpus_per_node"], knobs["memory_per_node"]) == ("1-4", "1-2", "128MiB-256MiB")


def test_the_old_spelling_families_is_hidden_and_still_works(tmp_path: Path) -> None:
    old = fuzzed_knobs(tmp_path / "old", "--families", "flat,none")
    assert old == fuzzed_knobs(tmp_path / "new", "--family", "flat,none")
    assert old["families"] == ["flat", "none"]
    for command in ("generate", "fuzz"):
        help_text = invoke(command, "--help").output
        assert "--family " in help_text and "--families" not in help_text
    both = invoke("fuzz", "--count", "1", "--out", str(tmp_path / "both"), "--family", "flat", "--families", "ring")
    assert isinstance(both.exception, KnobError) and str(both.exception) == (
        "--families: the same knob as --family; give one of them"
    )
    assert not (tmp_path / "both").exists()


BAD_VALUES = [
    ["--hmat", "2"],
    ["--dimms", "half"],
    ["--target", "bogus"],
    ["--target", "libvirt"],
    ["--nodes", "x"],
    ["--nodes", "6-2"],
    ["--nodes", "0-3"],
    ["--vcpus-per-node", "0"],
    ["--threads", "a,b"],
    ["--sockets", "halves"],
    ["--sockets", "split-core"],
    ["--memory-per-node", "lots"],
    ["--memory-per-node", "1GiB-512MiB"],
    ["--memory-granule", "1000"],
    ["--memory-granule", "big"],
    ["--memoryless", "5", "--nodes", "1-4"],
    ["--cpuless", "4", "--nodes", "4"],
    ["--family", "bogus"],
    ["--families", "bogus"],
    ["--family", "remote-10"],
    ["--distance-range", "10-40"],
    ["--max-skew", "0"],
    ["--levels", "3", "--nodes", "2"],
    ["--levels", "3", "--family", "flat"],
    ["--topology", "torus"],
    ["--topology", "direct", "--levels", "4"],
    ["--diameter", "-1"],
    ["--metric", "maybe"],
    ["--metric", "no", "--distance-range", "11-12"],
    ["--symmetry", "skewed"],
    ["--symmetry", "asymmetric", "--distance-range", "20-20"],
    ["--machine", "arm"],
    ["--target", "linux-dt"],  # the device-tree rules judge virt guests; the default machine is q35
]


@pytest.mark.parametrize("args", BAD_VALUES, ids=lambda args: " ".join(args))
def test_a_bad_knob_gives_the_same_one_line_error_from_both(tmp_path: Path, args: list[str]) -> None:
    errors = []
    for command in ("generate", "fuzz"):
        out = tmp_path / command
        result = invoke(command, "--count", "1", "--out", str(out), *SAME_START, *args)  # the last --nodes counts
        assert result.exit_code == 1 and isinstance(result.exception, KnobError), result.output
        assert "\n" not in str(result.exception) and not out.exists()
        errors.append(str(result.exception))
    assert errors[0] == errors[1]
    assert args[0] in errors[0]  # names the knob


def test_the_error_line_on_stderr_is_the_same(tmp_path: Path) -> None:
    lines = []
    for command in ("generate", "fuzz"):
        result = subprocess.run([sys.executable, "-m", "numaopt", command, "--count", "1", "--out", str(tmp_path / command),
                                 "--nodes", "6-2"], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert result.returncode == 1 and result.stdout == ""
        lines.append(result.stderr)
    assert lines[0] == lines[1] == "numaopt: error: --nodes 6-2: the range is empty\n"
