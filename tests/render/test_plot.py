"""Pictures: well-formed files that carry the labels a reader looks for (not pixels)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from numaopt.model import PlacementRequest
from numaopt.problem import load_problem
from numaopt.render.plot import PlotError, plot_campaign, plot_host, plot_plan, plot_shared
from numaopt.solver.place import place

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(path: Path) -> list[str]:
    tree = ET.parse(path)  # well-formed XML, or this raises
    assert tree.getroot().tag == f"{SVG}svg"
    return ["".join(element.itertext()).strip() for element in tree.iter(f"{SVG}text")]


def numaopt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "numaopt", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def _epyc() -> PlacementRequest:
    problem = load_problem(ROOT / "problems" / "epyc-db.toml")
    assert problem.placement is not None
    return problem.placement


def test_host_heat_map_names_every_node_and_socket(tmp_path: Path) -> None:
    request = _epyc()
    plot_host(request.host, tmp_path / "host.svg")
    texts = svg_texts(tmp_path / "host.svg")
    assert {str(node.node_id) for node in request.host.nodes} <= set(texts)
    assert {"socket 0", "socket 1", "distance"} <= set(texts)
    assert "32" in texts  # the cross-socket distance is written in its cells


def test_plan_diagram_shows_groups_where_they_landed(tmp_path: Path) -> None:
    request = _epyc()
    plan = place(request)
    plot_plan(request.host, plan, tmp_path / "plan.svg", tuple((t.a, t.b, t.weight) for t in request.workload.traffic))
    texts = svg_texts(tmp_path / "plan.svg")
    assert {"db", "cache", "web"} <= set(texts)
    for guest in plan.layout.nodes:
        assert f"host node {guest.host_nodes[0]} = guest node {guest.node_id}" in texts


def test_same_input_same_svg(tmp_path: Path) -> None:
    host = _epyc().host
    plot_host(host, tmp_path / "a.svg")
    plot_host(host, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_png_and_a_name_without_a_format(tmp_path: Path) -> None:
    plot_host(_epyc().host, tmp_path / "host.png")
    assert (tmp_path / "host.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(PlotError, match=r"host.gif: a picture is .svg or .png"):
        plot_host(_epyc().host, tmp_path / "host.gif")
    assert not (tmp_path / "host.gif").exists()


def test_without_matplotlib_one_clear_line(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from numaopt.cli import main; sys.argv = ['numaopt', 'plot', 'problems/epyc-db.toml', '-o', sys.argv[1]]; main()"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.svg")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr == "numaopt: error: pictures need matplotlib: pip install 'numaopt[plot]'\n"
    assert not (tmp_path / "x.svg").exists()


def test_cli_draws_solve_plans_coverage_and_campaigns(tmp_path: Path) -> None:
    solved = numaopt("solve", "problems/epyc-db.toml", "-q", "--plot", str(tmp_path / "plan.svg"))
    assert solved.returncode == 0, solved.stderr
    assert "db" in svg_texts(tmp_path / "plan.svg")
    explicit = numaopt("solve", "problems/seed-4node.toml", "-q", "--plot", str(tmp_path / "seed.svg"))
    assert explicit.returncode == 0 and "15" in svg_texts(tmp_path / "seed.svg")
    batch = tmp_path / "batch"
    assert numaopt("generate", "--count", "6", "--seed", "3", "--out", str(batch)).returncode == 0
    drawn = numaopt("plot", str(batch), "-o", str(tmp_path / "coverage.svg"))
    assert drawn.returncode == 0, drawn.stderr
    texts = svg_texts(tmp_path / "coverage.svg")
    assert "coverage of 6 layouts" in texts and "nodes" in texts
    empty = numaopt("plot", str(tmp_path), "-o", str(tmp_path / "none.svg"))
    assert empty.returncode == 1 and "index.jsonl" in empty.stderr


def test_campaign_chart_counts_verdicts_and_failure_classes(tmp_path: Path) -> None:
    # Records in the journal's documented shape (numaopt/fuzz/executor.py `_record`).
    records = [{"type": "campaign", "seed": 1}] + [
        {"type": "item", "item": k, "verdict": "fail" if k % 3 == 0 else "pass", "label": "ring" if k % 2 else "flat",
         "nodes": 1 + k % 2, "failures": [{"oracle": "sched", "code": "groups-span", "message": "x"}] if k % 3 == 0 else []}
        for k in range(9)
    ]
    plot_campaign(records, tmp_path / "campaign.svg")
    texts = svg_texts(tmp_path / "campaign.svg")
    assert "9 layouts booted: pass 6, fail 3" in texts
    assert "sched: groups-span" in texts
    assert {"verdicts per distance family and per node count", "family flat", "family ring", "1 node(s)", "2 node(s)"} <= set(texts)
    (tmp_path / "fuzz").mkdir()
    (tmp_path / "fuzz" / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert numaopt("plot", str(tmp_path / "fuzz"), "-o", str(tmp_path / "c.png")).returncode == 0


def test_several_vms_are_drawn_where_each_landed(tmp_path: Path) -> None:
    from numaopt.solver import place_vms

    problem = load_problem(ROOT / "problems" / "shared-host.toml")
    assert problem.shared is not None
    shared = place_vms(problem.shared)
    plot_shared(problem.shared.host, shared.plans, tmp_path / "vms.svg")
    texts = svg_texts(tmp_path / "vms.svg")
    assert "3 VMs on one host: db (2 node(s)), web (2 node(s)), batch (1 node(s))" in texts
    for name, plan in shared.plans:
        for guest in plan.layout.nodes:
            assert f"{name}: guest node {guest.node_id}" in texts
    assert {"socket 0", "socket 1"} <= set(texts)
    # Through the command line: the configuration on stdout as before, the picture beside it.
    solved = numaopt("solve", "problems/shared-host.toml", "-q", "--plot", str(tmp_path / "cli.svg"))
    assert solved.returncode == 0, solved.stderr
    assert solved.stdout.startswith("# vm db\n") and "db: guest node 1" in svg_texts(tmp_path / "cli.svg")


def test_host_show_and_generate_draw_beside_their_output(tmp_path: Path) -> None:
    shown = numaopt("host", "show", "synthetic:pack:2 numa:2 core:2 pu:1", "-d", "12,32", "--plot", str(tmp_path / "host.svg"))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("available: 4 nodes (0-3)")
    assert {"0", "1", "2", "3", "socket 0", "socket 1", "32"} <= set(svg_texts(tmp_path / "host.svg"))
    batch = numaopt("generate", "-n", "5", "--seed", "3", "-q", "--out", str(tmp_path / "batch"), "--plot", str(tmp_path / "cov.svg"))
    assert batch.returncode == 0, batch.stderr
    assert "coverage of 5 layouts" in svg_texts(tmp_path / "cov.svg")
    one = numaopt("generate", "--index", "2", "--seed", "3", "-q", "--out", str(tmp_path / "one"), "--plot", str(tmp_path / "one.svg"))
    assert one.returncode == 0, one.stderr
    assert "guest distances of item 2" in svg_texts(tmp_path / "one.svg")


def test_a_bad_picture_name_stops_before_any_work(tmp_path: Path) -> None:
    for command in (["generate", "-n", "2", "--out", str(tmp_path / "b")], ["solve", "problems/shared-host.toml"],
                    ["fuzz", "-n", "1", "--out", str(tmp_path / "f")]):
        result = numaopt(*command, "--plot", str(tmp_path / "x.gif"))
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr == f"numaopt: error: {tmp_path / 'x.gif'}: a picture is .svg or .png (the name decides the format)\n"
    assert not (tmp_path / "b").exists() and not (tmp_path / "f").exists()
