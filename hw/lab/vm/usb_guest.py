"""Scenarios run inside the USB VM (``hw.lab.vm.usbvm``) against a real USB stack.

Each scenario opens the g_serial gadget with ``UsbCdcTransport`` on the host
side of dummy_hcd, drives ``/dev/ttyGS0`` as the far end of the line, and
prints one line ``@@RESULT <json>`` with what it observed; the tests on the
host judge it.  Run as ``python -m hw.lab.vm.usb_guest SCENARIO SPEC [ARG]``.

Scenarios: ``exchange`` (line coding, modem lines, data and PPP frames both
ways, zero-length packets, driver re-attach), ``throughput``, ``unplug``
(the cable pulled, the device controller unbound, the gadget driver removed;
the host side puts the gadget back with ``UsbGadgetVm.replug``),
``discovery`` and ``wire`` (what usbmon sees on the bus).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Any

from hw.lab.vm.usb_peer import (
    GadgetPeer,
    Recorder,
    Streamer,
    UsbMonitor,
    chunked,
    completions,
    path_gone,
    write_all,
)
from wanminiport.framing import PppAsyncFramer
from wanminiport.transports.base import TransportError
from wanminiport.transports.usb_cdc import LineCoding
from wanminiport.transports.usb_port import UsbCdcTransport

HOST_TTY = "/dev/ttyACM0"
UDC_NAME = "dummy_udc.0"
UDC_SOFT_CONNECT = f"/sys/class/udc/{UDC_NAME}/soft_connect"
UDC_UNBIND = "/sys/bus/platform/drivers/dummy_udc/unbind"
RESULT_MARK = "@@RESULT "


async def exchange(spec: str) -> dict[str, Any]:
    rng = random.Random(1)
    result: dict[str, Any] = {"tty_before": os.path.exists(HOST_TTY)}
    transport = UsbCdcTransport(spec, 115200)
    result["tty_detached"] = await path_gone(HOST_TTY, False, 5)
    result["lock_held"] = os.path.exists(f"/run/lock/LCK..{os.path.basename(HOST_TTY)}")
    result["bulk_out_max_packet"] = transport.max_packet
    result["has_modem_lines"] = transport.has_modem_lines
    codings = [LineCoding(9600), LineCoding(115200, 7, "E", 2), LineCoding(921600, 8, "O", 1.5),
               LineCoding(4_000_000, 5, "M", 1), LineCoding(300, 6, "S", 2)]  # fmt: skip
    result["line_codings"] = []
    for coding in codings:
        transport.set_line_coding(coding)
        result["line_codings"].append([str(coding), str(transport.get_line_coding())])
    transport.set_line_coding(LineCoding(115200))
    recorder = Recorder()
    transport.start(recorder)
    peer = GadgetPeer()
    opened = await recorder.until(lambda: bool(recorder.lines) and recorder.lines[-1].cd, 5)
    result["lines_on_peer_open"] = asdict(recorder.lines[-1]) if opened else None

    # Host to device: sizes around the 512-byte packet, so some transfers end on one.
    payload = rng.randbytes(256 * 1024)
    done: list[bool] = []
    chunks = chunked(payload, [1, 511, 512, 513, 1024, 4096, 16384, 16385, 3, 2048])
    await write_all(transport, chunks, done)
    arrived = await asyncio.to_thread(peer.wait_for, len(payload), 30)
    await recorder.until(lambda: len(done) == len(chunks), 5)
    received = peer.take()
    result["host_to_device"] = {"bytes": len(payload), "arrived": arrived,
                                "intact": received == payload, "writes": len(chunks),
                                "completions": len(done), "completed_true": sum(done)}  # fmt: skip
    result["zero_length_packets"] = transport.counters["zero_length_packets"]

    # One write at a time, so each is one transfer: which of them end with a ZLP?
    result["zlp_probe"] = []
    for size in (512, 513, 1024, 1, 16384, 2560):
        before = transport.counters["zero_length_packets"]
        one: list[bool] = []
        transport.write(rng.randbytes(size), one.append)
        await recorder.until(lambda: bool(one), 5)  # noqa: B023 - awaited in this iteration
        arrived = await asyncio.to_thread(peer.wait_for, size, 5)
        got = len(peer.take())
        zlps = transport.counters["zero_length_packets"] - before
        result["zlp_probe"].append({"size": size, "zlps": zlps, "arrived": arrived and got == size})

    # Device to host.
    payload = rng.randbytes(256 * 1024)
    await asyncio.to_thread(peer.write_all, payload)
    await recorder.until(lambda: len(recorder.data) >= len(payload), 30)
    result["device_to_host"] = {"bytes": len(payload), "intact": bytes(recorder.data) == payload}
    recorder.data.clear()

    # PPP frames both ways through the project's framer.
    frames = [b"\x00\x21" + rng.randbytes(rng.randrange(1, 1500)) for _ in range(200)]
    frames += [b"\xc0\x21" + bytes(range(32)) * 4, b"\x00\x21" + b"\x7e\x7d" * 300]
    sender, receiver = PppAsyncFramer(), PppAsyncFramer()
    encoded = [sender.encode(frame) for frame in frames]
    await write_all(transport, encoded)
    await asyncio.to_thread(peer.wait_for, sum(map(len, encoded)), 30)
    decoded = receiver.decode(peer.take())
    result["ppp_host_to_device"] = {"sent": len(frames), "decoded": len(decoded),
                                    "equal": decoded == frames,
                                    "crc_errors": receiver.stats.crc_errors}  # fmt: skip
    sender, receiver = PppAsyncFramer(), PppAsyncFramer()
    decoded = []
    wire_bytes = b"".join(sender.encode(frame) for frame in frames)
    await asyncio.to_thread(peer.write_all, wire_bytes)
    await recorder.until(lambda: len(recorder.data) >= len(wire_bytes), 30)
    decoded = receiver.decode(bytes(recorder.data))
    recorder.data.clear()
    result["ppp_device_to_host"] = {"sent": len(frames), "decoded": len(decoded),
                                    "equal": decoded == frames,
                                    "crc_errors": receiver.stats.crc_errors}  # fmt: skip

    for dtr, rts in ((False, False), (True, False), (False, True), (True, True)):
        transport.set_dtr(dtr)
        transport.set_rts(rts)
    result["open_after_control_lines"] = transport.is_open

    peer.close()
    closed = await recorder.until(lambda: not recorder.lines[-1].cd, 5)
    result["lines_on_peer_close"] = asdict(recorder.lines[-1]) if closed else None
    result["line_downs"] = recorder.downs
    result["counters"] = dict(transport.counters)
    transport.close()
    result["tty_reattached"] = await path_gone(HOST_TTY, True, 10)
    result["lock_released"] = not os.path.exists(f"/run/lock/LCK..{os.path.basename(HOST_TTY)}")
    return result


async def throughput(spec: str, size_text: str = "1048576", baud_text: str = "115200",
                     rounds_text: str = "3") -> dict[str, Any]:  # fmt: skip
    """Bulk throughput each way (median of rounds) against the line coding's rate."""
    size, rounds = int(size_text), int(rounds_text)
    transport = UsbCdcTransport(spec, int(baud_text), max_buffered=1024 * 1024)
    coding = transport.line_coding
    recorder = Recorder()
    transport.start(recorder)
    peer = GadgetPeer()
    payload = random.Random(2).randbytes(size)
    out_times, in_times = [], []
    for _ in range(rounds):
        started = time.monotonic()
        await write_all(transport, chunked(payload, [16384]))
        ok = await asyncio.to_thread(peer.wait_for, size, 120)
        out_times.append(time.monotonic() - started)
        intact_out = ok and peer.take() == payload
        started = time.monotonic()
        writer = asyncio.create_task(asyncio.to_thread(peer.write_all, payload))
        ok = await recorder.until(lambda: len(recorder.data) >= size, 120)
        in_times.append(time.monotonic() - started)
        await writer
        intact_in = ok and bytes(recorder.data) == payload
        recorder.data.clear()
    line_rate = coding.baudrate / coding.bits_per_character
    peer.close()
    transport.close()

    def figures(times: list[float], intact: bool) -> dict[str, Any]:
        median = statistics.median(times)
        return {"bytes": size, "seconds": times, "median_seconds": median,
                "bytes_per_second": size / median, "times_line_rate": size / median / line_rate,
                "intact": intact}  # fmt: skip

    return {"baud": coding.baudrate, "line_rate_bytes_per_second": line_rate,
            "host_to_device": figures(out_times, intact_out),
            "device_to_host": figures(in_times, intact_in)}  # fmt: skip


