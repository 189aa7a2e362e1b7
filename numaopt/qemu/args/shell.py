"""Shell text -> argv, as a POSIX shell splits a pasted QEMU command.

This is the only module that sees the text: everything after it works on words. It is
apart from the option grammar because it knows nothing of QEMU (quotes, backslashes,
``#`` comments, continuations, a byte-order mark, CRLF) and because it is the part that
must stay linear in the length of the text: a pasted command may hold a 10 MB argument
(benchmarks/bench_inputs.py), and ``shlex``, which grows each word one character at a
time, takes 13 s for 1 MB.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from numaopt.errors import QemuArgsError

_BLANKS = re.compile(r"[ \t\r\n]+")  # shlex's whitespace (str.split would also split at \x1c or NBSP)
# Outside quotes: a run of word characters and backslash-escaped characters.
_UNQUOTED = re.compile(r"(?:[^ \t\r\n\\'\"]++|\\[^\n])++")
# A "#" after an (unescaped) shell operator character starts a comment: the operator ended
# the word. This matches the longest start of a run without such a "#".
_BEFORE_COMMENT = re.compile(r"(?:[^\\;&|()<>]++|\\.|[;&|()<>]++(?!#))*+", re.DOTALL)
_OPERATORS = re.compile(r"[;&|()<>]+")
# A whole double-quoted string; possessive, so an unclosed quote fails in linear time.
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\]++|\\.)*+)"', re.DOTALL)


def split_command(text: str, source: str = "<args>") -> list[str]:
    """Shell text -> argv, as a POSIX shell splits it: backslash-newline continuations and
    ``#`` comments (at the start of a word) removed, quotes and backslashes as ``shlex``
    (posix mode) reads them.

    Linear in the length of the text, and fast: text without quotes, comments or escapes
    (the common case) is split by one regular expression; otherwise each run of unquoted
    characters and each quoted string is found by one search and every word is joined
    once (``shlex`` grows each word one character at a time, which is quadratic: 13 s for
    a 1 MB argument).
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    joined = text.replace("\\\n", "")
    if not any(c in joined for c in "\\'\"#"):
        return [word for word in _BLANKS.split(joined) if word]
    return _split_quoted(text, source)


def _split_quoted(text: str, source: str) -> list[str]:
    """``split_command`` for text with quotes, escapes or comments: one step per run."""
    words: list[str] = []
    word: list[str] = []
    open_word = False  # a word has started (an empty quoted word counts)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            if open_word:
                words.append("".join(word))
                word, open_word = [], False
            blanks = _BLANKS.match(text, i)
            i = blanks.end() if blanks else i + 1
            continue
        if c == "#" and not open_word:
            i = _line_end(text, i)
            continue
        if c == "\\" and i + 1 >= n:
            raise _split_error(source, "the text ends with a lone backslash")
        if c == "\\" and text[i + 1] == "\n":
            i += 2  # a continuation joins the lines
            continue
        if c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise _split_error(source, f"the single quote at {_position(text, i)} is never closed")
            word.append(text[i + 1 : end])
            i = end + 1
        elif c == '"':
            quoted = _DOUBLE_QUOTED.match(text, i)
            if quoted is None:
                raise _split_error(source, f"the double quote at {_position(text, i)} is never closed")
            word.append(_unescape(quoted.group(1), _in_double_quotes))
            i = quoted.end()
        else:
            chunk, i = _unquoted_run(text, i)
            word.append(_unescape(chunk, _unquoted) if "\\" in chunk else chunk)
        open_word = True
    if open_word:
        words.append("".join(word))
    return words


def _unquoted_run(text: str, start: int) -> tuple[str, int]:
    """The run of unquoted characters at ``start`` (escapes still in it) and where reading
    goes on: past the run, or to the end of the line when a comment starts inside it."""
    run = _UNQUOTED.match(text, start)
    assert run is not None  # text[start] is a word character, or a backslash before one
    chunk, end = run.group(), run.end()
    if "#" in chunk:
        kept = _BEFORE_COMMENT.match(chunk)
        assert kept is not None  # the pattern matches the empty string
        if kept.end() < len(chunk):  # operator characters, then a comment
            operators = _OPERATORS.match(chunk, kept.end())
            assert operators is not None
            chunk = chunk[: operators.end()]
            end = _line_end(text, start + operators.end())
    return chunk, end


def _unescape(text: str, single: Callable[[str], str]) -> str:
    """Backslash escapes resolved left to right with string operations (no per-escape Python
    code): each escaped backslash (a pair, taken left to right) stands aside as a character
    the text does not hold, ``single`` resolves the other escapes, then the pairs become
    one backslash each."""
    if "\\\\" not in text:
        return single(text)
    for spare in ("\x00", "\ue000", "\ue001", "\ue002"):
        if spare not in text:
            return single(text.replace("\\\\", spare)).replace(spare, "\\")
    return "\\".join(single(part) for part in text.split("\\\\"))


def _unquoted(part: str) -> str:
    return part.replace("\\", "")  # outside quotes a backslash escapes any character


def _in_double_quotes(part: str) -> str:
    # Inside double quotes a backslash escapes " and joins lines; before anything else it stays.
    return part.replace('\\"', '"').replace("\\\n", "")


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    return f"line {line}, column {index - (text.rfind(chr(10), 0, index) + 1) + 1}"


def _split_error(source: str, message: str) -> QemuArgsError:
    return QemuArgsError(f"cannot split the text into arguments: {message} (check the quotes)", source=source)
