"""Two adapters joined by a null-modem cable: both directions, throughput, wiring.

Run with ``pytest -m hardware --port-a /dev/ttyUSB0 --port-b /dev/ttyUSB1``.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from hw.selftest import SelftestReport
from tests.hardware.transport_io import Collector, send_and_collect
from wanminiport.framing import PppAsyncFramer
from wanminiport.transports.serial_port import SerialTransport

pytestmark = pytest.mark.hardware


def test_both_directions_are_intact_at_every_baud(
    pair_report: SelftestReport, hil_bauds: tuple[int, ...]
) -> None:
    directions = {(r.baud, r.direction) for r in pair_report.integrity}
    assert directions == {(baud, d) for baud in hil_bauds for d in ("a->b", "b->a")}
    assert pair_report.problems == []
    assert pair_report.verdict == "pass"


def test_throughput_each_way_is_reported_against_the_line_rate(pair_report: SelftestReport) -> None:
    assert [r.direction for r in pair_report.throughput] == ["a->b", "b->a"]
    for result in pair_report.throughput:
        assert result.intact
        print(f"\n{result.direction} at {result.baud} baud: {result.bytes_per_second:,.0f} B/s, "
              f"{result.fraction_of_line_rate:.1%} of the line rate")  # fmt: skip


def test_null_modem_cable_crosses_dtr_to_dsr_cd_and_rts_to_cts(
    pair_report: SelftestReport, hil_wired: bool
) -> None:
    if not hil_wired:
        pytest.skip("the cable is declared 3-wire (--hil-wiring none)")
    for wiring in pair_report.wiring:
        assert wiring.supported, wiring.note
        assert wiring.wired("dtr", "dsr") and wiring.wired("dtr", "cd"), (
            wiring.direction,
            wiring.follows,
        )
        assert wiring.wired("rts", "cts"), (wiring.direction, wiring.follows)


FRAMES = [b"\x00\x21" + random.Random(n).randbytes(20 + n * 31) for n in range(30)]


async def _frames_across(port_a: str, port_b: str) -> tuple[list[bytes], list[bytes]]:
    frames = FRAMES
    a, b = SerialTransport(port_a, 115200), SerialTransport(port_b, 115200)
    into_a, into_b = Collector(), Collector()
    a.start(into_a)
    b.start(into_b)
    try:
        wire = b"".join(PppAsyncFramer().encode(frame) for frame in frames)
        seconds = len(wire) * 10 / 115200 * 2 + 2
        await asyncio.gather(send_and_collect(a, into_b, wire, seconds),
                             send_and_collect(b, into_a, wire, seconds))  # fmt: skip
    finally:
        a.close()
        b.close()
    return PppAsyncFramer().decode(bytes(into_b.data)), PppAsyncFramer().decode(bytes(into_a.data))


def test_ppp_frames_cross_the_cable_both_ways_at_once(port_pair: tuple[str, str]) -> None:
    at_b, at_a = asyncio.run(_frames_across(*port_pair))
    assert at_b == FRAMES
    assert at_a == FRAMES
