"""The generation knobs as command-line options, defined once for ``generate`` and ``fuzz``.

``KNOB_OPTIONS`` declares each knob once: its option, help, default and the ``Knobs``
field its text becomes. ``with_knob_options`` gives them to a command whose function takes
``knobs: Knobs``: Typer reads the knob options in that parameter's place (``--help`` lists
them there, in this order) and the function is called with the ``Knobs`` they make. A bad
value is one line (``KnobError``, exit 1), the same from both commands.

fuzz boots every layout it draws, so three knobs start smaller there (``FUZZ_DEFAULTS``);
names, help and parsing are shared. ``--families`` is fuzz's old spelling of ``--family``,
kept working (hidden from ``--help``) on both commands so that existing scripts run.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from numaopt.generate import Family, KnobError, Knobs, Metric, SocketMode, Symmetry
from numaopt.generate.knobs import parse_choices, parse_ints, parse_range, parse_size_range, parse_topology
from numaopt.model import Machine
from numaopt.rules import RuleSet
from numaopt.units import parse_size

__all__ = ["FUZZ_DEFAULTS", "KNOB_OPTIONS", "KnobOption", "knobs_from_options", "with_knob_options"]

FAMILY_HELP = ", ".join(f.value for f in Family)
MAX_SKEW = 245  # remote distances lie in 10..255


def _target(text: str) -> RuleSet:
    try:
        return RuleSet(text)
    except ValueError:
        raise KnobError(f"--target {text}: expected linux-acpi, linux-dt or qemu") from None


def _share(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise KnobError(f"{what} {text}: expected a share of layouts between 0 and 1, e.g. 0.3") from None


def _size(text: str, what: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise KnobError(f"{what}: {exc}") from None


@dataclass(frozen=True, slots=True)
class KnobOption:
    """One knob on the command line: ``flag`` sets ``Knobs.<field>`` to ``parse(value)``."""

    name: str  # the Python parameter Typer passes (and the key of a command's defaults)
    flag: str
    default: str | int | None  # None: the knob is unset unless given (Knobs' own default then)
    help: str
    parse: Callable[[Any], Any]
    field: str = ""  # the Knobs field; "" means the same as ``name``
    value_type: type = str
    maximum: int | None = None
    hidden: bool = False

    @property
    def knobs_field(self) -> str:
        return self.field or self.name

    def parameter(self, default: object) -> inspect.Parameter:
        """The keyword-only parameter whose annotation Typer turns into this option."""
        option = typer.Option(self.flag, help=self.help, max=self.maximum, hidden=self.hidden)
        kind = self.value_type if default is not None else self.value_type | None
        annotation: Any = Annotated[kind, option]
        return inspect.Parameter(self.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _range(flag: str) -> Callable[[str], Any]:
    return lambda text: parse_range(text, flag)


KNOB_OPTIONS: tuple[KnobOption, ...] = (
    KnobOption(
        "target", "--target", "linux-acpi",
        "linux-acpi or linux-dt: valid for QEMU and the machine's guest (linux-acpi on q35/pc, linux-dt on virt); "
        "qemu: QEMU accepts it (may include what Linux discards).",
        _target,
    ),
    KnobOption("nodes", "--nodes", "1-8", "Node count or range, 1..128.", _range("--nodes")),
    KnobOption(
        "vcpus_per_node", "--vcpus-per-node", "1-4", "vCPUs of each CPU node (range).", _range("--vcpus-per-node")
    ),
    KnobOption(
        "threads", "--threads", "1,2", "SMT threads per core to choose from, e.g. 1,2.",
        lambda text: parse_ints(text, "--threads"),
    ),
    KnobOption(
        "sockets", "--sockets", "whole,split",
        "whole (nodes hold whole sockets), split (sockets span nodes), split-core (qemu target).",
        lambda text: parse_choices(text, SocketMode, "--sockets"),
    ),
    KnobOption(
        "memory_per_node", "--memory-per-node", "128MiB-512MiB", "Memory of a node with memory, e.g. 128MiB-1GiB.",
        lambda text: parse_size_range(text, "--memory-per-node"),
    ),
    KnobOption(
        "memory_granule", "--memory-granule", "128MiB", "Node sizes are multiples of this.",
        lambda text: _size(text, "--memory-granule"),
    ),
    KnobOption(
        "memoryless", "--memoryless", "0-1", "Memory-less (CPU-only) nodes per layout (range).", _range("--memoryless")
    ),
    KnobOption("cpuless", "--cpuless", "0-1", "CPU-less (memory-only) nodes per layout (range).", _range("--cpuless")),
    KnobOption(
        "family", "--family", None, f"Distance families (comma-separated): {FAMILY_HELP}. Default: all that fit.",
        lambda text: parse_choices(text, Family, "--family"), field="families",
    ),
    KnobOption(
        "distance_range", "--distance-range", "11-255", "Remote distances, e.g. 11-255 (10 only with --target qemu).",
        _range("--distance-range"),
    ),
    KnobOption(
        "max_skew", "--max-skew", 8, "Largest |d(i,j) - d(j,i)| of asymmetric matrices.", int,
        value_type=int, maximum=MAX_SKEW,
    ),
    KnobOption(
        "levels", "--levels", None, "Exactly this many scheduler levels among CPU nodes (CP-SAT).", _range("--levels")
    ),
    KnobOption(
        "topology", "--topology", None, "Linux topology type: direct, mesh or backplane (CP-SAT).", parse_topology
    ),
    KnobOption(
        "diameter", "--diameter", None, "Hop diameter among CPU nodes (CP-SAT; at most 12 CPU nodes).",
        _range("--diameter"),
    ),
    KnobOption(
        "metric", "--metric", "any", "any; yes: triangle inequality holds; no: it fails somewhere.",
        lambda text: parse_choices(text, Metric, "--metric")[0],
    ),
    KnobOption(
        "symmetry", "--symmetry", "any", "any, symmetric or asymmetric.",
        lambda text: parse_choices(text, Symmetry, "--symmetry")[0],
    ),
    KnobOption(
        "machine", "--machine", "q35", "Machine types to choose from: q35, pc, virt (aarch64).",
        lambda text: parse_choices(text, Machine, "--machine"), field="machines",
    ),
    KnobOption(
        "hmat", "--hmat", None,
        "Share (0..1) of q35/pc layouts with -machine hmat=on: initiators for memory-only nodes, latency and "
        "bandwidth from the distances, some memory-side caches. Default 0.",
        lambda text: _share(text, "--hmat"),
    ),
    KnobOption(
        "dimms", "--dimms", None,
        "Share (0..1) of q35/pc layouts with -m slots/maxmem and pc-dimm devices in nodes with memory. Default 0.",
        lambda text: _share(text, "--dimms"),
    ),
    # fuzz's old spelling of --family: scripts written for it keep working.
    KnobOption(
        "families", "--families", None, "Old spelling of --family.",
        lambda text: parse_choices(text, Family, "--families"), field="families", hidden=True,
    ),
)

# Every boot of a fuzz campaign takes seconds to minutes under TCG: smaller guests by default.
FUZZ_DEFAULTS: Mapping[str, str] = {"nodes": "1-4", "vcpus_per_node": "1-2", "memory_per_node": "128MiB-256MiB"}


def knobs_from_options(values: Mapping[str, Any]) -> Knobs:
    """The ``Knobs`` the option values (by ``KnobOption.name``) ask for; the first bad one, in
    ``KNOB_OPTIONS`` order, is a one-line ``KnobError``. Unset knobs keep ``Knobs``' defaults."""
    fields: dict[str, Any] = {}
    flags: dict[str, str] = {}
    for option in KNOB_OPTIONS:
        value = values[option.name]
        if value is None:
            continue
        field = option.knobs_field
        if field in flags:
            raise KnobError(f"{option.flag}: the same knob as {flags[field]}; give one of them")
        fields[field] = option.parse(value)
        flags[field] = option.flag
    return Knobs(**fields)


Command = Callable[..., None]


def with_knob_options(defaults: Mapping[str, object] | None = None) -> Callable[[Command], Command]:
    """Decorate a command function that takes a keyword-only ``knobs: Knobs``: Typer sees the
    knob options in its place, with ``defaults`` (by name) replacing the shared ones."""
    chosen = dict(defaults or {})
    unknown = set(chosen) - {option.name for option in KNOB_OPTIONS}
    assert not unknown, f"defaults for options that do not exist: {unknown}"

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        own = list(signature.parameters.values())
        names = [parameter.name for parameter in own]
        assert "knobs" in names and not set(names) & {option.name for option in KNOB_OPTIONS}, command.__name__
        at = names.index("knobs")
        knob_parameters = [option.parameter(chosen.get(option.name, option.default)) for option in KNOB_OPTIONS]
        parameters = [*own[:at], *knob_parameters, *own[at + 1 :]]

        @functools.wraps(command)
        def run(**values: Any) -> None:
            knob_values = {option.name: values.pop(option.name) for option in KNOB_OPTIONS}
            command(**values, knobs=knobs_from_options(knob_values))

        # Typer reads the signature and the annotations: both now list the knob options.
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        return run

    return decorate
