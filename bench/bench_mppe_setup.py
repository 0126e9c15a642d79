"""Call setup with MS-CHAPv2 and MPPE-128 against CHAP-MD5 alone: control packets to IP up.

Run as root: ``python -m bench.bench_mppe_setup [--runs 3] [--baud 115200]``.
Real ``wanctl answer`` (requiring MS-CHAPv2 and MPPE-128, or CHAP) and
``wanctl dial`` in two namespaces over the paced cable (``bench.bench_e2e``'s
lab), each with ``--pcap``.  IP is usable once IPCP is acknowledged both ways
and, with MPPE, CCP too (nothing crosses in the clear before).  Counted: the
control packets (LCP, CHAP, IPCP, CCP) that crossed until then, against the
minimum, and the time from the client's first frame; medians of ``--runs``.

The minimum with MPPE is 17: LCP Request/Ack each way 4, MS-CHAPv2 Challenge,
Response, Success 3, IPCP with the address assigned (Request, Nak, Request,
Ack from the client; Request, Ack from the hub) 6, CCP Request/Ack each way 4.
Without MPPE it is those 13 (``bench.bench_e2e``'s figure).
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.bench_e2e import BITS_PER_BYTE, CHAP, IPCP, LCP, crossed, lab
from bench.measure import median
from hw.lab.cable_process import CableProcess

CCP = 0x80FD
CONTROL = (LCP, CHAP, IPCP, CCP)
MINIMUM = {True: 17, False: 13}
MPPE_ARGS = ("--require-mschap-v2", "--require-mppe-128")


def setup_run(baud: int, mppe: bool) -> dict[str, float]:
    extra = MPPE_ARGS if mppe else ()
    with lab() as the_lab, CableProcess(baud) as cable:
        hub_pcap, pcap = str(the_lab.tmp / "hub.pcap"), str(the_lab.tmp / "client.pcap")
        hub = the_lab.answer(cable.b, baud, "--pcap", hub_pcap, *extra)
        hub.wait_for(r"Direct line", 30)
        time.sleep(0.2)
        started, dialed = time.monotonic(), time.time()
        client = the_lab.dial(
            cable.a, baud, "--pcap", pcap, *(("--require-mppe-128",) if mppe else ())
        )
        up, _ = client.wait_for(r"Link up", 60)
        hub.wait_for(r"Link up", 30)
        time.sleep(1.0)  # CCP may finish just after IPCP
        frames = crossed(pcap, hub_pcap)
    acks = {
        (proto, sent): [
            f.time for f in frames if f.protocol == proto and f.code == 2 and f.sent == sent
        ]
        for proto in ((IPCP, CCP) if mppe else (IPCP,))
        for sent in (True, False)
    }
    if not all(acks.values()):
        raise RuntimeError("an NCP never opened in the capture")
    usable = max(times[0] for times in acks.values())
    control = [f for f in frames if f.protocol in CONTROL and f.time <= usable]
    control = [f for f in control if f.sent or f.time >= dialed or f.code == 1]

    def wire_time(frame: object) -> float:
        return (4 + len(frame.info) + 3) * BITS_PER_BYTE / baud  # type: ignore[attr-defined]

    first = min(f.time - wire_time(f) for f in control if f.sent)
    return {"packets": len(control), "protocol_time": usable - first, "wall": up - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baud", type=int, default=115200)
    args = parser.parse_args(argv)
    print(f"Call setup at {args.baud} baud, medians of {args.runs} runs")
    print(
        f"{'auth':>22} {'dial->IP up':>11} {'1st frame->usable':>17} {'packets':>7} {'minimum':>7}"
    )
    for mppe in (False, True):
        runs = [setup_run(args.baud, mppe) for _ in range(args.runs)]
        name = "MS-CHAPv2 + MPPE-128" if mppe else "CHAP-MD5"
        print(
            f"{name:>22} {median([r['wall'] for r in runs]):>10.3f}s"
            f" {median([r['protocol_time'] for r in runs]) * 1e3:>15.1f}ms"
            f" {median([r['packets'] for r in runs]):>7.0f} {MINIMUM[mppe]:>7}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
