"""Multilink PPP (RFC 1990) end to end: bundles of paced cables, real daemons (medians).

Run as root: ``python -m bench.bench_multilink [--runs 3] [--seconds N]``.

``wanctl answer --multilink`` and ``wanctl dial --multilink`` run in two
namespaces over one ``CableProcess`` per member (each a paced null-modem
cable in its own process).  Every figure is a ratio taken within one run,
and the median of ``--runs`` runs is printed:

* **efficiency**, per bundle (one plain link, a bundle of one, 2 x 115200,
  4 x 115200, 115200 + 57600): bulk TCP client -> hub; after a warm-up a
  window of ``--seconds`` is sampled every 0.1 s.  *IP goodput* counts the
  IP packets the hub's daemon wrote into its TUN interface (rx counters,
  headers included), *TCP goodput* the payload the receiving socket got,
  both against the sum of the members' 8N1 capacities (baud / 10 bytes per
  second each); *line use* is the wire octets the cables carried against
  the same (a cable process the CPU scheduler holds back leaves its line
  idle: the time is lost, as on a real line).  *Share* is each member's
  part of the wire bytes the cables carried client -> hub, against its part
  of the bundle's speed.  *CPU* is
  the CPU seconds of both daemons (rx: hub, tx: client) per MB of IP
  goodput; the cables' processes are not counted.
* **Multilink overhead**: wire octets per IP octet over the bundle minus
  the same over the plain link (both from the cables' byte counts): what
  Multilink costs, the header of every fragment (4 octets with long
  sequence numbers, 2 with short, and the 0x003d protocol field), the inner
  protocol field and the framing (FCS and flag) of each fragment beyond the
  first.  Its bound comes from the fragmenter's rule: a packet of L octets
  (inner protocol included) goes in at most ``min(members, L // MIN_FRAGMENT)``
  fragments, a piece longer than its member's MRU (1500) less the header in
  several; escapes add 2 in 256.  A bundle of one sends its packets whole
  (bound 0).  The header part alone (counted: the
  fragments the client's bundle sent, from ``wanctl status``) is shown with
  its own bound.
* **latency**: ``ping -s 1400`` over the idle link, one member (plain, and
  a bundle of one) against a bundle of two; the ratio of the median RTTs.
* **failover**: a bundle of 2 x 115200 with LCP echoes (``--echo-interval``,
  ``--echo-failure``) carries one bulk TCP transfer (of what the bundle
  carries in ``--cut-after`` seconds and one member in ``--after``); the
  receiver's byte count is sampled every 0.1 s and, ``--cut-after`` seconds
  in, one cable is cut.  Goodput is taken over the trailing ``OUTAGE_WINDOW``;
  the time it stays below half the remaining member's capacity is reported,
  when each end suspected and dropped the cut member, with
  whether the TCP connection survived (the sender finished, the receiver
  saw one connection end cleanly) and whether the SHA-256 of what arrived
  matches what was sent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.bench_e2e import QUIET_LINK, slope
from bench.measure import (
    TcpSink,
    TimedProcess,
    cpu_seconds,
    median,
    tcp_source,
    tun_counters,
)
from bench.multilink_lab import (
    HUB_IP,
    SELF,
    BundleLab,
    HashingSink,
    bring_up,
    bundle_lab,
    liveness_counts,
    quiescent,
)
from ndiswan.ppp.multilink.fragmenter import MIN_FRAGMENT
from ndiswan.ppp.multilink.header import LONG_HEADER
from wanctl.lab import in_netns, lab_unavailable, python_env

PORT = 5001
BITS_PER_BYTE = 10
#: The goodput of the failover figure is taken over this trailing window:
#: at 115200 baud a 0.1 s sample holds less than one 1500-octet packet.
OUTAGE_WINDOW = 0.5
SAMPLE = 0.1
#: TCP payload per octet of 8N1 capacity, about (for the failover transfer's size).
TCP_SHARE = 0.94
#: Per fragment on the wire with ACFC and PFC: the 0x003d protocol field
#: (one octet), FCS (two) and a flag; the inner protocol is sent in two
#: octets where a plain link with PFC sends one.
OUTER_PROTOCOL, FCS_AND_FLAG, INNER_EXTRA = 1, 3, 1
ESCAPES = 1 + 2 / 256
#: The members' MRU (LCP's default, what both ends ask for here).
MEMBER_MRU = 1500


@dataclass(frozen=True)
class Setup:
    """One configuration measured: the members' speeds, and whether it is a bundle."""

    name: str
    bauds: tuple[int, ...]
    multilink: bool = True

    @property
    def capacity(self) -> float:
        return sum(self.bauds) / BITS_PER_BYTE


