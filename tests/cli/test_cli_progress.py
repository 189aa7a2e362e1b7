"""Live progress: the search reports its incumbent and bound; a terminal shows them, a pipe does not."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import tomli_w

from numaopt.model import Group, HostNode, HostTopology, PlacementRequest, SearchSettings, Traffic, Workload
from numaopt.solver.place import place

ROOT = Path(__file__).resolve().parents[2]


def _dense(n: int, seed: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    rng = np.random.default_rng(seed)
    d = np.triu(rng.integers(11, 100, size=(n, n)), 1)
    d = d + d.T
    np.fill_diagonal(d, 10)
    flows = [(a, b, int(rng.integers(1, 100))) for a in range(n) for b in range(a + 1, n) if rng.random() < 0.5]
    return d, flows


def test_the_search_reports_incumbents_and_bounds_as_they_improve() -> None:
    d, flows = _dense(14, 1)
    host = HostTopology(tuple(HostNode(k, (2 * k, 2 * k + 1), 4 << 30, 4 << 30) for k in range(14)), d)
    groups = tuple(Group(f"g{k}", 1, 256 << 20) for k in range(14))
    workload = Workload(groups, traffic=tuple(Traffic(f"g{a}", f"g{b}", w) for a, b, w in flows))
    seen: list[tuple[float | None, float | None]] = []
    plan = place(PlacementRequest(host, workload, settings=SearchSettings(time_limit_s=1.0)), progress=lambda b, lb: seen.append((b, lb)))
    bests = [b for b, _ in seen if b is not None]
    bounds = [lb for _, lb in seen if lb is not None]
    assert bests and bounds
    assert bests == sorted(bests, reverse=True)  # each new incumbent is better
    assert max(bounds) <= min(bests) + 1e-9
    assert plan.objective is not None and plan.objective <= bests[-1] + 1e-9


def _problem(tmp_path: Path) -> Path:
    # A dense, irregular 24-node assignment: no proof within the limit, so the line shows.
    d, flows = _dense(24, 2)
    problem = {
        "host": {
            "nodes": [{"id": k, "cpus": f"{k}", "memory": "4GiB"} for k in range(24)],
            "distances": d.tolist(),
        },
        "workload": {
            "groups": [{"name": f"g{k}", "vcpus": 1, "memory": "256MiB"} for k in range(24)],
            "traffic": [{"between": [f"g{a}", f"g{b}"], "weight": w} for a, b, w in flows],
        },
        "objective": {"time_limit": "3s"},
    }
    path = tmp_path / "dense.toml"
    path.write_text(tomli_w.dumps(problem))
    return path


def test_a_terminal_shows_the_status_line(tmp_path: Path) -> None:
    path = _problem(tmp_path)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "numaopt", "solve", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(timeout=30) == 0
    text = seen.decode(errors="replace")
    assert "searching" in text and "best" in text and "bound" in text and "gap" in text
    assert "status FEASIBLE" in text or "status OPTIMAL" in text  # the summary still follows


def test_a_pipe_gets_no_status_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "numaopt", "solve", str(_problem(tmp_path))], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0
    assert "searching" not in result.stderr
