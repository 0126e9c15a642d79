"""LinePacer: 10 bit times per 8N1 byte, bounded look-ahead."""

import pytest

from hw.pacing import LinePacer


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
