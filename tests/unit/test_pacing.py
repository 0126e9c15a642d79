"""LinePacer: 10 bit times per 8N1 byte, bounded look-ahead."""

import pytest

from hw.lab.pacing import LinePacer, Wire


def test_line_rate_is_ten_bit_times_per_byte() -> None:
    pacer = LinePacer(baud=115200)
    assert pacer.seconds_per_byte == pytest.approx(10 / 115200)


def test_allowance_is_bounded_by_lookahead() -> None:
    pacer = LinePacer(baud=9600, lookahead=0.01)
    allowed = pacer.allowance(now=0.0)
    assert allowed == int(0.01 / (10 / 9600))
    pacer.release(0.0, allowed)
    assert pacer.allowance(now=0.0) == 0


def test_bytes_released_over_one_second_match_the_line_rate() -> None:
    pacer = LinePacer(baud=115200)
    now, sent = 0.0, 0
    while now < 1.0:
        n = pacer.allowance(now)
        pacer.release(now, n)
        sent += n
        now = pacer.wake_time(now)
    assert 11520 <= sent <= 11520 + pacer.allowance(1.0) + 300


def test_idle_line_does_not_bank_credit() -> None:
    pacer = LinePacer(baud=9600, lookahead=0.01)
    first = pacer.allowance(0.0)
    assert pacer.allowance(100.0) == first


def test_nonpositive_baud_is_refused() -> None:
    with pytest.raises(ValueError, match="baud"):
        LinePacer(baud=0)


def test_release_returns_when_the_bytes_start_on_the_wire() -> None:
    pacer = LinePacer(baud=9600, lookahead=0.01)
    assert pacer.release(1.0, 4) == 1.0
    # The line is busy until 1.0 + 4 byte times: the next bytes queue behind.
    assert pacer.release(1.001, 2) == pytest.approx(1.0 + 4 * pacer.seconds_per_byte)


# -- the wire: a byte is delivered once its last bit has arrived ---------------


def test_wire_delivers_a_byte_only_when_its_last_bit_has_arrived() -> None:
    wire = Wire(seconds_per_byte=0.001)
    wire.put(10.0, b"abcd")
    assert wire.take(10.0) == b""
    assert wire.take(10.0009) == b""
    assert wire.take(10.001) == b"a"
    assert wire.take(10.0035) == b"bc"
    assert len(wire) == 1
    assert wire.take(11.0) == b"d"
    assert len(wire) == 0


def test_wire_keeps_order_across_segments_with_idle_gaps() -> None:
    wire = Wire(seconds_per_byte=0.001)
    wire.put(0.0, b"ab")
    wire.put(0.010, b"cd")  # the line was idle from 0.002 to 0.010
    assert wire.take(0.005) == b"ab"
    assert wire.take(0.0105) == b""
    assert wire.take(0.012) == b"cd"


def test_wire_arrival_gives_the_nth_byte_or_the_last() -> None:
    wire = Wire(seconds_per_byte=0.001)
    assert wire.arrival(1) is None
    wire.put(0.0, b"ab")
    wire.put(0.010, b"cde")
    assert wire.arrival(1) == pytest.approx(0.001)
    assert wire.arrival(3) == pytest.approx(0.011)
    assert wire.arrival(99) == pytest.approx(0.013)


def test_wire_clear_drops_what_is_in_flight() -> None:
    wire = Wire(seconds_per_byte=0.001)
    wire.put(0.0, b"abc")
    assert wire.clear() == 3
    assert wire.take(1.0) == b""


def test_wire_refuses_a_nonpositive_byte_time() -> None:
    with pytest.raises(ValueError, match="seconds per byte"):
        Wire(seconds_per_byte=0.0)
