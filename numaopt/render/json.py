"""Plan <-> JSON: a machine-readable rendering that reads back to the same Plan."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from numaopt.errors import InputError
from numaopt.model import (
    BackendKind,
    CpuShape,
    Dimm,
    GuestLayout,
    GuestNode,
    HmatCache,
    HmatLb,
    Machine,
    MemoryBackend,
    Plan,
    SolveStatus,
)
from numaopt.render.qemu import qemu_command
from numaopt.rules import RuleSet
from numaopt.units import format_cpulist, parse_cpulist

FORMAT_VERSION = 1


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    layout = plan.layout
    shape = layout.shape
    return {
        "numaopt_plan": FORMAT_VERSION,
        "status": plan.status.value,
        "objective": plan.objective,
        "best_bound": plan.best_bound,
        "wall_time_s": plan.wall_time_s,
        "seed": plan.seed,
        "vcpu_to_host_cpu": {str(vcpu): host for vcpu, host in plan.vcpu_to_host_cpu},
        "vcpu_groups": list(plan.vcpu_groups),
        "emulator_cpus": format_cpulist(plan.emulator_cpus),
        "memory_placement": [{"group": g, "host_node": n, "bytes": b} for g, n, b in plan.memory_placement],
        "guest": {
            "machine": layout.machine.value,
            "rules": layout.rules.value,
            "vcpus": layout.vcpus,
            "memory_bytes": layout.memory_bytes,
            "smp": {
                "sockets": shape.sockets,
                "dies": shape.dies,
                "clusters": shape.clusters,
                "cores": shape.cores,
                "threads": shape.threads,
            },
            "memory_backend": {
                "kind": layout.backend.kind.value,
                "mem_path": layout.backend.mem_path,
                "page_size_bytes": layout.backend.page_size_bytes,
                "share": layout.backend.share,
                "prealloc": layout.backend.prealloc,
            },
            "nodes": [
                {
                    "id": node.node_id,
                    "cpus": format_cpulist(node.cpus),
                    "memory_bytes": node.memory_bytes,
                    "host_nodes": format_cpulist(node.host_nodes),
                    **({} if node.initiator is None else {"initiator": node.initiator}),
                }
                for node in layout.nodes
            ],
            "distances": None if layout.distances is None else layout.distances.tolist(),
            **_hmat_dict(layout),
            **_hotplug_dict(layout),
        },
        "adjusted_distances": [
            {"a": a, "b": b, "host": host, "shown": shown} for a, b, host, shown in plan.adjusted_distances
        ],
        "qemu": qemu_command(plan),
    }


def _hmat_dict(layout: GuestLayout) -> dict[str, Any]:
    """The HMAT keys, only where a layout has them (plans without HMAT keep their bytes)."""
    if not (layout.hmat or layout.hmat_lb or layout.hmat_cache):
        return {}
    return {
        "hmat": layout.hmat,
        "hmat_lb": [dataclasses.asdict(lb) for lb in layout.hmat_lb],
        "hmat_cache": [dataclasses.asdict(cache) for cache in layout.hmat_cache],
    }


def _hotplug_dict(layout: GuestLayout) -> dict[str, Any]:
    """maxmem, slots and DIMMs, only where a layout has them."""
    if layout.maxmem_bytes is None and not layout.slots and not layout.dimms:
        return {}
    dimms = [dataclasses.asdict(dimm) for dimm in layout.dimms]
    return {"maxmem_bytes": layout.maxmem_bytes, "slots": layout.slots, "dimms": dimms}


def _hmat_from(guest: dict[str, Any]) -> dict[str, Any]:
    return {
        "hmat": bool(guest.get("hmat", False)),
        "hmat_lb": tuple(HmatLb(**lb) for lb in guest.get("hmat_lb", [])),
        "hmat_cache": tuple(HmatCache(**cache) for cache in guest.get("hmat_cache", [])),
        "maxmem_bytes": guest.get("maxmem_bytes"),
        "slots": int(guest.get("slots", 0)),
        "dimms": tuple(Dimm(**dimm) for dimm in guest.get("dimms", [])),
    }


def plan_to_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2) + "\n"


def shared_plan_to_json(plans: tuple[tuple[str, Plan], ...], facts: dict[str, Any]) -> str:
    """Several VMs on one host: each VM's plan, and the facts of the joint search."""
    return json.dumps({"numaopt_plans": FORMAT_VERSION, **facts, "vms": [{"name": n, "plan": plan_to_dict(p)} for n, p in plans]}, indent=2) + "\n"


