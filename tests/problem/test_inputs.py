"""numaopt.inputs and the error line guard: capped reads, UTF-8, quoting, bounds."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numaopt.errors import MAX_MESSAGE_CHARS, InputError, one_line_message
from numaopt.inputs import bounded_int, bounded_seconds, decode_text, plain, read_stream, read_text, shown
from numaopt.units import parse_cpulist, parse_duration, parse_size


def test_read_text_drops_a_bom_and_reads_exactly_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"\xef\xbb\xbf" + b"a" * 97)
    assert read_text(path, cap=100) == "a" * 97
    path.write_bytes(b"a" * 101)
    with pytest.raises(InputError, match=r"larger than 0 MiB"):
        read_text(path, cap=100)


def test_read_text_refuses_an_endless_device() -> None:
    with pytest.raises(InputError) as info:
        read_text("/dev/zero", cap=1 << 20)
    assert str(info.value) == "/dev/zero: larger than 1 MiB, the most numaopt reads from one input"


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing", "no such file"), (".", "is a directory, expected a file"), ("a\x00b", "not a valid file name")],
)
def test_read_text_failures_name_the_file(tmp_path: Path, name: str, message: str) -> None:
    path = tmp_path / name if name != "." else tmp_path
    with pytest.raises(InputError) as info:
        read_text(str(path) if "\x00" not in name else f"{tmp_path}/{name}")
    assert str(info.value).endswith(f": {message}")
    assert "\x00" not in str(info.value)


def test_decode_names_the_first_bad_byte() -> None:
    with pytest.raises(InputError) as info:
        decode_text(b"node 0 cpus: 0\n" + b"\xff\xfe", "x.numactl")
    assert str(info.value) == "x.numactl: not UTF-8 text: byte 15 is 0xff (save the file as UTF-8)"


def test_read_stream_is_capped() -> None:
    assert read_stream(io.BytesIO(b"\xef\xbb\xbf-m 1G"), cap=10) == "-m 1G"
    with pytest.raises(InputError, match=r"^<stdin>: larger than"):
        read_stream(io.BytesIO(b"x" * 11), cap=10)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=100), st.lists(st.text(max_size=50), max_size=20), st.integers()))
def test_shown_is_short_and_one_line(value: object) -> None:
    text = shown(value)
    assert len(text) <= 60
    assert text.isprintable()


def test_shown_keeps_short_values_as_repr_and_cuts_long_ones_in_the_middle() -> None:
    assert shown("db") == "'db'"
    assert shown({"max": 3}) == "{'max': 3}"
    assert shown("a\nb") == "'a\\nb'"
    long = shown("x" * 100 + "END")
    assert long.startswith("'xxx") and long.endswith("END'") and "..." in long
    assert plain("a\nb") == "a\\nb"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_one_line_message_is_one_printable_line(text: str) -> None:
    line = one_line_message(text)
    assert len(line) <= MAX_MESSAGE_CHARS and line.isprintable()
    if len(text) <= MAX_MESSAGE_CHARS and text.isprintable():
        assert line == text


def test_input_errors_are_one_line_whatever_their_parts() -> None:
    error = InputError("got " + "v" * 10_000, source="dir/" * 500 + "p.toml", where="a\nb")
    assert len(str(error)) <= MAX_MESSAGE_CHARS and "\n" not in str(error)
    assert str(error).startswith("dir/dir/")


@pytest.mark.parametrize(
    ("value", "ok"),
    [(0, True), (10, True), (11, False), (-1, False), (True, False), (2**63, False), (1.0, False), ("3", False)],
)
def test_bounded_int(value: object, ok: bool) -> None:
    if ok:
        assert bounded_int(value, 0, 10, "a count") == value
    else:
        with pytest.raises(ValueError, match=r"^expected a count \(0\.\.10\), got "):
            bounded_int(value, 0, 10, "a count")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0.0, -1.0, 86_400.5])
def test_bounded_seconds_refuses_what_is_not_a_finite_positive_time(value: float) -> None:
    with pytest.raises(ValueError):
        bounded_seconds(value)
    assert bounded_seconds(86_400.0) == 86_400.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.0000000000000000001GiB", "'1.0000000000000000001GiB' is not a whole number of bytes"),
        ("4097TiB", "'4097TiB' is more than 4096TiB, the largest size numaopt takes"),
        ("12", "'12' has no unit: expected a size"),
        ("1" + "0" * 40 + "B", "is not a size such as"),
    ],
)
def test_sizes_are_exact_and_bounded(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_size(text)
    assert str(info.value).startswith(message) or message in str(info.value)
    assert parse_size("1.5GiB") == 1536 << 20 and parse_size("4096TiB") == 1 << 52


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0-65536", "CPU 65536 is more than 65535, the largest CPU id numaopt takes"),
        ("0-3," * 2 + "9", "CPU 0 is listed twice"),
        ("1" * 7, "is not a CPU or range"),
    ],
)
def test_cpu_lists_are_bounded(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cpulist(text)
    assert len(parse_cpulist("0-65535")) == 65536


@pytest.mark.parametrize("value", [math.nan, math.inf, 0, -1, "0s", "25h", "99999999999999999999h", 10**400])
def test_durations_are_finite_positive_and_at_most_a_day(value: object) -> None:
    with pytest.raises(ValueError, match=r"a duration must be more than 0 and at most 24h|is not a duration"):
        parse_duration(value)  # type: ignore[arg-type]
    assert parse_duration("24h") == 86_400.0
