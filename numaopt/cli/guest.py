"""``numaopt guest build``, ``numaopt verify`` and ``numaopt fuzz``: plain command functions.

``numaopt.cli`` registers them on its Typer app. They raise ``NumaoptError`` for what
the user must fix (``cli.main`` prints it as one line with its exit code) and
``typer.Exit`` with the documented codes: 4 when QEMU or the guest did not show what was
asked (or a fuzz campaign found failures), 130 when a campaign was interrupted.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from numaopt.cli.errors import naming, seconds
from numaopt.cli.knobs import FUZZ_DEFAULTS, with_knob_options
from numaopt.files import check_output_file
from numaopt.generate import Knobs
from numaopt.inputs import MAX_COUNT, MAX_JOBS, MAX_SEED, read_text
from numaopt.model import GuestLayout

if TYPE_CHECKING:
    from numaopt.fuzz.executor import RunSettings

__all__ = ["fuzz_command", "guest_build_command", "replay_command", "verify_command"]

ACCEL_HELP = "kvm or tcg; default: kvm when /dev/kvm works for this host CPU (vmx/svm), else tcg."
MAX_SHRINK_BOOTS = 1000
COMPARE_HELP = (
    "Given twice (--kernel A --kernel B): every layout boots under both, and an item fails only where "
    "the two guests fail differently (a kernel regression finder). Each image applies to the guests of its "
    "architecture (read from its header); the other architecture's boot the kit's Debian kernel."
)
EXPECT_HELP = (
    "Known failure signatures (a JSON file written by --write-expect): items failing only in these ways "
    "are listed apart and do not make the campaign fail."
)
WRITE_EXPECT_HELP = (
    "Write the campaign's failure signatures (with those of --expect) to this JSON file, for the next "
    "campaign's --expect."
)
WORKLOAD_HELP = (
    "Run this workload in every guest after its report and judge the scheduler with oracle (e) balance: "
    "spread[:N] (N busy loops started on one CPU, default one per vCPU), pairs[:P] (P sleep/wake pairs), "
    "pinned[:G] (G loops pinned to one node plus free loops); memory[:MiB] (a task's memory first touched on one "
    "node, the task moved to another, judged by oracle memory: with numa_balancing on the pages must follow it). "
    "Where it starts comes from the item's seed; "
    "reproducers record it (workload.json)."
)
KERNEL_HELP = (
    "Boot this kernel image (bzImage for x86, Image/vmlinuz for arm64) instead of Debian's "
    "linux-image-cloud-amd64, which numaopt fetches once with apt-get into its cache."
)


def _echo_err(text: str) -> None:
    typer.echo(text, err=True)


def guest_build_command(
    kernel: Annotated[Path | None, typer.Option("--kernel", help=KERNEL_HELP)] = None,
    arch: Annotated[str, typer.Option("--arch", help="Guest architecture: x86_64 (q35, pc) or aarch64 (virt).")] = "x86_64",
    refresh: Annotated[bool, typer.Option("--refresh", help="Fetch the kernel again and rebuild the initramfs.")] = False,
    suite: Annotated[
        str | None,
        typer.Option("--suite", help="Fetch the cloud kernel from this Debian suite (e.g. bookworm-backports) through an apt state of its own in the cache: a second kernel for fuzz --kernel A --kernel B."),
    ] = None,
    package: Annotated[
        str | None,
        typer.Option("--package", help="The kernel metapackage to fetch instead of linux-image-cloud-<arch> (e.g. linux-image-6.12-cloud-amd64 with --suite bookworm-security)."),
    ] = None,
) -> None:
    """Build (or show) the cached guest kit: a kernel and a busybox initramfs.

    The kit lives under $XDG_CACHE_HOME/numaopt (else ~/.cache/numaopt). The kernel is Debian's cloud kernel, resolved from the linux-image-cloud-<arch> metapackage with apt-get download and unpacked from its .deb (only boot/ is kept), or the image given with --kernel. The initramfs holds a static busybox (the installed busybox-static, else its .deb) and an init that prints what the guest sees — nodes with their CPUs, distances and memory, CPU topology, scheduler domains (sched_verbose), kernel messages of interest — then resets the machine.

    Prints the kernel, the initramfs and the accelerator boots will use.
    """
    from numaopt.guest.boot import kvm_usable
    from numaopt.guest.kit import build_kit

    started = time.monotonic()
    if (suite is not None or package is not None) and kernel is not None:
        raise typer.BadParameter("--suite and --package fetch Debian's kernel: give them or --kernel, not both", param_hint="--kernel")
    kit = build_kit(kernel, arch, refresh=refresh, suite=suite, package=package)
    typer.echo(f"kernel: {kit.kernel} ({kit.kernel_source})")
    typer.echo(f"initramfs: {kit.initrd}")
    accel = "kvm" if kvm_usable(arch) else "tcg (no usable /dev/kvm with hardware virtualisation for this guest)"
    typer.echo(f"accelerator: {accel}")
    _echo_err(f"guest kit ready in {time.monotonic() - started:.1f} s")


def load_layout(path: Path) -> GuestLayout:
    """A layout from a problem file (an explicit layout, or a search that is solved first) or a plan (.json)."""
    if path.suffix == ".json":
        from numaopt.render.json import plan_from_json

        return plan_from_json(read_text(path), source=str(path)).layout
    from numaopt.problem import load_problem

    loaded = load_problem(path)
    if loaded.layout is not None:
        return loaded.layout
    assert loaded.placement is not None
    from numaopt.solver import place

    with naming(path):
        return place(loaded.placement).layout


def verify_command(
    file: Annotated[Path, typer.Argument(help="A problem file (.toml) or a plan (.json from `numaopt solve --format json`).")],
    boot: Annotated[bool, typer.Option("--boot", help="Level 2: also boot the guest and compare what it sees.")] = False,
    kernel: Annotated[Path | None, typer.Option("--kernel", help=KERNEL_HELP)] = None,
    accel: Annotated[str | None, typer.Option("--accel", help=ACCEL_HELP)] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds the guest may show no progress (no console line, not counting time QEMU waits for a host CPU) before it counts as hung (default: 30 + 1 per vCPU under TCG); a boot ends at max(600, 10 x this) seconds whatever it prints.", callback=seconds),
    ] = None,
    console: Annotated[Path | None, typer.Option("--console", help="Write the guest's serial console to this file.")] = None,
) -> None:
    """Check a layout in the real QEMU, and with --boot in the real guest.

    Level 1 (always): QEMU starts paused (-S) with the layout's arguments and numaopt reads back over QMP what it built — every vCPU's node and socket/die/cluster/core/thread ids, every node's memory — and compares it with the layout.

    Level 2 (--boot): the guest kit boots the layout (KVM when usable, else TCG) and the guest's view — node count, CPUs per node, memory per node (within what the kernel reserves), the full distance matrix, the CPU topology, kernel messages of interest and the scheduler domains — is compared with what was asked. QEMU node ids are mapped to the guest's: Linux numbers nodes in first-seen order and does not show nodes with neither CPUs nor memory. The guest's table is printed as numactl --hardware would.

    Each mismatch is one line `FILE: mismatch: ...`; exit 4 if there is any.
    """
    if accel is not None and accel not in ("kvm", "tcg"):
        raise typer.BadParameter("expected kvm or tcg", param_hint="--accel")
    from numaopt.guest.verify import verify_boot, verify_qemu

    if console is not None:
        check_output_file(console, "--console")
    layout = load_layout(file)
    mismatches: list[str] = []
    level1 = verify_qemu(layout)
    readback = level1.readback
    typer.echo(
        f"level 1: QEMU {readback.qemu_version} ({readback.machine}) built {readback.num_nodes} node(s), "
        f"{len(readback.cpu_props)} vCPU(s): {'as planned' if not level1.mismatches else 'NOT as planned'}"
        f"{level1.hotplug}"
    )
    mismatches += level1.mismatches
    if boot:
        from numaopt.guest.kit import load_kit
        from numaopt.guest.report import numactl_text

        kit = load_kit(kernel, layout.machine.arch)
        result = verify_boot(layout, kit, timeout_s=timeout, accel=accel, serial_file=console)
        booted = result.result
        report = booted.report
        kernel_name = report.kernel if report is not None and report.kernel else kit.kernel.name
        verdict = "as asked" if not result.mismatches else "NOT as asked"
        typer.echo(
            f"level 2: booted {kernel_name} under {booted.accel} in {booted.wall_time_s:.1f} s; "
            f"the guest sees ({verdict}):"
        )
        if report is not None and report.nodes:
            typer.echo(numactl_text(report), nl=False)
        mismatches += result.mismatches
    for line in mismatches:
        typer.echo(f"{file}: mismatch: {line}")
    if mismatches:
        raise typer.Exit(4)


def _summary_text(summary: Any, out: Path) -> str:
    verdicts = summary.verdicts
    lines = [
        f"{summary.done} of {summary.total} layouts done: {verdicts['pass']} pass, {verdicts['fail']} fail, "
        f"{verdicts['error']} error, {verdicts['skipped']} skipped"
        + (f"; this run: {summary.ran} in {summary.wall_s:.0f} s ({summary.per_minute:.1f} layouts/min)" if summary.ran else "")
    ]
    if summary.by_oracle:
        lines.append("failing items per oracle: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.by_oracle.items())))
    if summary.expected.source:
        lines.append(f"failing items: {summary.new_items} new, {summary.known_items} known (in {summary.expected.source})")
    for title, reasons in (("new failure signatures:" if summary.expected.source else "unique failure reasons:",
                            summary.new_reasons), ("known failure signatures:", summary.known_reasons)):
        if reasons:
            lines.append(title)
        for reason, count in reasons:
            item, message = summary.examples[reason]
            lines.append(f"  {count:>4} x {reason} (first: item {item}: {message})")
    if summary.reproducers:
        lines.append(f"reproducers: {len(summary.reproducers)} under {out / 'failures'} ({summary.shrunk} shrunk)")
    if summary.interrupted:
        lines.append("interrupted: continue with the same command and --resume")
    return "\n".join(lines) + "\n"


@with_knob_options(FUZZ_DEFAULTS)
def fuzz_command(
    *,
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=MAX_COUNT, help="Number of layouts in the campaign (all shards).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Campaign directory: journal.jsonl and failures/.")],
    seed: Annotated[
        int, typer.Option("--seed", "-s", min=0, max=MAX_SEED, help="Campaign seed; item k uses SeedSequence(seed, spawn_key=(k,)).")
    ] = 0,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=MAX_JOBS, help="Boots at once (processes).")] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the campaign journaled in --out (same options).")] = False,
    shard: Annotated[str, typer.Option("--shard", help="i/n: run the items k with k mod n == i (one machine of n).")] = "0/1",
    dask: Annotated[
        str | None, typer.Option("--dask", help="Run on this dask.distributed scheduler (e.g. tcp://host:8786) instead of --jobs.")
    ] = None,
    kernel: Annotated[list[Path] | None, typer.Option("--kernel", help=KERNEL_HELP + " " + COMPARE_HELP)] = None,
    expect: Annotated[Path | None, typer.Option("--expect", help=EXPECT_HELP)] = None,
    write_expect: Annotated[Path | None, typer.Option("--write-expect", help=WRITE_EXPECT_HELP)] = None,
    plot_file: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw the campaign (verdicts per oracle, family and node count; failure classes): .svg or .png."),
    ] = None,
    accel: Annotated[str | None, typer.Option("--accel", help=ACCEL_HELP)] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds a guest may show no progress (no console line, not counting time QEMU waits for a host CPU) before it counts as a hang (default: 30 + 1 per vCPU under TCG); a boot ends at max(600, 10 x this) seconds whatever it prints.",
            callback=seconds,
        ),
    ] = None,
    no_shrink: Annotated[bool, typer.Option("--no-shrink", help="Do not shrink failing layouts.")] = False,
    shrink_boots: Annotated[
        int, typer.Option("--shrink-boots", min=1, max=MAX_SHRINK_BOOTS, help="At most this many boots to shrink one failure.")
    ] = 12,
    workload: Annotated[str | None, typer.Option("--workload", help=WORKLOAD_HELP)] = None,
    knobs: Knobs,  # --target ... --machine (numaopt.cli.knobs), with smaller defaults
) -> None:
    """Boot generated layouts and judge each guest with four oracles.

    Layouts come from the generator (the knobs are those of numaopt generate, with small defaults so that boots stay fast). Each is booted (KVM when usable, else TCG) and judged: (a) the guest sees the topology Linux's rules predict (nodes renumbered first-seen, empty nodes unseen, a SLIT with remote 10 replaced by 10/20); (b) no unexpected kernel error or warning, and every expected one (e.g. 'SLIT table looks invalid') present; (c) scheduler domains consistent (child spans inside parents, groups covering spans, NUMA domains as predicted, levels = distinct distances among CPU nodes, the topology type); (d) the guest kept making progress until its report was out (a hang: --timeout seconds without a console line, not counting time QEMU waits for a host CPU). With --workload, each guest then runs that workload and (e) balance judges its scheduler: no CPU idle for 5 s of the guest's time while another holds two runnable tasks that may run on it, and busy loops spread over the nodes by their CPUs.

    Every result is appended to OUT/journal.jsonl (flushed and fsync'd), so --resume continues a killed campaign without redoing or losing an item. Each failure gets OUT/failures/item-NNNNNN/ (problem.toml, qemu-args.txt, guest-report.txt, reason.txt, failures.json, and kernel.json: the kernel's path, source, release and sha256 and the QEMU version; `numaopt fuzz replay DIR` boots it again) and is shrunk (fewer nodes, fewer vCPUs, simpler distances) while the same oracle still fails, into shrunk/.

    A failure's signature is its oracle, its kernel message (numbers as N) or mismatch kind, and the layout's class (machine, distance table none/symmetric/asymmetric, memoryless or cpuless nodes); --expect FILE names known ones (--write-expect FILE writes them from a campaign), and items failing only in known ways are listed apart.

    Prints a progress bar on a terminal and a summary (pass / fail per oracle, failure signatures, new and known). Exit 0 when no item failed in a new way, 4 when one did, 130 when interrupted.
    """
    from numaopt.fuzz.executor import run_campaign
    from numaopt.fuzz.items import generated_items, parse_shard, shard_ids
    from numaopt.fuzz.signatures import read_expect
    from numaopt.generate import resolve

    settings = _run_settings(kernel or [], accel, timeout, not no_shrink, shrink_boots, workload)
    _check_kernel_archs(kernel or [], {machine.arch for machine in knobs.machines}, "--machine")
    expected = read_expect(expect) if expect is not None else None
    _check_outputs(write_expect, plot_file)
    shard_index = parse_shard(shard)
    resolve(knobs)  # impossible knobs fail here, in one line, before anything boots
    ids = shard_ids(count, shard_index)
    header = _journal_header(seed, count, shard_index, knobs, settings)
    with _progress_bar(len(ids)) as on_result:
        summary = run_campaign(
            generated_items(knobs, seed, ids), out, header, settings, total=len(ids), jobs=jobs, resume=resume,
            dask_address=dask, on_result=on_result, expected=expected,
        )
    _report(summary, out, settings, write_expect, plot_file)
    if summary.interrupted:
        raise typer.Exit(130)
    if summary.new_items:
        raise typer.Exit(4)


def _check_outputs(write_expect: Path | None, plot_file: Path | None) -> None:
    """Before the campaign, not after it: the files it ends with can be written."""
    if write_expect is not None:
        check_output_file(write_expect, "--write-expect")
    if plot_file is not None:
        from numaopt.render.plot import check_picture

        check_picture(plot_file, "--plot")


def _report(summary: Any, out: Path, settings: RunSettings, write_expect: Path | None, plot_file: Path | None) -> None:
    """The summary, the two kernels' line, and the --write-expect and --plot files."""
    from numaopt.fuzz.signatures import expect_text
    from numaopt.fuzz.signatures import write_expect as save_expect

    typer.echo(_summary_text(summary, out), nl=False)
    if settings.compares:
        typer.echo(f"kernel A {settings.kernel} and kernel B {settings.compare_kernel}: "
                   f"the guests differ on {summary.by_oracle['kernels']} of {summary.done} layouts")
        kinds = ", ".join(f"{kind} ({n})" for kind, n in summary.differences.most_common())
        typer.echo(f"what the guests show differs on {summary.differing} of {summary.done} layouts" + (f": {kinds}" if kinds else ""))
    if write_expect is not None:
        save_expect(write_expect, expect_text(summary.reasons, summary.examples, summary.expected))
        known = len(set(summary.reasons) | summary.expected.signatures)
        typer.echo(f"failure signatures: {known} written to {write_expect} (use it with --expect)")
    if plot_file is not None and summary.done:
        from numaopt.cli.plot import plot_folder_to

        plot_folder_to(out, plot_file)
        typer.echo(f"wrote {plot_file}", err=True)


