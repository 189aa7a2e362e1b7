"""Seeded batches of varied, valid NUMA layouts (``numaopt generate``).

``resolve(Knobs(...))`` validates the knobs up front (one-line ``KnobError``);
``generate_items(space, seed, indices)`` makes items; ``write_batch`` writes a batch
directory (files, ``index.jsonl``, coverage) and ``write_item`` item K alone.
See docs/generate.md.
"""

from numaopt.generate.batch import Generated, GenerationBug, Skipped, generate_items, iter_generated
from numaopt.generate.canonical import canonical_certificate, canonical_keys
from numaopt.generate.classes import hop_diameter
from numaopt.generate.coverage import Coverage
from numaopt.generate.knobs import (
    Family,
    KnobError,
    Knobs,
    Metric,
    Range,
    SocketMode,
    Space,
    Symmetry,
    resolve,
)
from numaopt.generate.render import args_text, problem_dict, toml_text
from numaopt.generate.streams import child_keys
from numaopt.generate.writer import (
    BatchReport,
    GenerateError,
    OutputKind,
    layout_id,
    write_batch,
    write_item,
)

__all__ = [
    "BatchReport",
    "Coverage",
    "Family",
    "GenerateError",
    "Generated",
    "GenerationBug",
    "KnobError",
    "Knobs",
    "Metric",
    "OutputKind",
    "Range",
    "Skipped",
    "SocketMode",
    "Space",
    "Symmetry",
    "args_text",
    "canonical_certificate",
    "canonical_keys",
    "child_keys",
    "generate_items",
    "hop_diameter",
    "iter_generated",
    "layout_id",
    "problem_dict",
    "resolve",
    "toml_text",
    "write_batch",
    "write_item",
]
