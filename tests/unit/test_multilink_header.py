"""RFC 1990 section 3: the Multilink header, long and short sequence numbers."""

from __future__ import annotations

import pytest

from ndiswan.ppp.multilink.header import (
    LONG_BITS,
    SHORT_BITS,
    Fragment,
    parse_fragment,
    sequence_add,
    sequence_before,
    sequence_distance,
)


@pytest.mark.parametrize("short", [False, True])
@pytest.mark.parametrize("begin,end", [(True, True), (True, False), (False, True), (False, False)])
def test_fragment_round_trips_in_both_formats(short: bool, begin: bool, end: bool) -> None:
    highest = (1 << (SHORT_BITS if short else LONG_BITS)) - 1
    for sequence in (0, 1, 0x123, highest):
        fragment = Fragment(sequence, begin, end, b"\x21payload")
        assert parse_fragment(fragment.encode(short), short) == fragment


def test_long_header_layout_is_flags_then_24_bits() -> None:
    encoded = Fragment(0x123456, begin=True, end=False, payload=b"\xff").encode(short=False)
    assert encoded == b"\x80\x12\x34\x56\xff"


def test_short_header_layout_is_flags_and_12_bits_in_two_octets() -> None:
    encoded = Fragment(0xABC, begin=False, end=True, payload=b"x").encode(short=True)
    assert encoded == b"\x4a\xbcx"


def test_reserved_bits_are_ignored_on_receipt() -> None:
    assert parse_fragment(b"\xff\xff\xff\xff", short=False) == Fragment(0xFFFFFF, True, True)
    assert parse_fragment(b"\x3f\x01", short=True) == Fragment(0xF01, False, False)


@pytest.mark.parametrize("short,data", [(False, b""), (False, b"\xc0\x00\x01"), (True, b"\xc0")])
def test_header_shorter_than_its_format_is_malformed(short: bool, data: bytes) -> None:
    assert parse_fragment(data, short) is None


def test_empty_payload_after_a_whole_header_is_accepted() -> None:
    assert parse_fragment(b"\x00\x00\x00\x07", short=False) == Fragment(7, False, False)


@pytest.mark.parametrize("short,sequence", [(True, 0x1000), (False, 1 << 24), (False, -1)])
def test_encoding_a_sequence_number_that_does_not_fit_is_our_error(
    short: bool, sequence: int
) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        Fragment(sequence, True, True).encode(short)


def test_sequence_numbers_wrap_around() -> None:
    assert sequence_add(0xFFF, 1, SHORT_BITS) == 0
    assert sequence_add(0xFFFFFE, 5, LONG_BITS) == 3


def test_serial_number_comparison_across_the_wrap() -> None:
    assert sequence_distance(2, 0xFFE, SHORT_BITS) == 4
    assert sequence_distance(0xFFE, 2, SHORT_BITS) == -4
    assert sequence_before(0xFFFFFF, 0, LONG_BITS)
    assert not sequence_before(0, 0xFFFFFF, LONG_BITS)
    assert not sequence_before(5, 5, LONG_BITS)


def test_distance_of_half_the_space_is_positive() -> None:
    assert sequence_distance(0x800, 0, SHORT_BITS) == 0x800
    assert sequence_distance(0x801, 0, SHORT_BITS) == -0x7FF
