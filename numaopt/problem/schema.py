"""The shape of a problem file, declared once (pydantic models).

From these models come the JSON Schema that ``numaopt schema`` prints (editors validate
and complete problem files with it) and the key lists the reader checks unknown keys
against; and the reader checks every file it accepts against them (``check_shape``), so
the schema never refuses a file numaopt reads. The reader's own checks come first: they
give the messages (saying what is valid), and they judge what a schema cannot (a CPU
outside ``guest.vcpus``, node memory that must add up, group names that must exist).

Three forms, told apart by their tables: an explicit layout (``[guest]``), a placement
search (``[host]``, ``[workload]``, ``[objective]``) and several VMs on one host
(``[host]``, ``[[vm]]``, ``[objective]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from numaopt.errors import ProblemError
from numaopt.hosts.distance_rule import RULE_HELP
from numaopt.hosts.toml import MAX_ID
from numaopt.hosts.toml_hmat import MAX_LEVEL
from numaopt.inputs import (
    MAX_CPU_ID,
    MAX_SEED,
    MAX_THREADS_PER_CORE,
    MAX_TRAFFIC_WEIGHT,
    MAX_VCPUS,
    MAX_WORKERS,
    plain,
    shown,
)
from numaopt.layout import MAX_NODES
from numaopt.model import BackendKind, Machine, ObjectiveKind
from numaopt.rules import RuleSet
from numaopt.units import CPULIST_HELP, DURATION_HELP, SIZE_HELP, UINT16_MAX, UINT32_MAX, parse_cpulist

__all__ = ["Explicit", "Search", "SharedHost", "check_shape", "cpu_list", "keys", "problem_schema"]

MAX_GROUPS = MAX_VCPUS  # one vCPU each at most; memory-only groups count too
MAX_NAME_CHARS = 64
MAX_DISTANCE_LIMIT = 255  # the largest SLIT byte
MAX_PRIORITY = 1_000_000
# Distances outside 10..255 are read so that the checks can name them; they must fit 32 bits.
DISTANCE_BOUND = 1 << 31


def _say(description: str, low: int | None = None, high: int | None = None) -> Any:
    return Field(description=description, ge=low, le=high)


# Values numaopt parses itself (units, CPU ranges): the schema gives their type and form.
Size = Annotated[str | Literal[0], _say(f"{SIZE_HELP}; 0 for none")]
CpuList = Annotated[str | list[Annotated[int, Field(ge=0, le=MAX_CPU_ID)]], _say(f"{CPULIST_HELP}, or a list of numbers")]


def cpu_list(value: object, what: str = "CPU") -> tuple[int, ...]:
    """``parse_cpulist`` for a TOML value of the ``CpuList`` shape: a string or an array (it
    would iterate an inline table's keys, reading ``{}`` as no CPUs)."""
    if not isinstance(value, (str, list)):
        raise ValueError(f"expected {CPULIST_HELP} or a list of integers, got {shown(value)}")
    return parse_cpulist(value, what)


Distance = Annotated[
    int, Field(gt=-DISTANCE_BOUND, lt=DISTANCE_BOUND, description="10 local, 11..254 remote, 255 unreachable")
]
Count = Annotated[int, Field(ge=1, le=MAX_VCPUS)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS, description="1..64 printable characters")]
Names = Annotated[list[str], Field(min_length=2, description="two group names or more")]
MACHINE = "q35 (default), pc, or virt (aarch64)"


def _enum(description: str) -> Any:
    # strict mode takes only enum members; a TOML file gives the enum's strings.
    return Field(default=None, strict=False, description=description)


