"""Driving the project's transports over a real line, for the hardware tests."""

from __future__ import annotations

import asyncio
import time

from wanminiport.transports.base import LineDownReason, ModemLines, Transport


class Collector:
    """TransportEvents that keep what arrives."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.downs: list[LineDownReason] = []
        self.lines: list[ModemLines] = []

    def data_received(self, data: bytes) -> None:
        self.data += data

    def line_down(self, reason: LineDownReason) -> None:
        self.downs.append(reason)

    def modem_lines_changed(self, lines: ModemLines) -> None:
        self.lines.append(lines)


async def send_and_collect(sender: Transport, receiver: Collector, data: bytes,
                           timeout: float, chunk: int = 4096) -> list[bool]:  # fmt: skip
    """Write ``data`` in chunks (within the write bound), wait until it all arrived."""
    completions: list[bool] = []
    limit = getattr(sender, "max_buffered", 64 * 1024)
    for offset in range(0, len(data), chunk):
        piece = data[offset : offset + chunk]
        while sender.buffered + len(piece) > limit:
            await asyncio.sleep(0.001)
        sender.write(piece, completions.append)
    deadline = time.monotonic() + timeout
    while len(receiver.data) < len(data) and time.monotonic() < deadline and not receiver.downs:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    return completions
