"""Throughput of the CCP methods: Deflate and BSD-Compress, each direction (medians).

Run as ``python -m bench.bench_ccp``.  Each case compresses a set of
1500-octet IP datagrams (text: repeated mail/HTTP-like lines; random: seeded
random octets) through one compressor, and decompresses the result
(with ``incompressible`` for the datagrams sent as they are).  MB/s and CPU s
per MB count payload octets (10**6 per MB); the ratio is wire octets over
payload octets (1.0: nothing saved).  Every figure is the median of
``--runs`` runs; the round trip is checked once so a broken method cannot
post a figure.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from ndiswan.ppp.ccp.bsdcomp import BsdCompressor, BsdDecompressor
from ndiswan.ppp.ccp.deflate import DeflateCompressor, DeflateDecompressor
from ndiswan.ppp.ccp.methods import Decompressed

SIZE = 1500
LINES = [
    b"Received: from mail.example.org by relay.example.net with ESMTP id %d\r\n",
    b"GET /static/img/logo-%d.png HTTP/1.1\r\nHost: www.example.org\r\n",
    b"the quick brown fox jumps over the lazy dog %d times\r\n",
]


def text_datagrams(rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        buf = bytearray()
        while len(buf) < SIZE:
            buf += rng.choice(LINES) % rng.randrange(1000)
        out.append(bytes(buf[:SIZE]))
    return out


def _one_pass(
    make: tuple[Callable[[], Any], Callable[[], Any]], datagrams: list[bytes]
) -> dict[str, float]:
    comp, decomp = make[0](), make[1]()
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    wires = [comp.compress(0x21, d) for d in datagrams]
    comp_wall, comp_cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    results = []
    for wire, datagram in zip(wires, datagrams, strict=True):
        if wire is None:
            decomp.incompressible(0x21, datagram)
        else:
            results.append(decomp.decompress(wire))
    dec_wall, dec_cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    expected = [
        Decompressed(0x21, d) for w, d in zip(wires, datagrams, strict=True) if w is not None
    ]
    if results != expected:
        raise SystemExit("decompressed datagrams differ from the originals")
    wire_octets = sum(
        len(w) if w is not None else len(d) for w, d in zip(wires, datagrams, strict=True)
    )
    return {"cw": comp_wall, "cc": comp_cpu, "dw": dec_wall, "dc": dec_cpu, "ratio": wire_octets}


def run(
    name: str, make: tuple[Callable[[], Any], Callable[[], Any]], datagrams: list[bytes], runs: int
) -> str:
    passes = [_one_pass(make, datagrams) for _ in range(runs)]
    mb = sum(map(len, datagrams)) / 1e6

    def med(key: str) -> float:
        return statistics.median(p[key] for p in passes)

    return (
        f"{name:<28} {mb / med('cw'):>9.2f} {med('cc') / mb:>9.3f} {mb / med('dw'):>9.2f}"
        f" {med('dc') / mb:>9.3f} {med('ratio') / 1e6 / mb:>7.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (median)")
    parser.add_argument("--datagrams", type=int, default=700, help="1500-octet datagrams per run")
    parser.add_argument("--seed", type=int, default=1979)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    data = {
        "text": text_datagrams(rng, args.datagrams),
        "random": [rng.randbytes(SIZE) for _ in range(args.datagrams)],
    }
    methods = {
        "Deflate 15": (lambda: DeflateCompressor(15), lambda: DeflateDecompressor(15)),
        "BSD-Compress 15": (lambda: BsdCompressor(15), lambda: BsdDecompressor(15)),
        "BSD-Compress 12": (lambda: BsdCompressor(12), lambda: BsdDecompressor(12)),
    }
    print(f"CCP benchmark: medians of {args.runs} runs of {args.datagrams} x {SIZE} B datagrams")
    header = f"{'case':<28} {'comp MB/s':>9} {'CPU s/MB':>9} {'dec MB/s':>9} {'CPU s/MB':>9}"
    header += f" {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for method, make in methods.items():
        for kind, datagrams in data.items():
            print(run(f"{method}, {kind}", make, datagrams, args.runs))


if __name__ == "__main__":
    main()
