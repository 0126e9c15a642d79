"""Compression against pppd 2.4.9 and the Debian kernel's ppp_deflate, bsd_comp and slhc.

Each method is negotiated with pppd in both roles (we dial, we answer) and
pppd's log must say it is enabled; 1 MiB of text and 1 MiB of random octets
cross both ways over TCP with their SHA-256 checked; a line that corrupts
frames mid-transfer makes the decompressors ask for a reset (Reset-Request,
Reset-Ack in pppd's log and ours) and the transfer still arrives intact.

BSD-Compress is tested from pppd to us: the kernel's BSD decompressor is
broken on 64-bit machines (pppd with pppd loses sync on the first packet),
so towards pppd the test is that the link survives pppd giving up on CCP.

The text is Debian's /usr/share/common-licenses (base-files), repeated; the
guest end of each transfer is busybox ``nc`` running ``cat``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hw.lab.vm import GuestProcess, PppdVm
from tests.interop.pppd_wire import CapturingRelay
from tests.interop.test_pppd_interop import OURS, PPPD, SECRET, Bench, _up, namespace
from wanctl.lab import LinkProcess, in_netns, python_env

__all__ = ["namespace"]  # the fixture shared with test_pppd_interop

MIB = 1 << 20
LICENSES = Path("/usr/share/common-licenses")
_PORT = 5001

#: Host side of a transfer, run in our namespace: push a file, or fetch one.
_CLIENT = r"""
import hashlib, socket, sys
mode, address, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sock = socket.create_connection((address, port), timeout=120)
sock.settimeout(120)
if mode == "push":
    with open(path, "rb") as source:
        sock.sendall(source.read())
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(65536):
        pass
else:
    digest, size = hashlib.sha256(), 0
    while chunk := sock.recv(65536):
        digest.update(chunk)
        size += len(chunk)
    print(size, digest.hexdigest())
"""


@pytest.fixture
def bench(module_pppd_vm: PppdVm, namespace: str, tmp_path: Path) -> Iterator[Bench]:
    """test_pppd_interop's bench on this module's own VM: its tests move megabytes
    through the guest's UARTs and take minutes, so they run beside the session
    VM's group (see ``module_pppd_vm``)."""
    vm = module_pppd_vm
    vm.write_file("/etc/ppp/pap-secrets", f"client * {SECRET} *\n", mode=0o600)
    vm.write_file("/etc/ppp/chap-secrets", f"client server {SECRET} *\n", mode=0o600)
    secrets = tmp_path / "secrets"
    secrets.write_text(f"client server {SECRET} *\n")
    secrets.chmod(0o600)
    bench = Bench(vm, namespace, tmp_path)
    try:
        yield bench
    finally:
        for process in bench.ours:
            process.stop()