UNPLUG_METHODS = ("cable", "udc", "rmmod")


def pull_the_plug(method: str) -> None:
    """cable: the UDC's soft disconnect (D+ pull-up off, as a cable pull);
    udc: the device controller itself unbound; rmmod: the gadget driver removed."""
    if method == "cable":
        with open(UDC_SOFT_CONNECT, "w") as control:
            control.write("disconnect")
    elif method == "udc":
        with open(UDC_UNBIND, "w") as control:
            control.write(UDC_NAME)
    else:
        subprocess.run(["rmmod", "g_serial"], check=True)


async def unplug(spec: str, method: str) -> dict[str, Any]:
    """Pull the device while writes are queued (and, with a peer, while it sends).

    The gadget stops taking data when ttyGS0 is open but unread (cable) or
    not open at all (udc, rmmod), so the writes queue up in the transport;
    the device is then pulled mid-transfer.
    """
    if method not in UNPLUG_METHODS:
        raise SystemExit(f"unplug method must be one of {UNPLUG_METHODS}, not {method!r}")
    transport = UsbCdcTransport(spec, 115200, max_buffered=4 * 1024 * 1024)
    recorder = Recorder()
    transport.start(recorder)
    # Only the cable pull may find ttyGS0 open: unbinding the UDC or removing
    # g_serial waits in the kernel until the port is closed.
    peer = GadgetPeer(read=False) if method == "cable" else None
    streamer = Streamer(peer.fd) if peer is not None else None
    results: dict[int, list[bool]] = {}
    count = 64
    for index in range(count):
        results[index] = []
        transport.write(b"\x55" * 16384, results[index].append)
    last, since = -1, time.monotonic()
    while time.monotonic() - since < 0.5:
        if transport.buffered != last:
            last, since = transport.buffered, time.monotonic()
        await asyncio.sleep(0.05)
    result: dict[str, Any] = {"method": method, "writes": count,
                              "buffered_before": transport.buffered,
                              "received_before": len(recorder.data)}  # fmt: skip
    started = time.monotonic()
    pull_the_plug(method)
    went_down = await recorder.until(lambda: bool(recorder.downs), 10)
    result["seconds_to_line_down"] = time.monotonic() - started if went_down else None
    await asyncio.sleep(0.5)  # room for a second indication, which must not come
    result["line_downs"] = recorder.downs
    result.update(completions(results))
    result["buffered_after"] = transport.buffered
    result["is_open_after"] = transport.is_open
    result["failure"] = transport.failure
    late: list[bool] = []
    transport.write(b"late", late.append)
    transport.set_dtr(False)
    await asyncio.sleep(0.1)
    result["late_write"] = late
    started = time.monotonic()
    transport.close()
    result["close_seconds"] = time.monotonic() - started
    result["threads_alive_after_close"] = sum(t.is_alive() for t in transport._threads)
    if streamer is not None:
        streamer.join()
    if peer is not None:
        peer.close()
    return result


