"""A loopback plug on one port: what goes out comes back, and the modem lines follow.

Run with ``pytest -m hardware --loopback-port /dev/ttyUSB0`` (see conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from hw.discovery import PortInfo, PortKind, list_serial_ports
from hw.selftest import SelftestReport
from tests.hardware.transport_io import Collector, send_and_collect
from wanminiport.transports.base import Transport
from wanminiport.transports.serial_port import SerialTransport
from wanminiport.transports.usb_port import UsbCdcTransport

pytestmark = pytest.mark.hardware


def test_bytes_come_back_intact_at_every_baud(
    loopback_report: SelftestReport, hil_bauds: tuple[int, ...]
) -> None:
    assert sorted({r.baud for r in loopback_report.integrity}) == sorted(hil_bauds)
    assert loopback_report.problems == []
    assert loopback_report.error_rate == 0.0
    assert loopback_report.verdict == "pass"


def test_throughput_runs_intact_and_is_reported_against_the_line_rate(
    loopback_report: SelftestReport,
) -> None:
    (result,) = loopback_report.throughput
    assert result.intact
    print(f"\nloopback throughput at {result.baud} baud: {result.bytes_per_second:,.0f} B/s, "
          f"{result.fraction_of_line_rate:.1%} of the line rate")  # fmt: skip


def test_dtr_drives_dsr_and_cd(loopback_report: SelftestReport, hil_wired: bool) -> None:
    if not hil_wired:
        pytest.skip("the plug is declared 3-wire (--hil-wiring none)")
    (wiring,) = loopback_report.wiring
    assert wiring.supported, wiring.note
    assert wiring.wired("dtr", "dsr") and wiring.wired("dtr", "cd"), wiring.follows


def test_rts_drives_cts(loopback_report: SelftestReport, hil_wired: bool) -> None:
    if not hil_wired:
        pytest.skip("the plug is declared 3-wire (--hil-wiring none)")
    (wiring,) = loopback_report.wiring
    assert wiring.supported, wiring.note
    assert wiring.wired("rts", "cts"), wiring.follows


async def _echo(transport: Transport, size: int) -> tuple[bytes, bytes, list[bool]]:
    data = random.Random(size).randbytes(size)
    collector = Collector()
    transport.start(collector)
    try:
        seconds = size * 10 / transport.baudrate * 2 + 2
        completions = await send_and_collect(transport, collector, data, seconds)
    finally:
        transport.close()
    return data, bytes(collector.data), completions


def test_serial_transport_echoes_through_the_plug(loopback_port: str) -> None:
    transport = SerialTransport(loopback_port, 115200)
    sent, received, completions = asyncio.run(_echo(transport, 32 * 1024))
    assert received == sent
    assert completions and all(completions)


def _port_record(path: str) -> PortInfo | None:
    real = os.path.realpath(path)
    return next((p for p in list_serial_ports() if os.path.realpath(p.path) == real), None)


def test_usb_cdc_transport_echoes_through_the_plug(loopback_port: str) -> None:
    record = _port_record(loopback_port)
    if record is None or record.kind is not PortKind.USB_CDC or record.usb_spec is None:
        pytest.skip(f"{loopback_port} is not a CDC-ACM device, so usb:VID:PID does not apply")
    transport = UsbCdcTransport(record.usb_spec, 115200)
    assert transport.get_line_coding().baudrate == 115200
    sent, received, completions = asyncio.run(_echo(transport, 32 * 1024))
    assert received == sent
    assert completions and all(completions)


def test_ftdi_latency_timer_is_one_millisecond_with_the_rules_installed(loopback_port: str) -> None:
    record = _port_record(loopback_port)
    if record is None or record.driver != "ftdi_sio":
        pytest.skip(f"{loopback_port} is not an FTDI adapter")
    if not os.path.exists("/etc/udev/rules.d/90-wanctl.rules"):
        pytest.skip("the udev rules are not installed (sudo sh udev/install.sh)")
    name = os.path.basename(os.path.realpath(loopback_port))
    with open(f"/sys/class/tty/{name}/device/latency_timer") as timer:
        assert timer.read().strip() == "1"
