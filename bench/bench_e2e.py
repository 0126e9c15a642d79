"""End to end: real ``wanctl dial`` and ``answer`` processes in two namespaces (medians).

Run as root: ``python -m bench.bench_e2e [--baud 115200 ...] [--runs 3]``.

Each figure is a ratio measured within one run, so machine noise cancels,
and the median of ``--runs`` runs is printed:

* **line-rate efficiency**: bulk TCP from the client's namespace to the
  hub's, through both TUN interfaces and the paced virtual cable (its own
  process).  After a warm-up, a window of ``--seconds`` is measured.
  *IP goodput* counts the IP packets the hub's link daemon delivered into
  its TUN interface, headers included (the interface's rx counters);
  *TCP goodput* counts the payload the receiving socket got.  Both are
  divided by the 8N1 capacity, baud / 10 bytes per second.  The cable's
  own byte count splits IP goodput into *line use* (wire bytes / capacity)
  and *framing* (IP bytes / wire bytes).
* **CPU per link**: CPU seconds of each link daemon per second of that
  window (the cable process is not counted): ``rx`` is the hub (receives
  the bulk data), ``tx`` the client (sends it).
* **latency**: ``ping -s 56`` over the idle link; the serialization of both
  frames comes from the wire bytes the cable carried per round trip.
* **call setup**: ``dial`` to IP up over a direct cable (the hub already
  answering) and over two emulated modems, with both daemons writing a
  pcap: the control packets that crossed the line up to IP up against the
  protocols' minimum, the packets beyond it (a timer-driven retransmission
  shows there, also when the packet it repeated was lost unseen: a
  handshake over a second long counts as one), and the time from the client's first frame to IP up
  against the floor of the nine one-way trips the handshake needs at line
  rate (their serialization alone).  ``dial->IP up`` is wall time from
  starting the process, Python's start-up included.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import (
    PcapFrame,
    TcpSink,
    TimedProcess,
    cpu_seconds,
    median,
    read_pcap,
    tcp_source,
    tun_counters,
)
from hw.lab.cable_process import CableProcess
from hw.lab.modem.process import ExchangeProcess
from wanctl.lab import in_netns, lab_unavailable, namespaces

HUB_IP, CLIENT_IP = "10.77.0.1", "10.77.0.2"
HUB_NUMBER, CLIENT_NUMBER = "5552002", "5551001"
PORT = 5001
BITS_PER_BYTE = 10
LCP, CHAP, IPCP = 0xC021, 0xC223, 0x8021
CONTROL_NAMES = {LCP: "LCP", CHAP: "CHAP", 0xC023: "PAP", IPCP: "IPCP", 0x8057: "IPV6CP"}
#: LCP (Request/Ack each way) 4 + CHAP (Challenge, Response, Success) 3 + IPCP
#: with the address assigned by the hub (Request, Nak, Request, Ack from the
#: client; Request, Ack from the hub) 6.
MINIMUM_CONTROL_PACKETS = 13
#: The handshake's critical path, one-way trips in order: (sent by the client,
#: protocol, code, which occurrence of that packet from that side).
CRITICAL_PATH = (
    (True, LCP, 1, 0),
    (False, LCP, 2, 0),
    (False, CHAP, 1, 0),
    (True, CHAP, 2, 0),
    (False, CHAP, 3, 0),
    (True, IPCP, 1, 0),
    (False, IPCP, 3, 0),
    (True, IPCP, 1, 1),
    (False, IPCP, 2, 0),
)


#: No LCP echoes: nothing but the measured traffic crosses the line.
#: No echoes, and no compression: these figures are of the link itself
#: (bench.bench_compression measures what compression adds).
QUIET_LINK = ("--lcp-echo-interval", "0", "--lcp-echo-failure", "0", "--noccp", "--novj")


@dataclass
class Lab:
    hub_ns: str
    client_ns: str
    tmp: Path
    processes: list[TimedProcess] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"WANCTL_RUN_DIR": str(self.tmp), "WANCTL_LOCK_DIR": str(self.tmp)}

    def answer(self, tty: str, baud: int, *extra: str) -> TimedProcess:
        return self._start(
            "answer",
            self.hub_ns,
            tty,
            "--baud",
            str(baud),
            "--ip",
            f"{HUB_IP}:{CLIENT_IP}",
            "--require-chap",
            "--name",
            "hub",
            "--chap-secrets",
            str(self.tmp / "chap-secrets"),
            "--linkname",
            "hub",
            *QUIET_LINK,
            *extra,
        )

    def dial(self, tty: str, baud: int, *extra: str) -> TimedProcess:
        return self._start(
            "dial",
            self.client_ns,
            tty,
            "--baud",
            str(baud),
            "--user",
            "client",
            "--remotename",
            "hub",
            "--chap-secrets",
            str(self.tmp / "chap-secrets"),
            "--linkname",
            "client",
            *QUIET_LINK,
            *extra,
        )

    def _start(self, verb: str, namespace: str, *argv: str) -> TimedProcess:
        process = TimedProcess([verb, *argv], namespace=namespace, env=self.env, name=verb)
        self.processes.append(process)
        return process


@contextmanager
def lab() -> Iterator[Lab]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp,
        namespaces(2, prefix="be2e") as (hub_ns, client_ns),
    ):
        secrets = Path(tmp, "chap-secrets")
        secrets.write_text('client hub "bench secret" *\n')
        secrets.chmod(0o600)
        the_lab = Lab(hub_ns, client_ns, Path(tmp))
        try:
            yield the_lab
        finally:
            for process in the_lab.processes:
                process.stop()


def link_up(the_lab: Lab, hub: TimedProcess, client: TimedProcess) -> str:
    """Wait until both ends have IP up; the hub's interface name."""
    client.wait_for(r"Link up", 60)
    return hub.wait_for(r"Link up: (\S+)", 30)[1].group(1)


