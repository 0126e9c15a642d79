"""The whole stack in one process, as the runner builds it, for fault and endurance tests.

``open_pvc_end`` stacks a ``SerialTransport`` (a real tty), a ``WanMiniport``,
a ``PvcCallManager`` and a ``PppLink`` with the Python API edge, exactly as
``wanctl dial`` does for a direct cable minus the TUN device; ``open_modem_end``
does the same with the dial-up MCM on an emulated modem's tty.  ``close_end``
tears an end down in the runner's order.  ``Resources`` counts what a leak
would grow: open fds, threads, asyncio tasks and traced memory.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import os
import struct
import threading
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

from ndiswan.edges import ApiEdge
from ndiswan.link import PppLink
from ndiswan.ppp import AuthRequirement, Ipv6Up, NetworkUp, PppConfig, SecretLookup
from wanminiport import WanMiniport
from wanminiport.callmgr import AfHandle, PvcCallManager, bind_client, unbind_adapter
from wanminiport.mcm import HayesTimings
from wanminiport.mcm.dialup import DialupCallManager, DialupSettings
from wanminiport.transports.serial_port import SerialTransport
from wanminiport.vc import Vc, VcState

SECRETS = {("client", "hub"): "s3cret-for-tests"}
HUB_IP, CLIENT_IP = "10.7.0.1", "10.7.0.2"
#: CR and LF escaped both ways: on a modem tty without CD the MCM watches
#: the data for the modem's own "NO CARRIER" line (what wanctl.config does).
NO_CARRIER_ACCM = (1 << 0x0A) | (1 << 0x0D)
#: Host timings for emulated modems whose S7 and S12 are scaled by 0.02.
FAST_MODEM_TIMINGS = HayesTimings(
    command=2.0, dial=5.0, answer=5.0, ring_gap=1.0, guard=0.04, dtr_hold=0.05
)


def lookup(client: str, server: str) -> str | None:
    return SECRETS.get((client, server))


def hub_config(**changes: object) -> PppConfig:
    """The answering side: requires CHAP, assigns both addresses."""
    options: dict[str, object] = {
        "name": "hub",
        "require_auth": AuthRequirement.CHAP,
        "local_ip": ipaddress.IPv4Address(HUB_IP),
        "remote_ip": ipaddress.IPv4Address(CLIENT_IP),
    }
    options.update(changes)
    return PppConfig(**options)  # type: ignore[arg-type]


def client_config(**changes: object) -> PppConfig:
    """The dialing side: authenticates as ``client`` to ``hub``."""
    options: dict[str, object] = {"user": "client", "remote_name": "hub"}
    options.update(changes)
    return PppConfig(**options)  # type: ignore[arg-type]


def ipv4_packet(src: str, dst: str, payload: bytes) -> bytes:
    """A UDP-numbered IPv4 packet (the checksum is not checked on this path)."""
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        0,
        0,
        64,
        17,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return header + payload


@dataclass
class LinkEnd:
    """One side of a call: transport, miniport, call manager, PPP link, API edge."""

    transport: SerialTransport
    adapter: WanMiniport
    link: PppLink
    edge: ApiEdge
    manager: PvcCallManager | DialupCallManager
    handle: AfHandle
    vc: Vc | None = None
    #: Frames the VC carried: (outbound, frame), from its tap.
    frames: list[tuple[bool, bytes]] = field(default_factory=list)
    closed: bool = False

    def tap(self) -> None:
        """Record every frame of the current VC (as ``wanctl capture`` sees them)."""
        assert self.vc is not None
        self.vc.taps.append(lambda outbound, frame: self.frames.append((outbound, frame)))


async def _stack(
    path: str,
    config: PppConfig,
    modem: bool,
    lock_dir: str | None,
    settings: DialupSettings | None,
    secrets: SecretLookup = lookup,
) -> LinkEnd:
    transport = SerialTransport(path, 115200, lock=lock_dir is not None, lock_dir=lock_dir)
    adapter = WanMiniport(transport)
    adapter.start()
    edge = ApiEdge()
    link = PppLink(config, edge, secrets=secrets)
    bind_client(adapter, link)
    manager: PvcCallManager | DialupCallManager = (
        DialupCallManager(adapter, settings or DialupSettings(timings=FAST_MODEM_TIMINGS))
        if modem
        else PvcCallManager(adapter)
    )
    handle = await manager.open_af(manager.register_af(), link)
    return LinkEnd(transport, adapter, link, edge, manager, handle)


async def open_pvc_end(
    path: str, config: PppConfig, *, lock_dir: str | None = None, secrets: SecretLookup = lookup
) -> LinkEnd:
    """A direct-line end with its PVC up: PPP starts at once."""
    end = await _stack(path, config, False, lock_dir, None, secrets)
    assert isinstance(end.manager, PvcCallManager)
    end.vc = end.manager.add_pvc(end.handle)
    return end


async def open_modem_end(
    path: str, config: PppConfig, settings: DialupSettings | None = None
) -> LinkEnd:
    """A modem end with the dial-up MCM attached; call ``dial``/``answer`` next."""
    return await _stack(path, config, True, None, settings)


async def dial(end: LinkEnd, number: str) -> None:
    assert isinstance(end.manager, DialupCallManager)
    vc = end.adapter.create_vc(end.link)
    await end.manager.make_call(end.handle, vc, number)
    end.vc = vc


async def answer(end: LinkEnd) -> None:
    assert isinstance(end.manager, DialupCallManager)
    if not end.handle.saps:
        end.manager.register_sap(end.handle, "*")
    end.vc = await end.manager.accept_call(end.handle)


async def close_end(end: LinkEnd) -> None:
    """Hang up and release the port, in the runner's order (``_teardown`` then close)."""
    if end.closed:
        return
    end.closed = True
    end.link.detach()
    manager, vc = end.manager, end.vc
    if vc is not None:
        if isinstance(manager, DialupCallManager):
            await manager.close_call(vc)
            manager.delete_vc(vc)
        else:
            manager.delete_pvc(vc)
    if isinstance(manager, DialupCallManager):
        manager.close()
    unbind_adapter(end.adapter)
    end.adapter.close()
    end.vc = None


