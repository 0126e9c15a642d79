"""Record the decompressors' seeds: what pppd and the Debian kernel send compressed.

    python3 -m tests.fuzz.record_compressed        (as root; boots the VM, about 60 s)

For each method (Deflate, BSD-Compress) our ``wanctl dial`` calls pppd in
the interop VM through a relay that records both directions; pppd's side
offers only that method and VJ.  A few kilobytes of text cross over TCP
both ways and a ping follows, so pppd's direction holds Deflate or BSD
packets (protocol 0x00fd) whose payloads are VJ-compressed and
VJ-uncompressed TCP, besides CCP's own packets.  Kept in ``tests/fuzz/data``:
``<method>_pppd_to_us.bin`` (what pppd's line sent, async HDLC) and pppd's
``debug`` log.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from hw.lab.vm import PppdVm
from tests.interop.pppd_wire import CapturingRelay, read_frames
from tests.interop.test_pppd_compression import (
    _start,
    fetch_from_guest,
    push_to_guest,
    text_corpus,
)
from tests.interop.test_pppd_interop import Bench
from wanctl.lab import namespaces

DATA = Path(__file__).parent / "data"
METHODS = ("deflate", "bsdcomp")
TEXT_SIZE = 12 * 1024


def record(vm: PppdVm, namespace: str, method: str) -> tuple[bytes, str]:
    """pppd's bytes and log for one link compressed with ``method``."""
    master, slave = os.openpty()
    with tempfile.TemporaryDirectory() as run_dir:
        bench = Bench(vm, namespace, Path(run_dir))
        relay = CapturingRelay(vm.line("ttyS1").host, master)
        relay.start()
        try:
            _ours, pppd = _start(bench, method, "dial", tty=os.ttyname(slave))
            push_to_guest(bench, text_corpus(TEXT_SIZE))
            fetch_from_guest(bench, "/run/received.bin")
            bench.ping_both_ways()
            bench.hangup_ours()
            pppd.wait(timeout=30)
            pppd_to_us, _ = relay.snapshot()
        finally:
            for process in bench.ours:
                process.stop()
            relay.stop()
            os.close(slave)
    return pppd_to_us, pppd.read_log()


def main() -> int:
    DATA.mkdir(exist_ok=True)
    with PppdVm(serial_lines=1) as vm, namespaces(1, prefix="record") as (namespace,):
        for method in METHODS:
            stream, log = record(vm, namespace, method)
            (DATA / f"{method}_pppd_to_us.bin").write_bytes(stream)
            (DATA / f"{method}_pppd.log").write_text(log)
            frames = read_frames(stream)
            compressed = sum(1 for frame in frames if frame.protocol == 0x00FD)
            print(f"{method}: {len(stream)} bytes, {len(frames)} frames, {compressed} compressed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
