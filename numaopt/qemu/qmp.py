"""The -S check: start the real QEMU paused, read back over QMP what it built, compare.

QEMU builds the whole machine (every ``-smp``/``-numa`` rule of docs/rules.md,
#qemu-node to #qemu-smp) before its monitor answers, and ``exit(1)``s on a violation, so a
paused start is a check without a boot (#qemu-readback). ``probe`` runs it and reads the result;
``compare`` says where it differs from a ``GuestLayout``.

Facts learnt from the real QEMU 7.2 (Debian) that shape the code:

* The QMP socket file appears before QEMU listens on it: a connect can be refused for a
  moment, so connecting retries until the process exits or the deadline passes.
* A configuration QEMU refuses never gets a greeting: the connection hits EOF and the
  process exits 1 with the reason on stderr, often behind the option that caused it
  (``qemu-system-x86_64: -numa dist,src=0,dst=1,val=9: NUMA distance (9) is ...``).
* ``query-machines`` reports ``hotpluggable-cpus`` true for pc and q35 and false for
  arm ``virt``, where ``query-hotpluggable-cpus`` fails with "The feature
  'query-hotpluggable-cpus' is not enabled"; ``query-cpus-fast`` works everywhere.
* ``query-hotpluggable-cpus`` lists the slots last-to-first; they are tied to vCPU
  indices through ``qom-path``, which ``query-cpus-fast`` gives with ``cpu-index``.
* arm ``virt`` reports ``cluster-id`` in every CPU's props, 0 when ``-smp`` has no
  clusters; x86 reports ``die-id`` only with ``dies > 1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qemu.qmp import ExecuteError, QMPClient, QMPError

from numaopt.errors import QemuError
from numaopt.layout import RAM_ALIGN
from numaopt.model import GuestLayout
from numaopt.processes import pdeathsig_preexec
from numaopt.render.qemu import dimm_id, memdev_id
from numaopt.units import MIB, format_cpulist

__all__ = [
    "NumaText",
    "QemuReadback",
    "QemuRefused",
    "compare",
    "debian_package",
    "parse_numa_text",
    "parse_qemu_stderr",
    "probe",
]

# QMP CpuInstanceProperties -> CpuPosition field (module/book/drawer ids are not modelled).
TOPOLOGY_PROPS = {
    "socket-id": "socket",
    "die-id": "die",
    "cluster-id": "cluster",
    "core-id": "core",
    "thread-id": "thread",
}
_DEBIAN_PACKAGES = {
    "x86_64": "qemu-system-x86",
    "i386": "qemu-system-x86",
    "aarch64": "qemu-system-arm",
    "arm": "qemu-system-arm",
    "ppc64": "qemu-system-ppc",
    "ppc": "qemu-system-ppc",
    "s390x": "qemu-system-s390x",
    "riscv64": "qemu-system-misc",
}
_QUIT_GRACE_S = 5.0  # after "quit": time for QEMU to exit before it is killed
_POLL_S = 0.01


def debian_package(binary: str) -> str:
    """The Debian package that ships ``binary`` (qemu-system-x86_64 -> qemu-system-x86)."""
    arch = os.path.basename(binary).removeprefix("qemu-system-")
    return _DEBIAN_PACKAGES.get(arch, "qemu-system")


# ---------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class MemoryDevice:
    """One entry of query-memory-devices (a pc-dimm): its id, node, size and slot."""

    device_id: str
    node: int
    size_bytes: int
    slot: int
    hotplugged: bool = False


@dataclass(frozen=True, slots=True)
class HotDimm:
    """A DIMM to hot-plug over QMP into a paused QEMU (``probe(plug=...)``)."""

    device_id: str
    node: int
    size_bytes: int


def _memory_devices(raw: list[dict[str, Any]]) -> tuple[MemoryDevice, ...]:
    devices = []
    for entry in raw:
        data = entry.get("data", {})
        devices.append(
            MemoryDevice(
                str(data.get("id", "")), int(data.get("node", -1)), int(data.get("size", 0)), int(data.get("slot", -1)),
                bool(data.get("hotplugged", False)),
            )
        )  # fmt: skip
    return tuple(devices)


@dataclass(frozen=True, slots=True)
class QemuReadback:
    """What a paused QEMU reports it built.

    ``cpu_nodes``/``cpu_props`` cover the present vCPUs, by index; ``node_*`` come from
    ``x-query-numa`` (sizes there are whole MiB, rounded down: ``node_mem >> 20``);
    ``memdevs`` is ``query-memdev`` as returned, and carries exact backend sizes.
    """

    cpu_nodes: dict[int, int]
    cpu_props: dict[int, dict[str, int]]
    node_sizes_bytes: dict[int, int]
    node_cpus: dict[int, tuple[int, ...]]
    memdevs: list[dict[str, Any]]
    qemu_version: str
    machine: str = ""  # e.g. "pc-q35-7.2"
    ram_bytes: int = 0  # -m as QEMU applied it (query-memory-size-summary base-memory)
    absent_cpu_slots: tuple[dict[str, int], ...] = ()  # possible but not present vCPU slots (maxcpus > cpus)
    warnings: tuple[str, ...] = ()  # QEMU's stderr warnings, program name removed
    hmat: bool | None = None  # qom-get /machine hmat; None where the board has no such property
    memory_devices: tuple[MemoryDevice, ...] = ()  # query-memory-devices: pc-dimms and their nodes

    @property
    def num_nodes(self) -> int:
        return len(self.node_sizes_bytes)


class QemuRefused(QemuError):
    """QEMU exited before answering QMP: it refused the configuration.

    ``qemu_message`` is QEMU's error without the ``qemu-system-*: `` prefix and without the
    option QEMU names in front of it (that is in ``option``, e.g. ``-numa dist,src=0,...``);
    ``hint`` holds any further lines QEMU printed (``Use -numa node,memdev instead``).
    """

    def __init__(
        self,
        qemu_message: str,
        *,
        option: str | None = None,
        hint: str | None = None,
        stderr: str = "",
        returncode: int | None = None,
    ):
        self.qemu_message = qemu_message
        self.option = option
        self.hint = hint
        self.stderr = stderr
        self.returncode = returncode
        where = f"{option}: " if option else ""
        text = f"QEMU refused the configuration: {where}{qemu_message}"
        if hint:
            text += f" ({hint})"
        super().__init__(" ".join(text.split("\n")))


@dataclass(frozen=True, slots=True)
class _StderrMessage:
    text: str
    option: str | None
    warning: bool
    hint: list[str] = field(default_factory=list)


def parse_qemu_stderr(stderr: str, argv: Sequence[str]) -> list[_StderrMessage]:
    """QEMU's stderr as messages: program prefix and option location split off.

    QEMU prints ``<basename of argv[0]>: [<option> <value>: ][warning: ]<message>``;
    lines without the prefix continue the previous message (hints).
    """
    prog = os.path.basename(argv[0]) if argv else "qemu"
    prefixes = (f"{prog}: ", f"{argv[0]}: ") if argv else (f"{prog}: ",)
    # Locations QEMU can name: an option and its value, exactly as given.
    locations = [f"{argv[i]} {argv[i + 1]}: " for i in range(1, len(argv) - 1) if argv[i].startswith("-")]
    messages: list[_StderrMessage] = []
    for line in stderr.splitlines():
        prefix = next((p for p in prefixes if line.startswith(p)), None)
        if prefix is None:
            if messages and line.strip():
                messages[-1].hint.append(line.strip())
            elif line.strip():
                messages.append(_StderrMessage(line.strip(), None, False))
            continue
        rest = line[len(prefix) :]
        option = None
        # Longest first: "-numa cpu,node-id=1" must not stop at a shorter look-alike.
        for location in sorted(locations, key=len, reverse=True):
            if rest.startswith(location):
                option = location[:-2]
                rest = rest[len(location) :]
                break
        warning = rest.startswith("warning: ")
        messages.append(_StderrMessage(rest.removeprefix("warning: "), option, warning))
    return messages


def _refusal(stderr: str, argv: Sequence[str], returncode: int | None) -> QemuRefused:
    messages = parse_qemu_stderr(stderr, argv)
    errors = [m for m in messages if not m.warning and not m.text.startswith("terminating on signal")]
    if not errors:
        text = f"QEMU exited with status {returncode} before answering QMP"
        if messages:
            text += f" (last message: {messages[-1].text})"
        return QemuRefused(text, stderr=stderr, returncode=returncode)
    last = errors[-1]
    return QemuRefused(
        last.text,
        option=last.option,
        hint=" ".join(last.hint) or None,
        stderr=stderr,
        returncode=returncode,
    )


# ---------------------------------------------------------------------------------------
# x-query-numa text


@dataclass(frozen=True, slots=True)
class NumaText:
    """``x-query-numa`` (HMP ``info numa``) parsed: per node its present vCPUs and MiB."""

    num_nodes: int
    node_cpus: dict[int, tuple[int, ...]]
    node_sizes_mib: dict[int, int]
    node_plugged_mib: dict[int, int]


_NODES_RE = re.compile(r"^(\d+) nodes$")
_NODE_RE = re.compile(r"^node (\d+) (cpus|size|plugged):(.*)$")
_MB_RE = re.compile(r"^ (\d+) MB$")


def parse_numa_text(text: str) -> NumaText:
    """Parse QEMU's ``hmp_info_numa`` text (hw/core/machine-hmp-cmds.c / machine-qmp-cmds.c)::

        2 nodes
        node 0 cpus: 0 1
        node 0 size: 1024 MB
        node 0 plugged: 0 MB
        node 1 cpus:
        ...

    Raises ``QemuError`` naming the line on anything else, so a changed format is loud.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not (head := _NODES_RE.match(lines[0].strip())):
        first = lines[0] if lines else ""
        raise QemuError(f"x-query-numa: expected 'N nodes' first, got {first!r}")
    num_nodes = int(head.group(1))
    cpus: dict[int, tuple[int, ...]] = {}
    sizes: dict[int, int] = {}
    plugged: dict[int, int] = {}
    for line in lines[1:]:
        match = _NODE_RE.match(line.rstrip())
        if not match:
            raise QemuError(f"x-query-numa: unexpected line {line!r}")
        node, kind, value = int(match.group(1)), match.group(2), match.group(3)
        if kind == "cpus":
            try:
                cpus[node] = tuple(int(cpu) for cpu in value.split())
            except ValueError:
                raise QemuError(f"x-query-numa: unexpected CPU list in {line!r}") from None
            continue
        mb = _MB_RE.match(value)
        if not mb:
            raise QemuError(f"x-query-numa: unexpected size in {line!r}")
        (sizes if kind == "size" else plugged)[node] = int(mb.group(1))
    expected = set(range(num_nodes))
    for name, table in (("cpus", cpus), ("size", sizes)):
        if set(table) != expected:
            raise QemuError(f"x-query-numa: says {num_nodes} nodes but has '{name}' lines for nodes {sorted(table)}")
    return NumaText(num_nodes=num_nodes, node_cpus=cpus, node_sizes_mib=sizes, node_plugged_mib=plugged)


