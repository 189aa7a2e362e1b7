"""``-object memory-backend-ram|file|memfd``: the memory a ``-numa node,memdev=`` names.

Apart from memory.py because a backend is an object, not a memory option: QEMU creates
every ``-object`` before it reads ``-numa``, in the keyval form people write or the JSON
form libvirt writes, and a node only names one by id. Which properties each backend type
has, and the type of each, are rows in grammar.py (``BACKEND_PROPERTIES``); this module
says what the values mean and what QEMU 7.2 refuses, in its order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from numaopt.model import BackendKind, MemoryBackend
from numaopt.rules import Severity

from .common import Arg, Context, Values
from .values import show

POLICIES = ("default", "preferred", "bind", "interleave")  # HostMemPolicy, in QEMU's order


@dataclass(slots=True)
class Backend:
    """One memory backend as read, and the nodes that name it (filled in by ``-numa``)."""

    qom_type: str
    backend_id: str
    size: int
    mem_path: str | None = None
    share: bool = False
    prealloc: bool = False
    host_nodes: tuple[int, ...] = ()
    policy: str = "default"
    users: list[int] = field(default_factory=list)

    @property
    def kind(self) -> BackendKind:
        return BackendKind.FILE if self.qom_type == "memory-backend-file" else BackendKind.RAM

    def model(self) -> MemoryBackend:
        return MemoryBackend(kind=self.kind, mem_path=self.mem_path, share=self.share, prealloc=self.prealloc)


def read_backend(context: Context, arg: Arg, qom_type: str, values: Values) -> Backend:
    """One memory backend: its properties read in the order QEMU 7.2 refuses them."""
    backend_id = values.text("id")
    assert backend_id is not None  # a required row
    size = values.number("size")
    assert size is not None  # a required row
    if size <= 0:
        raise context.fail(arg.shown, f"property 'size' of {qom_type} doesn't take value '0'")
    mem_path = None
    if qom_type == "memory-backend-file":
        mem_path = values.text("mem-path")
        if not mem_path:
            raise context.fail(arg.shown, "mem-path must not be empty")
    share = values.flag("share")
    prealloc = values.flag("prealloc")
    policy = values.text("policy") or "default"
    host_nodes = values.node_set("host-nodes")
    _check_policy(context, arg, backend_id, policy, host_nodes)
    return Backend(
        qom_type=qom_type,
        backend_id=backend_id,
        size=size,
        mem_path=mem_path,
        # memory-backend-memfd is shared by default (query-memdev: share true).
        share=(qom_type == "memory-backend-memfd") if share is None else share,
        prealloc=bool(prealloc),
        host_nodes=host_nodes,
        policy=policy,
    )


def _check_policy(context: Context, arg: Arg, backend_id: str, policy: str, host_nodes: tuple[int, ...]) -> None:
    """host_memory_backend_memory_complete: host-nodes and policy go together."""
    where = f"at {show(arg.shown)}"
    if host_nodes and policy == "default":
        context.add(
            Severity.ERROR,
            "backend-policy",
            "host-nodes must be empty for policy default, or you should explicitly specify a policy other than default",
            where,
        )
    if not host_nodes and policy != "default":
        context.add(Severity.ERROR, "backend-policy", f"host-nodes must be set for policy {policy}", where)
    if host_nodes and policy not in ("default", "bind"):
        context.add(
            Severity.INFO,
            "backend-policy-read-as-bind",
            f"backend {backend_id} has policy={policy}: numaopt models host-nodes as policy=bind",
        )
