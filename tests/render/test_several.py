"""Several VMs in one text: join_vms and split_vms are each other's inverse."""

from __future__ import annotations

from numaopt.render.several import join_vms, split_vms


def test_split_reads_back_what_join_writes() -> None:
    texts = {"db": "qemu-system-x86_64 -m 1G\n", "web": "-machine q35 \\\n  -m 2G\n", "batch": ""}
    assert split_vms(join_vms(texts)) == list(texts.items())


def test_one_vm_without_headers_is_not_split() -> None:
    assert split_vms("qemu-system-x86_64 -m 1G  # vm db\n") is None
