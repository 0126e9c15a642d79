"""The CoNDIS VC life (create, activate, deactivate, delete) as one table, and its
pending sends, each completed exactly once with a status."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest

from wanminiport.info import LinkInfo, SendStatus
from wanminiport.pending import PendingSends
from wanminiport.vc import (
    TRANSITIONS,
    CallParameters,
    FlowSpec,
    Vc,
    VcInput,
    VcState,
    VcStateError,
    next_state,
)

CALL = CallParameters(FlowSpec(115200), FlowSpec(115200), permanent=True)

#: The whole table, written out again from the CoNDIS documents: a VC is created,
#: activated by its call, deactivated at teardown, activated again for the next
#: call, and deleted only when no call is on it.
EXPECTED = {
    (VcState.CREATED, VcInput.ACTIVATE): VcState.ACTIVE,
    (VcState.CREATED, VcInput.DELETE): VcState.DELETED,
    (VcState.ACTIVE, VcInput.DEACTIVATE): VcState.DEACTIVATED,
    (VcState.DEACTIVATED, VcInput.ACTIVATE): VcState.ACTIVE,
    (VcState.DEACTIVATED, VcInput.DELETE): VcState.DELETED,
}
#: The pairs with no row, each a local misuse, with why.
ABSENT = {
    (VcState.CREATED, VcInput.DEACTIVATE): "no call was ever activated on it",
    (VcState.ACTIVE, VcInput.ACTIVATE): "one call at a time",
    (VcState.ACTIVE, VcInput.DELETE): "a VC with a call on it is deactivated first",
    (VcState.DEACTIVATED, VcInput.DEACTIVATE): "the call is already down",
    (VcState.DELETED, VcInput.ACTIVATE): "a deleted VC is gone",
    (VcState.DELETED, VcInput.DEACTIVATE): "a deleted VC is gone",
    (VcState.DELETED, VcInput.DELETE): "a deleted VC is gone",
}


def test_every_state_input_pair_is_either_a_row_or_named_absent() -> None:
    pairs = set(itertools.product(VcState, VcInput))
    assert set(EXPECTED) | set(ABSENT) == pairs
    assert not set(EXPECTED) & set(ABSENT)


def test_the_table_is_the_condis_life() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("state", "request_"), sorted(EXPECTED, key=str))
def test_each_row_moves_the_vc(state: VcState, request_: VcInput) -> None:
    assert next_state(state, request_) is EXPECTED[state, request_]


@pytest.mark.parametrize(("state", "request_"), sorted(ABSENT, key=str))
def test_each_absent_pair_is_a_local_error_naming_state_and_input(
    state: VcState, request_: VcInput
) -> None:
    with pytest.raises(VcStateError) as err:
        next_state(state, request_, vc_id=7)
    message = str(err.value)
    assert state.value in message and request_.value in message and "VC 7" in message


class Line:
    """The line below a VC: records frames and lets the test finish each write."""

    def __init__(self) -> None:
        self.line_up = True
        self.writes: list[tuple[bytes, Callable[[bool], None]]] = []
        self.full = False

    def write_frame(self, frame: bytes, done: Callable[[bool], None]) -> int:
        if self.full:
            raise BufferError("full")
        self.writes.append((frame, done))
        return len(frame) + 4

    def set_link_info(self, vc: Vc, info: LinkInfo) -> None:
        vc.link_info = info


class Client:
    def receive_indication(self, vc: Vc, frame: bytes) -> None: ...

    def line_down_indication(self, vc: Vc, reason: object) -> None: ...

    def link_params_indication(self, vc: Vc, params: object) -> None: ...

    def fragment_indication(self, vc: Vc) -> None:
        pass

    def modem_lines_indication(self, vc: Vc, lines: object) -> None: ...


def active_vc(window: int = 3) -> tuple[Vc, Line]:
    line = Line()
    vc = Vc(line, Client(), window)  # type: ignore[arg-type]
    vc.activate(CALL)
    return vc, line


def test_a_state_the_table_refuses_changes_nothing() -> None:
    vc, _ = active_vc()
    with pytest.raises(VcStateError):
        vc.delete()
    assert vc.state is VcState.ACTIVE


def test_send_completes_once_with_success_when_the_os_has_it() -> None:
    async def run() -> None:
        vc, line = active_vc()
        future = vc.send(b"\xc0\x21frame")
        assert vc.outstanding == 1 and not future.done()
        _, done = line.writes[0]
        done(True)
        done(False)  # a second report for the same write changes nothing
        assert future.result() is SendStatus.SUCCESS
        assert vc.outstanding == 0 and vc.stats.sends_failed == 0

    asyncio.run(run())


def test_deactivate_fails_every_pending_send_once_and_says_how_many() -> None:
    async def run() -> None:
        vc, line = active_vc()
        futures = [vc.send(b"x" * n) for n in (1, 2, 3)]
        assert vc.deactivate(SendStatus.HANGUP) == 3
        for _, done in line.writes:
            done(True)  # the line reports late: the sends were already failed
        assert [f.result() for f in futures] == [SendStatus.HANGUP] * 3
        assert vc.stats.sends_failed == 3 and vc.state is VcState.DEACTIVATED

    asyncio.run(run())


def test_send_on_a_deactivated_vc_fails_at_once_with_hangup() -> None:
    async def run() -> None:
        vc, line = active_vc()
        vc.deactivate()
        assert vc.send(b"x").result() is SendStatus.HANGUP
        assert line.writes == []

    asyncio.run(run())


def test_send_on_a_created_vc_fails_closed_and_a_full_line_fails_invalid() -> None:
    async def run() -> None:
        line = Line()
        vc = Vc(line, Client(), 3)  # type: ignore[arg-type]
        assert vc.send(b"x").result() is SendStatus.CLOSED
        vc.activate(CALL)
        line.full = True
        assert vc.send(b"x").result() is SendStatus.INVALID
        assert vc.outstanding == 0 and vc.stats.buffer_overrun_errors == 1

    asyncio.run(run())


def test_window_overrun_is_counted_and_the_frame_still_sent() -> None:
    async def run() -> None:
        vc, line = active_vc(window=1)
        vc.send(b"a")
        vc.send(b"b")
        assert len(line.writes) == 2
        assert vc.stats.extra["window_overruns"] == 1

    asyncio.run(run())


def test_activation_opens_the_full_window_again() -> None:
    vc, _ = active_vc(window=4)
    vc.set_send_window(0)
    assert vc.send_window == 0
    vc.deactivate()
    vc.activate(CALL)
    assert vc.send_window == 4


def test_pending_sends_complete_out_of_order_each_once() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        pending = PendingSends(2)
        first, second = loop.create_future(), loop.create_future()
        pending.track(first)
        pending.track(second)
        assert pending.full
        assert pending.complete(second, SendStatus.SUCCESS) is True
        assert pending.complete(second, SendStatus.HANGUP) is False
        assert pending.fail_all(SendStatus.CLOSED) == 1
        assert (first.result(), second.result()) == (SendStatus.CLOSED, SendStatus.SUCCESS)

    asyncio.run(run())


def test_a_cancelled_send_is_still_taken_off_the_line() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        pending = PendingSends(1)
        future = loop.create_future()
        pending.track(future)
        future.cancel()
        assert pending.complete(future, SendStatus.SUCCESS) is True
        assert len(pending) == 0

    asyncio.run(run())


def test_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        PendingSends(-1)