def vm_names_in(text: str) -> list[str] | None:
    """The VM names of a several-VM plan file, or None for a one-VM plan (or non-JSON)."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or "numaopt_plans" not in data:
        return None
    return [str(vm.get("name")) for vm in data.get("vms", []) if isinstance(vm, dict)]


def plan_from_json(text: str, source: str = "<plan>", vm: str | None = None) -> Plan:
    """Read a plan written by ``plan_to_json`` (or, with ``vm``, one VM's plan from
    ``shared_plan_to_json``); anything else is an ``InputError``."""
    try:
        data = json.loads(text)
        if vm is not None:
            if not isinstance(data, dict) or data.get("numaopt_plans") != FORMAT_VERSION:
                raise InputError(f"not a several-VM numaopt plan, so --vm {vm} does not apply", source=source)
            chosen = [entry["plan"] for entry in data["vms"] if entry.get("name") == vm]
            if not chosen:
                names = ", ".join(str(entry.get("name")) for entry in data["vms"])
                raise InputError(f"no VM {vm!r} in this plan (VMs: {names})", source=source)
            data = chosen[0]
        if data.get("numaopt_plan") != FORMAT_VERSION:
            raise InputError(f"not a numaopt plan (expected \"numaopt_plan\": {FORMAT_VERSION})", source=source)
        guest = data["guest"]
        backend = guest["memory_backend"]
        layout = GuestLayout(
            vcpus=int(guest["vcpus"]),
            memory_bytes=int(guest["memory_bytes"]),
            nodes=tuple(
                GuestNode(
                    node_id=int(node["id"]),
                    cpus=parse_cpulist(node["cpus"]),
                    memory_bytes=int(node["memory_bytes"]),
                    host_nodes=parse_cpulist(node.get("host_nodes", "")),
                    initiator=node.get("initiator"),
                )
                for node in guest["nodes"]
            ),
            shape=CpuShape(**{k: int(v) for k, v in guest["smp"].items()}),
            distances=guest["distances"],
            machine=Machine(guest["machine"]),
            backend=MemoryBackend(
                kind=BackendKind(backend["kind"]),
                mem_path=backend["mem_path"],
                page_size_bytes=backend["page_size_bytes"],
                share=bool(backend["share"]),
                prealloc=bool(backend["prealloc"]),
            ),
            rules=RuleSet(guest["rules"]),
            **_hmat_from(guest),
        )
        return Plan(
            layout=layout,
            status=SolveStatus(data["status"]),
            vcpu_to_host_cpu=tuple(sorted((int(k), int(v)) for k, v in data["vcpu_to_host_cpu"].items())),
            vcpu_groups=tuple(str(g) for g in data.get("vcpu_groups", [])),
            emulator_cpus=parse_cpulist(data.get("emulator_cpus", "")),
            memory_placement=tuple(
                (str(m["group"]), int(m["host_node"]), int(m["bytes"])) for m in data.get("memory_placement", [])
            ),
            objective=data["objective"],
            best_bound=data["best_bound"],
            wall_time_s=float(data["wall_time_s"]),
            seed=data["seed"],
            adjusted_distances=tuple(
                (int(e["a"]), int(e["b"]), int(e["host"]), int(e["shown"])) for e in data.get("adjusted_distances", [])
            ),
        )
    except InputError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
        # OverflowError: a number beyond int64 (numpy); RecursionError: JSON nested too deeply.
        raise InputError(f"malformed numaopt plan: {exc!s}", source=source) from None
