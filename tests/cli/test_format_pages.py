"""Every ``solve --format`` choice has its page under docs/formats/, linked from
docs/output-formats.md, and each page's example is what numaopt prints for it: the test
runs the command the page names and compares the output with the page's first code block."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from numaopt import clock
from numaopt.cli import main
from numaopt.cli.solve import OutputFormat

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "docs" / "formats"
FORMATS = [fmt.value for fmt in OutputFormat]
# The example's command (``numaopt solve ...`` in backquotes, then "prints:") and its block.
_EXAMPLE = re.compile(r"^`(numaopt solve [^`]+)` prints:\n\n```[a-z]*\n(.*?)^```$", re.M | re.S)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        main(args)
    except SystemExit as stop:
        assert not stop.code, capsys.readouterr().err
    return capsys.readouterr().out


def _without_clock(text: str) -> object:
    """A plan's JSON less the one field that is measured, not computed."""
    return {key: value for key, value in json.loads(text).items() if key != "wall_time_s"}


def test_every_format_has_a_page_linked_from_the_index() -> None:
    index = (ROOT / "docs" / "output-formats.md").read_text()
    assert "docs/output-formats.md" in (ROOT / "README.md").read_text()
    for fmt in FORMATS:
        page = PAGES / f"{fmt}.md"
        assert page.is_file(), f"--format {fmt} has no page: write docs/formats/{fmt}.md"
        assert page.read_text().startswith(f"# `--format {fmt}`\n")
        assert f"](formats/{fmt}.md)" in index
    assert sorted(p.stem for p in PAGES.glob("*.md")) == sorted(FORMATS)  # no page for a format that is gone


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pages_example_is_what_numaopt_prints(fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Time limits count from the process start; inside pytest that start is long past.
    monkeypatch.setattr(clock, "process_age_s", lambda: 0.0)
    monkeypatch.chdir(ROOT)  # the pages name problems/ relative to the repository
    found = _EXAMPLE.search((PAGES / f"{fmt}.md").read_text())
    assert found, f"docs/formats/{fmt}.md: no '`numaopt solve ...` prints:' followed by a code block"
    command, shown = shlex.split(found.group(1)), found.group(2)
    assert command[:2] == ["numaopt", "solve"] and command[command.index("--format") + 1] == fmt
    printed = _run([*command[1:], "-q"], capsys)
    if fmt == "json":
        assert _without_clock(printed) == _without_clock(shown)
    else:
        assert printed == shown


def test_libvirt_is_libvirt_domain_under_its_older_name(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "process_age_s", lambda: 0.0)
    monkeypatch.chdir(ROOT)
    older = _run(["solve", "problems/hugepages.toml", "--format", "libvirt", "-q"], capsys)
    assert older.startswith("<domain") and older == _run(["solve", "problems/hugepages.toml", "--format", "libvirt-domain", "-q"], capsys)