# ---------------------------------------------------------------------------------------
# probe


def _has_accel(argv: Sequence[str]) -> bool:
    for i, arg in enumerate(argv):
        if arg in ("-accel", "--accel", "-enable-kvm", "--enable-kvm") or arg.startswith(("-accel=", "--accel=")):
            return True
        if arg in ("-machine", "--machine", "-M") and i + 1 < len(argv) and "accel=" in argv[i + 1]:
            return True
    return False


def _socket_dir() -> str:
    """A private directory whose socket path fits sun_path (108 bytes)."""
    directory = tempfile.mkdtemp(prefix="numaopt-qmp-")
    if len(os.path.join(directory, "qmp.sock")) < 100:
        return directory
    os.rmdir(directory)
    return tempfile.mkdtemp(prefix="numaopt-qmp-", dir="/tmp")


def probe(argv: list[str], timeout_s: float = 20, plug: Sequence[HotDimm] = ()) -> QemuReadback:
    """Start ``argv`` paused (``-S``), hot-plug the ``plug`` DIMMs (object-add + device_add),
    read back CPUs, nodes and memory over QMP, quit.

    Adds ``-S -display none -nodefaults`` (and ``-accel tcg`` unless an accelerator is
    given) and a QMP socket in a private temporary directory. The process is killed and
    reaped whatever happens (success, error, timeout, KeyboardInterrupt), and the
    directory removed. Raises ``QemuRefused`` if QEMU exits before QMP answers, and
    ``QemuError`` if the binary is missing or QEMU does not answer within ``timeout_s``.
    """
    if not argv:
        raise ValueError("probe needs at least the QEMU binary in argv")
    binary = argv[0]
    if shutil.which(binary) is None:
        package = debian_package(binary)
        raise QemuError(f"{binary} not found: install the Debian package {package} (apt-get install {package})")
    directory = _socket_dir()
    try:
        socket_path = os.path.join(directory, "qmp.sock")
        stderr_path = os.path.join(directory, "stderr")
        full = [
            *argv,
            "-S",
            "-display",
            "none",
            "-nodefaults",
            *([] if _has_accel(argv) else ["-accel", "tcg"]),
            "-chardev",
            f"socket,id=numaopt-qmp,path={socket_path},server=on,wait=off",
            "-mon",
            "chardev=numaopt-qmp,mode=control",
        ]
        with open(stderr_path, "wb") as stderr_file:
            try:
                # A session of its own: the whole process group is killed on the way out,
                # and a Ctrl-C on the terminal reaches only us (we then kill QEMU).
                process = subprocess.Popen(
                    full,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr_file,
                    start_new_session=True,
                    preexec_fn=pdeathsig_preexec(),  # dies with us even on SIGKILL
                )
            except OSError as exc:
                package = debian_package(binary)
                raise QemuError(f"cannot run {binary}: {exc.strerror} (install the Debian package {package})") from None
        answered = False
        try:
            raw = asyncio.run(_session(process, socket_path, timeout_s, plug))
            answered = True
        except TimeoutError:
            raise QemuError(f"{binary} did not answer QMP within {timeout_s:g} s") from None
        finally:
            # After a clean "quit" QEMU exits by itself; otherwise it is killed at once.
            _reap(process, _QUIT_GRACE_S if answered else 0)
        with open(stderr_path, encoding="utf-8", errors="replace") as handle:
            stderr = handle.read()
        if raw is None:
            raise _refusal(stderr, argv, process.returncode)
        warnings = tuple(
            (f"{m.option}: " if m.option else "") + m.text for m in parse_qemu_stderr(stderr, argv) if m.warning
        )
        return _readback(raw, warnings)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _reap(process: subprocess.Popen[bytes], grace_s: float) -> None:
    """Make sure QEMU (and anything in its process group) is gone and waited for.

    The group is killed while QEMU is still unreaped, so its id cannot have been reused.
    """
    if process.poll() is None and grace_s > 0:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def _connect(process: subprocess.Popen[bytes], socket_path: str) -> QMPClient | None:
    """A connected client, or None once QEMU has exited (it refused the configuration)."""
    while True:
        if process.poll() is not None:
            return None
        client = QMPClient("numaopt-probe")
        try:
            await client.connect(socket_path)
        except QMPError:
            # Not listening yet (refused / no file), or EOF because QEMU is exiting.
            await asyncio.sleep(_POLL_S)
            continue
        return client


