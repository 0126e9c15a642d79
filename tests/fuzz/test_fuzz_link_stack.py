"""Fuzzing the real objects of the receive path on the event loop: miniport, VC, PppLink.

``test_fuzz_receive_path`` drives the protocol cores directly; this one
feeds the same hostile line into the objects ``wanctl`` runs -- a
``WanMiniport`` on a byte pipe, its active VC, a ``PppLink`` with the API
edge -- so the glue between them (frame indications, SET_LINK_INFO, the
send path and its window, the link's timers, the upper edge) sees the
damage too.  The pipe is an in-memory ``Transport``: the wire's bytes are
the input here, not the tty.  The upper edge also pushes packets down at
random moments, from too early to too large.

Expected: no exception escapes into the event loop, every send the link
makes completes, the link never delivers a packet before its NCP opened,
and the miniport's receive buffer stays bounded.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from ndiswan.edges import ApiEdge
from ndiswan.link import PppLink
from ndiswan.ppp import NetworkUp, PppConfig, PppSession
from tests.fuzz.budget import fuzz_settings, watchdog
from tests.fuzz.line import SCENARIOS, Damage, Endpoint, lookup
from tests.fuzz.seeds import capture_frames
from tests.fuzz.test_fuzz_receive_path import plans
from wanminiport import WanMiniport
from wanminiport.callmgr import PvcCallManager, bind_client, unbind_adapter
from wanminiport.transports.base import ModemLines, Transport, TransportEvents, WriteDone

#: Real seconds one example may run on the loop (timers are shrunk to fit).
RUN_SECONDS = 0.12


class CheckingEdge(ApiEdge):
    """The API edge, refusing a packet from the wire whose NCP is not Opened on the link.

    Packets the host itself sent (``from_host``) may come back up by software
    loopback, a moment later, whatever the line did meanwhile: they never
    crossed the wire.
    """

    link: PppLink | None = None
    from_host: frozenset[bytes] = frozenset()

    def deliver(self, packet: bytes) -> None:
        if packet not in self.from_host:
            session = self.link.session if self.link is not None else None
            assert session is not None, "a packet from the wire was delivered with no call up"
            opened = (
                session.ipv6 is not None
                if packet[:1] and packet[0] >> 4 == 6
                else isinstance(session.network, NetworkUp)
            )
            assert opened, f"packet delivered before its NCP opened: {packet[:24].hex()}"
        super().deliver(packet)


class MemoryPipe(Transport):
    """A transport whose far end is this test: written bytes are kept for the peer."""

    name = "memory"
    baudrate = 115200

    def __init__(self) -> None:
        self.events: TransportEvents | None = None
        self.outbox = bytearray()
        self.open = True

    def start(self, events: TransportEvents) -> None:
        self.events = events

    def write(self, data: bytes, done: WriteDone | None = None) -> None:
        self.outbox += data
        if done is not None:
            asyncio.get_running_loop().call_soon(done, self.open)

    @property
    def buffered(self) -> int:
        return 0

    def set_dtr(self, on: bool) -> None:
        pass

    def set_rts(self, on: bool) -> None:
        pass

    def modem_lines(self) -> ModemLines:
        return ModemLines()

    def close(self) -> None:
        self.open = False

    @property
    def is_open(self) -> bool:
        return self.open


upper_packets = st.lists(
    st.tuples(
        st.integers(0, 40),
        st.one_of(
            st.binary(max_size=64),
            st.builds(
                lambda body: bytes([0x45]) + bytes(15) + bytes([10, 7, 0, 2]) + body,
                st.binary(max_size=1600),
            ),
            st.builds(
                lambda body: bytes([0x60]) + bytes(23) + bytes(16) + body, st.binary(max_size=100)
            ),
        ),
    ),
    max_size=8,
)


def quick(config: PppConfig) -> PppConfig:
    """The same configuration with its timers shrunk to fit an example's run."""
    return replace(config, restart_time=0.02, pap_wait_timeout=0.5, chap_wait_timeout=0.5)