async def network_up(end: LinkEnd, timeout: float = 15.0, *, ipv6: bool = False) -> NetworkUp:
    """Wait for the edge's NetworkUp (and Ipv6Up when asked); returns the IPv4 event."""
    kinds = {NetworkUp, Ipv6Up} if ipv6 else {NetworkUp}
    seen: dict[type, object] = {}
    while kinds - set(seen):
        event = await asyncio.wait_for(end.edge.events.get(), timeout)
        seen[type(event)] = event
    up = seen[NetworkUp]
    assert isinstance(up, NetworkUp)
    return up


async def until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Poll ``condition`` every 5 ms; fail naming ``what`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.005)


def vc_is_gone(end: LinkEnd) -> bool:
    return end.vc is None or end.vc.state in (VcState.DEACTIVATED, VcState.DELETED)


@dataclass(frozen=True)
class Resources:
    """What a leak grows; compared after a warm-up and at the end of a run."""

    fds: int
    threads: int
    tasks: int
    #: Bytes traced by tracemalloc (0 when it is not tracing).
    traced: int

    @classmethod
    def now(cls, *, not_counting: tuple[str, ...] = ()) -> Resources:
        """Counts now; allocations made in the files ``not_counting`` (the test's own
        bookkeeping) are left out of the traced memory."""
        gc.collect()
        traced = 0
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, path) for path in (*not_counting, tracemalloc.__file__)]
            )
            traced = sum(stat.size for stat in snapshot.statistics("filename"))
        return cls(
            fds=len(os.listdir("/proc/self/fd")),
            threads=threading.active_count(),
            tasks=len(asyncio.all_tasks()),
            traced=traced,
        )

    def describe(self) -> str:
        return (
            f"{self.fds} fds, {self.threads} threads, {self.tasks} tasks, "
            f"{self.traced / 1024:.1f} KiB traced"
        )