async def _session(
    process: subprocess.Popen[bytes], socket_path: str, timeout_s: float, plug: Sequence[HotDimm] = ()
) -> dict[str, Any] | None:
    async with asyncio.timeout(timeout_s):
        client = await _connect(process, socket_path)
        if client is None:
            return None
        try:
            for dimm in plug:
                await _plug(client, dimm)
            return await _queries(client)
        except ExecuteError as exc:
            # QEMU answered, with an error: it is alive, and this is no refusal.
            raise QemuError(f"QMP command {exc.sent.get('execute')} failed: {exc}") from None
        except QMPError as exc:
            # The connection broke mid-session: QEMU died; its stderr says why.
            await _wait_exit(process)
            if process.poll() is not None:
                return None
            raise QemuError(f"the QMP connection to QEMU broke: {exc}") from None
        finally:
            await _quit(client)


async def _wait_exit(process: subprocess.Popen[bytes], limit_s: float = 2.0) -> None:
    for _ in range(int(limit_s / _POLL_S)):
        if process.poll() is not None:
            return
        await asyncio.sleep(_POLL_S)


async def _quit(client: QMPClient) -> None:
    """Ask QEMU to quit and close the connection; the caller kills it if this fails."""
    with contextlib.suppress(QMPError, OSError, EOFError, TimeoutError):
        async with asyncio.timeout(_QUIT_GRACE_S):
            with contextlib.suppress(QMPError, OSError, EOFError):
                await client.execute("quit")
            # QEMU hangs up after "quit": disconnect re-raises that EOF from its reader.
            await client.disconnect()


