"""What every transport shares (``TransportBase``): start guards, the line marked
down once, upward calls from the loop, and write completions run once each."""

from __future__ import annotations

import asyncio
import threading

import pytest

from wanminiport.transports.base import (
    LineDownReason,
    ModemLines,
    TransportBase,
    WriteDone,
)


class Events:
    def __init__(self) -> None:
        self.downs: list[LineDownReason] = []

    def data_received(self, data: bytes) -> None: ...

    def line_down(self, reason: LineDownReason) -> None:
        self.downs.append(reason)

    def modem_lines_changed(self, lines: ModemLines) -> None: ...


class Pipe(TransportBase):
    """The smallest transport: it writes nowhere, which is enough to test the base."""

    name = "pipe"

    def start(self, events: Events) -> None:  # type: ignore[override]
        self._begin(events)

    def write(self, data: bytes, done: WriteDone | None = None) -> None:
        self._started_loop()
        self._complete_soon([done], self.is_open)

    @property
    def buffered(self) -> int:
        return 0

    def set_dtr(self, on: bool) -> None: ...

    def set_rts(self, on: bool) -> None: ...

    def modem_lines(self) -> ModemLines:
        return ModemLines()

    def close(self) -> None:
        self._closed = True


def test_started_once_and_never_after_close() -> None:
    async def run() -> None:
        pipe = Pipe()
        pipe.start(Events())
        with pytest.raises(RuntimeError, match="already started"):
            pipe.start(Events())
        closed = Pipe()
        closed.close()
        with pytest.raises(RuntimeError, match="is closed"):
            closed.start(Events())

    asyncio.run(run())


def test_writing_before_start_is_a_local_error() -> None:
    with pytest.raises(RuntimeError, match=r"start\(\) pipe before writing"):
        Pipe().write(b"x")


def test_line_marked_down_once_and_never_after_close() -> None:
    pipe = Pipe()
    assert pipe.is_open
    assert pipe._mark_down() is True
    assert pipe._mark_down() is False
    assert not pipe.is_open
    closed = Pipe()
    closed.close()
    assert closed._mark_down() is False


def test_completion_runs_from_the_loop_not_inside_write() -> None:
    async def run() -> None:
        pipe = Pipe()
        pipe.start(Events())
        seen: list[bool] = []
        pipe.write(b"x", seen.append)
        assert seen == []  # not inside the caller's own call
        await asyncio.sleep(0)
        assert seen == [True]

    asyncio.run(run())


def test_completion_from_another_thread_reaches_the_loop() -> None:
    async def run() -> None:
        pipe = Pipe()
        pipe.start(Events())
        done = asyncio.Event()
        results: list[bool] = []

        def record(ok: bool) -> None:
            results.append(ok)
            done.set()

        thread = threading.Thread(target=pipe._complete_soon, args=([record], False))
        thread.start()
        thread.join()
        await asyncio.wait_for(done.wait(), 5)
        assert results == [False]

    asyncio.run(run())


def test_one_failing_callback_does_not_cost_the_others_their_completion(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[tuple[str, bool]] = []

    def broken(ok: bool) -> None:
        raise ValueError("callback bug")

    Pipe()._complete(
        [lambda ok: seen.append(("a", ok)), broken, None, lambda ok: seen.append(("b", ok))], False
    )
    assert seen == [("a", False), ("b", False)]
    assert "write completion callback failed" in caplog.text
