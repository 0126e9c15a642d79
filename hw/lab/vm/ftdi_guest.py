"""Scenarios run inside the FTDI VM (``hw.lab.vm.ftdivm``) on two ftdi_sio ttys.

Each prints ``@@RESULT <json>`` with what it observed; the tests on the host
judge it.  Scenarios that need the host to act (unplug a dongle) print
``@@READY`` first and wait for it.  Run as
``python -m hw.lab.vm.ftdi_guest SCENARIO ARG...``:

* ``link TTY_A TTY_B BAUD NBYTES [unplug]``: ``wanctl answer`` on B and
  ``wanctl dial`` on A in two network namespaces, CHAP, ping both ways,
  NBYTES of TCP from the caller (SHA-256 compared), ``wanctl status --json``
  of the caller; with ``unplug``, then what ``link_unplug`` reports without
  ``persist``, on the same link.
* ``transport_unplug TTY``: a SerialTransport writing 1 MiB at 115200 bit/s
  when the dongle goes (READY after its first 16 KiB): line-downs, each
  write's completions, the UUCP lock.
* ``link_unplug TTY_A TTY_B [persist]``: a link up with a TCP transfer
  running when the caller's dongle goes: pppd's exit status, the lock and
  the control socket; with ``persist``, the seconds from the dongle's
  stable name coming back to IP up and a ping.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hw.lab.vm.usb_peer import Recorder, completions
from wanctl.lab import LinkProcess, in_netns, namespaces, ping, python_env, tcp_transfer
from wanminiport.transports.serial_port import SerialTransport

RESULT_MARK = "@@RESULT "
READY_MARK = "@@READY"
HUB_IP, CLIENT_IP = "10.78.0.1", "10.78.0.2"
LOCK_DIR = "/run/lock"


def _lock_path(tty: str) -> str:
    return f"{LOCK_DIR}/LCK..{os.path.basename(os.path.realpath(tty))}"


class _Link:
    """Two wanctl processes on the two dongles, each in its own namespace."""

    def __init__(self, tmp: Path, hub_ns: str, client_ns: str) -> None:
        self.tmp, self.hub_ns, self.client_ns = tmp, hub_ns, client_ns
        self.secrets = tmp / "chap-secrets"
        self.secrets.write_text('client hub "ftdi s3cret" *\n')
        self.secrets.chmod(0o600)
        self.env = {"WANCTL_RUN_DIR": str(tmp)}
        self.processes: list[LinkProcess] = []

    def start(self, verb: str, namespace: str, *argv: str) -> LinkProcess:
        process = LinkProcess([verb, *argv], namespace=namespace, env=self.env, name=verb)
        self.processes.append(process)
        return process

    def answer(self, tty: str, baud: int, *extra: str) -> LinkProcess:
        return self.start(
            "answer", self.hub_ns, tty, "--baud", str(baud), "--ip", f"{HUB_IP}:{CLIENT_IP}",
            "--require-chap", "--name", "hub", "--chap-secrets", str(self.secrets),
            "--linkname", "hub", *extra,
        )  # fmt: skip

    def dial(self, tty: str, baud: int, *extra: str) -> LinkProcess:
        return self.start(
            "dial", self.client_ns, tty, "--baud", str(baud), "--user", "client",
            "--remotename", "hub", "--chap-secrets", str(self.secrets),
            "--linkname", "client", *extra,
        )  # fmt: skip

    def up(self, hub: LinkProcess, client: LinkProcess, timeout: float = 90) -> float:
        started = time.monotonic()
        client.wait_for(rf"Link up: \S+ local {CLIENT_IP} remote {HUB_IP}", timeout)
        hub.wait_for(rf"Link up: \S+ local {HUB_IP} remote {CLIENT_IP}", timeout)
        return time.monotonic() - started

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


def _status(link: _Link, name: str) -> dict[str, Any]:
    status = LinkProcess(["status", name, "--json"], env=link.env, name="status")
    status.wait(30)
    report: dict[str, Any] = json.loads(status.output())
    return report


async def link(
    tty_a: str, tty_b: str, baud_text: str, nbytes_text: str, mode: str = ""
) -> dict[str, Any]:
    baud, nbytes = int(baud_text), int(nbytes_text)
    unplug = mode == "unplug"
    result: dict[str, Any] = {"baud": baud}
    with tempfile.TemporaryDirectory() as tmp, namespaces(2, prefix="ftdi") as (hub_ns, cl_ns):
        lab = _Link(Path(tmp), hub_ns, cl_ns)
        try:
            started = time.monotonic()
            hub = lab.answer(tty_b, baud, *(_UNPLUG_ANSWER if unplug else ()))
            client = lab.dial(tty_a, baud, *(_UNPLUG_DIAL if unplug else ()))
            lab.up(hub, client)
            result["seconds_to_ip_up"] = time.monotonic() - started
            result["chap"] = [line for line in client.lines if "CHAP" in line][-1:]
            result["ping_to_hub"] = ping(cl_ns, HUB_IP, count=5)
            result["ping_to_client"] = ping(hub_ns, CLIENT_IP, count=5)
            result["tcp"] = tcp_transfer(cl_ns, hub_ns, HUB_IP, nbytes=nbytes)
            status = _status(lab, "client")
            result["status"] = {key: status.get(key) for key in ("device", "speed", "errors")}
            result["tty_speed"] = subprocess.run(
                ["stty", "-F", tty_a, "speed"], capture_output=True, text=True
            ).stdout.strip()
            if unplug:
                await _pull_mid_transfer(lab, client, tty_a, result)
                result["exit_status"] = client.wait(30)
                _after_exit(lab, tty_a, result)
                result["client_log"] = client.lines[-25:]
        finally:
            lab.stop()
    return result


async def transport_unplug(tty: str, count_text: str = "64") -> dict[str, Any]:
    count = int(count_text)
    transport = SerialTransport(tty, 115200, max_buffered=count * 16384)
    recorder = Recorder()
    transport.start(recorder)
    lock = _lock_path(tty)
    result: dict[str, Any] = {"lock_held": os.path.exists(lock)}
    results: dict[int, list[bool]] = {}
    # qemu stalls the guest while its chip's bytes wait for the paced line (its
    # clock too): each write's os.write returns only once its 16 KiB are on the
    # cable, 1.4 s later, so the writes cannot be queued ahead of the unplug.
    # READY goes out after the first write instead, and the host pulls the plug
    # while the rest are being written, most of them still to come.
    started = time.monotonic()
    for index in range(count):
        results[index] = []
        transport.write(b"\x55" * 16384, results[index].append)
        if index == 0:
            print(READY_MARK, flush=True)
            started = time.monotonic()
    result["buffered_before"] = transport.buffered
    result["completed_before"] = sum(len(r) for r in results.values())
    went_down = await recorder.until(lambda: bool(recorder.downs), 60)
    result["seconds_to_line_down"] = time.monotonic() - started if went_down else None
    await asyncio.sleep(0.5)  # room for a second indication, which must not come
    result["line_downs"] = recorder.downs
    result.update(completions(results))
    result["buffered_after"] = transport.buffered
    late: list[bool] = []
    transport.write(b"late", late.append)
    await asyncio.sleep(0.1)
    result["late_write"] = late
    transport.close()
    result["lock_after_close"] = os.path.exists(lock)
    return result


def _wait_path(path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


#: A link whose caller's dongle will be pulled: the answerer stays for the next
#: call, the caller's echoes notice a silent line within seconds.
_UNPLUG_ANSWER = ("--persist",)
_UNPLUG_DIAL = ("--lcp-echo-interval", "1")


async def _pull_mid_transfer(
    lab: _Link, client: LinkProcess, tty_a: str, result: dict[str, Any]
) -> None:
    """With the link up, start a TCP transfer, say READY and see the caller's line go."""
    result["lock_held"] = os.path.exists(_lock_path(tty_a))
    result["control_socket"] = Path(lab.tmp, "client.sock").exists()
    # A transfer running when the plug is pulled (its bytes are not judged here).
    server = subprocess.Popen(
        in_netns(lab.hub_ns, [sys.executable, "-m", "wanctl.lab", "serve", "5009"]),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=python_env(),
    )  # fmt: skip
    assert server.stdout is not None and server.stdout.readline().strip() == "listening"
    sender = subprocess.Popen(
        in_netns(lab.client_ns, [sys.executable, "-m", "wanctl.lab", "send", HUB_IP, "5009",
                                 "120", "0"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=python_env(),
    )  # fmt: skip
    await asyncio.sleep(1.0)
    print(READY_MARK, flush=True)
    pulled = time.monotonic()
    client.wait_for(r"Modem hangup|[Ll]ine down|Connection terminated", 60)
    result["seconds_to_line_down"] = time.monotonic() - pulled
    for process in (sender, server):
        process.kill()
        process.wait()


def _after_exit(lab: _Link, tty_a: str, result: dict[str, Any]) -> None:
    result["lock_after_exit"] = os.path.exists(_lock_path(tty_a))
    result["control_socket_after_exit"] = Path(lab.tmp, "client.sock").exists()


async def link_unplug(tty_a: str, tty_b: str, mode: str = "") -> dict[str, Any]:
    persist = mode == "persist"
    extra = ("--persist", "--holdoff", "1") if persist else ()
    result: dict[str, Any] = {"persist": persist}
    with tempfile.TemporaryDirectory() as tmp, namespaces(2, prefix="ftdi") as (hub_ns, cl_ns):
        lab = _Link(Path(tmp), hub_ns, cl_ns)
        try:
            hub = lab.answer(tty_b, 115200, *_UNPLUG_ANSWER)
            client = lab.dial(tty_a, 115200, *_UNPLUG_DIAL, *extra)
            lab.up(hub, client)
            await _pull_mid_transfer(lab, client, tty_a, result)
            if not persist:
                result["exit_status"] = client.wait(30)
                _after_exit(lab, tty_a, result)
            else:
                result["exited"] = client.proc.poll()
                back = _wait_path(tty_a, 120)
                came_back = time.monotonic()
                result["stable_name_back"] = back
                client.wait_for(rf"Link up: \S+ local {CLIENT_IP} remote {HUB_IP}", 120)
                result["seconds_replug_to_ip_up"] = time.monotonic() - came_back
                result["ping_after_rejoin"] = ping(cl_ns, HUB_IP, count=3)
                result["lock_held_again"] = os.path.exists(_lock_path(tty_a))
            result["client_log"] = client.lines[-25:]
        finally:
            lab.stop()
    return result


SCENARIOS: dict[str, Callable[..., Coroutine[Any, Any, dict[str, Any]]]] = {
    "link": link,
    "transport_unplug": transport_unplug,
    "link_unplug": link_unplug,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in SCENARIOS:
        print(f"usage: python -m hw.lab.vm.ftdi_guest {{{','.join(SCENARIOS)}}} ARG...",
              file=sys.stderr)  # fmt: skip
        return 2
    result = asyncio.run(SCENARIOS[argv[0]](*argv[1:]))
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
