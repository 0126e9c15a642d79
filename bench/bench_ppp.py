"""Cost of the PPP core: negotiation and the datagram path (medians).

Run as ``python -m bench.bench_ppp``.  Two ``PppSession`` objects on a
simulated wire (``ndiswan.ppp.Wire``, nothing sleeps):

* negotiation: LCP, CHAP and IPCP from the first Configure-Request until
  both ends report IPCP up, CPU time for both ends together, and the number
  of control packets it took;
* datagrams: ``send_datagram`` on one end, ``receive_frame`` and
  ``drain`` on the other, per datagram and per second.

Every figure is the median of ``--runs`` timed runs; each run checks that
the link came up and that the datagram arrived intact, so a broken core
cannot post a figure.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from ipaddress import IPv4Address

from ndiswan.ppp import (
    AuthRequirement,
    DatagramReceived,
    PppConfig,
    PppSession,
    Proto,
    SecretsTable,
    Wire,
)

SECRETS = SecretsTable.from_text("bob hub s3cret *\n")


def negotiated_pair(seed: int) -> tuple[Wire, float]:
    client = PppSession(PppConfig(name="bob"), secrets=SECRETS, rng=random.Random(seed).randbytes)
    server = PppSession(
        PppConfig(
            name="hub",
            require_auth=AuthRequirement.CHAP,
            local_ip=IPv4Address("10.7.0.1"),
            remote_ip=IPv4Address("10.7.0.2"),
        ),
        secrets=SECRETS,
        rng=random.Random(seed + 1).randbytes,
    )
    wire = Wire((client, server))
    started = time.perf_counter()
    wire.start()
    up = wire.run(lambda w: client.network is not None and server.network is not None)
    elapsed = time.perf_counter() - started
    if not up:
        raise SystemExit("the link did not come up: " + "\n".join(wire.trace))
    return wire, elapsed


def bench_negotiation(runs: int) -> None:
    times, packets = [], []
    for run in range(runs):
        wire, elapsed = negotiated_pair(run)
        times.append(elapsed)
        packets.append(sum(wire.sent_counts))
    print(
        f"negotiation LCP+CHAP+IPCP (both ends): median {statistics.median(times) * 1e3:.3f} ms"
        f" CPU, {statistics.median(packets):.0f} control packets"
    )


def bench_datagrams(runs: int, size: int, count: int) -> None:
    wire, _ = negotiated_pair(1)
    sender, receiver = wire.ends
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    per_datagram = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(count):
            frame = sender.send_datagram(Proto.IP, payload)
            assert frame is not None
            receiver.receive_frame(frame, wire.now)
            outputs = receiver.drain()
        per_datagram.append((time.perf_counter() - started) / count)
        if outputs != [DatagramReceived(Proto.IP, payload)]:
            raise SystemExit(f"the datagram arrived damaged: {outputs!r}")
    median = statistics.median(per_datagram)
    print(
        f"datagram path, {size}-byte IPv4: median {median * 1e6:.2f} us per datagram,"
        f" {1 / median:,.0f} datagrams/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--count", type=int, default=20000, help="datagrams per timed run")
    args = parser.parse_args()
    bench_negotiation(max(args.runs, 50))
    for size in (64, 1400):
        bench_datagrams(args.runs, size, args.count)


if __name__ == "__main__":
    main()
