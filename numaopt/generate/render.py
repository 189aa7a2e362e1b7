"""The files of a generated layout, each written by its one renderer in ``numaopt.render``.

The problem TOML is ``numaopt.render.toml.problem_toml`` (the explicit ``[guest]`` form,
which ``numaopt.problem.parse_problem`` reads back to an equal ``GuestLayout``), the
argument file ``numaopt.render.qemu.shell_text``, the plan ``numaopt.render.json``. Each
takes a ``GuestLayout`` or a batch's compact ``Generated`` item; ``render_files`` in the
writer builds the layout once for all three.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from numaopt.model import GuestLayout, Plan
from numaopt.render import toml
from numaopt.render.json import plan_to_json
from numaopt.render.qemu import shell_text

if TYPE_CHECKING:
    from numaopt.generate.batch import Generated


def _layout(item: GuestLayout | Generated) -> GuestLayout:
    return item if isinstance(item, GuestLayout) else item.layout


def problem_dict(item: GuestLayout | Generated) -> dict[str, Any]:
    """The problem file as plain data (``rules`` first, then ``[guest]``)."""
    return toml.problem_dict(_layout(item))


def toml_text(item: GuestLayout | Generated, header: str = "") -> str:
    """The problem TOML; ``header`` lines are written first as comments."""
    return toml.problem_toml(_layout(item), header)


def args_text(item: GuestLayout | Generated) -> str:
    """The QEMU argument file: ``numaopt.render.qemu.shell_text`` of the layout."""
    return shell_text(_layout(item))


def json_text(item: GuestLayout | Generated) -> str:
    """The plan JSON (``numaopt.render.json``) of the layout."""
    return plan_to_json(Plan(layout=_layout(item)))
