"""Replay a fuzz reproducer: the same layout, under the same kernel image(s), judged again.

A reproducer directory (``failures/item-NNNNNN`` or its ``shrunk/``) holds the layout
(problem.toml), what failed (failures.json) and what ran it (kernel.json). The kernel
images are found by their recorded paths and must still have the recorded sha256:
booting a different image would make "it passes now" meaningless. ``--kernel`` boots
other images on purpose (say, the fixed kernel).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numaopt.errors import InputError
from numaopt.fuzz.executor import Judged, RunSettings, boot_and_judge
from numaopt.fuzz.provenance import KERNEL_FILE, file_sha256
from numaopt.fuzz.signatures import layout_class, signatures_of
from numaopt.guest.workload import WORKLOAD_FILE, parse_workload
from numaopt.inputs import read_text
from numaopt.model import GuestLayout

__all__ = ["Replay", "Reproducer", "read_reproducer", "replay"]


@dataclass(frozen=True, slots=True)
class Reproducer:
    directory: Path
    layout: GuestLayout
    failures: tuple[dict[str, str], ...]  # as recorded
    kernels: tuple[dict[str, Any], ...]  # kernel.json's records; empty for a reproducer written before them
    qemu: str
    workload: str | None = None  # workload.json: the spec the campaign ran (None: none)
    workload_seed: int = 0

    @property
    def signatures(self) -> tuple[str, ...]:
        return signatures_of(self.failures, layout_class(self.layout))


@dataclass(frozen=True, slots=True)
class Replay:
    reproducer: Reproducer
    judged: Judged

    @property
    def signatures(self) -> tuple[str, ...]:
        return signatures_of(self.judged.failures, layout_class(self.reproducer.layout))

    @property
    def same(self) -> bool:
        """The guest failed in exactly the recorded ways (or passed where nothing was recorded)."""
        return set(self.signatures) == set(self.reproducer.signatures)


def _json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON ({exc.msg} at line {exc.lineno}); expected the file numaopt fuzz wrote", source=str(path)) from None


def read_reproducer(directory: Path, layout: GuestLayout) -> Reproducer:
    """The reproducer in ``directory`` with its problem.toml's ``layout`` (read by the caller:
    problem files are read above this package); one line naming a malformed file otherwise."""
    failures = _json(directory / "failures.json") if (directory / "failures.json").is_file() else []
    provenance = _json(directory / KERNEL_FILE) if (directory / KERNEL_FILE).is_file() else {}
    kernels = provenance.get("kernels", []) if isinstance(provenance, dict) else None
    if not isinstance(failures, list) or not isinstance(kernels, list) or not all(isinstance(k, dict) for k in kernels):
        raise InputError("expected the files numaopt fuzz wrote (failures.json a list, kernel.json with a \"kernels\" list)",
                         source=str(directory))
    workload = _json(directory / WORKLOAD_FILE) if (directory / WORKLOAD_FILE).is_file() else None
    spec, seed = _workload(workload, directory / WORKLOAD_FILE)
    return Reproducer(directory, layout, tuple(failures), tuple(kernels), str(provenance.get("qemu", "")), spec, seed)


def _workload(record: Any, path: Path) -> tuple[str | None, int]:
    """workload.json's spec (checked) and seed; (None, 0) without the file."""
    if record is None:
        return None, 0
    if not isinstance(record, dict) or not isinstance(record.get("workload"), str) or not isinstance(record.get("seed"), int):
        raise InputError('expected {"workload": "KIND[:SIZE]", "seed": N, ...} as numaopt fuzz wrote it', source=str(path))
    return str(parse_workload(record["workload"], f"{path}: workload")), record["seed"]


def recorded_kernels(reproducer: Reproducer) -> list[str]:
    """The recorded images' paths, each checked against its recorded sha256."""
    paths: list[str] = []
    for index, record in enumerate(reproducer.kernels):
        where = f"kernels[{index}]"
        source = str(reproducer.directory / KERNEL_FILE)
        path = Path(str(record.get("path", "")))
        if not path.is_file():
            raise InputError(f"the kernel {path} is gone; pass --kernel to boot another image", source=source, where=where)
        if file_sha256(path) != record.get("sha256"):
            raise InputError(f"{path} is not the image this reproducer ran (sha256 differs); pass --kernel to boot it anyway",
                             source=source, where=where)
        paths.append(str(path))
    return paths


def replay(reproducer: Reproducer, kernels: list[str], accel: str | None = None, timeout_s: float | None = None) -> Replay:
    """Boot the reproducer's layout under ``kernels`` (one, or two to compare) and judge it as the campaign did."""
    settings = RunSettings(
        kernel=kernels[0] if kernels else None,
        accel=accel,
        timeout_s=timeout_s,
        shrink=False,
        compare_kernel=kernels[1] if len(kernels) > 1 else None,
        workload=reproducer.workload,
    )
    return Replay(reproducer, boot_and_judge(reproducer.layout, settings, reproducer.workload_seed))