def text_corpus(size: int = MIB) -> bytes:
    texts = b"".join(p.read_bytes() for p in sorted(LICENSES.iterdir()) if p.is_file())
    return (texts * (size // len(texts) + 1))[:size]


def _host_client(bench: Bench, mode: str, path: Path) -> str:
    result = subprocess.run(
        in_netns(
            bench.namespace, [sys.executable, "-c", _CLIENT, mode, PPPD, str(_PORT), str(path)]
        ),
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-800:]
    return result.stdout.strip()


def _guest_serves(vm: PppdVm, script: str) -> None:
    vm.write_file("/run/xfer.sh", f"#!/bin/sh\n{script}\n", mode=0o755)
    vm.spawn(f"exec nc -l -p {_PORT} -e /run/xfer.sh", name="nc")
    vm.check_output(
        f"for i in $(seq 50); do netstat -ltn | grep -q :{_PORT} && exit 0; sleep 0.1; done; exit 1"
    )


def push_to_guest(bench: Bench, data: bytes) -> None:
    """Our side sends ``data`` to pppd's; the guest's copy must hash the same."""
    path = bench.run_dir / "push.bin"
    path.write_bytes(data)
    _guest_serves(bench.vm, "cat > /run/received.bin")
    _host_client(bench, "push", path)
    guest = bench.vm.check_output("sha256sum /run/received.bin; wc -c < /run/received.bin").split()
    assert (guest[0], int(guest[-1])) == (hashlib.sha256(data).hexdigest(), len(data))


def fetch_from_guest(bench: Bench, guest_path: str) -> None:
    """pppd's side sends a guest file to ours; what arrives must hash the same."""
    expected = bench.vm.check_output(f"sha256sum {guest_path}; wc -c < {guest_path}").split()
    _guest_serves(bench.vm, f"cat {guest_path}")
    size, digest = _host_client(bench, "fetch", bench.run_dir / "unused").split()
    assert (digest, int(size)) == (expected[0], int(expected[-1]))


def both_ways(bench: Bench, text: bytes) -> None:
    """1 MiB of text and 1 MiB of random octets, each both ways."""
    push_to_guest(bench, text)
    fetch_from_guest(bench, "/run/received.bin")  # the text, back
    bench.vm.check_output(f"head -c {len(text)} /dev/urandom > /run/random.bin")
    fetch_from_guest(bench, "/run/random.bin")
    push_to_guest(bench, random.Random(5).randbytes(len(text)))


def _wait_in_output(process: LinkProcess, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in process.output():
        assert time.monotonic() < deadline, process.output()[-3000:]
        time.sleep(0.2)


def _compression_line(log: str) -> str:
    match = re.search(r"^.*compression enabled$", log, re.MULTILINE)
    assert match, log[-2000:]
    return match.group(0)


def _pppd_ccp_args(method: str) -> list[str]:
    # pppd offers Deflate first; to use BSD-Compress it is the only method on its side.
    return ["nodeflate"] if method == "bsdcomp" else ["nobsdcomp"]


#: Our options per case.  BSD-Compress goes one way only, from pppd to us: the
#: Debian kernel's bsd_comp cannot decompress anything (see the module notes).
_OURS = {
    "deflate": ["--ccp", "--nobsdcomp"],
    "bsdcomp": ["--ccp", "--nodeflate", "--bsdcomp", "15,0"],
    "bsdcomp-both": ["--ccp", "--nodeflate"],
}
_EXPECTED = {
    "deflate": ("Deflate (15) compression enabled", "Deflate (15) compression enabled"),
    "bsdcomp": (
        "BSD-Compress (15) receive compression enabled",
        "BSD-Compress (15) transmit compression enabled",
    ),
    "bsdcomp-both": (
        "BSD-Compress (15) compression enabled",
        "BSD-Compress (15) compression enabled",
    ),
}


def _start(
    bench: Bench, case: str, role: str, *, tty: str | None = None
) -> tuple[LinkProcess, GuestProcess]:
    """Our side and pppd up with ``case``'s method, both saying it is enabled."""
    method = case.removesuffix("-both")
    if role == "dial":
        ours = bench.start_ours("dial", *_OURS[case], tty=tty)
        pppd = bench.pppd("noauth", f"{PPPD}:{OURS}", *_pppd_ccp_args(method))
    else:
        ours = bench.start_ours("answer", "--ip", f"{OURS}:{PPPD}", *_OURS[case], tty=tty)
        pppd = bench.pppd("noauth", "noipdefault", *_pppd_ccp_args(method))
    _up(ours, pppd)
    ours_line, pppd_line = _EXPECTED[case]
    _wait_in_output(ours, ours_line)
    pppd.wait_for_log("compression enabled", timeout=20)
    assert _compression_line(pppd.read_log()).endswith(pppd_line), pppd.read_log()[-1500:]
    return ours, pppd


def _compression_status(bench: Bench) -> dict[str, Any]:
    status = LinkProcess(["status", "ours", "--json"], env={"WANCTL_RUN_DIR": str(bench.run_dir)})
    assert status.wait() == 0
    compression: dict[str, Any] = json.loads(status.output())["compression"]
    return compression


@pytest.mark.parametrize(("case", "role"), [("deflate", "dial"), ("bsdcomp", "answer")])
def test_method_with_pppd_carries_a_mib_of_text_and_random_both_ways(
    bench: Bench, case: str, role: str
) -> None:
    ours, pppd = _start(bench, case, role)
    log = pppd.read_log()
    # VJ, pppd's default, is on both ways as well.
    assert re.search(r"sent \[IPCP ConfAck id=0x\w+ <compress VJ 0f 01>", log), log[-1500:]
    assert re.search(r"rcvd \[IPCP ConfAck id=0x\w+ <compress VJ 0f 01>", log), log[-1500:]
    both_ways(bench, text_corpus())
    compression = _compression_status(bench)
    sent, received = compression["sent"], compression["received"]
    print(
        f"{case} ({role}): sent {sent['before']} -> {sent['after']} octets, "
        f"received {received['after']} -> {received['before']}"
    )
    assert compression["failures"] == 0
    # Only the text shrinks: the random half crosses as it is.
    assert received["before"] > 2 * MIB and received["after"] < received["before"] * 0.8
    if case == "deflate":
        assert sent["before"] > 2 * MIB and sent["after"] < sent["before"] * 0.8
    assert "CCP terminated" not in ours.output() and "Lost compression sync" not in log


@pytest.mark.parametrize(("case", "role"), [("deflate", "answer"), ("bsdcomp", "dial")])
def test_method_in_the_other_role(bench: Bench, case: str, role: str) -> None:
    _start(bench, case, role)
    text = text_corpus(256 * 1024)
    push_to_guest(bench, text)
    fetch_from_guest(bench, "/run/received.bin")
    compression = _compression_status(bench)
    assert compression["received"]["after"] < compression["received"]["before"] * 0.8
    bench.ping_both_ways()


def test_bsdcomp_towards_the_kernel_loses_sync_and_the_link_goes_on_plain(bench: Bench) -> None:
    """The Debian kernel's bsd_decompress keeps its bit accumulator in an
    ``unsigned long``: on a 64-bit kernel every code after a packet's first
    carries the previous codes' bits (dmesg: ``bsd_decomp0: bad code 0x5f02
    oldcode=0x2f``, which is 0x2f << 9 | 0x102).  pppd with pppd loses sync the
    same way.  What we must do is survive it: pppd stops CCP, the data goes on."""
    ours, pppd = _start(bench, "bsdcomp-both", "dial")
    text = text_corpus(128 * 1024)
    push_to_guest(bench, text)
    fetch_from_guest(bench, "/run/received.bin")
    assert "Lost compression sync" in pppd.read_log()
    assert "CCP terminated by peer (Lost compression sync)" in ours.output()
    assert _compression_status(bench)["send"] is None  # plain from then on
    bench.ping_both_ways()


class _Corrupter:
    """Flips one octet inside a frame in each direction, a few times, once armed."""

    def __init__(self, times: int) -> None:
        self.armed = threading.Event()
        self.left = [times, times]

    def __call__(self, direction: int, data: bytes) -> bytes:
        if not self.armed.is_set() or self.left[direction] <= 0 or len(data) < 64:
            return data
        middle = len(data) // 2
        if 0x7D in data[middle - 1 : middle + 2] or 0x7E in data[middle - 1 : middle + 2]:
            return data
        self.left[direction] -= 1
        return data[:middle] + bytes((data[middle] ^ 0x41,)) + data[middle + 1 :]


@pytest.fixture
def noisy_line(bench: Bench) -> Iterator[tuple[str, _Corrupter]]:
    """A pty for our side, joined to pppd's line through a relay that corrupts frames."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    corrupter = _Corrupter(times=3)
    relay = CapturingRelay(bench.vm.line("ttyS1").host, master, tamper=corrupter)
    relay.start()
    try:
        yield path, corrupter
    finally:
        relay.stop()
        os.close(slave)


@pytest.mark.parametrize("case", ["deflate", "bsdcomp"])
def test_corrupted_frames_are_healed_by_reset_request_and_ack(
    bench: Bench, noisy_line: tuple[str, _Corrupter], case: str
) -> None:
    tty, corrupter = noisy_line
    ours, pppd = _start(bench, case, "dial", tty=tty)
    text = text_corpus(384 * 1024)
    corrupter.armed.set()
    push_to_guest(bench, text)
    fetch_from_guest(bench, "/run/received.bin")
    assert corrupter.left == [0, 0], corrupter.left
    log, output = pppd.read_log(), ours.output()
    # We found pppd's packets out of sequence and asked; pppd reset and acked.
    assert re.search(r"sent \[CCP ResetReq id=0x\w+\]", output), output[-3000:]
    assert re.search(r"sent \[CCP ResetAck id=0x\w+\]", log), log[-3000:]
    assert re.search(r"rcvd \[CCP ResetAck id=0x\w+\]", output)
    if case == "deflate":
        # And the other way round: pppd's kernel asked, we reset and acked.
        assert re.search(r"sent \[CCP ResetReq id=0x\w+\]", log), log[-3000:]
        assert re.search(r"sent \[CCP ResetAck id=0x\w+\]", output), output[-3000:]
    assert _compression_status(bench)["receive"] is not None  # CCP stayed up
