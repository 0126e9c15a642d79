"""The line is cut during a transfer.

Two ways a cable fails (``hw/lab/cable.py``): an end is hung up (the tty reads
EIO/HUP, as when a USB adapter or modem drops it), or the wire is cut (bytes
leave and are lost, nothing tells either side).  The first two tests run
the whole stack in this process, where what is left behind can be counted;
the last runs two real ``wanctl`` processes with ``--persist``.
"""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from pathlib import Path

from hw.lab.cable import VirtualCable
from hw.lab.cable_process import CableProcess
from tests.reliability.conftest import Lab
from tests.reliability.stack import (
    CLIENT_IP,
    HUB_IP,
    LinkEnd,
    Resources,
    client_config,
    close_end,
    hub_config,
    ipv4_packet,
    network_up,
    open_pvc_end,
)
from wanctl.lab import ping
from wanminiport.exitcodes import ExitCode
from wanminiport.info import SendStatus
from wanminiport.vc import VcState


def record_sends(end: LinkEnd) -> list[asyncio.Future[SendStatus]]:
    """Every send the link hands to its VC, as the futures the miniport completes."""
    assert end.vc is not None
    vc, futures = end.vc, []
    handed_down = vc.send

    def send(frame: bytes) -> asyncio.Future[SendStatus]:
        future = handed_down(frame)
        futures.append(future)
        return future

    vc.send = send  # type: ignore[method-assign]
    return futures


def fill_the_send_path(end: LinkEnd) -> int:
    """Push 1000-octet packets until the upper edge is told to pause; returns how many
    the link took."""
    taken = 0
    for _ in range(500):
        if end.edge.paused:
            break
        taken += end.link.send_packet(ipv4_packet(CLIENT_IP, HUB_IP, bytes(1000)))
    return taken


def test_hung_up_line_fails_every_pending_send_and_leaves_nothing(tmp_path: Path) -> None:
    """Expected: the client's end is hung up while sends are outstanding in the VC and
    queued above it.  Every send handed to the VC completes exactly once -- those
    still pending with HANGUP --, the queued ones are dropped and counted, the link
    ends with exit code 16.  After teardown no VC, fd, task, thread or object of
    the call is left.  With the end plugged in again a new call comes up and
    carries data, as ``persist`` would redial."""

    async def run() -> tuple[dict[SendStatus, int], int, int, Resources, Resources]:
        async with VirtualCable(115200) as cable:
            await asyncio.sleep(0.05)
            before = Resources.now()
            hub = await open_pvc_end(cable.a_path, hub_config(), lock_dir=str(tmp_path))
            client = await open_pvc_end(cable.b_path, client_config(), lock_dir=str(tmp_path))
            await asyncio.gather(network_up(hub), network_up(client))
            assert client.vc is not None and client.link.sendpath is not None
            vc, sendpath = client.vc, client.link.sendpath
            futures, earlier = record_sends(client), dict(sendpath.completed)
            pushed = fill_the_send_path(client)
            assert pushed > 0
            await asyncio.sleep(0.2)  # the line now carries some, the rest waits
            outstanding, queued = vc.outstanding, len(sendpath.queue)
            assert outstanding > 0 and queued > 0, (outstanding, queued)
            cable.hangup("b")
            await asyncio.wait_for(client.link.terminated.wait(), 5)
            assert client.link.exit_code is ExitCode.HANGUP
            assert vc.state is VcState.DEACTIVATED and vc.outstanding == 0
            assert all(future.done() for future in futures)
            statuses: dict[SendStatus, int] = {}
            for future in futures:
                statuses[future.result()] = statuses.get(future.result(), 0) + 1
            assert statuses.get(SendStatus.HANGUP, 0) >= outstanding
            assert set(statuses) <= {SendStatus.SUCCESS, SendStatus.HANGUP}
            # Each completion reached the link once, after the ones before the transfer.
            assert {k: n - earlier.get(k, 0) for k, n in sendpath.completed.items()} == statuses
            assert sendpath.queue.dropped >= queued
            print(
                f"\n{pushed} packets pushed; at the hang-up {outstanding} sends outstanding"
                f" in the VC and {queued} queued above it; completions {statuses},"
                f" {sendpath.queue.dropped} queued packets dropped and counted"
            )
            parts = [weakref.ref(p) for p in (client.link, client.adapter, client.transport, vc)]
            await close_end(client)
            await close_end(hub)
            del client, hub, vc, sendpath, futures
            await asyncio.sleep(0.05)
            gc.collect()
            alive = [ref() for ref in parts if ref() is not None]
            assert not alive, alive
            assert not list(tmp_path.iterdir()), "a UUCP lock was left"
            # The line comes back: a new call on the new tty comes up and carries data.
            path = cable.replug("b")
            hub = await open_pvc_end(cable.a_path, hub_config(), lock_dir=str(tmp_path))
            client = await open_pvc_end(path, client_config(), lock_dir=str(tmp_path))
            try:
                await asyncio.gather(network_up(hub), network_up(client))
                packet = ipv4_packet(CLIENT_IP, HUB_IP, b"back again")
                assert client.link.send_packet(packet)
                assert await asyncio.wait_for(hub.edge.received.get(), 5) == packet
            finally:
                await close_end(client)
                await close_end(hub)
            await asyncio.sleep(0.05)
            # The replugged end holds as many fds as the one it replaced.
            return statuses, outstanding, queued, before, Resources.now()

    _, _, _, before, after = asyncio.run(run())
    assert (after.fds, after.threads, after.tasks) == (before.fds, before.threads, before.tasks)