async def wire(spec: str) -> dict[str, Any]:
    """What the transport puts on the bus, as the host controller's usbmon saw it."""
    monitor = UsbMonitor()
    transport = UsbCdcTransport(spec, 115200, dtr=True, rts=True)
    recorder = Recorder()
    transport.start(recorder)
    peer = GadgetPeer()
    for dtr, rts in ((False, True), (False, False), (True, False), (True, True)):
        transport.set_dtr(dtr)
        transport.set_rts(rts)
    for size in (512, 100, 1024):
        done: list[bool] = []
        transport.write(bytes(size), done.append)
        await recorder.until(lambda: bool(done), 5)  # noqa: B023 - awaited in this iteration
        await asyncio.to_thread(peer.wait_for, size, 5)
        peer.take()
    transport.close()
    peer.close()
    await asyncio.sleep(0.3)
    control = monitor.submissions("Co")
    # A control setup is "s bmRequestType bRequest wValue wIndex wLength [len = data]".
    class_requests = [f for f in control if f[0] == "s" and f[1] == "21"]
    return {
        "control_line_states": [f[3] for f in class_requests if f[2] == "22"],
        "line_codings": [" ".join(f[8:]) for f in class_requests if f[2] == "20"],
        "bulk_out_lengths": [int(f[1]) for f in monitor.submissions("Bo")],
    }


async def discovery(spec: str) -> dict[str, Any]:
    from hw.discovery import list_ports  # imported here: only this scenario needs it
    from wanminiport.transports.lockfile import PortLock, PortLockedError

    def records() -> list[dict[str, Any]]:
        return [port.as_dict() for port in list_ports()]

    result: dict[str, Any] = {"free": records()}
    with PortLock(HOST_TTY):
        result["locked"] = records()
        try:
            UsbCdcTransport(spec).close()
            result["open_while_locked"] = "opened"
        except PortLockedError as exc:
            result["open_while_locked"] = str(exc)
    transport = UsbCdcTransport(spec)
    result["claimed"] = records()
    try:
        UsbCdcTransport(spec).close()
        result["open_while_claimed"] = "opened"
    except TransportError as exc:
        result["open_while_claimed"] = str(exc)
    transport.close()
    await path_gone(HOST_TTY, True, 10)
    ids = spec.split(":")[1:3]
    result["open_errors"] = {}
    for wrong in (f"usb:{ids[0]}:{ids[1]}:NO-SUCH-SERIAL", f"usb:{ids[0]}:ffff"):
        try:
            UsbCdcTransport(wrong).close()
            result["open_errors"][wrong] = "opened"
        except TransportError as exc:
            result["open_errors"][wrong] = str(exc)
    without_serial = UsbCdcTransport(f"usb:{ids[0]}:{ids[1]}")
    result["opened_without_serial"] = without_serial.describe()
    without_serial.close()
    await path_gone(HOST_TTY, True, 10)
    return result


SCENARIOS: dict[str, Callable[..., Coroutine[Any, Any, dict[str, Any]]]] = {
    "exchange": exchange,
    "throughput": throughput,
    "unplug": unplug,
    "discovery": discovery,
    "wire": wire,
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in SCENARIOS:
        print(f"usage: python -m hw.lab.vm.usb_guest {{{','.join(SCENARIOS)}}} SPEC [ARG...]",
              file=sys.stderr)  # fmt: skip
        return 2
    started = time.monotonic()
    result = asyncio.run(SCENARIOS[argv[0]](*argv[1:]))
    result["scenario_seconds"] = time.monotonic() - started
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
