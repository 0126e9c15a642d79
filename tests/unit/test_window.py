"""SendWindow and SendQueue: outstanding <= window, bounded queue, back-pressure."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ndiswan.window import SendQueue, SendWindow, WindowError


def test_window_limits_outstanding_sends() -> None:
    window = SendWindow(window=2)
    window.on_send()
    window.on_send()
    assert not window.can_send()
    with pytest.raises(WindowError, match="beyond the window"):
        window.on_send()


def test_window_of_zero_stops_sending_until_reopened() -> None:
    window = SendWindow(window=0)
    assert not window.can_send()
    window.set_window(1)
    assert window.can_send()


def test_shrunk_window_keeps_outstanding_sends_until_they_complete() -> None:
    window = SendWindow(window=4)
    for _ in range(4):
        window.on_send()
    window.set_window(1)
    assert window.outstanding == 4 and not window.can_send()
    for _ in range(3):
        window.on_complete()
    assert not window.can_send()
    window.on_complete()
    assert window.can_send()


def test_completion_without_send_is_an_error() -> None:
    with pytest.raises(WindowError, match="never outstanding"):
        SendWindow(window=1).on_complete()


def test_negative_window_is_refused() -> None:
    with pytest.raises(WindowError, match="negative"):
        SendWindow(window=1).set_window(-1)


def test_full_queue_drops_and_counts() -> None:
    queue = SendQueue(max_frames=2, high_water=2, low_water=0)
    assert queue.push(b"a") and queue.push(b"b")
    assert not queue.push(b"c")
    assert queue.dropped == 1
    assert [queue.pop(), queue.pop(), queue.pop()] == [b"a", b"b", None]


def test_queue_pauses_at_high_water_and_resumes_at_low_water() -> None:
    queue = SendQueue(max_frames=10, high_water=4, low_water=1)
    for i in range(4):
        queue.push(bytes([i]))
    assert queue.paused
    queue.pop()
    queue.pop()
    assert queue.paused
    queue.pop()
    assert not queue.paused


def test_queue_bounds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="low_water"):
        SendQueue(max_frames=4, high_water=8, low_water=1)


@given(st.lists(st.one_of(st.just("send"), st.just("done"), st.integers(0, 5)), max_size=200))
def test_outstanding_never_exceeds_window_when_senders_check(ops: list[object]) -> None:
    window = SendWindow(window=3)
    for op in ops:
        if op == "send":
            if window.can_send():
                window.on_send()
                assert window.outstanding <= window.window
        elif op == "done":
            if window.outstanding:
                window.on_complete()
        else:
            assert isinstance(op, int)
            window.set_window(op)
        assert window.outstanding >= 0
