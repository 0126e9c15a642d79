"""Faults around the processes: the far modem hangs up, our process is killed.

Real ``wanctl`` processes in network namespaces over emulated Hayes modems
on a virtual exchange (``hw/lab/modem``, in a process of its own) or over the
virtual cable.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

from hw.lab.cable_process import CableProcess
from hw.lab.modem import ExchangeProcess
from tests.reliability.conftest import Lab
from wanminiport.transports.lockfile import lock_name, parse_lock_contents

HUB_NUMBER, CLIENT_NUMBER = "5552002", "5551001"


def exchange() -> ExchangeProcess:
    """The two modems; S7 (wait for carrier, 50 s) x 0.1: an unanswered redial fails in 5 s."""
    return ExchangeProcess(
        [HUB_NUMBER, CLIENT_NUMBER], ring_interval=1.0, handshake=0.5, time_scale=0.1
    )


def sigkill(process_id: int) -> None:
    os.kill(process_id, signal.SIGKILL)


def test_far_modem_hanging_up_ends_the_call_with_exit_code_16(lab: Lab) -> None:
    """Expected: the answering side's process dies (SIGKILL), so its modem sees DTR
    drop and hangs up; our modem reports NO CARRIER; our link goes down with
    "Modem hangup" and exit code 16 (pppd's EXIT_HANGUP) within a few seconds."""
    with exchange() as modems:
        hub = lab.answer(modems.tty(HUB_NUMBER), "--init", "ATS0=0")
        client = lab.dial(modems.tty(CLIENT_NUMBER), "--number", HUB_NUMBER)
        client.wait_for(r"Link up", 60)
        hub.wait_for(r"Link up", 30)
        sigkill(hub.proc.pid)
        killed = time.monotonic()
        down = client.wait_for(r"Link down: (.*) \(exit code (\d+)\)", 20)
        seconds = time.monotonic() - killed
        assert down.group(2) == "16", down.group(0)
        assert "hangup" in down.group(1).lower(), down.group(0)
        assert client.wait(20) == 16
    print(f"\ncarrier lost: link down with exit code 16 {seconds:.2f} s after the far end died")
    assert seconds < 10


def test_with_persist_the_dialer_redials_once_the_far_end_answers_again(lab: Lab) -> None:
    """Expected: with --persist --holdoff 1 the dialer, after exit code 16 for the
    lost call, keeps redialing (failed attempts do not end it); a new answering
    process on the same modem -- which first clears the dead one's stale UUCP
    lock -- takes the next call and the link is up again."""
    with exchange() as modems:
        hub_tty = modems.tty(HUB_NUMBER)
        hub = lab.answer(hub_tty, "--init", "ATS0=0")
        client = lab.dial(
            modems.tty(CLIENT_NUMBER),
            "--number",
            HUB_NUMBER,
            "--persist",
            "--holdoff",
            "1",
            "--maxfail",
            "0",
        )
        client.wait_for(r"Link up", 60)
        hub.wait_for(r"Link up", 30)
        sigkill(hub.proc.pid)
        client.wait_for(r"Link down: .*\(exit code 16\)", 20)
        client.wait_for(r"Dialing", 20)  # redialing with nobody to answer
        time.sleep(3)
        lock = lab.run_dir / lock_name(hub_tty)
        assert parse_lock_contents(lock.read_bytes()) == hub.proc.pid  # stale, dead owner
        new_hub = lab.answer(hub_tty, "--init", "ATS0=0")
        new_hub.wait_for(r"Link up", 60)
        client.wait_for(r"Link up", 30)
        assert parse_lock_contents(lock.read_bytes()) == new_hub.proc.pid
    assert "removing stale lock" in new_hub.output()
    assert client.proc.poll() is None or client.proc.returncode == 5


def test_after_sigkill_the_next_start_recovers_the_lock_port_and_socket(lab: Lab) -> None:
    """Expected: ``wanctl dial`` killed with SIGKILL leaves its UUCP lock (with its
    dead PID) and its control socket behind.  The next ``wanctl dial`` on the same
    port removes the stale lock (and says so), opens the port, replaces the stale
    socket, and the link comes up again with the peer, which renegotiates;
    ``wanctl status`` reaches the new process."""
    with CableProcess(115200) as cable:
        hub = lab.answer(cable.b)
        client = lab.dial(cable.a)
        client.wait_for(r"Link up", 30)
        hub.wait_for(r"Link up", 30)
        lock = lab.run_dir / lock_name(cable.a)
        sock = lab.run_dir / "client.sock"
        assert parse_lock_contents(lock.read_bytes()) == client.proc.pid and sock.exists()
        sigkill(client.proc.pid)
        assert client.wait(10) == -signal.SIGKILL
        assert parse_lock_contents(lock.read_bytes()) == client.proc.pid  # left behind
        assert sock.exists()
        again = lab.dial(cable.a)
        again.wait_for(r"Link up", 40)
        output = again.output()
        assert re.search(rf"removing stale lock .*PID {client.proc.pid} is not running", output)
        assert parse_lock_contents(lock.read_bytes()) == again.proc.pid
        status = lab.wanctl("status", "client", "--json")
        assert status.wait(15) == 0, status.output()
        report = json.loads(status.output())
        assert report["pid"] == again.proc.pid and report["phase"] == "network"