class _Table(BaseModel):
    """A TOML table: unknown keys are refused, and nothing is converted (a string is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# -- An explicit layout ---------------------------------------------------------------------


class Smp(_Table):
    """The vCPU topology (-smp): any subset, the rest is completed from vcpus and the nodes."""

    sockets: Count | None = None
    dies: Annotated[Count, _say("x86 (q35, pc) only")] | None = None
    clusters: Annotated[Count, _say("virt only")] | None = None
    cores: Count | None = None
    threads: Count | None = None


class GuestNode(_Table):
    """A guest node; its id is its position in nodes (0, 1, ...)."""

    cpus: Annotated[CpuList, _say('its vCPUs ("" for none); left out: a share of the vCPUs no node lists')] | None = None
    memory: Annotated[Size, _say("its memory (0 for none); left out: a share of what the other nodes leave")] | None = None
    initiator: Annotated[int, _say("HMAT: the node (with vCPUs) that reaches this memory best; turns hmat on", 0)] | None = None


class HmatLb(_Table):
    """HMAT latency (ns) and bandwidth (per second) from an initiator node to a target node."""

    initiator: Annotated[int, _say("a node with vCPUs", 0)]
    target: Annotated[int, _say("a node with memory", 0)]
    hierarchy: Annotated[
        Literal["memory", "first-level", "second-level", "third-level"], _say("memory (default) or a cache level")
    ] | None = None
    latency: Annotated[int, _say("access latency in ns", 0)] | None = None
    read_latency: Annotated[int, _say("read latency in ns", 0)] | None = None
    write_latency: Annotated[int, _say("write latency in ns", 0)] | None = None
    bandwidth: Annotated[Size, _say("access bandwidth per second, a multiple of 1MiB")] | None = None
    read_bandwidth: Annotated[Size, _say("read bandwidth per second, a multiple of 1MiB")] | None = None
    write_bandwidth: Annotated[Size, _say("write bandwidth per second, a multiple of 1MiB")] | None = None


class HmatCache(_Table):
    """One memory-side cache level of a node (HMAT)."""

    node: Annotated[int, _say("the node whose memory it caches", 0)]
    size: Size
    level: Annotated[int, _say("1..3, each level larger than the one below", 1, 3)]
    associativity: Literal["none", "direct", "complex"] | None = None
    policy: Literal["none", "write-back", "write-through"] | None = None
    line: Annotated[int, _say("the cache line in bytes (default 64)", 0, UINT16_MAX)] | None = None


class Dimm(_Table):
    """A pc-dimm plugged into a node at start."""

    node: Annotated[int, _say("the node it belongs to", 0)]
    size: Annotated[Size, _say("its size, a multiple of 2MiB")]


class DistancePair(_Table):
    """The distance from node a to node b; one direction given means both."""

    a: Annotated[int, _say("a node index")]
    b: Annotated[int, _say("a node index")]
    value: Distance


class Backend(_Table):
    """The memory backend of every node that has memory."""

    kind: Annotated[BackendKind | None, _enum("ram (default) or file")]
    mem_path: Annotated[str, _say("file only, e.g. /dev/hugepages")] | None = None
    page_size: Annotated[Size, _say("the huge page size; node sizes must be multiples of it")] | None = None
    share: bool | None = None
    prealloc: bool | None = None


class Guest(_Table):
    """The guest's nodes and distances."""

    vcpus: Annotated[Count, _say("the number of vCPUs")]
    memory: Annotated[Size, _say("the guest's memory (-m)")]
    machine: Annotated[Machine | None, _enum(MACHINE)]
    smp: Smp | None = None
    nodes: Annotated[list[GuestNode], Field(min_length=1, max_length=MAX_NODES)]
    distances: (
        Annotated[list[list[Distance]] | list[DistancePair], _say("a full matrix (one row per node), or pairs")] | None
    ) = None
    default_distance: Annotated[Distance, _say("the distance of every pair not given")] | None = None
    memory_backend: Backend | None = None
    hmat: Annotated[bool, _say("-machine hmat=on; default: on when a node has an initiator or hmat_lb is given")] | None = None
    hmat_lb: list[HmatLb] | None = None
    hmat_cache: list[HmatCache] | None = None
    maxmem: Annotated[Size, _say("-m maxmem=: memory plus room to hot-plug DIMMs")] | None = None
    slots: Annotated[int, _say("-m slots=: DIMMs that can be plugged (1..256)", 0)] | None = None
    dimms: list[Dimm] | None = None


class Explicit(_Table):
    """An explicit layout: the guest's nodes and distances are given."""

    rules: Annotated[RuleSet | None, _enum("the target rule set; default linux-acpi (q35, pc) or linux-dt (virt)")]
    guest: Guest


# -- The host ----------------------------------------------------------------------------------


class HugePages(_Table):
    size: Size
    total: Annotated[int, Field(ge=0, le=1 << 40)]
    free: Annotated[int, Field(ge=0, le=1 << 40, description="at most total")]


class HostAccess(_Table):
    """HMAT as the host kernel shows it (sysfs nodeN/access0/initiators); 0 or left out: not reported."""

    initiators: Annotated[CpuList, _say("the host nodes that reach this node's memory best, a node list")]
    read_latency: Annotated[int, _say("ns", 0, UINT32_MAX)] | None = None
    write_latency: Annotated[int, _say("ns", 0, UINT32_MAX)] | None = None
    read_bandwidth: Annotated[int, _say("MiB/s", 0, UINT32_MAX)] | None = None
    write_bandwidth: Annotated[int, _say("MiB/s", 0, UINT32_MAX)] | None = None