def test_cut_wire_is_found_by_lcp_echo_and_the_call_leaves_nothing(tmp_path: Path) -> None:
    """Expected: nothing tells either side the wire is cut; the client's LCP echo
    (0.5 s x 2, restart 0.5 s) ends its link with exit code 15 while it is still
    sending; every send completes (the ones the OS took with success -- completion
    is not delivery --, the rest when the teardown closes the VC) and nothing is
    left: no VC, fd, task or thread."""

    async def run() -> tuple[Resources, Resources, float]:
        async with VirtualCable(115200) as cable:
            await asyncio.sleep(0.05)
            before = Resources.now()
            hub = await open_pvc_end(cable.a_path, hub_config())
            client = await open_pvc_end(
                cable.b_path,
                client_config(lcp_echo_interval=0.5, lcp_echo_failure=2, restart_time=0.5),
            )
            await asyncio.gather(network_up(hub), network_up(client))
            futures = record_sends(client)
            fill_the_send_path(client)
            cable.cut()
            cut_at = time.monotonic()
            while not client.link.terminated.is_set():
                fill_the_send_path(client)
                await asyncio.sleep(0.05)
            seconds = time.monotonic() - cut_at
            assert client.link.exit_code is ExitCode.PEER_DEAD
            await close_end(client)
            await close_end(hub)
            # Handed to the OS before the teardown, or failed by it: none is left open.
            assert futures and all(future.done() for future in futures)
            del client, hub, futures
            await asyncio.sleep(0.05)
            return before, Resources.now(), seconds

    before, after, seconds = asyncio.run(run())
    print(f"\ncut wire: link down with exit code 15 after {seconds:.1f} s")
    assert seconds < 0.5 * 3 + 2 * 0.5 + 1.0
    assert (after.fds, after.threads, after.tasks) == (before.fds, before.threads, before.tasks)


def test_with_persist_the_link_comes_back_when_the_cut_wire_is_restored(lab: Lab) -> None:
    """Expected: two ``wanctl`` processes with --persist --holdoff 1 and LCP echo
    1 s x 2.  Cutting the wire takes both links down (exit code 15, "Peer not
    responding"); both keep trying; once the wire is restored both come back up
    by themselves and ping crosses again."""
    persist = ("--persist", "--holdoff", "1", "--lcp-echo-interval", "1", "--lcp-echo-failure", "2")
    with CableProcess(115200) as cable:
        hub = lab.answer(cable.b, *persist)
        client = lab.dial(cable.a, *persist)
        client.wait_for(r"Link up", 30)
        hub.wait_for(r"Link up", 30)
        ok, summary = ping(lab.ns_client, "10.77.0.1", count=2)
        assert ok, summary
        cable.cut()
        for process in (client, hub):
            process.wait_for(r"Link down: Peer not responding \(exit code 15\)", 20)
        time.sleep(2)
        cable.restore()
        restored = time.monotonic()
        client.wait_for(r"Link up", 40)
        hub.wait_for(r"Link up", 40)
        back = time.monotonic() - restored
        ok, summary = ping(lab.ns_client, "10.77.0.1", count=2)
        assert ok, (summary, client.output(), hub.output())
    print(f"\npersist: both links back {back:.1f} s after the wire was restored")
