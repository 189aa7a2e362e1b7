"""QEMU arguments, as people paste them, -> a ``GuestLayout`` plus arg-level findings.

``read_qemu_args`` takes shell text (backslash-newline continuations, ``#`` comments,
CRLF, an optional leading ``qemu-system-*`` binary), splits it as a POSIX shell does and reads
the NUMA-relevant options the way QEMU 7.2 does (docs/rules.md, #qemu-node to #qemu-smp):
``-machine``/``-M``, ``-m``, ``-smp``, memory backends in ``-object`` and ``-numa``.
Common options that do not touch NUMA are accepted and skipped; anything else is a
``QemuArgsError`` naming the argument, as is a value QEMU could not parse.

What QEMU would refuse is *not* an exception: rules a ``GuestLayout`` can carry (node
memory total, CPU index range, distance values, -smp product, ...) stay in the layout
for ``check_layout``; rules it cannot carry (parse order, implied node ids, backend
reuse, ``-numa cpu`` properties, ...) come back as findings with QEMU 7.2's exact
messages. Every message was checked against the real qemu-system-x86_64 /
qemu-system-aarch64 7.2.

The package, in the order a command line goes through it:

- ``shell.py``: text -> words, as a POSIX shell splits them (linear in the text).
- ``reader.py``: words -> options, then the option families in the order QEMU applies them.
- ``grammar.py``: the table of it all: every option, every key, its type, its handler.
- ``values.py``: QEMU's spellings (numbers, sizes, booleans, lists) and the value types
  the rows name; ``common.py``: an option as written, the reading's findings, typed values.
- The families, each what its options mean and what QEMU refuses about them:
  ``machine.py`` (-machine, -smp), ``memory.py`` (-m, -mem-path, the address space,
  memory devices), ``backends.py`` (-object memory-backend-*), ``numa.py`` (-numa node,
  dist, cpu), ``hmat.py`` (-numa hmat-lb, hmat-cache), ``complete.py`` (what QEMU does
  after the last -numa), on the state in ``state.py``.
"""

from __future__ import annotations

from .reader import QemuConfig, qemu_findings, read_qemu_args
from .shell import split_command

__all__ = ["QemuConfig", "qemu_findings", "read_qemu_args", "split_command"]