class HostCache(_Table):
    """One memory-side cache level in front of a host node (sysfs nodeN/memory_side_cache/indexL)."""

    level: Annotated[int, _say("the level, 1 nearest the node's memory; each once", 1, MAX_LEVEL)]
    size: Size
    line: Annotated[int, _say("the line in bytes (default 64)", 0, UINT16_MAX)] | None = None
    associativity: Literal["direct", "complex", "none"] | None = None
    policy: Literal["write-back", "write-through", "none"] | None = None


class HostNode(_Table):
    id: Annotated[int, _say("the node id; ids increase", 0, MAX_ID)]
    cpus: CpuList
    memory: Size
    free: Size | None = None
    hugepages: list[HugePages] | None = None
    access: HostAccess | None = None
    caches: list[HostCache] | None = None


class HostSocket(_Table):
    """One socket: its cores, each a CPU list of SMT siblings."""

    id: Annotated[int, Field(ge=0, le=MAX_ID)]
    cores: list[CpuList]


RESERVED = "host CPUs kept for QEMU's own threads"


class InlineHost(_Table):
    """The host typed in (what numaopt host capture writes)."""

    nodes: Annotated[list[HostNode], Field(min_length=1)]
    distances: Annotated[list[list[int]], _say("one row per node; may be left out for one node")] | None = None
    sockets: list[HostSocket] | None = None
    reserved_cpus: Annotated[CpuList, _say(RESERVED)] | None = None


class DistanceRule(_Table):
    same_package: int
    other: int


class ImportedHost(_Table):
    """The host read from files (paths relative to the problem file): numactl, numactl + lscpu, sysfs, hwloc, or synthetic (+ distances)."""

    numactl: Annotated[str, _say("numactl --hardware output")] | None = None
    lscpu: Annotated[str, _say("lscpu output (with numactl)")] | None = None
    sysfs: Annotated[str, _say("a sysfs snapshot folder")] | None = None
    hwloc: Annotated[str, _say("hwloc (lstopo) XML")] | None = None
    synthetic: Annotated[str, _say("a synthetic host such as 'pack:2 numa:2 core:4 pu:2'")] | None = None
    distances: Annotated[str | DistanceRule, _say(f"with synthetic or hwloc: {RULE_HELP}")] | None = None
    reserved_cpus: Annotated[CpuList, _say(RESERVED)] | None = None


Host = InlineHost | ImportedHost


# -- A placement search ------------------------------------------------------------------------


class Group(_Table):
    """vCPUs and memory that belong together (a database, a cache...)."""

    name: Name
    vcpus: Annotated[int, _say("a multiple of threads_per_core; 0 for memory only", 0, MAX_VCPUS)]
    memory: Size
    nodes: Annotated[CpuList, _say('the host nodes it may use, e.g. "0-1"')] | None = None
    split: Annotated[bool, _say("it may spread over several guest nodes")] | None = None


class Traffic(_Table):
    """How much two groups talk: between = [a, b] (one name: within a group), or from and to."""

    between: Annotated[list[str], Field(min_length=1, max_length=2)] | None = None
    from_: Annotated[str | None, Field(alias="from")] = None
    to: str | None = None
    weight: Annotated[int, Field(ge=0, le=MAX_TRAFFIC_WEIGHT)]


class MaxDistance(_Table):
    """The largest host distance allowed between two groups."""

    between: Names
    distance: Annotated[int, Field(ge=10, le=MAX_DISTANCE_LIMIT)]


class AtMost(_Table):
    max: Annotated[int, Field(ge=1, le=MAX_NODES)]


class Workload(_Table):
    """What the guest runs: groups (or vcpus and memory for one group), traffic and rules."""

    vcpus: Annotated[int, _say("without groups 1..4096; with groups, their sum", 0)] | None = None
    memory: Annotated[Size, _say("without groups: the memory; with groups, their sum")] | None = None
    threads_per_core: Annotated[int, Field(ge=1, le=MAX_THREADS_PER_CORE)] | None = None
    machine: Annotated[Machine | None, _enum(MACHINE)]
    page_size: Annotated[Size, _say("huge pages for the guest's memory (2MiB, 1GiB)")] | None = None
    mem_path: Annotated[str, _say("the hugetlbfs mount, with page_size (default /dev/hugepages)")] | None = None
    guest_nodes: (
        Annotated[Literal["auto"] | Annotated[int, Field(ge=1, le=MAX_NODES)] | AtMost, _say('"auto", N, or { max = N }')]
        | None
    ) = None
    groups: Annotated[list[Group], Field(min_length=1, max_length=MAX_GROUPS)] | None = None
    traffic: list[Traffic] | None = None
    together: Annotated[list[Names], _say("groups that share a guest node")] | None = None
    apart: Annotated[list[Names], _say("groups on different guest nodes")] | None = None
    max_distance: list[MaxDistance] | None = None
    maxmem: Annotated[Size, _say("room to grow: memory plus hot-pluggable DIMMs (-m maxmem=); one VM only")] | None = None
    slots: Annotated[int, _say("-m slots=: DIMMs that can be hot-plugged (1..256); one VM only", 0)] | None = None