async def run_stack(
    scenario_index: int, plan: list[Damage], upper: list[tuple[int, bytes]], seed: int
) -> None:
    loop = asyncio.get_running_loop()
    errors: list[object] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    scenario = SCENARIOS[scenario_index]
    config = quick(scenario.under_test)
    if config.lcp_echo_interval:
        config = replace(config, lcp_echo_interval=0.03)
    pipe = MemoryPipe()
    adapter = WanMiniport(pipe)
    adapter.start()
    edge = CheckingEdge()
    link = PppLink(config, edge, secrets=lookup)
    edge.link, edge.from_host = link, frozenset(packet for _, packet in upper)
    bind_client(adapter, link)
    manager = PvcCallManager(adapter)
    handle = await manager.open_af(manager.register_af(), link)
    vc = manager.add_pvc(handle)
    peer = Endpoint(
        PppSession(quick(scenario.peer), secrets=lookup, rng=random.Random(seed).randbytes)
    )
    peer.session.open(loop.time())
    peer.session.lower_up(loop.time())
    seeds = capture_frames()
    started, step, pending = loop.time(), 0, list(plan)
    try:
        while loop.time() - started < RUN_SECONDS:
            now = loop.time()
            if pipe.outbox:
                data, pipe.outbox = bytes(pipe.outbox), bytearray()
                peer.receive(data, now)
            timer = peer.session.get_timer()
            if timer is not None and timer <= now:
                peer.fire_timer(now)
            chunk = peer.outgoing(now)
            if isinstance(peer.session.network, NetworkUp):
                datagram = peer.session.send_datagram(0x21, bytes([0x45]) + bytes(19) + b"data")
                chunk += peer.framer.encode(datagram, now) if datagram else b""
            if chunk:
                damage = pending.pop(0) if pending else Damage("pass")
                for piece in damaged(chunk, damage, seeds, peer, now):
                    adapter.data_received(piece)
            for at, packet in upper:
                if at == step:
                    link.send_packet(packet)  # some go to our own address: looped back
            assert adapter.framer.buffered <= 2 * (16384 + 8)  # type: ignore[attr-defined]
            step += 1
            await asyncio.sleep(0.002)
        assert not errors, errors
    finally:
        link.detach()
        if vc.id in manager.calls or vc.id in manager.pvcs:
            manager.delete_pvc(vc)
        unbind_adapter(adapter)
        adapter.close()
        await asyncio.sleep(0)
    assert not errors, errors
    assert link.sendpath is None and vc.outstanding == 0


def damaged(
    chunk: bytes, damage: Damage, seeds: tuple[bytes, ...], peer: Endpoint, now: float
) -> list[bytes]:
    kind = damage.kind
    if kind == "drop":
        return []
    if kind == "flip":
        bit = damage.position % (8 * len(chunk))
        out = bytearray(chunk)
        out[bit >> 3] ^= 1 << (bit & 7)
        return [bytes(out)]
    if kind == "cut":
        return [chunk[: damage.position % (len(chunk) + 1)]]
    if kind == "duplicate":
        return [chunk, chunk]
    if kind == "garbage":
        return [damage.data, chunk]
    if kind == "seed":
        frame = bytearray(seeds[damage.position % len(seeds)])
        for index, value in enumerate(damage.data):
            frame[index % len(frame)] ^= value
        return [peer.framer.encode(bytes(frame), now), chunk]
    return [chunk]


@fuzz_settings(80)
@given(st.integers(0, len(SCENARIOS) - 1), plans, upper_packets, st.integers(0, 2**16))
def test_link_stack_on_the_loop_survives_a_hostile_line(
    scenario_index: int, plan: list[Damage], upper: list[tuple[int, bytes]], seed: int
) -> None:
    """Expected: no exception reaches the loop, sends complete, buffers stay bounded."""
    with watchdog("receive path: miniport + PppLink on the event loop"):
        asyncio.run(run_stack(scenario_index, plan, upper, seed))
