"""What compression buys on a paced line: goodput per line rate, CPU, keystroke round trips.

Run as root: ``python -m bench.bench_compression [--runs 3]``.  Real
``wanctl dial`` and ``answer`` processes in two namespaces over the paced
virtual cable (``bench.bench_e2e``'s lab); every figure is the median of
``--runs`` runs, and every ratio is taken within one run.

* **effective goodput**: bulk TCP from the client to the hub for
  ``--seconds`` after a warm-up; the payload the receiving socket got per
  second over the 8N1 capacity (baud / 10 octets per second).  Text is
  Debian's ``/usr/share/common-licenses`` (base-files) sent in order,
  cyclically; random is ``os.urandom``.  Each is run uncompressed
  (``--noccp --novj``) and with Deflate 15 and VJ (``--ccp --nobsdcomp --vj``),
  at 115200 and 921600 bit/s.  ``CPU`` is the busier link daemon's CPU
  seconds per second.
* **VJ, interactive**: 1-octet TCP writes echoed back by the hub, one at a
  time (a shell's keystrokes), at 9600 bit/s with CCP off: wire octets per
  packet from the cable's counters and the median round trip, with VJ and
  with ``--novj``.  TCP timestamps are off in both namespaces: VJ cannot
  compress a segment whose options changed, and timestamps change in each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.bench_e2e import HUB_IP, PORT, lab, link_up, slope
from bench.measure import TcpSink, cpu_seconds, median, tcp_source, tun_counters
from hw.lab.cable_process import CableProcess
from wanctl.lab import in_netns, python_env

BITS_PER_BYTE = 10
PLAIN = ("--noccp", "--novj")
COMPRESSED = ("--ccp", "--nobsdcomp", "--vj")  # Deflate 15 (pppd's first choice) and VJ
ECHO_PORT = 5002


def goodput_run(
    baud: int, payload: str, options: tuple[str, ...], seconds: float, warmup: float
) -> dict[str, float]:
    with lab() as the_lab, CableProcess(baud) as cable:
        hub = the_lab.answer(cable.b, baud, *options)
        client = the_lab.dial(cable.a, baud, *options)
        link_up(the_lab, hub, client)
        sink = TcpSink(the_lab.hub_ns, PORT)
        source = tcp_source(the_lab.client_ns, HUB_IP, PORT, warmup + seconds + 2, payload=payload)
        samples: list[tuple[float, float]] = []
        try:
            time.sleep(warmup)
            cpu0 = cpu_seconds(hub.pid), cpu_seconds(client.pid), time.monotonic()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                before = time.monotonic()
                samples.append((before, float(sum(sink.received()))))
                time.sleep(max(0.0, before + 0.1 - time.monotonic()))
            cpu1 = cpu_seconds(hub.pid), cpu_seconds(client.pid), time.monotonic()
        finally:
            source.kill()
            source.wait()
            sink.close()
    elapsed = cpu1[2] - cpu0[2]
    return {
        "goodput": slope(samples) / (baud / BITS_PER_BYTE),
        "cpu": max(cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]) / elapsed,
    }


_ECHO = r"""
import socket, sys
server = socket.create_server(("", int(sys.argv[1])))
print("listening", flush=True)
conn, _ = server.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while data := conn.recv(64):
    conn.sendall(data)
"""

_TYPIST = r"""
import json, socket, sys, time
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print("connected", flush=True)
sys.stdin.readline()
rtts = []
for _ in range(int(sys.argv[3])):
    start = time.monotonic()
    sock.sendall(b"x")
    sock.recv(1)
    rtts.append(time.monotonic() - start)
    time.sleep(0.3)  # a typist's pace: each keystroke alone on the line
