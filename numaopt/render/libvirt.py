"""Plan -> a complete libvirt domain: ``virsh define`` takes it as it is.

What it holds: the name, memory, vCPUs; ``<cputune>`` with one ``<vcpupin>`` per
pinned vCPU and ``<emulatorpin>`` on the plan's emulator CPUs (a search problem's
``reserved_cpus``); ``<numatune>`` with a ``<memnode>`` per bound guest node; huge-page
``<memoryBacking>``; the machine type and, for a direct kernel boot, ``<kernel>``; the
features the guest reads its NUMA table from (ACPI on x86; on aarch64 ``virt`` a device
tree, with ``<gic version='3'/>`` because GICv2 stops at 8 vCPUs); ``<cpu>`` with the
model for the accelerator (see ``numaopt.render.target.cpu_model``), the -smp
topology and one ``<cell>`` per guest node with its distances; a serial console.

Memory hotplug: ``<maxMemory slots>`` and one ``<memory model='dimm'>`` device per DIMM
in its cell. HMAT: each cell's memory-side caches (``<cache>``) and ``<interconnects>`` with one
``<latency>`` or ``<bandwidth>`` per hmat-lb value. libvirt has no initiator attribute:
it gives a CPU-less cell the initiator with the lowest latency to it (else the highest
bandwidth), so an initiator that does not have it is lost (``numaopt check`` warns). Not rendered:
disks and network devices, which are the user's. Built with ElementTree, never by
pasting strings; checked against libvirt's RelaxNG schema and its test driver in
tests/render/test_libvirt.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from numaopt.model import BackendKind, GuestLayout, Machine, MemoryBackend, Plan
from numaopt.render.target import Accel, VmOptions, cpu_model, kernel_cmdline
from numaopt.units import KIB, format_cpulist


def domain_xml(plan: Plan, options: VmOptions | None = None) -> str:
    """The domain XML of ``plan`` (text, ending in a newline)."""
    options = options or VmOptions()
    layout = plan.layout
    domain = ET.Element("domain", type="kvm" if options.accel is Accel.KVM else "qemu")
    ET.SubElement(domain, "name").text = options.name
    _memory(domain, layout)
    _memory_backing(domain, layout.backend)
    ET.SubElement(domain, "vcpu", placement="static").text = str(layout.vcpus)
    _cputune(domain, plan)
    _numatune(domain, layout)
    _os(domain, layout, options)
    _features(domain, layout.machine)
    _cpu(domain, layout, options.accel)
    devices = ET.SubElement(domain, "devices")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    _dimms(devices, layout)
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n"


def _memory(domain: ET.Element, layout: GuestLayout) -> None:
    """<maxMemory slots> for -m maxmem,slots; <memory> is the total, DIMMs included."""
    if layout.maxmem_bytes is not None:
        ET.SubElement(domain, "maxMemory", slots=str(layout.slots), unit="KiB").text = str(layout.maxmem_bytes // KIB)
    total = layout.memory_bytes + sum(dimm.size_bytes for dimm in layout.dimms)
    ET.SubElement(domain, "memory", unit="KiB").text = str(total // KIB)


def _dimms(devices: ET.Element, layout: GuestLayout) -> None:
    """One <memory model='dimm'> per DIMM, in its cell (libvirt names them dimm0, dimm1, ...)."""
    position = {node.node_id: index for index, node in enumerate(layout.nodes)}
    for dimm in layout.dimms:
        memory = ET.SubElement(devices, "memory", model="dimm")
        target = ET.SubElement(memory, "target")
        ET.SubElement(target, "size", unit="KiB").text = str(dimm.size_bytes // KIB)
        ET.SubElement(target, "node").text = str(position.get(dimm.node, dimm.node))


def _memory_backing(domain: ET.Element, backend: MemoryBackend) -> None:
    """Huge pages of the plan's size; a file or shared backend; preallocation."""
    if backend.kind is BackendKind.RAM and not backend.share and not backend.prealloc:
        return
    backing = ET.SubElement(domain, "memoryBacking")
    if backend.kind is BackendKind.FILE and backend.page_size_bytes:
        pages = ET.SubElement(backing, "hugepages")
        ET.SubElement(pages, "page", size=str(backend.page_size_bytes // KIB), unit="KiB")
    elif backend.kind is BackendKind.FILE:
        # libvirt picks the directory (memory_backing_dir in qemu.conf), not the domain.
        ET.SubElement(backing, "source", type="file")
    if backend.share:
        ET.SubElement(backing, "access", mode="shared")
    if backend.prealloc:
        ET.SubElement(backing, "allocation", mode="immediate")


def _cputune(domain: ET.Element, plan: Plan) -> None:
    if not plan.vcpu_to_host_cpu and not plan.emulator_cpus:
        return
    cputune = ET.SubElement(domain, "cputune")
    for vcpu, host_cpu in plan.vcpu_to_host_cpu:
        ET.SubElement(cputune, "vcpupin", vcpu=str(vcpu), cpuset=str(host_cpu))
    if plan.emulator_cpus:
        # QEMU's main loop and I/O threads stay off the vCPUs' host CPUs.
        ET.SubElement(cputune, "emulatorpin", cpuset=format_cpulist(plan.emulator_cpus))


def _numatune(domain: ET.Element, layout: GuestLayout) -> None:
    bound = [(position, node) for position, node in enumerate(layout.nodes) if node.host_nodes and node.memory_bytes]
    if not bound:
        return
    numatune = ET.SubElement(domain, "numatune")
    every = sorted({h for _, node in bound for h in node.host_nodes})
    ET.SubElement(numatune, "memory", mode="strict", nodeset=format_cpulist(every))
    for position, node in bound:
        ET.SubElement(numatune, "memnode", cellid=str(position), mode="strict", nodeset=format_cpulist(node.host_nodes))


def _os(domain: ET.Element, layout: GuestLayout, options: VmOptions) -> None:
    os_element = ET.SubElement(domain, "os")
    ET.SubElement(os_element, "type", arch=layout.machine.arch, machine=layout.machine.value).text = "hvm"
    if options.kernel is None:
        return  # boots from the user's firmware and disks, which they add
    ET.SubElement(os_element, "kernel").text = options.kernel
    if options.initrd is not None:
        ET.SubElement(os_element, "initrd").text = options.initrd
    ET.SubElement(os_element, "cmdline").text = kernel_cmdline(layout.machine, options)


def _features(domain: ET.Element, machine: Machine) -> None:
    features = ET.SubElement(domain, "features")
    if machine is Machine.VIRT:
        # GICv2 takes at most 8 vCPUs; the guest reads its NUMA nodes from the device
        # tree QEMU writes (no <acpi/>: with ACPI the arm64 kernel would need UEFI).
        ET.SubElement(features, "gic", version="3")
        return
    # Without <acpi/> libvirt starts QEMU with ACPI off: no SRAT/SLIT, no NUMA in the guest.
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")


def _cpu(domain: ET.Element, layout: GuestLayout, accel: Accel) -> None:
    model = cpu_model(layout.machine, accel)
    if model == "host":
        cpu = ET.SubElement(domain, "cpu", mode="host-passthrough", check="none")
    elif model == "max" and layout.shape.threads > 1:
        # Under TCG "max" is an AMD CPU, whose guest sees no SMT threads, and libvirt's
        # maximum mode cannot set a vendor: qemu64 with Intel's (-cpu qemu64,vendor=GenuineIntel).
        cpu = ET.SubElement(domain, "cpu", mode="custom", match="exact", check="none")
        ET.SubElement(cpu, "model", fallback="forbid", vendor_id="GenuineIntel").text = "qemu64"
    elif model == "max":
        cpu = ET.SubElement(domain, "cpu", mode="maximum", check="none")  # QEMU's -cpu max (libvirt >= 7.1)
    else:
        cpu = ET.SubElement(domain, "cpu", mode="custom", match="exact", check="none")
        ET.SubElement(cpu, "model", fallback="forbid").text = model
    shape = layout.shape
    topology = {"sockets": shape.sockets, "dies": shape.dies, "cores": shape.cores, "threads": shape.threads}
    if layout.machine is Machine.VIRT:
        del topology["dies"]
        if shape.clusters > 1:  # libvirt >= 10 reads clusters; older schemas have no such attribute
            topology["clusters"] = shape.clusters
    ET.SubElement(cpu, "topology", {k: str(v) for k, v in topology.items()})
    numa = ET.SubElement(cpu, "numa")
    for position, node in enumerate(layout.nodes):
        attributes = {"id": str(position)}
        if node.cpus:
            attributes["cpus"] = format_cpulist(node.cpus)
        attributes["memory"] = str(node.memory_bytes // KIB)
        attributes["unit"] = "KiB"
        if layout.backend.share:
            attributes["memAccess"] = "shared"
        cell = ET.SubElement(numa, "cell", attributes)
        if layout.distances is not None:
            distances = ET.SubElement(cell, "distances")
            for other in range(layout.num_nodes):
                ET.SubElement(distances, "sibling", id=str(other), value=str(int(layout.distances[position, other])))
        _caches(cell, layout, node.node_id)
    _interconnects(numa, layout)


# QEMU's words -> libvirt's (src/conf/numa_conf.c virNumaCacheAssociativity, virNumaCachePolicy)
ASSOCIATIVITY = {"none": "none", "direct": "direct", "complex": "full"}
POLICY = {"none": "none", "write-back": "writeback", "write-through": "writethrough"}
HIERARCHY = {"first-level": "1", "second-level": "2", "third-level": "3"}


def _caches(cell: ET.Element, layout: GuestLayout, node_id: int) -> None:
    for cache in layout.hmat_cache:
        if cache.node != node_id:
            continue
        element = ET.SubElement(
            cell, "cache", level=str(cache.level), associativity=ASSOCIATIVITY[cache.associativity], policy=POLICY[cache.policy]
        )
        ET.SubElement(element, "size", value=str(cache.size_bytes // KIB), unit="KiB")
        ET.SubElement(element, "line", value=str(cache.line), unit="B")


def _interconnects(numa: ET.Element, layout: GuestLayout) -> None:
    """``-numa hmat-lb`` as libvirt writes it: latency in ns, bandwidth in KiB per second."""
    if not layout.hmat_lb:
        return
    position = {node.node_id: index for index, node in enumerate(layout.nodes)}
    interconnects = ET.SubElement(numa, "interconnects")
    initiator = {node.node_id: node.initiator for node in layout.nodes}
    # libvirt gives a CPU-less cell the initiator of its lowest latency, the first on a tie
    # (layout.libvirt_initiator): the cell's own initiator's links go first.
    for lb in sorted(layout.hmat_lb, key=lambda lb: initiator[lb.target] not in (None, lb.initiator)):
        attributes = {"initiator": str(position[lb.initiator]), "target": str(position[lb.target])}
        if lb.hierarchy in HIERARCHY:
            attributes["cache"] = HIERARCHY[lb.hierarchy]
        attributes["type"] = lb.data_type.split("-")[0]
        if lb.is_latency:
            ET.SubElement(interconnects, "latency", attributes, value=str(lb.value))
        else:
            ET.SubElement(interconnects, "bandwidth", attributes, value=str(lb.value // KIB), unit="KiB")
