"""The guest kit: a Linux kernel and a busybox initramfs whose init reports what it sees.

Everything is cached under the user's cache directory (``$XDG_CACHE_HOME/numaopt`` or
``~/.cache/numaopt``), so only the first build touches the network, and only Debian's
package registry: the kernel is Debian's ``linux-image-cloud-<arch>`` (the metapackage is
resolved to its ``linux-image-<release>`` with ``dpkg-deb -f``, downloaded with
``apt-get download`` and unpacked from its data archive, ``dpkg -x`` style, keeping only
``boot/``), or a kernel the user gives. Another architecture's packages (an arm64 guest on
an amd64 machine) come through an apt state of their own in the cache (``_apt_for``). The initramfs is written here, in cpio "newc"
format, from a static busybox (the installed ``busybox-static``, else its .deb) and
``INIT_SCRIPT``; its name carries a hash of both, so a changed script rebuilds it.

Builds are serialised with a lock file (``filelock``) and every cached file is written
through a temporary name and a rename, so concurrent fuzz workers never see half a kit.
Cached files get the umask's modes, like any file the user makes.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from platformdirs import user_cache_dir

from numaopt.errors import InputError, NumaoptError

__all__ = [
    "INIT_SCRIPT",
    "REPORT_VERSION",
    "GuestKit",
    "GuestKitError",
    "build_initramfs",
    "build_kit",
    "cache_dir",
    "check_kernel",
    "cpio_newc",
    "find_busybox",
    "kernel_arch",
    "load_kit",
]

REPORT_VERSION = 1

# Debian names per guest architecture: (dpkg architecture, cloud kernel metapackage, ELF e_machine).
_ARCHES = {
    "x86_64": ("amd64", "linux-image-cloud-amd64", 62),
    "aarch64": ("arm64", "linux-image-cloud-arm64", 183),
}

# The guest's /init (busybox ash). Only shell builtins inside the loops: under TCG every
# fork of busybox costs tens of milliseconds. Every report line starts with "@"; lines
# and their bytes are counted and "@end LINES BYTES" closes the report, so a kernel
# message printed into the middle of a line (the console is shared) is detected instead
# of misread. The kernel boots with its notices on the console (loglevel=6, a sign of
# progress); the init lowers that to errors only (4) before the report starts. Each step
# that prints nothing while it runs is announced by an "@stage" line, so the host sees
# progress at every step and, if the guest hangs, where (numaopt.guest.progress). There
# is no periodic heartbeat on purpose: a background beat would go on while a step hangs.
INIT_SCRIPT = r"""#!/bin/busybox sh
# numaopt guest probe: print what the guest sees (report format __VERSION__), then reset.
B=/bin/busybox
$B mount -t proc proc /proc
echo 4 > /proc/sys/kernel/printk
n=0; c=0
r() { l="@$*"; echo "$l"; n=$((n+1)); c=$((c+${#l})); }
# The workload, when the kernel command line asks for one (numaopt.workload=KIND,key=value,...
# as numaopt.guest.workload writes it): busy loops and sleep/wake pairs started on the CPUs
# "start" names, then let go to every CPU; busy loops pinned to "pin". While they run the
# init samples every CPU and task every "tick" seconds for "seconds" of its uptime (at most
# "samples" times), with builtins only (a fork would
# cost tens of ms under TCG) and into /tmp (a console line would load a CPU); the samples
# join the report afterwards (numaopt.guest.report, judged by numaopt.guest.balance).
spin() { while :; do :; done; }
pair() { exec 3<>"$1" 4<>"$2"; while read -r x <&3; do i=0; while [ $i -lt $work ]; do i=$((i+1)); done; echo >&4; done; }
tasks() { for p in $2; do while read -r k a; do [ "$k" = Cpus_allowed_list: ] && echo "task $p $1 $a"; done < /proc/$p/status; done; }
sample() {
  read -r u x < /proc/uptime; echo "sample $u"
  while read -r l; do case $l in cpu[0-9]*) echo "cpustat $l";; cpu*) ;; *) break;; esac; done < /proc/stat
  while read -r l; do case $l in cpu[0-9]*) echo "rq $l";; esac; done < /proc/schedstat
  for p in $L $G $Q; do read -r l < /proc/$p/stat && set -- $l && read -r a b x < /proc/$p/schedstat && echo "ts $p $3 ${39} $a $b"; done
}
# The memory workload: a string of $mib MiB built by doubling while the task may run only on
# "start" (first touch puts its pages there), then read again and again (ash copies it for
# each ${#h}: the copies land where the task runs, the original stays until balancing moves
# it) after the task is moved to "pin". Sampled: /proc/vmstat's numa_* counters and the
# task's anonymous pages per node from its numa_maps (one awk each, every tick).
hog() { h=0123456789abcdef; i=16; while [ $i -lt $((mib*1048576)) ]; do h=$h$h; i=$((i*2)); done; : > /tmp/built; while :; do : ${#h}; done; }
msample() {
  read -r u x < /proc/uptime; echo "sample $u"
  $B awk '/^(numa_|pgmigrate_success )/ {printf " %s=%s", $1, $2} END {print ""}' /proc/vmstat | { read -r l; echo "vmstat $l"; }
  $B awk '/anon=/ {for (i = 1; i <= NF; i++) if ($i ~ /^N[0-9]+=/) {split(substr($i, 2), a, "="); n[a[1]] += a[2]}} END {for (k in n) printf " %s=%s", k, n[k]; print ""}' /proc/$1/numa_maps | { read -r l; echo "pages $l"; }
}
memwork() {
  [ -w /proc/sys/kernel/numa_balancing ] && echo "$balancing" > /proc/sys/kernel/numa_balancing
  nb=none; [ -r /proc/sys/kernel/numa_balancing ] && read -r nb < /proc/sys/kernel/numa_balancing
  $B taskset -p -c "$start" $$ > /dev/null
  hog & M=$!
  $B taskset -p -c "$all" $$ > /dev/null
  while [ ! -e /tmp/built ]; do read -t $tick x <&5; done
  r "stage workload-run"
  {
    echo "memory $M balancing=$nb mib=$mib from=$start to=$pin"; msample $M
    $B taskset -p -c "$pin" $M > /dev/null; echo "moved"
    read -r u x < /proc/uptime; e=$((${u%.*}+seconds))
    i=0; while [ $i -lt $samples ] && [ ${u%.*} -lt $e ]; do read -t $tick x <&5; msample $M; i=$((i+1)); done
  } > /tmp/work
  kill $M
}
workload() {
  set -f; IFS=,; set -- $W; unset IFS
  kind=$1; shift; threads=0; pinned=0; pairs=0; work=100; start=0; pin=0; seconds=16; samples=80; tick=0.25; mib=0; balancing=1
  for a; do case ${a%%=*} in threads|pinned|pairs|work|start|pin|seconds|samples|tick|mib|balancing) eval "${a%%=*}=\${a#*=}";; esac; done
  read -r all < /sys/devices/system/cpu/online
  r "workload $kind threads=$threads pinned=$pinned pairs=$pairs work=$work start=$start pin=$pin seconds=$seconds samples=$samples tick=$tick"
  r "stage workload-start"
  L=; G=; Q=
  $B mkfifo /tmp/tick; exec 5<>/tmp/tick
  if [ "$kind" = memory ]; then [ "$mib" -gt 0 ] && memwork; else
  $B taskset -p -c "$start" $$ > /dev/null
  i=0; while [ $i -lt $threads ]; do spin & L="$L $!"; i=$((i+1)); done
  i=0; while [ $i -lt $pairs ]; do
    $B mkfifo /tmp/a$i /tmp/b$i; pair /tmp/a$i /tmp/b$i & Q="$Q $!"; pair /tmp/b$i /tmp/a$i & Q="$Q $!"
    echo > /tmp/a$i; i=$((i+1))
  done
  $B taskset -p -c "$pin" $$ > /dev/null
  i=0; while [ $i -lt $pinned ]; do spin & G="$G $!"; i=$((i+1)); done
  $B taskset -p -c "$all" $$ > /dev/null
  for p in $L $Q; do $B taskset -p -c "$all" $p > /dev/null; done
  { tasks spin "$L"; tasks pinned "$G"; tasks pair "$Q"; } > /tmp/work
  r "stage workload-run"
  read -r u x < /proc/uptime; e=$((${u%.*}+seconds))
  i=0; while [ $i -lt $samples ] && [ ${u%.*} -lt $e ]; do sample; read -t $tick x <&5; i=$((i+1)); done >> /tmp/work
  kill $L $G $Q
  fi
  r "stage workload-report"
  while IFS= read -r l; do r "$l"; done < /tmp/work
  set +f
}
echo "@numaopt-report __VERSION__"
r "stage mount"
$B mount -t sysfs sysfs /sys
$B mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
read -r v rest < /proc/uptime; r "uptime $v"
read -r v < /proc/sys/kernel/osrelease; r "kernel $v"
read -r v < /proc/cmdline; r "cmdline $v"
W=; for a in $v; do case $a in numaopt.workload=*) W=${a#numaopt.workload=};; esac; done
S=/sys/devices/system
T=$S/cpu/cpu[0-9]*/topology
D=/sys/kernel/debug/sched/domains/cpu[0-9]*/domain[0-9]*
r "stage read-sysfs"
# One grep for every file: cpulists are sysfs binary attributes, which the shell's
# read builtin gets nothing from, and each fork costs tens of ms under TCG.
$B grep -H . $S/node/possible $S/node/online $S/node/has_cpu $S/node/has_memory \
  $S/cpu/possible $S/cpu/online $S/cpu/present \
  $S/node/node[0-9]*/cpulist $S/node/node[0-9]*/distance \
  $T/physical_package_id $T/die_id $T/core_id $T/thread_siblings_list $T/core_siblings_list \
  $T/cluster_cpus_list $D/name $D/flags > /tmp/sys 2>/dev/null
$B grep -H MemTotal $S/node/node[0-9]*/meminfo >> /tmp/sys 2>/dev/null
# HMAT as the guest built it: each memory node's best initiators (symlinks: only their
# names say anything), their latency and bandwidth, and its memory-side caches.
$B grep -H . $S/node/node[0-9]*/access0/initiators/*_* \
  $S/node/node[0-9]*/memory_side_cache/index[0-9]*/* >> /tmp/sys 2>/dev/null
for f in $S/node/node[0-9]*/access0/initiators/node[0-9]*; do [ -e "$f" ] && echo "$f:" >> /tmp/sys; done
while IFS= read -r l; do r "sys $l"; done < /tmp/sys
# Memory the guest got as DIMMs comes up offline (Debian's kernel does not online it by
# itself): online every offline block, then report each node's MemTotal again ("grown").
r "stage online-memory"
for f in $S/memory/memory[0-9]*/state; do read -r v < "$f" && [ "$v" = offline ] && echo online > "$f"; done
$B grep -H MemTotal $S/node/node[0-9]*/meminfo > /tmp/grown 2>/dev/null
while IFS= read -r l; do r "grown $l"; done < /tmp/grown
[ -n "$W" ] && workload
r "stage read-dmesg"
$B dmesg > /tmp/dmesg
while IFS= read -r l; do r "dmesg $l"; done < /tmp/dmesg
echo "@end $n $c"
echo "@stage reset"
$B sync
$B reboot -f
""".replace("__VERSION__", str(REPORT_VERSION))


class GuestKitError(NumaoptError):
    """The guest kit cannot be built: a tool or package is missing, or a download failed."""

    exit_code = 4


@dataclass(frozen=True, slots=True)
class GuestKit:
    """A bootable guest: the kernel, the initramfs, and where the kernel came from."""

    arch: str
    kernel: Path
    initrd: Path
    kernel_source: str  # "debian linux-image-6.1.0-56-cloud-amd64 6.1.192-2" or the given path
    kernel_release: str | None = None


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/numaopt``, else ``~/.cache/numaopt`` (the XDG base directory rule:
    a relative ``XDG_CACHE_HOME`` is ignored), for root as for any user."""
    return Path(user_cache_dir("numaopt"))


def _arch_info(arch: str) -> tuple[str, str, int]:
    try:
        return _ARCHES[arch]
    except KeyError:
        raise InputError(f"unknown guest architecture {arch!r} (valid: {', '.join(_ARCHES)})") from None


# ---------------------------------------------------------------------------------------
# Files


def _write_atomically(path: Path, data: bytes, executable: bool = False) -> None:
    """Write through a temporary name, fsync'd, and a rename: a reader (another fuzz worker)
    sees the old file or the whole new one. The file gets 0666 (0777 when ``executable``)
    minus the umask, as any file the user makes (mkstemp would give 0600 whatever the
    umask); the temporary name is ``files.remove_stale``'s (dot, name, pid, token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o777 if executable else 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _scratch(directory: Path) -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=".scratch-", dir=directory))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# ELF and kernel images


def _elf_facts(path: Path) -> tuple[int, bool] | None:
    """(e_machine, statically linked) of a 64-bit little-endian ELF file, else None."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(64)
            if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
                return None
            machine = int.from_bytes(header[18:20], "little")
            phoff = int.from_bytes(header[32:40], "little")
            phentsize = int.from_bytes(header[54:56], "little")
            phnum = int.from_bytes(header[56:58], "little")
            handle.seek(phoff)
            table = handle.read(phentsize * phnum)
    except OSError:
        return None
    pt_interp = 3
    dynamic = any(
        int.from_bytes(table[i * phentsize : i * phentsize + 4], "little") == pt_interp for i in range(phnum)
    )
    return machine, not dynamic


def check_kernel(path: Path, arch: str) -> None:
    """Refuse a path that is not a kernel image QEMU's ``-kernel`` can boot for ``arch``.

    x86: a bzImage ("HdrS" at 0x202). arm64: an Image ("ARM\\x64" at 0x38), a gzip'd
    Image (Debian's vmlinuz) or an EFI zboot image ("zimg" at 4).
    """
    _arch_info(arch)
    hint = f"omit --kernel to use Debian's {_ARCHES[arch][1]} (fetched with apt-get into {cache_dir()})"
    try:
        with open(path, "rb") as handle:
            head = handle.read(0x240)
    except FileNotFoundError:
        raise InputError(f"no such kernel image: {hint}", source=str(path)) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not a kernel image: {hint}", source=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read the kernel image: {exc.strerror or exc}", source=str(path)) from None
    if arch == "x86_64":
        if head[0x202:0x206] != b"HdrS":
            raise InputError(f"not an x86 Linux kernel (bzImage): no 'HdrS' header at 0x202; {hint}", source=str(path))
    elif not (head[0x38:0x3C] == b"ARM\x64" or head[:2] == b"\x1f\x8b" or head[4:8] == b"zimg"):
        raise InputError(f"not an arm64 Linux kernel (Image, gzip'd Image or EFI zboot); {hint}", source=str(path))