async def _execute(client: QMPClient, command: str, arguments: Mapping[str, object] | None = None) -> Any:
    return await client.execute(command, arguments)


async def _plug(client: QMPClient, dimm: HotDimm) -> None:
    """What a user's hot-plug does: a RAM backend (object-add), then a pc-dimm on it (device_add)."""
    backend = {"qom-type": "memory-backend-ram", "id": f"{dimm.device_id}-mem", "size": dimm.size_bytes}
    await _execute(client, "object-add", backend)
    device = {"driver": "pc-dimm", "id": dimm.device_id, "memdev": f"{dimm.device_id}-mem", "node": dimm.node}
    await _execute(client, "device_add", device)


async def _queries(client: QMPClient) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    raw["version"] = await _execute(client, "query-version")
    machine_type = await _execute(client, "qom-get", {"path": "/machine", "property": "type"})
    raw["machine"] = str(machine_type).removesuffix("-machine")
    machines = await _execute(client, "query-machines")
    current: dict[str, Any] = next((m for m in machines if m.get("name") == raw["machine"]), {})
    raw["cpus_fast"] = await _execute(client, "query-cpus-fast")
    # QEMU 7.2 refuses query-hotpluggable-cpus on boards without CPU hotplug (arm virt).
    raw["hotpluggable"] = (
        await _execute(client, "query-hotpluggable-cpus") if current.get("hotpluggable-cpus") else None
    )
    raw["numa_text"] = (await _execute(client, "x-query-numa"))["human-readable-text"]
    raw["memdevs"] = await _execute(client, "query-memdev")
    raw["memory"] = await _execute(client, "query-memory-size-summary")
    raw["memory_devices"] = await _execute(client, "query-memory-devices")
    try:  # QMP shows whether the HMAT is on; its initiators and latencies it does not show
        raw["hmat"] = bool(await _execute(client, "qom-get", {"path": "/machine", "property": "hmat"}))
    except ExecuteError:
        raw["hmat"] = None
    return raw


