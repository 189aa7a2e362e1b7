"""Several VMs' configurations in one text, as `solve` prints them for a [[vm]] problem
without --out: each VM's text after a ``# vm NAME`` line. ``split_vms`` reads it back
(``check`` judges each VM on its own)."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^# vm (\S+)\n", flags=re.MULTILINE)


def join_vms(texts: dict[str, str]) -> str:
    """One text: ``# vm NAME`` then that VM's text, in the given order."""
    return "".join(f"# vm {name}\n{text}" for name, text in texts.items())


def split_vms(text: str) -> list[tuple[str, str]] | None:
    """(name, text) per VM of a ``join_vms`` text; None for the text of one VM (no headers)."""
    heads = list(_HEADER.finditer(text))
    if not heads:
        return None
    ends = [head.start() for head in heads[1:]] + [len(text)]
    return [(head.group(1), text[head.end() : end]) for head, end in zip(heads, ends, strict=True)]
