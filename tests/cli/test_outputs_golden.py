"""What users get, byte for byte: `solve` on every shipped problem in every format, and a
200-layout `generate` batch. A refactor that changes a byte of either fails here.

The expected digests live in tests/golden/outputs.sha256 (one line per output: digest,
exit code, name); rewrite them with NUMAOPT_UPDATE_GOLDEN=1 only for a change of behaviour
that is meant, and say so in the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from numaopt import clock
from numaopt.cli import main

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "tests" / "golden" / "outputs.sha256"
FORMATS = ["qemu", "shell", "json", "libvirt-domain", "proxmox", "cloud-hypervisor"]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _without_clock(value: object) -> object:
    """A plan's JSON less the one field that is measured, not computed (wall_time_s)."""
    if isinstance(value, dict):
        return {key: _without_clock(item) for key, item in value.items() if key != "wall_time_s"}
    if isinstance(value, list):
        return [_without_clock(item) for item in value]
    return value


def _solve(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str, int]:
    try:
        main(args)
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return captured.out, captured.err, code


def _solve_outputs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    # Time limits count from the process start; inside pytest that start is long past.
    monkeypatch.setattr(clock, "process_age_s", lambda: 0.0)
    outputs: dict[str, str] = {}
    for problem in sorted((ROOT / "problems").glob("*.toml")):
        for fmt in FORMATS:
            out, err, code = _solve(["solve", str(problem.relative_to(ROOT)), "-f", fmt, "-q"], capsys)
            if fmt == "json" and code == 0:
                out = json.dumps(_without_clock(json.loads(out)), indent=2)
            outputs[f"solve/{problem.stem}.{fmt}"] = f"{_digest(out.encode())} {code}"
            outputs[f"solve/{problem.stem}.{fmt}.stderr"] = f"{_digest(err.encode())} {code}"
    return outputs


def _generate_outputs(tmp_path: Path) -> dict[str, str]:
    out = tmp_path / "batch"
    command = [sys.executable, "-m", "numaopt", "generate", "--count", "200", "--seed", "1", "-q"]
    command += ["--format", "toml,args,json", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return {f"generate/{path.name}": f"{_digest(path.read_bytes())} 0" for path in sorted(out.iterdir())}


def _read_manifest() -> dict[str, str]:
    lines = MANIFEST.read_text().splitlines()
    return {name: f"{digest} {code}" for digest, code, name in (line.split(" ", 2) for line in lines)}


def test_outputs_are_byte_identical(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT)
    actual = _solve_outputs(monkeypatch, capsys) | _generate_outputs(tmp_path)
    if os.environ.get("NUMAOPT_UPDATE_GOLDEN") == "1":
        text = "".join(f"{value.split()[0]} {value.split()[1]} {name}\n" for name, value in sorted(actual.items()))
        MANIFEST.write_text(text)
    expected = _read_manifest()
    changed = sorted(name for name in expected.keys() | actual.keys() if expected.get(name) != actual.get(name))
    assert not changed, f"{len(changed)} outputs differ from tests/golden/outputs.sha256: {changed[:20]}"