def _int_props(props: Mapping[str, Any]) -> dict[str, int]:
    return {key: int(value) for key, value in props.items() if isinstance(value, int)}


def _readback(raw: dict[str, Any], warnings: tuple[str, ...]) -> QemuReadback:
    index_of_path = {cpu["qom-path"]: int(cpu["cpu-index"]) for cpu in raw["cpus_fast"]}
    props_by_index = {int(cpu["cpu-index"]): _int_props(cpu.get("props", {})) for cpu in raw["cpus_fast"]}
    absent: list[dict[str, int]] = []
    if raw["hotpluggable"] is not None:
        # The slot list is the board's possible_cpus; present slots carry the qom-path
        # that query-cpus-fast ties to the vCPU index.
        for slot in raw["hotpluggable"]:
            props = _int_props(slot.get("props", {}))
            path = slot.get("qom-path")
            if path in index_of_path:
                props_by_index[index_of_path[path]] = props
            else:
                absent.append(props)
    cpu_nodes = {index: props["node-id"] for index, props in props_by_index.items() if "node-id" in props}
    cpu_props = {
        index: {key: value for key, value in props.items() if key in TOPOLOGY_PROPS}
        for index, props in sorted(props_by_index.items())
    }
    numa = parse_numa_text(raw["numa_text"])
    version = raw["version"]["qemu"]
    return QemuReadback(
        cpu_nodes=dict(sorted(cpu_nodes.items())),
        cpu_props=cpu_props,
        node_sizes_bytes={node: mib * MIB for node, mib in numa.node_sizes_mib.items()},
        node_cpus=numa.node_cpus,
        memdevs=list(raw["memdevs"]),
        qemu_version=f"{version['major']}.{version['minor']}.{version['micro']}",
        machine=raw["machine"],
        ram_bytes=int(raw["memory"].get("base-memory", 0)),
        absent_cpu_slots=tuple(absent),
        warnings=warnings,
        hmat=raw.get("hmat"),
        memory_devices=_memory_devices(raw.get("memory_devices", [])),
    )


