"""The far end stops answering: LCP echo notices, the link ends with pppd's exit code 15.

The peer is the real pppd 2.4.9 in the interop VM (frozen with SIGSTOP, or
killed with SIGKILL, through the rig's process handles), or for machines
without the VM our own ``wanctl answer`` frozen with SIGSTOP.  Our side is
a real ``wanctl dial --debug`` in a network namespace with
``--lcp-echo-interval 1 --lcp-echo-failure 3``.

Expected, in every case:

* while the peer answers, the link stays up (echoes are answered);
* detection -- pppd's "No response to 3 echo-requests" and "Serial link
  appears to be disconnected." -- comes at least interval x failures (3 s:
  three requests went unanswered) and at most interval x failures + 1 s
  (4 s) after the peer stopped.  An Echo-Request goes out every interval
  and the peer is declared dead at the first tick that finds ``failures``
  of them unanswered, so after a stop the wait is (failures, failures + 1]
  intervals.  The stop is timed from when the freeze or kill is known done;
* then, as pppd does, LCP sends its Terminate-Requests (lcp-max-terminate
  2, one per 3 s restart period) before the link is down: "Link down: Peer
  not responding (exit code 15)" at most ``TERMINATE`` seconds after
  detection, and the process exits with 15.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from hw.lab.cable_process import CableProcess
from hw.lab.vm import GuestProcess, PppdVm, start_pppd
from tests.reliability.conftest import Lab
from wanctl.lab import LinkProcess

INTERVAL, FAILURES = 1, 3
ECHO = ("--lcp-echo-interval", str(INTERVAL), "--lcp-echo-failure", str(FAILURES), "--debug")
LOWER, UPPER = INTERVAL * FAILURES, INTERVAL * FAILURES + 1.0
#: Two Terminate-Requests 3 s apart, unanswered, then down (plus scheduling slack).
TERMINATE = 2 * 3.0 + 0.5
#: How long the link must stay up, echoes answered, before the peer is stopped.
STEADY = 2.5


def detection_time(client: LinkProcess, stop_peer: Callable[[], None]) -> tuple[float, float]:
    """Seconds from the peer's stop to the detection and to "Link down"; checks exit 15."""
    time.sleep(STEADY)
    assert "Link down" not in client.output(), client.output()
    assert "rcvd [LCP EchoRep" in client.output()
    stop_peer()
    stopped = time.monotonic()
    client.wait_for(rf"No response to {FAILURES} echo-requests", UPPER + 10)
    client.wait_for(r"Serial link appears to be disconnected", 1)
    detected = time.monotonic() - stopped
    down = client.wait_for(r"Link down: (.*) \(exit code (\d+)\)", TERMINATE + 10)
    ended = time.monotonic() - stopped
    assert down.group(2) == "15", down.group(0)
    assert down.group(1) == "Peer not responding"
    assert client.wait(15) == 15
    return detected, ended


def check_bounds(what: str, times: tuple[float, float]) -> None:
    detected, ended = times
    print(
        f"\n{what}: peer declared dead {detected:.2f} s after it stopped (interval"
        f" {INTERVAL} s x {FAILURES} failures: bounds {LOWER:g}..{UPPER:g} s); link down with"
        f" exit code 15 after {ended:.2f} s"
    )
    assert LOWER - 0.1 <= detected <= UPPER
    assert ended - detected <= TERMINATE


@pytest.mark.interop
@pytest.mark.parametrize(
    "how", ["frozen with SIGSTOP", pytest.param("killed with SIGKILL", marks=pytest.mark.slow)]
)
def test_real_pppd_that_stops_answering_is_detected_by_lcp_echo(
    lab: Lab, peer_vm: PppdVm, how: str
) -> None:
    """Expected: exit code 15 within 3..4 s of pppd's stop (see the module docstring)."""
    line = peer_vm.line("ttyS1")
    # Our end first: qemu drops what the guest sends while the host pty is closed.
    client = lab.start(
        "dial", lab.ns_client, line.host, "--noauth", *ECHO, "--linkname", "client", name="client"
    )
    time.sleep(0.5)
    pppd: GuestProcess = start_pppd(peer_vm, "ttyS1", ["noauth", "10.79.0.1:10.79.0.2"])
    try:
        client.wait_for(r"Link up: \S+ local 10\.79\.0\.2 remote 10\.79\.0\.1", 30)

        def stop() -> None:
            assert pppd.freeze() if how.startswith("frozen") else pppd.kill()

        times = detection_time(client, stop)
    finally:
        peer_vm.kill_spawned([pppd])
    check_bounds(f"real pppd {how}", times)


@pytest.mark.slow
def test_our_own_peer_frozen_with_sigstop_is_detected_by_lcp_echo(lab: Lab) -> None:
    """Expected: as with pppd, with ``wanctl answer`` as the peer (no VM needed)."""
    with CableProcess(115200) as cable:
        hub = lab.answer(cable.b)
        client = lab.dial(cable.a, *ECHO)
        client.wait_for(r"Link up", 30)
        hub.wait_for(r"Link up", 30)
        try:
            times = detection_time(client, lambda: os.kill(hub.proc.pid, signal.SIGSTOP))
        finally:
            os.kill(hub.proc.pid, signal.SIGCONT)
    check_bounds("wanctl answer frozen with SIGSTOP", times)
