"""Throughput of Van Jacobson header compression (RFC 1144), each direction (medians).

Run as ``python -m bench.bench_vj``.  Two TCP streams: bulk data (1500-octet
segments, one connection: the SPECIAL_D case) and interactive traffic
(1-octet segments echoed, four connections taking turns).  MB/s and CPU s
per MB count IP packet octets (10**6 per MB); the ratio is the wire octets
(VJ output) over the IP octets.  Every figure is the median of ``--runs``
runs; the round trip is checked once so a broken core cannot post a figure.
"""

from __future__ import annotations

import argparse
import statistics
import struct
import time

from ndiswan.ppp.vj import VjCompressor, VjDecompressor, ip_checksum


def tcp_packet(sport: int, seq: int, ack: int, ident: int, data: bytes) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, 80, seq, ack, 0x50, 0x18, 8192, 0x1234, 0)
    ip = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            40 + len(data),
            ident,
            0x4000,
            64,
            6,
            0,
            b"\x0a\x00\x00\x01",
            b"\x0a\x00\x00\x02",
        )
    )
    struct.pack_into("!H", ip, 10, ip_checksum(ip))
    return bytes(ip) + tcp + data


def bulk(count: int) -> list[bytes]:
    return [tcp_packet(1, 1000 + i * 1460, 5000, i & 0xFFFF, bytes(1460)) for i in range(count)]


def interactive(count: int) -> list[bytes]:
    return [tcp_packet(i % 4, 1000 + i // 4, 5000 + i // 4, i & 0xFFFF, b"k") for i in range(count)]


def _one_pass(packets: list[bytes]) -> tuple[float, float, float, float, int]:
    comp, decomp = VjCompressor(15), VjDecompressor(15)
    wall, cpu = time.perf_counter(), time.process_time()
    wires = [comp.compress(p) for p in packets]
    cw, cc = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    rebuilt = [decomp.decompress(proto, data) for proto, data in wires]
    dw, dc = time.perf_counter() - wall, time.process_time() - cpu
    if rebuilt != packets:
        raise SystemExit("rebuilt packets differ from the originals")
    return cw, cc, dw, dc, sum(len(d) for _, d in wires)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--packets", type=int, default=20000)
    args = parser.parse_args(argv)
    print(f"VJ benchmark: medians of {args.runs} runs of {args.packets} packets")
    header = f"{'case':<24} {'comp MB/s':>9} {'CPU s/MB':>9} {'dec MB/s':>9} {'CPU s/MB':>9}"
    header += f" {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for name, packets in (
        ("bulk 1500 B", bulk(args.packets)),
        ("interactive 41 B", interactive(args.packets)),
    ):
        mb = sum(map(len, packets)) / 1e6
        passes = [_one_pass(packets) for _ in range(args.runs)]
        cw, cc, dw, dc, wire = (statistics.median(p[i] for p in passes) for i in range(5))
        print(
            f"{name:<24} {mb / cw:>9.1f} {cc / mb:>9.4f} {mb / dw:>9.1f} {dc / mb:>9.4f}"
            f" {wire / 1e6 / mb:>7.3f}"
        )


if __name__ == "__main__":
    main()