# ---------------------------------------------------------------------------------------
# compare


def _size(num_bytes: int) -> str:
    """MiB when whole (as x-query-numa counts), else KiB or bytes, never rounded."""
    for unit, scale in (("MiB", MIB), ("KiB", 1024)):
        if num_bytes % scale == 0:
            return f"{num_bytes // scale} {unit}"
    return f"{num_bytes} bytes"


def layout_dimm_bytes(layout: GuestLayout, node_id: int) -> int:
    return sum(dimm.size_bytes for dimm in layout.dimms if dimm.node == node_id)


def _hmat_and_dimm_mismatches(layout: GuestLayout, readback: QemuReadback) -> list[str]:
    """hmat= as QEMU reports it, and each DIMM (query-memory-devices) by its renderer's id."""
    found = []
    if readback.hmat is not None and readback.hmat != layout.hmat:
        found.append(f"QEMU has hmat={'on' if readback.hmat else 'off'}, the layout asks {'on' if layout.hmat else 'off'}")
    plugged = {device.device_id: device for device in readback.memory_devices}
    for index, dimm in enumerate(layout.dimms):
        device = plugged.pop(dimm_id(index), None)
        if device is None:
            found.append(f"DIMM {dimm_id(index)}: QEMU has no such memory device")
        elif (device.node, device.size_bytes) != (dimm.node, dimm.size_bytes):
            found.append(
                f"DIMM {dimm_id(index)}: QEMU has {_size(device.size_bytes)} in node {device.node}, "
                f"the layout says {_size(dimm.size_bytes)} in node {dimm.node}"
            )
    found += [f"QEMU has memory device {name!r} the layout does not" for name in sorted(plugged)]
    return found