def replay_command(
    directory: Annotated[Path, typer.Argument(help="A reproducer: OUT/failures/item-NNNNNN of a fuzz campaign, or its shrunk/.")],
    kernel: Annotated[
        list[Path] | None,
        typer.Option("--kernel", help="Boot this image instead of the recorded one(s) (twice: compare two kernels)."),
    ] = None,
    accel: Annotated[str | None, typer.Option("--accel", help=ACCEL_HELP)] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds a guest may show no progress before it counts as a hang (default as fuzz).", callback=seconds),
    ] = None,
) -> None:
    """Boot a fuzz reproducer again and judge it with the campaign's oracles.

    The layout is the reproducer's problem.toml; the kernel is the image its kernel.json records (the same path, checked by sha256, so a replay boots exactly what the campaign booted), or --kernel's. A reproducer of a two-kernel campaign boots under both and is judged on where they differ.

    Prints each failure and whether the failure signatures are the recorded ones. Exit 0 when the guest passes, 4 when it fails (the same way or not), 1 when the reproducer or its kernel cannot be used.
    """
    from numaopt.errors import InputError
    from numaopt.fuzz.replay import read_reproducer, recorded_kernels, replay

    if accel is not None and accel not in ("kvm", "tcg"):
        raise typer.BadParameter("expected kvm or tcg", param_hint="--accel")
    problem = directory / "problem.toml"
    if not problem.is_file():
        raise InputError("no problem.toml here: expected a reproducer directory (failures/item-NNNNNN or its shrunk/)",
                         source=str(directory))
    reproducer = read_reproducer(directory, load_layout(problem))
    _check_kernel_archs(kernel or [], {reproducer.layout.machine.arch}, "the reproducer's problem.toml")
    kernels = _run_settings(kernel, accel, timeout, False, 1).kernels if kernel else tuple(recorded_kernels(reproducer))
    outcome = replay(reproducer, [k for k in kernels if k], accel, timeout)
    for record, boot in zip(outcome.judged.kernels, outcome.judged.boots, strict=True):
        typer.echo(f"booted {record['release'] or record['path']} (sha256 {record['sha256'][:12]}) under {boot.accel} "
                   f"in {boot.wall_time_s:.1f} s")
    for failure in outcome.judged.failures:
        typer.echo(f"{directory}: {failure['oracle']}: {failure['message']}")
    typer.echo(_replay_verdict(outcome))
    if outcome.judged.failures:
        raise typer.Exit(4)


