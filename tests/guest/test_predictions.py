"""Oracle (f) predictions on recorded consoles, both ways: every recorded guest confirms
check's predictions and shows nothing check did not predict; a console edited to drop
the predicted line, or to add an unpredicted one, fails with the right code."""

from __future__ import annotations

from pathlib import Path

import pytest

from numaopt.guest.boot import X86_CPU, BootResult
from numaopt.guest.oracles import Oracle
from numaopt.guest.predictions import judge_predictions, predicted_codes, prediction_failures
from numaopt.guest.report import parse_report
from numaopt.guest.verify import boot_mismatches
from numaopt.model import GuestLayout, Machine
from numaopt.problem import load_problem

DATA = Path(__file__).parent.parent / "data"
RECORDED = sorted([*DATA.glob("guest-reports/*.toml"), *DATA.glob("guest-reports-aarch64/*.toml")])
INTEL = ["-cpu", X86_CPU["tcg"]]  # what boot gives an x86 guest under TCG
AMD = ["-cpu", "qemu64"]  # QEMU's default: an AMD family without topoext


def _case(path: Path, console: str | None = None) -> tuple[GuestLayout, str]:
    layout = load_problem(path).layout
    return layout, path.with_suffix(".console").read_text(encoding="utf-8") if console is None else console


def _argv(layout: GuestLayout) -> list[str]:
    return [] if layout.machine is Machine.VIRT else INTEL


def _codes(layout: GuestLayout, console: str, argv: list[str], accel: str = "tcg") -> list[str]:
    failures = prediction_failures(layout, parse_report(console), argv, accel)
    assert all(f.oracle is Oracle.PREDICTIONS for f in failures)
    return [f.code for f in failures]


def _drop(console: str, fragment: str) -> str:
    kept = [line for line in console.split("\n") if fragment not in line]
    assert len(kept) < len(console.split("\n")), fragment
    return "\n".join(kept)


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_recorded_guest_confirms_check(path: Path) -> None:
    layout, console = _case(path)
    assert _codes(layout, console, _argv(layout)) == []


def test_recorded_consoles_hold_predictions_of_each_kind() -> None:
    """The cases below are real predictions, not vacuous ones."""
    asym, _ = _case(DATA / "guest-reports/asymmetric.toml")
    split, _ = _case(DATA / "guest-reports/socket-split.toml")
    smt, _ = _case(DATA / "guest-reports-aarch64/smt.toml")
    assert "sched-groups-span" in predicted_codes(asym, INTEL)
    assert "socket-split" in predicted_codes(split, INTEL)
    assert "virt-smt" in predicted_codes(smt, [])


@pytest.mark.parametrize(
    ("case", "fragment", "rule"),
    [
        ("guest-reports/asymmetric", "groups don't span", "sched-groups-span"),
        ("guest-reports/socket-split", "llc-sibling", "socket-split"),
        ("guest-reports-aarch64/smt", "topology borken", "virt-smt"),
    ],
)
def test_a_prediction_the_guest_did_not_confirm_fails(case: str, fragment: str, rule: str) -> None:
    layout, console = _case(DATA / f"{case}.toml")
    failures = prediction_failures(layout, parse_report(_drop(console, fragment)), _argv(layout), "tcg")
    assert [f.code for f in failures] == ["prediction-unconfirmed"]
    assert rule in failures[0].message


def test_a_split_socket_under_kvm_may_stay_quiet() -> None:
    layout, console = _case(DATA / "guest-reports/socket-split.toml")
    assert _codes(layout, _drop(console, "llc-sibling"), INTEL, accel="kvm") == []


def test_a_guest_complaint_check_did_not_predict_fails() -> None:
    layout, console = _case(DATA / "guest-reports/seed-4node.toml")
    assert "sched-groups-span" not in predicted_codes(layout, INTEL)
    marker = "@dmesg [    0.000000] Command line:"
    assert marker in console
    added = console.replace(marker, "@dmesg [    0.500000] ERROR: groups don't span domain->span\n" + marker, 1)
    failures = prediction_failures(layout, parse_report(added), INTEL, "tcg")
    assert [f.code for f in failures] == ["prediction-missing"]
    assert "groups don't span" in failures[0].message and "sched-groups-span" in failures[0].message


def test_amd_smt_prediction_both_ways() -> None:
    """smt-2socket booted with -cpu max,vendor=GenuineIntel shows SMT siblings: with
    qemu64 check predicts none (unconfirmed); a guest without siblings where check
    predicted them is a missing rule."""
    layout, console = _case(DATA / "guest-reports/smt-2socket.toml")
    assert "smt-amd-no-topoext" in predicted_codes(layout, AMD)
    assert _codes(layout, console, AMD) == ["prediction-unconfirmed"]
    flat = console
    for cpu in range(layout.vcpus):
        before = f"cpu{cpu}/topology/thread_siblings_list:"
        line = next(line for line in console.split("\n") if before in line)
        flat = flat.replace(line, line[: line.index(before) + len(before)] + str(cpu))
    assert _codes(layout, flat, AMD) == []
    assert _codes(layout, flat, INTEL) == ["prediction-missing"]


def test_a_boot_without_a_complete_report_is_left_to_the_other_oracles() -> None:
    layout, console = _case(DATA / "guest-reports/asymmetric.toml")
    result = BootResult(argv=["qemu-system-x86_64", *INTEL], accel="tcg", timeout_s=60.0, wall_time_s=5.0,
                        timed_out=True, returncode=None, console=console, stderr="", report=parse_report(console))
    assert judge_predictions(layout, result) == []


def test_verify_boot_reports_what_check_predicted_and_the_guest_did_not_show() -> None:
    layout, console = _case(DATA / "guest-reports/socket-split.toml")

    def lines(text: str) -> list[str]:
        result = BootResult(argv=["qemu-system-x86_64", *INTEL], accel="tcg", timeout_s=60.0, wall_time_s=5.0,
                            timed_out=False, returncode=0, console=text, stderr="", report=parse_report(text))
        return [line for line in boot_mismatches(layout, result)[1] if line.startswith("check's prediction: ")]

    assert lines(console) == []
    # The same length, so the report stays complete (its last line counts lines and bytes).
    [line] = lines(console.replace("llc-sibling", "llc.sibling"))
    assert "check predicted socket-split" in line and "the guest did not show it" in line