class Objective(_Table):
    """What the search optimises, and for how long."""

    kind: Annotated[ObjectiveKind | None, _enum("locality (default), spread or compact")]
    time_limit: Annotated[str | int | float, _say(f"{DURATION_HELP}; default 10s")] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None
    workers: Annotated[int, _say("CP-SAT workers", 1, MAX_WORKERS)] | None = None


class Search(_Table):
    """A placement search: the best guest layout for a workload on a host."""

    host: Host
    workload: Workload
    objective: Objective | None = None


class Vm(Workload):
    """One VM: a [workload] table with a name and a priority."""

    name: Annotated[Name, _say("a unique name without '/'")]
    priority: Annotated[int, Field(ge=1, le=MAX_PRIORITY)] | None = None


class SharedHost(_Table):
    """Several VMs on one host."""

    host: Host
    vm: Annotated[list[Vm], Field(min_length=1)]
    objective: Objective | None = None
    sockets_apart: Annotated[
        list[Annotated[list[str], Field(min_length=2, max_length=2)]], _say("pairs of VMs kept on different sockets")
    ] | None = None


# -- Uses ------------------------------------------------------------------------------------------


def keys(model: type[BaseModel]) -> tuple[str, ...]:
    """A table's keys, in the order the models declare them (unknown-key messages list them so)."""
    return tuple(field.alias or name for name, field in model.model_fields.items())


def _path(data: Any, loc: tuple[int | str, ...]) -> str:
    """The key path of ``loc`` in ``data`` (``workload.groups[2].vcpus``), without the names of
    union members pydantic puts in it (``InlineHost``...)."""
    path = ""
    for part in loc:
        if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            path, data = f"{path}[{part}]", data[part]
        elif isinstance(data, Mapping) and part in data:
            path, data = f"{path}.{plain(str(part), 40)}" if path else plain(str(part), 40), data[part]
    return path


def check_shape(data: Mapping[str, Any], model: type[BaseModel], source: str) -> None:
    """Refuse ``data`` unless it fits ``model``. The reader has read it by then: this fails only
    if the models were stricter than the reader, and says so in one line."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = tuple(first["loc"])
        if first["type"] == "extra_forbidden":
            where, message = _path(data, loc), f"unknown key {shown(loc[-1])}"
        else:
            where, message = _path(data, loc), f"{first['msg'][0].lower()}{first['msg'][1:]}, got {shown(first['input'])}"
        raise ProblemError(f"{message} (numaopt's schema)", source=source, where=where or None) from None


class _TomlSchema(GenerateJsonSchema):
    """TOML has no null: an optional key is one that may be left out, so ``X | None = None``
    is written as X, without a default; titles repeat the key names, so there are none."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default") is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _when(keys: tuple[str, ...], then: str, otherwise: dict[str, Any]) -> dict[str, Any]:
    """``then`` if any of ``keys`` is there, else ``otherwise``: the reader's own way of telling
    the forms apart, so an editor reports the mistake inside the form meant (an ``anyOf``
    would only say that no form fits)."""
    return {"if": {"anyOf": [{"required": [key]} for key in keys]}, "then": {"$ref": f"#/$defs/{then}"}, "else": otherwise}


def problem_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a problem file."""
    from numaopt.hosts.sources import SourceKind  # numaopt.hosts reads [host]: its sources decide the form

    schema = TypeAdapter(Explicit | Search | SharedHost).json_schema(schema_generator=_TomlSchema)
    definitions = schema["$defs"]
    for definition in definitions.values():
        definition.pop("title", None)
    host = _when(tuple(kind.value for kind in SourceKind), "ImportedHost", {"$ref": "#/$defs/InlineHost"})
    for form in ("Search", "SharedHost"):
        definitions[form]["properties"]["host"] = host
    explicit = {"$ref": "#/$defs/Explicit"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "numaopt problem file",
        "description": "An explicit layout ([guest]), a placement search ([host], [workload], [objective]) "
        "or several VMs on one host ([host], [[vm]], [objective]). numaopt checks more than this "
        "schema can say (CPU lists, sizes, sums, names): see docs/problem-format.md.",
        # As parse_problem tells them apart: [guest], else [[vm]], else [host] or [workload].
        **_when(("guest",), "Explicit", _when(("vm",), "SharedHost", _when(("host", "workload"), "Search", explicit))),
        "$defs": definitions,
    }
