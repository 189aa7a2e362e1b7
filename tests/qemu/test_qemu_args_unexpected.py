"""Which of several unexpected -smp keys QEMU 7.2 names (numaopt/qemu/args/unexpected.py).

The recorded cases are QEMU's own answers (qemu-system-x86_64 7.2, Debian 12, GLib 2.74),
picked from 240 random -smp options that all agreed; the qemu-marked test asks the real
QEMU again on fresh random options.
"""

from __future__ import annotations

import random
import re
import subprocess

import pytest

from numaopt.errors import QemuArgsError
from numaopt.qemu.args import read_qemu_args
from numaopt.qemu.args.unexpected import first_unexpected, qdict_order

MEMBERS = ("cpus", "sockets", "dies", "clusters", "cores", "threads", "maxcpus")
UNKNOWN = ("drawers", "books", "modules", "foo", "bar", "x", "node", "socketz", "a1", "threadz", "zz", "cache", "qq")
# (-smp value, the key QEMU 7.2 named in "Parameter 'smp.KEY' is unexpected")
RECORDED = [
    ("8,drawers=1,books=1,sockets=2,dies=1,clusters=1,modules=1,cores=2,threads=2,maxcpus=8", "modules"),
    ("4,books=1", "books"),
    ("node=1,threads=1,books=1,foo=1,cores=1,sockets=1,dies=1,zz=1,drawers=1,modules=1,cpus=1,clusters=1", "drawers"),
    ("bar=1,socketz=1,threads=1,cpus=1,books=1,modules=1,a1=1,clusters=1,cache=1,sockets=1,maxcpus=1", "bar"),
    ("sockets=1,dies=1,cpus=1,x=1,dies2=1,cores=1", "x"),
    ("cores=1,foo=1,zz=1", "zz"),
    ("threads=1,threadz=1,cpus=1,qq=1,maxcpus=1,cores=1,sockets=1,zz=1,socketz=1,clusters=1", "socketz"),
    ("threadz=1,socketz=1,modules=1,zz=1,dies=1", "threadz"),
    ("node=1,socketz=1,maxcpus=1,cpus=1", "socketz"),
]


def named(smp: str) -> str:
    """The key numaopt's reading names for ``-smp smp``."""
    with pytest.raises(QemuArgsError) as error:
        read_qemu_args(f"qemu-system-x86_64 -machine q35 -smp {smp}")
    match = re.search(r"Parameter 'smp\.([^']*)' is unexpected", str(error.value))
    assert match, str(error.value)
    return match.group(1)


@pytest.mark.parametrize(("smp", "qemu"), RECORDED)
def test_names_the_key_qemu_named(smp: str, qemu: str) -> None:
    assert named(smp) == qemu


def test_qdict_order_is_by_bucket_not_by_writing() -> None:
    keys = ["cpus", "drawers", "books", "sockets", "modules"]
    assert sorted(qdict_order(keys)) == sorted(keys)
    assert qdict_order(keys) == qdict_order(list(reversed(keys)))  # no two share a bucket
    assert first_unexpected(["cpus", "sockets"], ["cpus", "sockets"]) is None


@pytest.mark.qemu
def test_real_qemu_names_the_same_key() -> None:
    rng = random.Random()
    for _ in range(12):
        keys = rng.sample(MEMBERS, rng.randint(0, 7)) + rng.sample(UNKNOWN, rng.randint(1, 6))
        rng.shuffle(keys)
        smp = ",".join(f"{key}=1" for key in keys)
        result = subprocess.run(
            ["qemu-system-x86_64", "-machine", "q35", "-smp", smp, "-S", "-display", "none", "-nodefaults"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        match = re.search(r"Parameter 'smp\.([^']*)' is unexpected", result.stderr)
        assert match, result.stderr
        assert named(smp) == match.group(1), smp
