"""Many links in one process: CPU and per-link efficiency for 1, 8 and 32 links (medians).

Run as root: ``python -m bench.bench_scale [--links 1 8 32] [--runs 3] [--png scale.png]``.

The measured process is one daemon, one event loop, running N PPP links,
each on its own paced virtual cable at ``--baud`` with its own TUN
interface (``bench.scale_links links daemon``).  The far ends are N links in
a second process in another namespace; the N cables run in a third process
and the TCP traffic in a fourth and fifth, none of them counted.  Every
link carries one bulk TCP stream, all at once: even-numbered links send
from the daemon's namespace, odd-numbered ones receive, so the daemon runs
both its transmit and its receive path.

Per link, *efficiency* is the IP goodput delivered into the receiving TUN
interface (IP packets, headers included, from the interface's rx counters)
over the 8N1 capacity, baud / 10 bytes per second; the table gives the
median link and the worst.  *CPU* is the daemon's CPU seconds per second
over the same window, as a fraction of one core.  Each figure is measured
within a run; the median of ``--runs`` runs is printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.measure import TcpSink, cpu_seconds, median, tcp_source, tun_counters
from bench.scale_links import daemon_address, peer_address
from wanctl.lab import in_netns, lab_unavailable, namespaces, python_env

PORT = 5002
BITS_PER_BYTE = 10


def _child(argv: list[str], namespace: str | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.scale_links", *argv]
    if namespace is not None:
        command = in_netns(namespace, command)
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=python_env(),
    )


def _expect(process: subprocess.Popen[str], what: str) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line:
        raise RuntimeError(f"the {what} process ended before it was ready")
    return line


def _end(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _slope(points: list[tuple[float, float]]) -> float:
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    den = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / den if den else 0.0


def one_run(count: int, baud: int, seconds: float, warmup: float) -> dict[str, float]:
    """(daemon CPU s/s, median link efficiency, worst link efficiency) for ``count`` links."""
    with namespaces(2, prefix="bscale") as (daemon_ns, peer_ns):
        cables = _child(["cables", str(count), str(baud)])
        processes = [cables]
        try:
            pairs = json.loads(_expect(cables, "cable"))
            daemon = _child(
                ["links", "daemon", str(baud), ",".join(a for a, _ in pairs)], daemon_ns
            )
            processes.append(daemon)
            peer = _child(["links", "peer", str(baud), ",".join(b for _, b in pairs)], peer_ns)
            processes.append(peer)
            for process, name in ((daemon, "daemon"), (peer, "peer")):
                if _expect(process, name) != "up":
                    raise RuntimeError(f"the {name} links did not come up")
            sinks = [TcpSink(daemon_ns, PORT), TcpSink(peer_ns, PORT)]
            outward = [peer_address(k) for k in range(0, count, 2)]
            inward = [daemon_address(k) for k in range(1, count, 2)]
            duration = warmup + seconds + 2
            sources = [tcp_source(daemon_ns, ",".join(outward), PORT, duration)]
            if inward:
                sources.append(tcp_source(peer_ns, ",".join(inward), PORT, duration))
            try:
                time.sleep(warmup)
                samples: list[tuple[float, list[int]]] = []
                cpu0, start = cpu_seconds(daemon.pid), time.monotonic()
                while time.monotonic() < start + seconds:
                    before = time.monotonic()
                    ours, theirs = tun_counters(daemon_ns), tun_counters(peer_ns)
                    # Link k's data is received by the peer (even k) or by the daemon (odd k).
                    received = [
                        (theirs if k % 2 == 0 else ours)[f"wan{k}"].rx_bytes for k in range(count)
                    ]
                    samples.append(((before + time.monotonic()) / 2, received))
                    time.sleep(max(0.0, before + 0.25 - time.monotonic()))
                cpu = (cpu_seconds(daemon.pid) - cpu0) / (time.monotonic() - start)
            finally:
                for source in sources:
                    source.kill()
                    source.wait()
                for sink in sinks:
                    sink.close()
        finally:
            for process in reversed(processes):
                _end(process)
    capacity = baud / BITS_PER_BYTE
    efficiencies = [
        _slope([(t, values[k]) for t, values in samples]) / capacity for k in range(count)
    ]
    return {"cpu": cpu, "median": median(efficiencies), "worst": min(efficiencies)}


def write_png(path: str, rows: list[tuple[int, dict[str, float]]], baud: int) -> bool:
    """CPU against the number of links, with the quarter-core budget; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    links = [n for n, _ in rows]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(links, [r["cpu"] for _, r in rows], "o-", label="daemon CPU (median)")
    axis.axhline(0.25, color="red", linestyle="--", label="budget: a quarter of one core")
    axis.set_xlabel(f"saturated links at {baud} baud, one process")
    axis.set_ylabel("CPU seconds per second")
    axis.set_xticks(links)
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--png", metavar="FILE", help="also plot CPU against links")
    args = parser.parse_args(argv)
    reason = lab_unavailable()
    if reason:
        print(f"bench_scale: {reason}")
        return 2
    print(f"# {args.baud} baud links in one process, all saturated; medians of {args.runs} runs")
    print(
        f"{'links':>5} {'CPU s/s':>8} {'CPU per link':>12} {'median link':>11} {'worst link':>10}"
    )
    rows = []
    for count in args.links:
        runs = [one_run(count, args.baud, args.seconds, args.warmup) for _ in range(args.runs)]
        row = {key: median([run[key] for run in runs]) for key in ("cpu", "median", "worst")}
        rows.append((count, row))
        print(
            f"{count:>5} {row['cpu']:>8.4f} {row['cpu'] / count:>12.5f} "
            f"{row['median']:>11.2%} {row['worst']:>10.2%}",
            flush=True,
        )
    if args.png:
        if write_png(args.png, rows, args.baud):
            print(f"plot written to {Path(args.png).resolve()}")
        else:
            print("no plot: matplotlib is not installed (pip install matplotlib)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