def compare(layout: GuestLayout, readback: QemuReadback) -> list[str]:
    """Where QEMU built something else than ``layout``: one line each, [] when exact.

    Checks the node count, every vCPU's node, every node's size (whole MiB from
    ``x-query-numa``; exact bytes from the node's backend, found by the renderer's id
    ``mem-node<N>``), the RAM size, and each vCPU's socket/die/cluster/core/thread ids
    against ``layout.shape.position``.
    """
    found: list[str] = []
    if readback.num_nodes != layout.num_nodes:
        found.append(f"QEMU built {readback.num_nodes} NUMA node(s), the layout has {layout.num_nodes}")

    found += _hmat_and_dimm_mismatches(layout, readback)
    ram = -(-layout.memory_bytes // RAM_ALIGN) * RAM_ALIGN  # QEMU rounds -m up to 8 KiB
    if readback.ram_bytes and readback.ram_bytes != ram:
        found.append(f"QEMU has {_size(readback.ram_bytes)} of RAM, the layout says {_size(ram)}")

    backend_bytes = {str(m.get("id")): int(m.get("size", 0)) for m in readback.memdevs}
    for node in layout.nodes:
        nid = node.node_id
        if nid not in readback.node_sizes_bytes:
            if readback.num_nodes >= layout.num_nodes:
                found.append(f"node {nid}: QEMU has no such node")
            continue
        qemu_bytes = readback.node_sizes_bytes[nid]
        # x-query-numa prints node_mem >> 20 (DIMMs included): whole MiB here, bytes via the backend.
        if qemu_bytes != (with_dimms := node.memory_bytes + layout_dimm_bytes(layout, nid)) // MIB * MIB:
            found.append(f"node {nid}: QEMU has {_size(qemu_bytes)}, the layout says {_size(with_dimms)}")
        elif (
            node.memory_bytes
            and (exact := backend_bytes.get(memdev_id(node))) is not None
            and exact != node.memory_bytes
        ):
            found.append(
                f"node {nid}: its backend {memdev_id(node)} has {exact} bytes, the layout says {node.memory_bytes} bytes"
            )

    owner = {cpu: layout.nodes[position].node_id for cpu, position in layout.node_of_cpu().items()}
    for cpu in range(layout.vcpus):
        qemu_node = readback.cpu_nodes.get(cpu)
        if cpu not in readback.cpu_props:
            found.append(f"vCPU {cpu}: QEMU has no such vCPU, the layout has {layout.vcpus}")
        elif qemu_node is None:
            found.append(f"vCPU {cpu}: QEMU put it in no node, the layout says node {owner.get(cpu)}")
        elif cpu not in owner:
            found.append(f"vCPU {cpu}: QEMU put it in node {qemu_node}, the layout puts it in no node")
        elif qemu_node != owner[cpu]:
            found.append(f"vCPU {cpu}: QEMU put it in node {qemu_node}, the layout says node {owner[cpu]}")
    extra = sorted(cpu for cpu in readback.cpu_props if cpu >= layout.vcpus)
    if extra:
        found.append(f"QEMU has vCPUs {format_cpulist(extra)} beyond the layout's {layout.vcpus}")

    for cpu, props in readback.cpu_props.items():
        if cpu >= layout.vcpus:
            continue
        position = layout.shape.position(cpu)
        wrong = [
            f"{key} {value} (the layout's -smp shape gives {getattr(position, TOPOLOGY_PROPS[key])})"
            for key, value in props.items()
            if value != getattr(position, TOPOLOGY_PROPS[key])
        ]
        if wrong:
            found.append(f"vCPU {cpu}: QEMU has " + ", ".join(wrong))

    # x-query-numa and the per-CPU queries are two views of one table; say if they part.
    by_node: dict[int, list[int]] = {}
    for cpu, nid in readback.cpu_nodes.items():
        by_node.setdefault(nid, []).append(cpu)
    for nid, cpus in readback.node_cpus.items():
        if sorted(cpus) != sorted(by_node.get(nid, [])):
            found.append(
                f"node {nid}: x-query-numa lists vCPUs {format_cpulist(sorted(cpus)) or 'none'}, "
                f"the CPU queries say {format_cpulist(sorted(by_node.get(nid, []))) or 'none'}"
            )
    return found
