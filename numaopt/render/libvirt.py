"""Plan -> libvirt domain XML: vCPUs, pinning, memory binding, CPU topology and NUMA cells.

The result is a complete minimal ``<domain>`` (so ``virt-xml-validate`` can check it
against libvirt's RelaxNG schema); the NUMA parts (``<vcpu>``, ``<cputune>``,
``<numatune>``, ``<cpu>``) are what one pastes into an existing domain. Built with
ElementTree, never by pasting strings.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from numaopt.model import BackendKind, Machine, Plan
from numaopt.units import KIB, format_cpulist


def domain_xml(plan: Plan, name: str = "numaopt-guest") -> str:
    layout = plan.layout
    domain = ET.Element("domain", type="kvm")
    ET.SubElement(domain, "name").text = name
    ET.SubElement(domain, "memory", unit="KiB").text = str(layout.memory_bytes // KIB)
    if layout.backend.kind is BackendKind.FILE and layout.backend.page_size_bytes:
        backing = ET.SubElement(domain, "memoryBacking")
        pages = ET.SubElement(backing, "hugepages")
        ET.SubElement(pages, "page", size=str(layout.backend.page_size_bytes // KIB), unit="KiB")
    ET.SubElement(domain, "vcpu", placement="static").text = str(layout.vcpus)
    if plan.vcpu_to_host_cpu:
        cputune = ET.SubElement(domain, "cputune")
        for vcpu, host_cpu in plan.vcpu_to_host_cpu:
            ET.SubElement(cputune, "vcpupin", vcpu=str(vcpu), cpuset=str(host_cpu))
    bound = [node for node in layout.nodes if node.host_nodes and node.memory_bytes]
    if bound:
        numatune = ET.SubElement(domain, "numatune")
        every = sorted({h for node in bound for h in node.host_nodes})
        ET.SubElement(numatune, "memory", mode="strict", nodeset=format_cpulist(every))
        for position, node in enumerate(layout.nodes):
            if node in bound:
                ET.SubElement(numatune, "memnode", cellid=str(position), mode="strict", nodeset=format_cpulist(node.host_nodes))
    os_element = ET.SubElement(domain, "os")
    machine = "virt" if layout.machine is Machine.VIRT else layout.machine.value
    ET.SubElement(os_element, "type", arch=layout.machine.arch, machine=machine).text = "hvm"
    cpu = ET.SubElement(domain, "cpu")
    shape = layout.shape
    topology = {"sockets": shape.sockets, "dies": shape.dies, "cores": shape.cores, "threads": shape.threads}
    if layout.machine is Machine.VIRT:
        del topology["dies"]
        if shape.clusters > 1:  # libvirt >= 10 reads clusters; older schemas have no such attribute
            topology["clusters"] = shape.clusters
    ET.SubElement(cpu, "topology", {k: str(v) for k, v in topology.items()})
    numa = ET.SubElement(cpu, "numa")
    matrix = layout.distances
    for position, node in enumerate(layout.nodes):
        attributes = {"id": str(position)}
        if node.cpus:
            attributes["cpus"] = format_cpulist(node.cpus)
        attributes["memory"] = str(node.memory_bytes // KIB)
        attributes["unit"] = "KiB"
        if layout.backend.share:
            attributes["memAccess"] = "shared"
        cell = ET.SubElement(numa, "cell", attributes)
        if matrix is not None:
            distances = ET.SubElement(cell, "distances")
            for other in range(layout.num_nodes):
                ET.SubElement(distances, "sibling", id=str(other), value=str(int(matrix[position, other])))
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n"