# -- line-rate efficiency and CPU per link ---------------------------------------


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares rate of change: whole packets arrive in steps, so two samples would not do."""
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    num = sum((t - mean_t) * (v - mean_v) for t, v in points)
    den = sum((t - mean_t) ** 2 for t, _ in points)
    return num / den if den else 0.0


def throughput_run(
    baud: int, seconds: float, warmup: float, interval: float = 0.1
) -> dict[str, float]:
    with lab() as the_lab, CableProcess(baud) as cable:
        hub = the_lab.answer(cable.b, baud)
        client = the_lab.dial(cable.a, baud)
        hub_if = link_up(the_lab, hub, client)
        sink = TcpSink(the_lab.hub_ns, PORT)
        source = tcp_source(the_lab.client_ns, HUB_IP, PORT, warmup + seconds + 2)
        samples: list[tuple[float, int, int, int, int]] = []
        try:
            time.sleep(warmup)
            cpu0 = cpu_seconds(hub.pid), cpu_seconds(client.pid), time.monotonic()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                before = time.monotonic()
                counters = tun_counters(the_lab.hub_ns)[hub_if]
                tcp = sum(sink.received())
                wire = cable.stats()["a_to_b"]["bytes"]
                samples.append(
                    (
                        (before + time.monotonic()) / 2,
                        counters.rx_bytes,
                        counters.rx_packets,
                        tcp,
                        wire,
                    )
                )
                time.sleep(max(0.0, before + interval - time.monotonic()))
            cpu1 = cpu_seconds(hub.pid), cpu_seconds(client.pid), time.monotonic()
        finally:
            source.kill()
            source.wait()
            sink.close()
    capacity = baud / BITS_PER_BYTE
    ip, packets, tcp, wire = (slope([(s[0], s[k]) for s in samples]) for k in (1, 2, 3, 4))
    elapsed = cpu1[2] - cpu0[2]
    return {
        "ip": ip / capacity,
        "tcp": tcp / capacity,
        "line": wire / capacity,
        "framing": ip / wire if wire else 0.0,
        "packet": ip / packets if packets else 0.0,
        "cpu_rx": (cpu1[0] - cpu0[0]) / elapsed,
        "cpu_tx": (cpu1[1] - cpu0[1]) / elapsed,
    }


def framing_bound(packet: float) -> float:
    """IP bytes per wire byte for random ``packet``-byte datagrams at ACCM 0, ACFC, PFC.

    Per frame: one protocol octet, the packet, a 2-octet FCS and one flag;
    0x7D and 0x7E (2 values in 256) are escaped in the packet and the FCS.
    """
    wire = 1 + packet + 2 + 1 + (1 + packet + 2) * 2 / 256
    return packet / wire


# -- latency ------------------------------------------------------------------------


def latency_run(baud: int, count: int) -> dict[str, float]:
    with lab() as the_lab, CableProcess(baud) as cable:
        hub = the_lab.answer(cable.b, baud)
        client = the_lab.dial(cable.a, baud)
        link_up(the_lab, hub, client)
        time.sleep(0.5)  # the last control packets have left the line

        def wire() -> int:
            stats = cable.stats()
            return int(stats["a_to_b"]["bytes"] + stats["b_to_a"]["bytes"])

        before = wire()
        argv = ["ping", "-c", str(count), "-i", "0.2", "-s", "56", "-W", "2", HUB_IP]
        result = subprocess.run(
            in_netns(the_lab.client_ns, argv), capture_output=True, text=True, timeout=30 + count
        )
        after = wire()
    rtts = [float(m) / 1000 for m in re.findall(r"time=([\d.]+) ms", result.stdout)]
    if not rtts:
        raise RuntimeError(f"no ping answered: {result.stdout} {result.stderr}")
    wire_per_round_trip = (after - before) / len(rtts)
    serialization = wire_per_round_trip * BITS_PER_BYTE / baud
    rtt = median(rtts)
    return {
        "rtt": rtt,
        "serialization": serialization,
        "ratio": rtt / serialization,
        "bound": 1.1 * serialization + 0.002,
        "wire": wire_per_round_trip,
        "answered": len(rtts) / count,
    }


# -- call setup -----------------------------------------------------------------------


#: A handshake this much slower than its floor waited on a restart timer.
TIMER_STALL = 1.0
#: What each side sends at least once, in the configuration measured:
#: (sent by the client, protocol, code) -> how many.
EXPECTED_PACKETS = {
    (True, LCP, 1): 1,
    (True, LCP, 2): 1,
    (False, LCP, 1): 1,
    (False, LCP, 2): 1,
    (False, CHAP, 1): 1,
    (True, CHAP, 2): 1,
    (False, CHAP, 3): 1,
    (True, IPCP, 1): 2,
    (False, IPCP, 3): 1,
    (True, IPCP, 2): 1,
    (False, IPCP, 1): 1,
    (False, IPCP, 2): 1,
}


def crossed(client_pcap: str, hub_pcap: str) -> list[PcapFrame]:
    """Every frame that crossed the line, stamped when it arrived.

    A frame the hub received was sent by the client and vice versa; taking
    each side's received frames counts every frame once, including the
    first ones a side sends before its capture is attached.
    """
    from_hub = [f for f in read_pcap(client_pcap) if not f.sent]
    from_client = [
        PcapFrame(f.time, True, f.protocol, f.info) for f in read_pcap(hub_pcap) if not f.sent
    ]
    return sorted(from_hub + from_client, key=lambda f: f.time)


def analyse_setup(frames: list[PcapFrame], baud: int, dialed: float) -> dict[str, float]:
    """Control packets up to IP up, packets beyond the minimum, protocol time.

    ``frames`` are stamped on arrival (``crossed``); ``sent`` says the client
    sent it.  ``dialed`` is the wall-clock time the dialer started: earlier
    frames (the hub's, before a client listened) are not part of the call.
    """

    def wire_time(frame: PcapFrame) -> float:
        # FF 03 and a 2-octet protocol on LCP, the protocol alone otherwise; FCS; flag.
        header = 4 if frame.protocol == LCP else 2
        return (header + len(frame.info) + 3) * BITS_PER_BYTE / baud

    ipcp_acks = [f for f in frames if f.protocol == IPCP and f.code == 2]
    acked_client = [f.time for f in ipcp_acks if not f.sent]
    acked_hub = [f.time for f in ipcp_acks if f.sent]
    if not acked_client or not acked_hub:
        raise RuntimeError("IPCP never opened in the capture")
    ip_up = max(acked_client[0], acked_hub[0])
    control = [f for f in frames if f.protocol in CONTROL_NAMES and f.time <= ip_up]
    client_first = min(f.time - wire_time(f) for f in control if f.sent)
    # The hub's own Configure-Request may have waited on the line since before the dial.
    control = [f for f in control if f.sent or f.time >= dialed or f.code == 1]
    seen: dict[tuple[bool, int, int], int] = {}
    for f in control:
        key = (f.sent, f.protocol, f.code)
        seen[key] = seen.get(key, 0) + 1
    extra = sum(max(0, n - EXPECTED_PACKETS.get(key, 0)) for key, n in seen.items())
    floor = 0.0
    for sent, protocol, code, occurrence in CRITICAL_PATH:
        matches = [f for f in control if (f.sent, f.protocol, f.code) == (sent, protocol, code)]
        if len(matches) > occurrence:
            floor += wire_time(matches[occurrence])
    protocol_time = ip_up - client_first
    # On a clean line nothing but a restart timer (3 s) can stall the
    # handshake this long, even when the packet it repeated was lost before
    # any capture saw it.
    timer_waits = int(protocol_time > TIMER_STALL)
    return {
        "packets": len(control),
        "retransmitted": extra + timer_waits,
        "protocol_time": protocol_time,
        "floor": floor,
    }


def direct_setup_run(baud: int) -> dict[str, float]:
    with lab() as the_lab, CableProcess(baud) as cable:
        hub_pcap, pcap = str(the_lab.tmp / "hub.pcap"), str(the_lab.tmp / "client.pcap")
        hub = the_lab.answer(cable.b, baud, "--pcap", hub_pcap)
        hub.wait_for(r"Direct line", 30)
        time.sleep(0.2)  # the hub's first Configure-Request has crossed the line
        started, dialed = time.monotonic(), time.time()
        client = the_lab.dial(cable.a, baud, "--pcap", pcap)
        up, _ = client.wait_for(r"Link up", 60)
        hub.wait_for(r"Link up", 30)
        result = analyse_setup(crossed(pcap, hub_pcap), baud, dialed)
    result["wall"] = up - started
    return result


def modem_setup_run(baud: int, handshake: float) -> dict[str, float]:
    with (
        lab() as the_lab,
        ExchangeProcess(
            [HUB_NUMBER, CLIENT_NUMBER], rate=baud, ring_interval=1.0, handshake=handshake
        ) as exchange,
    ):
        hub_pcap, pcap = str(the_lab.tmp / "hub.pcap"), str(the_lab.tmp / "client.pcap")
        hub = the_lab.answer(exchange.tty(HUB_NUMBER), baud, "--init", "ATS0=0", "--pcap", hub_pcap)
        hub.wait_for(r"Waiting for a call", 30)
        started, dialed = time.monotonic(), time.time()
        client = the_lab.dial(
            exchange.tty(CLIENT_NUMBER), baud, "--number", HUB_NUMBER, "--pcap", pcap
        )
        connected, _ = client.wait_for(r"CONNECT", 60)
        up, _ = client.wait_for(r"Link up", 60)
        hub.wait_for(r"Link up", 30)
        result = analyse_setup(crossed(pcap, hub_pcap), baud, dialed)
    result["wall"] = up - started
    result["to_connect"] = connected - started
    return result


def modem_throughput_run(baud: int, seconds: float, warmup: float) -> dict[str, float]:
    """Bulk TCP over two emulated modems; the exchange's own CPU is shown, not counted."""
    with (
        lab() as the_lab,
        ExchangeProcess(
            [HUB_NUMBER, CLIENT_NUMBER], rate=baud, ring_interval=1.0, handshake=0.2
        ) as exchange,
    ):
        hub = the_lab.answer(exchange.tty(HUB_NUMBER), baud, "--init", "ATS0=0")
        hub.wait_for(r"Waiting for a call", 30)
        client = the_lab.dial(exchange.tty(CLIENT_NUMBER), baud, "--number", HUB_NUMBER)
        hub_if = link_up(the_lab, hub, client)
        sink = TcpSink(the_lab.hub_ns, PORT)
        source = tcp_source(the_lab.client_ns, HUB_IP, PORT, warmup + seconds + 2)
        try:
            time.sleep(warmup)
            t0, ip0 = time.monotonic(), tun_counters(the_lab.hub_ns)[hub_if]
            ex0, rx0 = cpu_seconds(exchange.pid), cpu_seconds(hub.pid)
            time.sleep(seconds)
            t1, ip1 = time.monotonic(), tun_counters(the_lab.hub_ns)[hub_if]
            ex1, rx1 = cpu_seconds(exchange.pid), cpu_seconds(hub.pid)
        finally:
            source.kill()
            source.wait()
            sink.close()
    elapsed = t1 - t0
    return {
        "ip": (ip1.rx_bytes - ip0.rx_bytes) / elapsed / (baud / BITS_PER_BYTE),
        "cpu_exchange": (ex1 - ex0) / elapsed,
        "cpu_rx": (rx1 - rx0) / elapsed,
    }


# -- the report -----------------------------------------------------------------------


def med(runs: list[dict[str, float]], key: str) -> float:
    return median([run[key] for run in runs])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--baud", type=int, action="append", help="repeatable; default 115200, 921600 and 3000000"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    parser.add_argument("--pings", type=int, default=20)
    parser.add_argument("--latency-baud", type=int, default=115200)
    parser.add_argument("--setup-baud", type=int, default=115200)
    parser.add_argument(
        "--handshake", type=float, default=0.5, help="the emulated modems' training time, seconds"
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["throughput", "latency", "setup", "modems"]
    )
    args = parser.parse_args(argv)
    reason = lab_unavailable()
    if reason:
        print(f"bench_e2e: {reason}")
        return 2
    bauds = args.baud or [115200, 921600, 3_000_000]
    print(f"# wanctl end to end, {os.cpu_count()} CPUs, medians of {args.runs} runs")
    if "throughput" not in args.skip:
        print(
            "\nLine-rate efficiency and CPU per link (bulk TCP client -> hub, "
            f"{args.seconds:g} s window)"
        )
        print(
            f"{'baud':>9} {'IP goodput':>10} {'TCP goodput':>11} {'line use':>8} "
            f"{'framing':>8} {'bound':>7} {'CPU rx s/s':>10} {'CPU tx s/s':>10}"
        )
        for baud in bauds:
            runs = [throughput_run(baud, args.seconds, args.warmup) for _ in range(args.runs)]
            bound = framing_bound(med(runs, "packet"))
            print(
                f"{baud:>9} {med(runs, 'ip'):>10.2%} {med(runs, 'tcp'):>11.2%} "
                f"{med(runs, 'line'):>8.2%} {med(runs, 'framing'):>8.2%} {bound:>7.2%} "
                f"{med(runs, 'cpu_rx'):>10.4f} {med(runs, 'cpu_tx'):>10.4f}"
            )
    if "modems" not in args.skip:
        baud = args.setup_baud
        runs = [modem_throughput_run(baud, args.seconds, args.warmup) for _ in range(args.runs)]
        print(
            f"\nOver two emulated modems at {baud}: IP goodput {med(runs, 'ip'):.2%}, "
            f"hub CPU {med(runs, 'cpu_rx'):.4f} s/s, exchange process CPU "
            f"{med(runs, 'cpu_exchange'):.4f} s/s (not ours, shown for the record)"
        )
    if "latency" not in args.skip:
        baud = args.latency_baud
        runs = [latency_run(baud, args.pings) for _ in range(args.runs)]
        print(
            f"\nLatency at {baud} baud, ping -s 56 ({args.pings} per run): "
            f"RTT {med(runs, 'rtt') * 1e3:.2f} ms, serialization of both frames "
            f"{med(runs, 'serialization') * 1e3:.2f} ms ({med(runs, 'wire'):.0f} wire bytes), "
            f"ratio {med(runs, 'ratio'):.3f}; bound 1.1 x serialization + 2 ms = "
            f"{med(runs, 'bound') * 1e3:.2f} ms"
        )
    if "setup" not in args.skip:
        baud = args.setup_baud
        print(f"\nCall setup at {baud} baud (CHAP, IPCP with the address assigned by the hub)")
        print(
            f"{'line':>8} {'dial->IP up':>11} {'to CONNECT':>10} {'1st frame->IP up':>16} "
            f"{'floor':>7} {'packets':>7} {'minimum':>7} {'beyond minimum':>14}"
        )
        kinds = [("direct", lambda: direct_setup_run(baud))]
        if "modems" not in args.skip:
            kinds.append(("modems", lambda: modem_setup_run(baud, args.handshake)))
        for name, run in kinds:
            runs = [run() for _ in range(args.runs)]
            to_connect = (
                f"{med(runs, 'to_connect'):>9.3f}s" if "to_connect" in runs[0] else f"{'-':>10}"
            )
            print(
                f"{name:>8} {med(runs, 'wall'):>10.3f}s {to_connect} "
                f"{med(runs, 'protocol_time') * 1e3:>14.1f}ms {med(runs, 'floor') * 1e3:>5.1f}ms"
                f" {med(runs, 'packets'):>7.0f} {MINIMUM_CONTROL_PACKETS:>7} "
                f"{max(r['retransmitted'] for r in runs):>14.0f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