SETUPS = (
    Setup("1 plain", (115200,), multilink=False),
    Setup("1 bundled", (115200,)),
    Setup("2x115200", (115200, 115200)),
    Setup("4x115200", (115200,) * 4),
    Setup("115200+57600", (115200, 57600)),
)
#: ping over one member (plain, a bundle of one) and over two.
LATENCY = SETUPS[:3]
#: issue 13's targets for IP goodput, as a fraction of the summed capacity.
TARGETS = {"2x115200": 0.95, "4x115200": 0.93, "115200+57600": 0.93}


# -- efficiency ------------------------------------------------------------------------


def throughput_run(setup: Setup, seconds: float, warmup: float, pings: int = 0) -> dict[str, Any]:
    """One efficiency run; with ``pings``, the idle line afterwards is pinged too."""
    with bundle_lab(setup.bauds) as the_lab:
        hub, hub_if = bring_up(the_lab, setup.multilink, *QUIET_LINK)
        client = the_lab.processes[1]
        idle0 = quiescent(the_lab, hub_if, setup.multilink)
        sink = TcpSink(the_lab.hub_ns, PORT)
        source = tcp_source(the_lab.client_ns, HUB_IP, PORT, warmup + seconds + 5)
        samples: list[tuple[float, int, int, int, list[int]]] = []
        try:
            time.sleep(warmup)
            cpu0 = cpu_seconds(hub.pid), cpu_seconds(client.pid)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                before = time.monotonic()
                counters = tun_counters(the_lab.hub_ns)[hub_if]
                tcp = sum(sink.received())
                wire = the_lab.wire()
                when = (before + time.monotonic()) / 2
                samples.append((when, counters.rx_bytes, counters.rx_packets, tcp, wire))
                time.sleep(max(0.0, before + SAMPLE - time.monotonic()))
            cpu1 = cpu_seconds(hub.pid), cpu_seconds(client.pid)
        finally:
            # The receiver first: its reset stops the sender's kernel from
            # sending the rest of its socket buffer after the sender is gone.
            sink.close()
            source.kill()
            source.wait()
        idle1 = quiescent(the_lab, hub_if, setup.multilink)
        watched = liveness_counts(the_lab) if setup.multilink else (0, 0)
        rtt = ping_rtt(the_lab, pings) if pings else None
    ip, packets, tcp = (slope([(s[0], s[k]) for s in samples]) for k in (1, 2, 3))
    wires = [slope([(s[0], s[4][i]) for s in samples]) for i in range(len(setup.bauds))]
    megabytes = (samples[-1][1] - samples[0][1] or 1) / 1e6
    # Between two idle moments every octet the cables carried client -> hub
    # belongs to a packet the hub delivered: exact counts, no skew.
    ip_octets, ip_packets = idle1.ip_octets - idle0.ip_octets, idle1.packets - idle0.packets
    return {
        "ip": ip / setup.capacity,
        "tcp": tcp / setup.capacity,
        "line": sum(wires) / setup.capacity,
        "share": [w / sum(wires) if sum(wires) else 0.0 for w in wires],
        "wire_per_ip": (idle1.wire - idle0.wire) / ip_octets if ip_octets else 0.0,
        "packet": ip / packets if packets else 0.0,
        "fragments_per_packet": (idle1.fragments - idle0.fragments) / ip_packets
        if ip_packets and setup.multilink
        else 0.0,
        "cpu_rx": (cpu1[0] - cpu0[0]) / megabytes,
        "cpu_tx": (cpu1[1] - cpu0[1]) / megabytes,
        "rtt": rtt,
        "probes": watched[0],
        "suspected": watched[1],
    }