def _replay_verdict(outcome: Any) -> str:
    """One line: what the guest did now, and whether the campaign recorded the same."""
    recorded = outcome.reproducer.signatures
    if len(outcome.judged.boots) > 1:  # two kernels: the verdict is where they differ
        now = "the guests differ: " + " | ".join(outcome.signatures) if outcome.signatures else "the guests do not differ"
    else:
        now = "the guest fails: " + " | ".join(outcome.signatures) if outcome.signatures else "the guest passes"
    if outcome.same:
        return f"{now}: as recorded"
    return f"{now}; the campaign recorded " + (" | ".join(recorded) if recorded else "no failure")


def _check_kernel_archs(kernels: list[Path], archs: set[str], where: str) -> None:
    """A --kernel that no guest of the run could boot is a mistake, not a silent fallback to Debian's."""
    from numaopt.guest.kit import kernel_arch

    for kernel in kernels:
        arch = kernel_arch(kernel)
        if arch not in archs:
            raise typer.BadParameter(
                f"{kernel} is a kernel for {arch} guests, but {where} makes only {', '.join(sorted(archs))} ones", param_hint="--kernel"
            )


def _run_settings(
    kernels: list[Path], accel: str | None, timeout: float | None, shrink: bool, shrink_boots: int,
    workload: str | None = None,
) -> RunSettings:
    """How every item boots (a RunSettings), after checking --accel, --kernel (once, or twice to
    compare) and --workload."""
    from numaopt.fuzz.executor import RunSettings
    from numaopt.guest.workload import parse_workload

    spec = str(parse_workload(workload)) if workload is not None else None

    if accel is not None and accel not in ("kvm", "tcg"):
        raise typer.BadParameter("expected kvm or tcg", param_hint="--accel")
    if len(kernels) > 2:
        raise typer.BadParameter(f"given {len(kernels)} times; expected once, or twice to compare two kernels", param_hint="--kernel")
    from numaopt.guest.kit import check_kernel, kernel_arch

    for kernel in kernels:  # each applies to its architecture's guests (RunSettings.kernels_for)
        check_kernel(kernel, kernel_arch(kernel))
    resolved = [str(kernel.resolve()) for kernel in kernels]
    return RunSettings(
        kernel=resolved[0] if resolved else None,
        accel=accel,
        timeout_s=timeout,
        shrink=shrink,
        shrink_checks=shrink_boots,
        compare_kernel=resolved[1] if len(resolved) == 2 else None,
        workload=spec,
    )


