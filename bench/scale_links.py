"""Child programs of ``bench.bench_scale``: many cables in one process, many links in one.

``python -m bench.scale_links cables COUNT BAUD`` runs COUNT paced virtual
cables on one event loop, prints ``[[a, b], ...]`` (the tty paths) as one
JSON line and runs until its standard input closes.

``python -m bench.scale_links links ROLE BAUD TTY,TTY,...`` runs one PPP
link per tty in this one process, on one event loop, each with its own TUN
interface ``wanK``: the layers stacked as ``wanctl``'s runner stacks them
(SerialTransport -> WanMiniport -> PvcCallManager -> PppLink -> TunEdge).
ROLE ``daemon`` assigns the addresses (10.80.K.1 here, 10.80.K.2 for the
peer), ROLE ``peer`` takes them.  It prints ``up`` once every link has IP up
and its interface configured, and runs until its standard input closes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import sys
import tempfile

from hw.lab.cable import VirtualCable
from ndiswan.edges import TunEdge
from ndiswan.link import PppLink
from ndiswan.ppp import PppConfig
from ndiswan.tun import TunDevice
from wanminiport import WanMiniport
from wanminiport.callmgr import PvcCallManager, bind_client
from wanminiport.transports.serial_port import SerialTransport


def daemon_address(index: int) -> str:
    return f"10.80.{index}.1"


def peer_address(index: int) -> str:
    return f"10.80.{index}.2"


async def _stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    closed = loop.create_future()
    fd = sys.stdin.fileno()

    def readable() -> None:
        if not os.read(fd, 4096) and not closed.done():
            closed.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await closed
    finally:
        loop.remove_reader(fd)


async def run_cables(count: int, baud: int) -> None:
    cables = [VirtualCable(baud) for _ in range(count)]
    for cable in cables:
        cable.start()
    print(json.dumps([[cable.a_path, cable.b_path] for cable in cables]), flush=True)
    try:
        await _stdin_closed()
    finally:
        for cable in cables:
            cable.stop()


async def _one_link(
    index: int, tty: str, baud: int, daemon: bool, lock_dir: str
) -> tuple[PppLink, TunEdge, WanMiniport]:
    if daemon:
        config = PppConfig(
            local_ip=ipaddress.IPv4Address(daemon_address(index)),
            remote_ip=ipaddress.IPv4Address(peer_address(index)),
            name="daemon",
        )
    else:
        config = PppConfig(name="peer")
    transport = SerialTransport(tty, baud, lock_dir=lock_dir)
    adapter = WanMiniport(transport, max_frame_size=1500)
    adapter.start()
    link = PppLink(config, None)
    edge = TunEdge(TunDevice(f"wan{index}"))
    link.upper = edge
    edge.attach(link)
    bind_client(adapter, link)
    manager = PvcCallManager(adapter)
    handle = await manager.open_af(manager.register_af(), link)
    manager.add_pvc(handle, baud)
    return link, edge, adapter


async def run_links(role: str, baud: int, ttys: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="scale-locks-") as lock_dir:
        links = [
            await _one_link(index, tty, baud, role == "daemon", lock_dir)
            for index, tty in enumerate(ttys)
        ]
        while not all(link.state.local and not link._tasks for link, _, _ in links):
            await asyncio.sleep(0.05)
        print("up", flush=True)
        try:
            await _stdin_closed()
        finally:
            for link, edge, adapter in links:
                link.detach()
                edge.close()
                adapter.close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["cables"] and len(argv) == 3:
        asyncio.run(run_cables(int(argv[1]), int(argv[2])))
        return 0
    if argv[:1] == ["links"] and len(argv) == 4 and argv[1] in ("daemon", "peer"):
        asyncio.run(run_links(argv[1], int(argv[2]), argv[3].split(",")))
        return 0
    print(
        "usage: python -m bench.scale_links cables COUNT BAUD | links daemon|peer BAUD TTY,...",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