print(json.dumps(rtts), flush=True)
"""


def keystroke_run(baud: int, options: tuple[str, ...], count: int) -> dict[str, float]:
    with lab() as the_lab, CableProcess(baud) as cable:
        hub = the_lab.answer(cable.b, baud, "--noccp", *options)
        client = the_lab.dial(cable.a, baud, "--noccp", *options)
        hub_if = link_up(the_lab, hub, client)
        for namespace in (the_lab.hub_ns, the_lab.client_ns):
            # VJ (RFC 1144) sends a packet whose TCP options changed as it is,
            # and Linux's timestamps change in every segment: off, as on a
            # link where VJ is meant to work.
            subprocess.run(
                in_netns(namespace, ["sysctl", "-qw", "net.ipv4.tcp_timestamps=0"]), check=True
            )
        echo = subprocess.Popen(
            in_netns(the_lab.hub_ns, [sys.executable, "-c", _ECHO, str(ECHO_PORT)]),
            stdout=subprocess.PIPE,
            text=True,
            env=python_env(),
        )
        typist = None
        try:
            assert echo.stdout is not None and echo.stdout.readline().strip() == "listening"
            typist = subprocess.Popen(
                in_netns(
                    the_lab.client_ns,
                    [sys.executable, "-c", _TYPIST, HUB_IP, str(ECHO_PORT), str(count)],
                ),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=python_env(),
            )
            assert typist.stdin is not None and typist.stdout is not None
            assert typist.stdout.readline().strip() == "connected"
            time.sleep(1.0)  # the connection's set-up has left the line
            # Only the keystrokes are counted: octets on the cable, packets at the TUN.
            stats, tun = cable.stats(), tun_counters(the_lab.hub_ns)[hub_if]
            wire0 = stats["a_to_b"]["bytes"] + stats["b_to_a"]["bytes"]
            packets0 = tun.rx_packets + tun.tx_packets
            typist.stdin.write("go\n")
            typist.stdin.flush()
            rtts = json.loads(typist.stdout.readline())
            time.sleep(0.5)  # the last delayed ACK
            stats, tun = cable.stats(), tun_counters(the_lab.hub_ns)[hub_if]
            wire1 = stats["a_to_b"]["bytes"] + stats["b_to_a"]["bytes"]
            packets1 = tun.rx_packets + tun.tx_packets
        finally:
            for process in (echo, typist):
                if process is not None:
                    process.kill()
                    process.wait()
    return {
        "rtt": median(rtts),
        "wire_per_packet": (wire1 - wire0) / max(packets1 - packets0, 1),
        "packets_per_keystroke": (packets1 - packets0) / count,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--bauds", default="115200,921600")
    parser.add_argument("--keystrokes", type=int, default=30)
    args = parser.parse_args(argv)
    print("effective goodput (TCP payload / 8N1 capacity), medians of", args.runs, "runs")
    for baud in (int(b) for b in args.bauds.split(",")):
        for payload in ("text", "random"):
            plain, packed = [], []
            for _ in range(args.runs):
                plain.append(goodput_run(baud, payload, PLAIN, args.seconds, args.warmup))
                packed.append(goodput_run(baud, payload, COMPRESSED, args.seconds, args.warmup))
            ratios = [p["goodput"] / q["goodput"] for p, q in zip(packed, plain, strict=True)]
            print(
                f"  {baud:>7} {payload:<6}  plain {median([r['goodput'] for r in plain]):7.1%}"
                f"  Deflate+VJ {median([r['goodput'] for r in packed]):7.1%}"
                f"  ratio {median(ratios):5.2f}"
                f"  CPU plain {median([r['cpu'] for r in plain]):.3f}"
                f"  Deflate {median([r['cpu'] for r in packed]):.3f} core",
                flush=True,
            )
    print("VJ, 1-octet keystrokes echoed at 9600 bit/s (CCP off)")
    with_vj, without = [], []
    for _ in range(args.runs):
        with_vj.append(keystroke_run(9600, ("--vj",), args.keystrokes))
        without.append(keystroke_run(9600, ("--novj",), args.keystrokes))
    speedups = [n["rtt"] / v["rtt"] for v, n in zip(with_vj, without, strict=True)]
    print(
        f"  wire octets per packet: VJ {median([r['wire_per_packet'] for r in with_vj]):.1f}"
        f", without {median([r['wire_per_packet'] for r in without]):.1f}"
        f" ({median([r['packets_per_keystroke'] for r in with_vj]):.1f} packets a keystroke:"
        " the octet, its echo, ACKs; uncompressed a 1-octet segment is 41 octets of IP"
        " and a bare ACK 40, plus 4 of framing)\n"
        f"  keystroke round trip: VJ {median([r['rtt'] for r in with_vj]) * 1000:.1f} ms"
        f", without {median([r['rtt'] for r in without]) * 1000:.1f} ms"
        f", {median(speedups):.2f}x faster"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
