"""Throughput of the framers: encode and decode, in MB/s and frames/s (medians).

Run as ``python -m bench.bench_framing``.  Each case encodes a set of frames
(the packet from the protocol field on, so "1500-byte" means 1500 octets
handed to ``encode``) and decodes the resulting byte stream fed in 64 KiB
chunks.  MB/s counts packet octets (10**6 per MB), not wire octets.  Every
figure is the median of ``--runs`` timed runs; the decoded frames are checked
against the originals once per case so a broken framer cannot post a figure.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from wanminiport.framing import Framer, PppAsyncFramer, RasFramer, SlipFramer
from wanminiport.info import DEFAULT_MRU, LinkInfo

CHUNK = 64 * 1024
#: Octets of packets per timed run; enough for a run to last a few tens of ms.
TARGET_OCTETS = 6_000_000


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], Framer]
    frames: list[bytes]


def _ppp(accm: int) -> Callable[[], Framer]:
    info = LinkInfo(send_accm=accm, recv_accm=accm)
    return lambda: PppAsyncFramer(info)


def _random_frames(rng: random.Random, size: int, count: int, protocol: bytes) -> list[bytes]:
    return [protocol + rng.randbytes(size - len(protocol)) for _ in range(count)]


def build_cases(rng: random.Random, scale: float) -> list[Case]:
    cases: list[Case] = []
    ip = b"\x00\x21"
    for size in (1500, 64):
        count = max(100, int(TARGET_OCTETS * scale) // size)
        frames = _random_frames(rng, size, count, ip)
        for accm in (0, 0xFFFFFFFF):
            cases.append(Case(f"ppp {size:>4} B random, ACCM {accm:#010x}", _ppp(accm), frames))
        flags = [ip + b"\x7e" * (size - 2)] * count
        for accm in (0, 0xFFFFFFFF):
            cases.append(Case(f"ppp {size:>4} B all-7E,  ACCM {accm:#010x}", _ppp(accm), flags))
        slip_frames = [rng.randbytes(size) for _ in range(count)]
        cases.append(Case(f"slip {size:>4} B random", SlipFramer, slip_frames))
        cases.append(Case(f"slip {size:>4} B all-C0", SlipFramer, [b"\xc0" * size] * count))
    return cases


def _time_encode(case: Case) -> tuple[float, bytes]:
    framer = case.make()
    encode = framer.encode
    frames = case.frames
    start = time.perf_counter()
    wire = [encode(frame, 0.0) for frame in frames]
    elapsed = time.perf_counter() - start
    return elapsed, b"".join(wire)


def _time_decode(case: Case, chunks: list[bytes]) -> tuple[float, list[bytes]]:
    framer = case.make()
    decode = framer.decode
    out: list[bytes] = []
    extend = out.extend
    start = time.perf_counter()
    for chunk in chunks:
        extend(decode(chunk))
    elapsed = time.perf_counter() - start
    return elapsed, out


def run_case(case: Case, runs: int) -> dict[str, float]:
    octets = sum(map(len, case.frames))
    count = len(case.frames)
    encode_times: list[float] = []
    decode_times: list[float] = []
    wire = b""
    for _ in range(runs):
        elapsed, wire = _time_encode(case)
        encode_times.append(elapsed)
    chunks = [wire[i : i + CHUNK] for i in range(0, len(wire), CHUNK)]
    for run in range(runs):
        elapsed, decoded = _time_decode(case, chunks)
        decode_times.append(elapsed)
        if run == 0 and decoded != case.frames:
            raise SystemExit(f"{case.name}: decoded frames differ from the encoded ones")
    enc = statistics.median(encode_times)
    dec = statistics.median(decode_times)
    return {
        "enc_mbs": octets / enc / 1e6,
        "enc_fps": count / enc,
        "dec_mbs": octets / dec / 1e6,
        "dec_fps": count / dec,
    }


def _ras_case(rng: random.Random, scale: float) -> tuple[str, dict[str, float]]:
    """RAS has no framing: decode is one call per transfer, so time it per frame."""
    frames = _random_frames(rng, DEFAULT_MRU, max(100, int(TARGET_OCTETS * scale) // 1500), b"")
    case = Case("ras  1500 B random (one transfer per frame)", RasFramer, frames)
    return case.name, _run_ras(case)


def _run_ras(case: Case, runs: int = 5) -> dict[str, float]:
    octets = sum(map(len, case.frames))
    encode_times, decode_times = [], []
    for _ in range(runs):
        elapsed, _wire = _time_encode(case)
        encode_times.append(elapsed)
        elapsed, decoded = _time_decode(case, case.frames)
        decode_times.append(elapsed)
        if decoded != case.frames:
            raise SystemExit(f"{case.name}: decoded frames differ")
    enc = statistics.median(encode_times)
    dec = statistics.median(decode_times)
    count = len(case.frames)
    return {
        "enc_mbs": octets / enc / 1e6,
        "enc_fps": count / enc,
        "dec_mbs": octets / dec / 1e6,
        "dec_fps": count / dec,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per case (median)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the default amount of data"
    )
    parser.add_argument("--seed", type=int, default=1662)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    header = f"{'case':<40} {'enc MB/s':>9} {'enc fr/s':>10} {'dec MB/s':>9} {'dec fr/s':>10}"
    print(f"framing benchmark: medians of {args.runs} runs, decode fed {CHUNK} B chunks")
    print(header)
    print("-" * len(header))
    results = [(case.name, run_case(case, args.runs)) for case in build_cases(rng, args.scale)]
    results.append(_ras_case(rng, args.scale))
    for name, r in results:
        print(
            f"{name:<40} {r['enc_mbs']:>9.1f} {r['enc_fps']:>10,.0f} {r['dec_mbs']:>9.1f}"
            f" {r['dec_fps']:>10,.0f}"
        )


if __name__ == "__main__":
    main()