def fragments_bound(packet: float, bauds: Sequence[int], header: int = LONG_HEADER) -> int:
    """The most fragments the fragmenter's rule makes of a ``packet``-octet IP packet.

    At most ``len(packet) // MIN_FRAGMENT`` pieces (the inner protocol field
    counts), one per member, in proportion to speed; a piece longer than its
    member's MRU less the header goes in several.  A bundle of one sends its
    packets whole, as fragments of none.
    """
    if len(bauds) == 1:
        return 0
    octets = int(packet) + 2
    pieces = max(1, min(len(bauds), octets // MIN_FRAGMENT))
    chosen = sorted(bauds, reverse=True)[:pieces]
    shares = [octets * baud / sum(chosen) for baud in chosen]
    return sum(math.ceil(share / (MEMBER_MRU - header)) for share in shares)


def overhead_bound(packet: float, bauds: Sequence[int], header: int = LONG_HEADER) -> float:
    """Multilink's extra wire octets per IP octet, at most (see the module docstring)."""
    k = fragments_bound(packet, bauds, header)
    if k == 0:
        return 0.0  # whole packets: the plain link's framing
    extra = INNER_EXTRA + k * (header + OUTER_PROTOCOL) + (k - 1) * FCS_AND_FLAG
    return extra * ESCAPES / packet


def header_bound(packet: float, bauds: Sequence[int], header: int = LONG_HEADER) -> float:
    return fragments_bound(packet, bauds, header) * (header + OUTER_PROTOCOL) / packet


# -- latency ------------------------------------------------------------------------------


def ping_run(setup: Setup, count: int) -> float:
    """The median RTT of ``ping -s 1400`` over the idle link, seconds."""
    with bundle_lab(setup.bauds) as the_lab:
        bring_up(the_lab, setup.multilink, *QUIET_LINK)
        time.sleep(0.5)  # the last control packets have left the line
        return ping_rtt(the_lab, count)


def ping_rtt(the_lab: BundleLab, count: int) -> float:
    argv = ["ping", "-c", str(count), "-i", "0.5", "-s", "1400", "-W", "3", HUB_IP]
    result = subprocess.run(
        in_netns(the_lab.client_ns, argv), capture_output=True, text=True, timeout=60 + count
    )
    rtts = [float(m) / 1000 for m in re.findall(r"time=([\d.]+) ms", result.stdout)]
    if not rtts:
        raise RuntimeError(f"no ping answered: {result.stdout} {result.stderr}")
    return median(rtts)


# -- failover --------------------------------------------------------------------------------


def failover_run(
    cut_after: float, after: float, echo_interval: int, echo_failure: int
) -> dict[str, Any]:
    baud = 115200
    echo = ("--lcp-echo-interval", str(echo_interval), "--lcp-echo-failure", str(echo_failure))
    quiet = ("--noccp", "--novj")
    # As much as the bundle carries in ``cut_after`` and one member in ``after``.
    nbytes = int(TCP_SHARE * baud / BITS_PER_BYTE * (2 * cut_after + after))
    with bundle_lab((baud, baud)) as the_lab:
        bring_up(the_lab, True, *echo, *quiet)
        sink = HashingSink(the_lab.hub_ns, PORT)
        source = subprocess.Popen(
            in_netns(
                the_lab.client_ns,
                [*SELF, "source", HUB_IP, str(PORT), str(nbytes)],
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=python_env(),
        )
        samples: list[tuple[float, int]] = []
        cut_at = 0.0
        try:
            start = time.monotonic()
            while source.poll() is None and time.monotonic() < start + cut_after + after + 60:
                before = time.monotonic()
                samples.append((before, sink.received()))
                if not cut_at and before >= start + cut_after:
                    the_lab.cables[1].cut()
                    cut_at = time.monotonic()
                time.sleep(max(0.0, before + SAMPLE - time.monotonic()))
            out, err = source.communicate(timeout=60)
            result = sink.result()
            ended = [p.name for p in the_lab.processes if p.proc.poll() is not None]
            up = not ended
            got = result.get("bytes") if result else sink.received()
            quiet = [_logged_at(p, r"\] quiet") - cut_at for p in the_lab.processes]
            left = [_logged_at(p, r"left bundle") - cut_at for p in the_lab.processes]
        finally:
            if source.poll() is None:
                source.kill()
                source.wait()
            sink.close()
    sent = json.loads(out) if source.returncode == 0 and out.strip() else {}
    below = outage(samples, cut_at, 0.5 * baud / BITS_PER_BYTE)
    why = [f"the sender failed: {err.strip()[-200:]}"] if not sent else []
    why += [f"{name} ended" for name in ended]
    if not result:
        why.append(f"the connection never ended: {got} of {nbytes} octets arrived")
    elif result.get("connections") != 1 or not result.get("clean"):
        why.append(
            f"the receiver saw {result.get('connections')} connections, clean end: "
            f"{result.get('clean')}"
        )
    return {
        "outage": below,
        "survived": up
        and bool(sent)
        and result.get("connections") == 1
        and bool(result.get("clean")),
        "intact": bool(sent) and sent["sha256"] == result.get("sha256"),
        "bytes": result.get("bytes", 0),
        "hub_left": left[0],
        "client_left": left[1],
        "hub_quiet": quiet[0],
        "client_quiet": quiet[1],
        "trace": [(t - cut_at, n) for t, n in samples],
        "error": "; ".join(why),
    }


def _logged_at(process: TimedProcess, pattern: str) -> float:
    """When the cut member's suspicion or leaving was logged (NaN: never, the daemon
    ended first)."""
    try:
        return process.wait_for(pattern, 5)[0]
    except RuntimeError:
        return float("nan")


def outage(samples: list[tuple[float, int]], cut_at: float, half: float) -> float:
    """Seconds after ``cut_at`` whose trailing-window goodput is under ``half`` B/s.

    Counted in sample steps up to the last octet's arrival, so the
    transfer's own end is not counted.
    """
    below = 0.0
    last = max((i for i in range(1, len(samples)) if samples[i][1] > samples[i - 1][1]), default=0)
    for i, (when, count) in enumerate(samples[: last + 1]):
        if when < cut_at + SAMPLE:
            continue
        j = i
        while j > 0 and samples[j - 1][0] >= when - OUTAGE_WINDOW - 1e-9:
            j -= 1
        if j == i:
            continue
        span = when - samples[j][0]
        if span < OUTAGE_WINDOW * 0.8:
            continue
        if (count - samples[j][1]) / span < half:
            below += when - samples[i - 1][0]
    return below


# -- the report -----------------------------------------------------------------------------


def med(runs: list[dict[str, Any]], key: str) -> float:
    return median([float(run[key]) for run in runs])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds before the window")
    parser.add_argument("--pings", type=int, default=10, help="pings per latency run")
    parser.add_argument("--cut-after", type=float, default=6.0, help="failover: seconds to cut")
    parser.add_argument("--after", type=float, default=12.0, help="failover: seconds after it")
    parser.add_argument("--echo-interval", type=int, default=1, help="failover: LCP echo, s")
    parser.add_argument("--echo-failure", type=int, default=2, help="failover: echoes missed")
    parser.add_argument(
        "--setup", action="append", choices=[s.name for s in SETUPS], help="default: all"
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["throughput", "latency", "failover"]
    )
    args = parser.parse_args(argv)
    reason = lab_unavailable()
    if reason:
        print(f"bench_multilink: {reason}")
        return 2
    setups = [s for s in SETUPS if not args.setup or s.name in args.setup]
    print(f"# wanctl multilink, {os.cpu_count()} CPUs, medians of {args.runs} runs")
    rtts: dict[str, list[float]] = {}
    if "throughput" not in args.skip:
        rtts = throughput(setups, args)
    if "latency" not in args.skip:
        latency(args, rtts)
    if "failover" not in args.skip:
        failover(args)
    return 0


def throughput(setups: list[Setup], args: argparse.Namespace) -> dict[str, list[float]]:
    """Prints the efficiency and overhead tables; the RTTs pinged on the way."""
    print(
        f"\nEfficiency: bulk TCP client -> hub, {args.seconds:g} s window; goodput against "
        "the sum of the members' 8N1 capacities"
    )
    print(
        f"{'bundle':>13} {'IP goodput':>10} {'target':>6} {'TCP goodput':>11} {'line use':>8} "
        f"{'share (speed share)':>27} {'frag/pkt':>8} {'CPU rx s/MB':>11} {'CPU tx s/MB':>11}"
    )
    results: dict[str, list[dict[str, Any]]] = {}
    for setup in setups:
        pings = args.pings if setup in LATENCY and "latency" not in args.skip else 0
        runs = [throughput_run(setup, args.seconds, args.warmup, pings) for _ in range(args.runs)]
        results[setup.name] = runs
        shares = " ".join(
            f"{median([r['share'][i] for r in runs]):.1%}({b / sum(setup.bauds):.0%})"
            for i, b in enumerate(setup.bauds)
        )
        target = f"{TARGETS[setup.name]:.0%}" if setup.name in TARGETS else "-"
        print(
            f"{setup.name:>13} {med(runs, 'ip'):>10.2%} {target:>6} {med(runs, 'tcp'):>11.2%} "
            f"{med(runs, 'line'):>8.2%} "
            f"{shares:>27} {med(runs, 'fragments_per_packet'):>8.2f} "
            f"{med(runs, 'cpu_rx'):>11.3f} {med(runs, 'cpu_tx'):>11.3f}"
        )
    bundled = [r for runs in results.values() for r in runs]
    print(
        f"liveness over all bulk runs: {sum(r['probes'] for r in bundled)} probes of a quiet "
        f"member, {sum(r['suspected'] for r in bundled)} members suspected (none was cut)"
    )
    rtts = {name: [r["rtt"] for r in runs if r["rtt"]] for name, runs in results.items()}
    plain = results.get("1 plain")
    if plain is None:
        return rtts
    base = med(plain, "wire_per_ip")
    print(
        "\nMultilink overhead (long sequence numbers), per IP octet: wire octets over the "
        f"bundle minus over the plain link ({base:.4f}), and the fragment headers alone"
    )
    print(
        f"{'bundle':>13} {'packet':>7} {'measured':>9} {'bound':>7} "
        f"{'headers':>8} {'bound':>7} {'frag/pkt':>8} {'bound':>6}"
    )
    for setup in setups:
        if not setup.multilink:
            continue
        runs = results[setup.name]
        packet = med(runs, "packet")
        n = setup.bauds
        measured = med(runs, "wire_per_ip") - base
        per_packet = med(runs, "fragments_per_packet")
        headers = per_packet * (LONG_HEADER + OUTER_PROTOCOL) / packet if packet else 0.0
        print(
            f"{setup.name:>13} {packet:>7.0f} {measured:>9.3%} "
            f"{overhead_bound(packet, n):>7.3%} {headers:>8.3%} {header_bound(packet, n):>7.3%} "
            f"{per_packet:>8.2f} {fragments_bound(packet, n):>6}"
        )
    return rtts


def latency(args: argparse.Namespace, rtts: dict[str, list[float]]) -> None:
    """Reuses the RTTs the efficiency runs pinged; runs its own for a setup they skipped."""
    one, one_bundled, two = (
        rtts.get(setup.name) or [ping_run(setup, args.pings) for _ in range(args.runs)]
        for setup in LATENCY
    )
    print(
        f"\nLatency: ping -s 1400 over the idle link ({args.pings} per run, after the bulk "
        "transfer of an efficiency run when there was one), 115200 baud"
    )
    print(
        f"RTT 1 member plain {median(one) * 1e3:.1f} ms, bundle of 1 "
        f"{median(one_bundled) * 1e3:.1f} ms, bundle of 2 {median(two) * 1e3:.1f} ms; "
        f"ratio 2/1 {median(two) / median(one):.3f} (plain), "
        f"{median(two) / median(one_bundled):.3f} (bundle of 1); target <= 0.6"
    )


def failover(args: argparse.Namespace) -> None:
    runs = [
        failover_run(args.cut_after, args.after, args.echo_interval, args.echo_failure)
        for _ in range(args.runs)
    ]
    print(
        f"\nFailover: 2 x 115200, bulk TCP, one cable cut {args.cut_after:g} s in (LCP echo "
        f"every {args.echo_interval} s, {args.echo_failure} missed = dead)"
    )
    outages = " ".join(f"{r['outage']:.1f}" for r in runs)
    print(
        f"below half the remaining capacity ({OUTAGE_WINDOW:g} s window) "
        f"{med(runs, 'outage'):.1f} s (runs: {outages}); target <= 2 s; "
        f"TCP survived {sum(bool(r['survived']) for r in runs)}/{len(runs)}, "
        f"SHA-256 intact {sum(bool(r['intact']) for r in runs)}/{len(runs)}, "
        f"{med(runs, 'bytes') / 1e3:.0f} kB"
    )
    print(
        f"the cut member was suspect {med(runs, 'client_quiet'):.2f} s after the cut at the "
        f"sender, {med(runs, 'hub_quiet'):.2f} s at the receiver, and left the bundle "
        f"{med(runs, 'client_left'):.1f} s and {med(runs, 'hub_left'):.1f} s after it"
    )
    for r in runs:
        if r["error"]:
            print(f"  a run that did not survive: {r['error']}")


if __name__ == "__main__":
    raise SystemExit(main())
