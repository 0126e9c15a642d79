"""Link efficiency of two miniports over the paced virtual cable.

Goodput is the PPP information bytes (the IP packets) that arrive per
second; the theoretical capacity of an 8N1 line is baud / 10 bytes per
second.  The cable runs in its own process, so the CPU figure is ours
alone.  What the framing costs is printed beside the measurement: per
1500-byte packet a flag, FF 03, a 2-byte protocol field and a 2-byte FCS,
plus one escape for each 0x7D/0x7E in random data (2/256 of the bytes at
ACCM 0).

    python -m bench.bench_link [--baud 115200 --baud 921600] [--runs 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile

from hw.lab.cable_process import CableProcess
from ndiswan.sendpath import VcSendPath
from wanminiport import (
    CallParameters,
    FlowSpec,
    LineDownReason,
    LinkInfo,
    LinkParams,
    ModemLines,
    Vc,
    WanMiniport,
)
from wanminiport.info import FramingBits
from wanminiport.transports.serial_port import SerialTransport

PACKET = 1500
PPP_IP = b"\x00\x21"


class Counter:
    def __init__(self) -> None:
        self.payload = 0

    def receive_indication(self, vc: Vc, frame: bytes) -> None:
        self.payload += len(frame) - 2

    def link_params_indication(self, vc: Vc, params: LinkParams) -> None:
        pass

    def line_down_indication(self, vc: Vc, reason: LineDownReason) -> None:
        pass

    def fragment_indication(self, vc: Vc) -> None:
        pass

    def modem_lines_indication(self, vc: Vc, lines: ModemLines) -> None:
        pass


def framing_overhead(accm: int, compressed: bool) -> float:
    """Expected wire bytes per payload byte for random packets of PACKET bytes."""
    escaped = 2 + bin(accm).count("1")  # 0x7D, 0x7E and the ACCM's characters
    header = 1 + (0 if compressed else 2) + 2 + 2  # flag, FF 03, protocol, FCS
    wire = PACKET + header + PACKET * escaped / 256 + 4 * escaped / 256
    return wire / PACKET


async def one_run(baud: int, seconds: float, lock_dir: str) -> tuple[float, float]:
    with CableProcess(baud) as cable:
        bits = (
            FramingBits.PPP_FRAMING
            | FramingBits.PPP_ACCM_SUPPORTED
            | FramingBits.PPP_COMPRESS_ADDRESS_CONTROL
        )
        info = LinkInfo(send_framing_bits=bits, recv_framing_bits=bits, send_accm=0, recv_accm=0)
        adapters, vcs, counters = [], [], []
        for path in (cable.a, cable.b):
            adapter = WanMiniport(SerialTransport(path, baud, lock_dir=lock_dir))
            adapter.start()
            counter = Counter()
            vc = adapter.create_vc(counter)
            adapter.activate_vc(vc, CallParameters(FlowSpec(baud), FlowSpec(baud)))
            vc.set_link_info(info)
            adapters.append(adapter)
            vcs.append(vc)
            counters.append(counter)
        sender = VcSendPath(vcs[0])
        payload = os.urandom(PACKET)
        stop = False

        def refill(_: bool = False) -> None:
            while not stop and not sender.queue.paused:
                sender.send(PPP_IP + payload)

        sender.on_backpressure = lambda paused: None if paused else refill()
        refill()
        # Keep the queue topped up as completions drain it.
        loop = asyncio.get_running_loop()

        async def feeder() -> None:
            while not stop:
                refill()
                await asyncio.sleep(0.005)

        task = loop.create_task(feeder())
        await asyncio.sleep(1.0)  # warm-up: buffers fill, the line is busy
        start_bytes, start_time = counters[1].payload, loop.time()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(seconds)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        got, elapsed = counters[1].payload - start_bytes, loop.time() - start_time
        stop = True
        task.cancel()
        for adapter in adapters:
            adapter.close()
    efficiency = got / elapsed / (baud / 10)
    cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / elapsed
    return efficiency, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baud", type=int, action="append")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    bauds = args.baud or [115200, 921600]
    bound = 1 / framing_overhead(0, compressed=True)
    print(f"{PACKET}-byte random packets, ACCM 0, ACFC; framing bound {bound:.2%}")
    print(f"{'baud':>9} {'efficiency (median)':>20} {'min':>8} {'max':>8} {'CPU s/s':>8}")
    with tempfile.TemporaryDirectory() as lock_dir:
        for baud in bauds:
            results = [asyncio.run(one_run(baud, args.seconds, lock_dir)) for _ in range(args.runs)]
            effs = [r[0] for r in results]
            cpus = [r[1] for r in results]
            print(
                f"{baud:>9} {statistics.median(effs):>20.2%} {min(effs):>8.2%} "
                f"{max(effs):>8.2%} {statistics.median(cpus):>8.3f}"
            )


if __name__ == "__main__":
    main()