def _journal_header(seed: int, count: int, shard: tuple[int, int], knobs: Knobs, settings: RunSettings) -> dict[str, Any]:
    """The journal's first line: what makes this campaign (--resume refuses another one)."""
    return {
        "numaopt_fuzz": 1,
        "seed": seed,
        "count": count,
        "shard": f"{shard[0]}/{shard[1]}",
        "knobs": knobs.to_json(),
        "kernel": settings.kernel,
        "accel": settings.accel,
        "timeout_s": settings.timeout_s,
        "shrink": settings.shrink,
        "shrink_checks": settings.shrink_checks,
        # Only when comparing: a one-kernel campaign's header stays as it was, so it resumes.
        **({"compare_kernel": settings.compare_kernel} if settings.compare_kernel else {}),
        **({"workload": settings.workload} if settings.workload else {}),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[Any, Any], None]]:
    """A result callback that moves a progress bar on a terminal (stderr); on a pipe, nothing."""
    if not sys.stderr.isatty():
        yield lambda result, summary: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("fuzz"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
        transient=True,
    )

    def on_result(result: Any, summary: Any) -> None:
        status = f"{summary.verdicts['fail']} fail, {summary.verdicts['error']} error"
        progress.update(task, completed=summary.done, status=status)

    with progress:
        task = progress.add_task("fuzz", total=total, status="")
        yield on_result