def kernel_arch(path: Path) -> str:
    """The guest architecture a kernel image boots ("x86_64" or "aarch64"), read from its
    header as ``check_kernel`` does, so that ``--kernel`` applies to its architecture's
    guests in a campaign of both."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(0x240)
    except OSError as exc:
        raise InputError(f"cannot read the kernel image: {exc.strerror or exc}", source=str(path)) from None
    if head[0x202:0x206] == b"HdrS":
        return "x86_64"
    if head[0x38:0x3C] == b"ARM\x64" or head[:2] == b"\x1f\x8b" or head[4:8] == b"zimg":
        return "aarch64"
    raise InputError(
        "not a Linux kernel image: expected an x86 bzImage ('HdrS' at 0x202) or an arm64 Image "
        "('ARM\\x64' at 0x38, gzip'd or EFI zboot)", source=str(path),
    )


# ---------------------------------------------------------------------------------------
# initramfs


def cpio_newc(entries: list[tuple[str, int, bytes, tuple[int, int]]]) -> bytes:
    """A cpio "newc" archive of (name, mode, data, (rdev major, minor)), root-owned.

    The format the kernel unpacks (init/initramfs.c): a 110-byte ASCII header, the name
    NUL-terminated and padded to 4 bytes, the data padded to 4 bytes, then "TRAILER!!!".
    """
    out = bytearray()
    for inode, (name, mode, data, (major, minor)) in enumerate([*entries, ("TRAILER!!!", 0, b"", (0, 0))], start=1):
        encoded = name.encode() + b"\0"
        fields = (inode, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(encoded), 0)
        out += b"070701" + "".join(f"{value:08x}" for value in fields).encode() + encoded
        out += b"\0" * (-len(out) % 4)
        out += data + b"\0" * (-len(data) % 4)
    out += b"\0" * (-len(out) % 512)
    return bytes(out)


def build_initramfs(busybox: Path, init_script: str = INIT_SCRIPT) -> bytes:
    """The gzip'd initramfs: /bin/busybox, /init, /dev/console and the mount points."""
    directory = stat.S_IFDIR | 0o755
    entries: list[tuple[str, int, bytes, tuple[int, int]]] = [
        (name, directory, b"", (0, 0)) for name in ("bin", "dev", "proc", "sys", "tmp")
    ]
    # Without /dev/console the kernel starts init with no stdout ("unable to open an initial console").
    entries.append(("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1)))
    entries.append(("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes(), (0, 0)))
    entries.append(("init", stat.S_IFREG | 0o755, init_script.encode(), (0, 0)))
    return gzip.compress(cpio_newc(entries), compresslevel=6, mtime=0)


def find_busybox(arch: str) -> Path | None:
    """An installed, statically linked busybox for ``arch`` (Debian: busybox-static)."""
    _, _, machine = _arch_info(arch)
    candidates = [shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"]
    for candidate in candidates:
        if candidate and _elf_facts(Path(candidate)) == (machine, True):
            return Path(candidate).resolve()
    return None


# ---------------------------------------------------------------------------------------
# Debian packages


def _run(argv: list[str], cwd: Path, what: str) -> str:
    tool = argv[0]
    if shutil.which(tool) is None:
        raise GuestKitError(
            f"{tool} not found: numaopt fetches {what} from Debian's package registry with apt-get and dpkg-deb; "
            "on a system without them pass --kernel PATH and install a static busybox"
        )
    completed = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if completed.returncode != 0:
        detail = " ".join((completed.stderr or completed.stdout).split())[-400:]
        hint = " (run apt-get update first?)" if tool.startswith("apt") else ""
        raise GuestKitError(f"{' '.join(argv)} failed with status {completed.returncode}: {detail}{hint}")
    return completed.stdout


def _download(package: str, scratch: Path, apt_options: list[str]) -> Path:
    """``apt-get download PACKAGE`` into ``scratch``; the .deb's path."""
    _run(["apt-get", *apt_options, "download", "-q", package], scratch, f"the Debian package {package}")
    debs = sorted(scratch.glob(f"{package}_*.deb"))
    if not debs:
        raise GuestKitError(f"apt-get download {package} wrote no .deb in {scratch}")
    return debs[-1]


def _apt_for(dpkg_arch: str, cache: Path, refresh: bool) -> list[str]:
    """apt-get options that download ``dpkg_arch`` packages.

    The host's own architecture uses the host's package lists as they are. A foreign one
    (arm64 packages on an amd64 machine) gets an apt state of its own in the cache: the
    host's sources (and their signing keys), package lists for that architecture only, an
    empty dpkg status. Nothing of the host changes: no `dpkg --add-architecture`, no
    update of its lists, and a mirror without that architecture cannot break its apt.
    """
    if dpkg_arch == _host_dpkg_arch():
        return []
    return _private_apt(cache / "guest" / f"apt-{dpkg_arch}", dpkg_arch, [], refresh, f"Debian's {dpkg_arch} package lists")


def _private_apt(state: Path, dpkg_arch: str, sources: list[str], refresh: bool, what: str) -> list[str]:
    """apt-get options for an apt state of numaopt's own in ``state`` (lists, archives, an
    empty dpkg status) that downloads ``dpkg_arch`` packages; ``sources``: extra options
    naming where from. Its lists are fetched when missing or asked for (``refresh``)."""
    for folder in (state / "lists" / "partial", state / "archives" / "partial"):
        folder.mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    options = [
        f"-oAPT::Architecture={dpkg_arch}",
        f"-oAPT::Architectures::={dpkg_arch}",
        *sources,
        f"-oDir::State::Lists={state / 'lists'}",
        f"-oDir::State::status={state / 'status'}",
        f"-oDir::Cache={state}",
        f"-oDir::Cache::archives={state / 'archives'}",
        "-oDebug::NoLocking=1",  # this state is ours alone, and build_kit holds the cache lock
    ]
    if os.geteuid() == 0:  # apt's download user cannot enter a root-owned cache: download as root, quietly
        options.append("-oAPT::Sandbox::User=root")
    if refresh or not any(state.joinpath("lists").glob("*_Packages*")):
        _run(["apt-get", *options, "-q", "update"], state, what)
    return options


# A second kernel to compare with (``numaopt fuzz --kernel A --kernel B``): Debian's own
# archive, signed with the key every Debian system has (package debian-archive-keyring).
DEBIAN_ARCHIVE = "http://deb.debian.org/debian"
DEBIAN_SECURITY = "http://deb.debian.org/debian-security"  # the archive of the *-security suites
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
_SUITE = re.compile(r"[a-z0-9][a-z0-9.-]*")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9.+-]+")


def _apt_for_suite(dpkg_arch: str, suite: str, cache: Path, refresh: bool) -> list[str]:
    """apt-get options that download ``dpkg_arch`` packages from Debian's ``suite`` alone
    (e.g. bookworm-backports), through an apt state of their own in the cache like
    ``_apt_for``'s, with its own one-line sources list: the host's sources, lists and
    dpkg state are neither read nor changed."""
    if not _SUITE.fullmatch(suite):  # it names a folder of the cache and a line of a sources list
        raise InputError(f"not a Debian suite name: {suite!r} (valid: lower-case letters, digits, '.' and '-', e.g. bookworm-backports)")
    if not DEBIAN_KEYRING.is_file():
        raise GuestKitError(f"{DEBIAN_KEYRING} not found: it verifies Debian's {suite} lists (apt-get install debian-archive-keyring)")
    state = cache / "guest" / f"apt-{dpkg_arch}-{suite}"
    (state / "sources.list.d").mkdir(parents=True, exist_ok=True)
    sources = state / "sources.list"
    archive = DEBIAN_SECURITY if suite.endswith("-security") else DEBIAN_ARCHIVE
    line = f"deb [signed-by={DEBIAN_KEYRING}] {archive} {suite} main\n"
    if not sources.is_file() or sources.read_text(encoding="utf-8") != line:
        _write_atomically(sources, line.encode())
    own_sources = [
        f"-oDir::Etc::SourceList={sources}",
        f"-oDir::Etc::SourceParts={state / 'sources.list.d'}",  # empty: none of the host's sources
    ]
    return _private_apt(state, dpkg_arch, own_sources, refresh, f"Debian's {suite} package lists")


def _deb_field(deb: Path, field: str) -> str:
    return _run(["dpkg-deb", "-f", str(deb), field], deb.parent, "package facts").strip()


def _deb_members(deb: Path, wanted: tuple[str, ...]) -> dict[str, bytes]:
    """Regular files under ``wanted`` prefixes from a .deb's data archive (``dpkg -x`` for a few files)."""
    if shutil.which("dpkg-deb") is None:
        raise GuestKitError("dpkg-deb not found: it unpacks Debian's kernel and busybox packages (Debian package dpkg)")
    process = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    found: dict[str, bytes] = {}
    try:
        assert process.stdout is not None
        with tarfile.open(fileobj=process.stdout, mode="r|*") as archive:
            for member in archive:
                name = member.name.removeprefix("./")
                if member.isfile() and name.startswith(wanted):
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        found[name] = extracted.read()
    except tarfile.TarError as exc:
        raise GuestKitError(f"cannot unpack {deb.name}: {exc}") from None
    finally:
        if process.stdout is not None:
            process.stdout.close()
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if process.stderr is not None:
            process.stderr.close()
        returncode = process.wait()
    if returncode != 0:
        raise GuestKitError(f"dpkg-deb --fsys-tarfile {deb.name} failed: {' '.join(stderr.split())[-300:]}")
    return found


def _debian_kernel(
    arch: str, cache: Path, refresh: bool, suite: str | None = None, package: str | None = None
) -> tuple[Path, str, str]:
    """The cached Debian cloud kernel for ``arch`` (fetched when absent or ``refresh``), from
    the host's sources, or from ``suite`` (``_apt_for_suite``); ``package`` names another
    kernel metapackage than linux-image-cloud-<arch> (e.g. linux-image-6.12-cloud-amd64)."""
    dpkg_arch, metapackage, _ = _ARCHES[arch]
    if package is not None and not _PACKAGE.fullmatch(package):
        raise InputError(f"not a Debian package name: {package!r} (e.g. linux-image-6.12-cloud-amd64)")
    metapackage = package or metapackage
    name = "-".join(part for part in ("debian-kernel", suite, package) if part)
    record_path = cache / "guest" / arch / f"{name}.json"
    if not refresh and record_path.exists():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        kernel = Path(record["kernel"])
        if kernel.is_file():
            return kernel, record["source"], record["release"]
    apt = _apt_for(dpkg_arch, cache, refresh) if suite is None else _apt_for_suite(dpkg_arch, suite, cache, refresh)
    with _scratch(cache / "guest") as scratch:
        meta = _download(metapackage, scratch, apt)
        depends = _deb_field(meta, "Depends")
        image = next((part.strip().split()[0] for part in depends.split(",") if part.strip().startswith("linux-image-")), None)
        if image is None:
            raise GuestKitError(f"{metapackage} depends on no linux-image package (Depends: {depends})")
        deb = _download(image, scratch, apt)
        version = _deb_field(deb, "Version")
        files = _deb_members(deb, ("boot/vmlinuz-", "boot/config-"))
        vmlinuz = next((name for name in files if name.startswith("boot/vmlinuz-")), None)
        if vmlinuz is None:
            raise GuestKitError(f"{deb.name} holds no boot/vmlinuz-*")
        release = vmlinuz.removeprefix("boot/vmlinuz-")
        target = cache / "guest" / arch / f"{image}_{version}"
        for name, data in files.items():
            _write_atomically(target / Path(name).name, data)
    kernel = target / f"vmlinuz-{release}"
    source = f"debian {image} {version}"
    record = {"kernel": str(kernel), "source": source, "release": release}
    _write_atomically(record_path, (json.dumps(record, indent=2) + "\n").encode())
    return kernel, source, release


def _host_dpkg_arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _busybox(arch: str, cache: Path) -> Path:
    """A static busybox: the installed one, else busybox-static's from the cache or apt-get."""
    installed = find_busybox(arch)
    if installed is not None:
        return installed
    dpkg_arch, _, machine = _ARCHES[arch]
    cached = cache / "guest" / arch / "busybox"
    if cached.is_file() and _elf_facts(cached) == (machine, True):
        return cached
    apt = _apt_for(dpkg_arch, cache, refresh=False)
    with _scratch(cache / "guest") as scratch:
        deb = _download("busybox-static", scratch, apt)
        files = _deb_members(deb, ("bin/busybox", "usr/bin/busybox"))
    data = files.get("bin/busybox") or files.get("usr/bin/busybox")
    if data is None:
        raise GuestKitError("busybox-static's package holds no bin/busybox: install busybox-static with apt-get")
    _write_atomically(cached, data, executable=True)
    return cached


# ---------------------------------------------------------------------------------------
# The kit


def build_kit(
    kernel: Path | None = None,
    arch: str = "x86_64",
    cache: Path | None = None,
    refresh: bool = False,
    suite: str | None = None,
    package: str | None = None,
) -> GuestKit:
    """The guest kit for ``arch``, built into ``cache`` (default ``cache_dir()``) as needed.

    ``kernel`` None means Debian's cloud kernel, fetched once and then reused (from the
    Debian ``suite`` when given, e.g. "bookworm-backports" for a second kernel to compare
    with, and as the metapackage ``package`` when given); ``refresh`` fetches it again (a
    newer point release) and rebuilds the initramfs.
    """
    _arch_info(arch)
    cache = cache or cache_dir()
    if kernel is not None:
        check_kernel(kernel, arch)
    # Serialise builds: fuzz workers may all start with an empty cache.
    with FileLock(cache / "guest" / ".lock"):
        if kernel is None:
            kernel_path, source, release = _debian_kernel(arch, cache, refresh, suite, package)
        else:
            kernel_path, source = kernel.resolve(), str(kernel)
            release = None
        check_kernel(kernel_path, arch)
        busybox = _busybox(arch, cache)
        digest = hashlib.sha256()
        digest.update(busybox.read_bytes())
        digest.update(INIT_SCRIPT.encode())
        initrd = cache / "guest" / arch / f"initramfs-{digest.hexdigest()[:16]}.cpio.gz"
        if refresh or not initrd.is_file():
            _write_atomically(initrd, build_initramfs(busybox, INIT_SCRIPT))  # the script hashed above
    return GuestKit(arch=arch, kernel=kernel_path, initrd=initrd, kernel_source=source, kernel_release=release)


def load_kit(kernel: Path | None = None, arch: str = "x86_64", cache: Path | None = None) -> GuestKit:
    """The kit as cached (building only what is missing): what ``verify --boot`` and ``fuzz`` use."""
    return build_kit(kernel, arch, cache, refresh=False)
