"""Endurance: dial/hang-up cycles over a direct cable and over emulated modems leak nothing.

Each cycle is a whole call through the real stack in this process (as
``wanctl`` builds it, minus the TUN device): the ttys are opened and
UUCP-locked, PPP comes up with CHAP and IPCP, one datagram crosses each way,
one side ends the link (LCP Terminate) and both hang up and release the
port.  After a warm-up of ten cycles we record open fds, threads, asyncio
tasks and the memory tracemalloc traces; at the end they must be the same:
fds, threads and tasks exactly, traced memory within ``MEMORY_SLACK`` (what
CPython's own bounded caches fill while a run goes on, about 40 KiB over
1,000 cycles here; a leaked link is several KiB per cycle).  Every object of
every call is also held by a weak reference and must be gone at the end.

CI runs ``CI_CYCLES`` of each; the slow variants run ``WANCTL_ENDURANCE_CYCLES``
(default 1,000) of each, with ``WANCTL_SLOW=1``.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from hw.lab.cable import VirtualCable
from hw.lab.modem import Exchange, ExchangeConfig, ModemConfig
from tests.reliability.slow import env_count
from tests.reliability.stack import (
    CLIENT_IP,
    HUB_IP,
    NO_CARRIER_ACCM,
    LinkEnd,
    Resources,
    answer,
    client_config,
    close_end,
    dial,
    hub_config,
    ipv4_packet,
    network_up,
    open_modem_end,
    open_pvc_end,
)
from wanminiport.exitcodes import ExitCode
from wanminiport.mcm import HayesTimings
from wanminiport.mcm.dialup import DialupSettings

CI_CYCLES = 100
LONG_CYCLES = env_count("WANCTL_ENDURANCE_CYCLES", 1000)
WARM_UP = 10
MEMORY_SLACK = 96 * 1024
#: Short restart timer: a side that got a Terminate-Request waits one restart
#: period before it is down; nothing else depends on it here.
HUB = hub_config(restart_time=0.5)
CLIENT = client_config(restart_time=0.5)
MODEM_HUB = hub_config(restart_time=0.5, asyncmap=NO_CARRIER_ACCM)
MODEM_CLIENT = client_config(restart_time=0.5, asyncmap=NO_CARRIER_ACCM)
HUB_NUMBER, CLIENT_NUMBER = "5552002", "5551001"
MODEM_SETTINGS = DialupSettings(
    init=("ATZ", "ATQ0V1E0"),
    timings=HayesTimings(
        command=2.0, dial=5.0, answer=5.0, ring_gap=1.0, guard=0.04, dtr_hold=0.05
    ),
)

Cycle = Callable[[int], Awaitable[list[weakref.ref[object]]]]


async def exchange_datagrams(hub: LinkEnd, client: LinkEnd, cycle: int) -> None:
    await asyncio.gather(network_up(hub), network_up(client))
    there = ipv4_packet(CLIENT_IP, HUB_IP, b"cycle %d" % cycle)
    back = ipv4_packet(HUB_IP, CLIENT_IP, b"back %d" % cycle)
    assert client.link.send_packet(there) and hub.link.send_packet(back)
    assert await asyncio.wait_for(hub.edge.received.get(), 5) == there
    assert await asyncio.wait_for(client.edge.received.get(), 5) == back


async def terminate(closer: LinkEnd) -> None:
    closer.link.close("User request")
    await asyncio.wait_for(closer.link.terminated.wait(), 5)
    assert closer.link.exit_code is ExitCode.USER_REQUEST


def refs(*ends: LinkEnd) -> list[weakref.ref[object]]:
    out: list[weakref.ref[object]] = []
    for end in ends:
        for part in (end.link, end.adapter, end.transport, end.manager, end.edge, end.vc):
            if part is not None:
                out.append(weakref.ref(part))
    return out


async def run_cycles(count: int, cycle: Cycle) -> tuple[Resources, Resources, float]:
    """Run ``count`` cycles; resources after the warm-up and at the end, and the seconds."""
    dead: list[weakref.ref[object]] = []
    warm = Resources.now(not_counting=(__file__,))
    started = time.monotonic()
    for number in range(count):
        dead += await cycle(number)
        if number + 1 == WARM_UP:
            await asyncio.sleep(0.05)
            warm = Resources.now(not_counting=(__file__,))
    await asyncio.sleep(0.05)
    seconds = time.monotonic() - started
    end = Resources.now(not_counting=(__file__,))
    alive = [ref() for ref in dead if ref() is not None]
    assert not alive, f"{len(alive)} objects of ended calls still referenced: {alive[:5]}"
    return warm, end, seconds


def check_and_report(
    what: str, count: int, warm: Resources, end: Resources, seconds: float
) -> None:
    print(
        f"\n{count} {what} cycles in {seconds:.1f} s ({seconds / count * 1000:.0f} ms each)"
        f"\n  after {WARM_UP}: {warm.describe()}\n  at the end: {end.describe()}"
        f"\n  traced memory change: {(end.traced - warm.traced) / 1024:+.1f} KiB"
    )
    assert (end.fds, end.threads, end.tasks) == (warm.fds, warm.threads, warm.tasks)
    assert end.traced - warm.traced <= MEMORY_SLACK


def traced(
    run: Callable[[], Awaitable[tuple[Resources, Resources, float]]],
) -> tuple[Resources, Resources, float]:
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        return asyncio.run(run())  # type: ignore[arg-type]
    finally:
        if not was_tracing:
            tracemalloc.stop()


# -- a direct cable ---------------------------------------------------------------


def cable_cycles(count: int, lock_dir: Path) -> tuple[Resources, Resources, float]:
    async def run() -> tuple[Resources, Resources, float]:
        async with VirtualCable(115200) as cable:

            async def cycle(number: int) -> list[weakref.ref[object]]:
                hub = await open_pvc_end(cable.a_path, HUB, lock_dir=str(lock_dir))
                client = await open_pvc_end(cable.b_path, CLIENT, lock_dir=str(lock_dir))
                try:
                    await exchange_datagrams(hub, client, number)
                    await terminate(client if number % 2 else hub)
                finally:
                    await close_end(client)
                    await close_end(hub)
                assert not list(lock_dir.iterdir()), "a UUCP lock outlived its call"
                return refs(hub, client)

            return await run_cycles(count, cycle)

    return traced(run)


def test_hundred_calls_over_the_cable_leave_no_fd_thread_task_or_memory(tmp_path: Path) -> None:
    """Expected: after 100 calls, fds, threads and tasks equal their count after 10."""
    warm, end, seconds = cable_cycles(CI_CYCLES, tmp_path)
    check_and_report("cable", CI_CYCLES, warm, end, seconds)


@pytest.mark.slow
@pytest.mark.timeout(LONG_CYCLES * 2 + 300)
def test_thousand_calls_over_the_cable_leave_no_fd_thread_task_or_memory(
    tmp_path: Path,
) -> None:
    """Expected: as the CI run, over WANCTL_ENDURANCE_CYCLES (1,000) calls."""
    warm, end, seconds = cable_cycles(LONG_CYCLES, tmp_path)
    check_and_report("cable", LONG_CYCLES, warm, end, seconds)


# -- two emulated modems on a virtual exchange ----------------------------------------


def modem_cycles(count: int) -> tuple[Resources, Resources, float]:
    async def run() -> tuple[Resources, Resources, float]:
        exchange = Exchange(
            ExchangeConfig(ring_interval=0.05, handshake_time=0.0, dte_poll_interval=0.01)
        )
        for number in (HUB_NUMBER, CLIENT_NUMBER):
            exchange.add_modem(number, config=ModemConfig(rate=115200, time_scale=0.02))
        exchange.start()
        try:

            async def cycle(number: int) -> list[weakref.ref[object]]:
                hub = await open_modem_end(
                    exchange.modems[HUB_NUMBER].path, MODEM_HUB, MODEM_SETTINGS
                )
                client = await open_modem_end(
                    exchange.modems[CLIENT_NUMBER].path, MODEM_CLIENT, MODEM_SETTINGS
                )
                try:
                    answering = asyncio.ensure_future(answer(hub))
                    await dial(client, HUB_NUMBER)
                    await answering
                    await exchange_datagrams(hub, client, number)
                    # Alternate who ends the link and who puts the phone down first.
                    first, second = (client, hub) if number % 2 else (hub, client)
                    await terminate(first)
                    await close_end(first)
                    await close_end(second)
                finally:
                    await close_end(client)
                    await close_end(hub)
                return refs(hub, client)

            return await run_cycles(count, cycle)
        finally:
            exchange.close()

    return traced(run)


def test_hundred_modem_calls_leave_no_fd_thread_task_or_memory() -> None:
    """Expected: after 100 dial/answer/hang-up calls, nothing grew since the tenth."""
    warm, end, seconds = modem_cycles(CI_CYCLES)
    check_and_report("modem", CI_CYCLES, warm, end, seconds)


@pytest.mark.slow
@pytest.mark.timeout(LONG_CYCLES * 2 + 300)
def test_thousand_modem_calls_leave_no_fd_thread_task_or_memory() -> None:
    """Expected: as the CI run, over WANCTL_ENDURANCE_CYCLES (1,000) calls."""
    warm, end, seconds = modem_cycles(LONG_CYCLES)
    check_and_report("modem", LONG_CYCLES, warm, end, seconds)
