"""``numaopt host show`` / ``capture`` through Typer's runner, on a throwaway app that mounts the sub-app."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from numaopt.cli.host import host_app
from numaopt.errors import InputError, NumaoptError
from numaopt.hosts import host_from_table, host_to_toml, read_sysfs

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"
ROOT = Path(__file__).resolve().parents[2]

app = typer.Typer()
app.add_typer(host_app, name="host")
runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str, BaseException | None]:
    result = runner.invoke(app, ["host", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr, result.exception


def test_show_numactl_with_lscpu() -> None:
    code, out, err, _ = invoke(
        "show", f"numactl:{HOSTS / 'intel-snc2-2s.numactl'}", f"lscpu:{HOSTS / 'intel-snc2-2s.lscpu'}"
    )
    assert code == 0 and err == ""
    assert out.startswith((HOSTS / "intel-snc2-2s.numactl").read_text())
    assert "sockets: 2, cores: 40, threads per core: 2, CPUs: 80\n" in out
    assert "info: scheduler: 3 NUMA distance level(s) among CPU nodes, NUMA_BACKPLANE\n" in out


def test_show_sniffs_bare_paths() -> None:
    code, out, _, _ = invoke("show", str(HOSTS / "amd-opteron-4s.lscpu"), str(HOSTS / "amd-opteron-4s.numactl"))
    assert code == 0 and "sockets: 4, cores: 48, threads per core: 1, CPUs: 48" in out


def test_show_hwloc_file() -> None:
    code, out, _, _ = invoke("show", str(HOSTS / "xeon-max-snc2-hbm.xml"))
    assert code == 0
    assert "node 2 cpus:\n" in out and "node 0 free: <not available>\n" in out
    assert "warning: node(s) 2-3 have memory but no CPUs (CXL or HBM)" in out


def test_show_synthetic_with_a_distance_rule() -> None:
    code, out, _, _ = invoke("show", "synthetic:pack:2 numa:2 core:4 pu:2", "--distances", "same_package=12, other=32")
    assert code == 0 and "  0:  10  12  32  32 \n" in out


def test_show_reads_stdin() -> None:
    text = (HOSTS / "laptop-i7-1260p.numactl").read_text()
    code, out, _, _ = invoke("show", "-", stdin=text)
    assert code == 0 and out.startswith(text)


def test_show_reads_stdin_of_a_named_kind() -> None:
    text = (HOSTS / "xeon-max-snc2-hbm.xml").read_text()
    code, out, _, _ = invoke("show", "hwloc:-", stdin=text)
    assert code == 0 and out.startswith("available: 4 nodes (0-3)\n")


def test_disagreements_are_warnings_on_stderr() -> None:
    code, out, err, _ = invoke("show", str(HOSTS / "intel-snc2-2s.numactl"), str(HOSTS / "intel-snc2-2s.lscpu-summary"))
    assert code == 0 and "CPUs: 80; sockets, cores and SMT siblings: unknown" in out
    # The warning names both sources (numactl and lscpu disagree).
    assert err.startswith("numaopt: warning: ") and "intel-snc2-2s.lscpu-summary: " in err
    assert "the lscpu summary does not say which CPUs are SMT siblings" in err


def test_bad_input_raises_one_input_error() -> None:
    code, _, _, exc = invoke("show", str(HOSTS / "invalid" / "numactl-missing-row.numactl"))
    assert code == 1 and isinstance(exc, InputError)
    expected = (HOSTS / "invalid" / "numactl-missing-row.err").read_text().strip()
    assert str(exc) == f"{HOSTS / 'invalid' / 'numactl-missing-row.numactl'}: {expected}"


def test_bad_distance_rule_is_a_usage_error() -> None:
    code, _, err, _ = invoke("show", "synthetic:pack:2 numa:2 pu:1", "--distances", "12")
    assert code == 0
    code, _, err, _ = invoke("show", "synthetic:pack:2 numa:2 pu:1", "--distances", "near")
    assert code == 2 and "Invalid value for --distances" in err


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (
            "numactl:",
            "numactl:: nothing after 'numactl:' (expected numactl:PATH, lscpu:PATH, sysfs:DIR, hwloc:PATH, synthetic:STRING, or a path (its kind is sniffed))",
        ),
        (
            str(HOSTS / "README.md"),
            f"{HOSTS / 'README.md'}: line 1: cannot tell what this is (expected numactl --hardware, lscpu or hwloc XML output): prefix it with its kind, e.g. numactl:PATH",
        ),
        ("no/such/file", "no/such/file: no such file"),
    ],
)
def test_source_errors(argument: str, message: str) -> None:
    _, _, _, exc = invoke("show", argument)
    assert isinstance(exc, InputError) and str(exc) == message


def test_capture_to_stdout_and_atomically_to_a_file(tmp_path: Path) -> None:
    sources = (f"numactl:{HOSTS / 'intel-cxl-2s.numactl'}", f"lscpu:{HOSTS / 'intel-cxl-2s.lscpu'}")
    code, out, _, _ = invoke("capture", *sources)
    assert code == 0 and out == (HOSTS / "intel-cxl-2s.toml").read_text()
    target = tmp_path / "host.toml"
    target.write_text("old")
    code, _, err, _ = invoke("capture", *sources, "--out", str(target))
    assert code == 0 and err == f"wrote {target}\n"
    assert target.read_text() == out
    assert [p.name for p in tmp_path.iterdir()] == ["host.toml"]  # no temporary file left behind


def test_capture_into_a_missing_directory_is_an_input_error(tmp_path: Path) -> None:
    _, _, _, exc = invoke("capture", "synthetic:pu:2", "--out", str(tmp_path / "no" / "host.toml"))
    assert isinstance(exc, InputError) and str(exc).startswith(
        f"{tmp_path / 'no' / 'host.toml'}: --out: cannot write: the folder {tmp_path / 'no'} does not exist;")


@pytest.mark.skipif(not Path("/sys/devices/system/node/node0").is_dir(), reason="no NUMA sysfs on this machine")
def test_capture_this_machine_by_default() -> None:
    code, out, _, _ = invoke("capture")
    assert code == 0
    host = host_from_table(tomllib.loads(out)["host"], "<captured>")
    live = read_sysfs()
    assert host.cores == live.cores and [n.cpus for n in host.nodes] == [n.cpus for n in live.nodes]
    assert host_to_toml(host) == out


def _mounted_in_numaopt() -> bool:
    from numaopt import cli

    return any(group.name == "host" for group in cli.app.registered_groups)


@pytest.mark.skipif(not _mounted_in_numaopt(), reason="numaopt.cli does not mount host_app yet")
def test_real_entry_point_prints_one_line_and_exits_1() -> None:
    bad = HOSTS / "invalid" / "numactl-truncated.numactl"
    result = subprocess.run(
        [sys.executable, "-m", "numaopt", "host", "show", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == f"numaopt: error: {bad}: {(HOSTS / 'invalid' / 'numactl-truncated.err').read_text()}"


def test_errors_are_numaopt_errors_for_main_to_map() -> None:
    assert issubclass(InputError, NumaoptError) and InputError("x").exit_code == 1
