"""The topology oracle predicts x86 die ids by the guest's kernel release: 6.1 numbers dies
within each package, 6.7 and later machine-wide. Guarded by one 2-socket x 2-die layout
recorded under both kernels (tests/data/guest-reports/dies-2x2 under Debian's 6.1 cloud
kernel, tests/data/guest-reports-x86-6.12/dies-2x2 under bookworm-backports' 6.12). The
DIMM comparisons know both kernels' ways of onlining: 6.1 leaves DIMMs to the init, 6.12
onlines them at boot (two-nodes-dimms, recorded under bookworm-security's 6.12.118)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from numaopt.guest.oracles import die_numbering, expected_view, judge_report
from numaopt.guest.report import GuestReport, parse_report
from numaopt.model import GuestLayout
from numaopt.problem import load_problem

DATA = Path(__file__).resolve().parents[1] / "data"
CONSOLES = {"6.1": DATA / "guest-reports" / "dies-2x2", "6.12": DATA / "guest-reports-x86-6.12" / "dies-2x2"}


def _recorded(version: str) -> tuple[GuestLayout, GuestReport]:
    base = CONSOLES[version]
    layout = load_problem(base.with_suffix(".toml")).layout
    assert layout is not None
    return layout, parse_report(base.with_suffix(".console").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("release", "numbering"),
    [
        ("6.1.0-57-cloud-amd64", "package"),
        ("5.10.0-30-amd64", "package"),
        ("6.6.63", "package"),
        ("6.7.0", "machine"),
        ("6.12.118+deb12-cloud-amd64", "machine"),
        ("10.0.1", "machine"),
        ("", None),
        ("unknown", None),
    ],
)
def test_die_numbering_by_release(release: str, numbering: str | None) -> None:
    assert die_numbering(release) == numbering


@pytest.mark.parametrize("version", ["6.1", "6.12"])
def test_recorded_consoles_show_their_kernels_die_ids_and_pass(version: str) -> None:
    layout, report = _recorded(version)
    assert report.kernel.startswith(version + ".")
    dies = [report.cpus[cpu].die for cpu in range(8)]
    assert dies == ([0, 0, 1, 1, 0, 0, 1, 1] if version == "6.1" else [0, 0, 1, 1, 2, 2, 3, 3])
    assert [report.cpus[cpu].core for cpu in range(8)] == [0, 1, 2, 3] * 2  # core ids did not move
    assert judge_report(layout, report) == []


@pytest.mark.parametrize(("version", "judged_as"), [("6.1", "6.12.118+deb12-cloud-amd64"), ("6.12", "6.1.0-57-cloud-amd64")])
def test_the_other_kernels_rule_fails_exactly_the_second_sockets_dies(version: str, judged_as: str) -> None:
    layout, report = _recorded(version)
    failures = judge_report(layout, dataclasses.replace(report, kernel=judged_as))
    assert [(f.code, f.message.split(":")[0]) for f in failures] == [("cpu-die", f"CPU {cpu}") for cpu in range(4, 8)]


def test_an_unknown_release_predicts_no_die() -> None:
    layout, _ = _recorded("6.1")
    view = expected_view(layout, kernel="")
    assert {want.die for want in view.cpu_topology.values()} == {None}
    assert [view.cpu_topology[cpu].core for cpu in range(8)] == [0, 1, 2, 3] * 2


DIMMS = {"6.12": DATA / "guest-reports-x86-6.12" / "two-nodes-dimms"}


def _dimm_codes(console: str) -> list[str]:
    base = DIMMS["6.12"]
    layout = load_problem(base.with_suffix(".toml")).layout
    assert layout is not None
    report = parse_report(console)
    assert report.complete
    return [f.code for f in judge_report(layout, report)]


def test_a_kernel_that_onlines_dimms_at_boot_is_judged_by_what_it_shows() -> None:
    # 6.12 onlines the 256 MiB DIMM of node 1 before the init looks: node 1's MemTotal is
    # already 676 MiB of 512 MiB boot memory, and the init's onlining adds nothing. (6.1
    # leaves it offline and the init's onlining adds it: tests/guest/test_dimm_boot.py.)
    console = DIMMS["6.12"].with_suffix(".console").read_text(encoding="utf-8")
    assert "6.12." in parse_report(console).kernel
    assert _dimm_codes(console) == []
    # No DIMM memory anywhere (MemTotal within the boot memory, nothing grown): the DIMM is missing.
    assert _dimm_codes(console.replace("691888 kB", "430000 kB")) == ["dimm-memory"]
    # More than boot memory and DIMM together: that is no DIMM, but memory from nowhere.
    assert _dimm_codes(console.replace("691888 kB", "791888 kB")) == ["memtotal"]
