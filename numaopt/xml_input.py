"""XML from a user's file, parsed defensively: no entity declarations (no "billion
laughs"), nesting bounded, and the line each element starts on kept for one-line errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import NoReturn
from xml.parsers import expat

from numaopt.errors import InputError

MAX_DEPTH = 200  # hwloc XML and libvirt domains are about ten deep


class XmlDocument:
    """An element tree that remembers the line each element starts on, for errors.
    ``kind`` names the format in messages ("hwloc XML"), ``expected`` says what to give."""

    def __init__(self, text: str, source: str, kind: str, expected: str):
        self.source = source
        self.lines: dict[int, int] = {}
        builder = ET.TreeBuilder()
        parser = expat.ParserCreate()
        depth = 0

        def start(tag: str, attrs: dict[str, str]) -> None:
            nonlocal depth
            depth += 1
            if depth > MAX_DEPTH:  # keeps any walk's recursion bounded
                raise InputError(
                    f"elements nested deeper than {MAX_DEPTH} levels ({kind} is about 10 deep)",
                    source=source,
                    where=f"line {parser.CurrentLineNumber}",
                )
            self.lines[id(builder.start(tag, attrs))] = parser.CurrentLineNumber

        def end(tag: str) -> None:
            nonlocal depth
            depth -= 1
            builder.end(tag)

        def refuse_entities(*_: object) -> NoReturn:
            raise InputError(
                f"XML entity declarations are not allowed in {kind}", source=source, where=f"line {parser.CurrentLineNumber}"
            )

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = builder.data
        parser.EntityDeclHandler = refuse_entities
        try:
            parser.Parse(text.removeprefix("\ufeff"), True)
        except expat.ExpatError as exc:
            raise InputError(
                f"not well-formed XML ({expat.ErrorString(exc.code)}): {expected}", source=source, where=f"line {exc.lineno}"
            ) from None
        self.root = builder.close()

    def error(self, message: str, element: ET.Element) -> InputError:
        return InputError(message, source=self.source, where=f"line {self.lines.get(id(element), 1)}")
