"""Multilink PPP (RFC 1990) against pppd 2.4.9's, with the distro kernel's ppp_generic.

pppd does multilink with one process per link: two pppds run in the guest,
on ttyS1 and ttyS2, both with ``multilink``.  The first to finish LCP (and
authentication) makes the bundle ("New bundle ppp0 created"), the second
finds it in pppd's tdb (``/var/run/pppd2.tdb``, on the guest's tmpfs) by the
same peer name and Endpoint Discriminator and attaches its link to it ("Link
attached to ppp0"); the kernel then fragments and reassembles.  Our side is
one ``wanctl answer --multilink`` or ``wanctl dial --multilink`` process on
both lines' host ptys, in a namespace with its TUN.

ttyS2's host end passes through a relay (``CuttableLine``) that can go
silent both ways, as a cut cable does: LCP echoes on both sides find the dead
member, each side's bundle carries on over ttyS1, and with ``persist`` on both
sides the member comes back once the line is restored.

Addresses: we are 10.88.0.2, pppd is 10.88.0.1.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hw.lab.vm import GuestProcess, PppdVm, start_pppd
from hw.lab.vm.pppd_log import IPCP_UP
from wanctl.lab import LinkProcess, in_netns, lab_unavailable, namespaces, ping, python_env

OURS, PPPD = "10.88.0.2", "10.88.0.1"
SECRET = "s3cret-for-multilink"
MIB = 1 << 20
#: The transfer during which a line is cut, a second in: most of it crosses one
#: member only (the guest's TCG CPU takes one line's bytes at ~20 KiB/s at best).
CUT_TRANSFER = MIB // 4
PORT = 5002
NEW_BUNDLE = "New bundle ppp0 created"
ATTACHED = "Link attached to ppp0"
#: Both sides find a dead member by LCP echo: pppd's options, then ours.  Ours
#: waits longer: a guest starved of CPU (TCG on a loaded host) may not answer
#: for 3 s while the lines are fine, and the cut must be found by pppd first,
#: as its log is read for it.
ECHO = ("lcp-echo-interval", "1", "lcp-echo-failure", "3")
OUR_ECHO = ("--lcp-echo-interval", "1", "--lcp-echo-failure", "6")
#: Our side redials a dead member at once, for ever.
PERSIST = ("--persist", "--holdoff", "0", "--maxfail", "0")


class CuttableLine:
    """A pty whose far end is a guest line's host pty, copied both ways until ``cut``.

    Our process opens ``path``; while cut, what either side sends is dropped.
    Our side may close and reopen ``path`` (a redial): the relay waits for it.
    """

    def __init__(self, guest_pty: str) -> None:
        self._guest = os.open(guest_pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._guest)
        self._master, slave = os.openpty()
        tty.setraw(self._master)
        self.path = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(self._master, False)
        self.cut_now = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="cuttable-line", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        self.cut_now.set()

    def restore(self) -> None:
        self.cut_now.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._guest)
        os.close(self._master)

    def _pump(self) -> None:
        ends = (self._guest, self._master)
        pending = {fd: bytearray() for fd in ends}
        other = {self._guest: self._master, self._master: self._guest}
        while not self._stop.is_set():
            writers = [fd for fd in ends if pending[fd]]
            readable, writable, _ = select.select(ends, writers, [], 0.05)
            for fd in readable:
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                except OSError as error:  # EIO: our side has the pty closed (redialling)
                    if error.errno != errno.EIO:
                        raise
                    time.sleep(0.02)
                    continue
                if not self.cut_now.is_set():
                    pending[other[fd]] += data
            for fd in writable:
                try:
                    written = os.write(fd, pending[fd])
                except (BlockingIOError, OSError):
                    continue
                del pending[fd][:written]
            if self.cut_now.is_set():
                for data in pending.values():
                    data.clear()


@dataclass
class Bench:
    vm: PppdVm
    namespace: str
    run_dir: Path
    line: CuttableLine
    ours: list[LinkProcess] = field(default_factory=list)
    pppd_options: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"WANCTL_RUN_DIR": str(self.run_dir), "WANCTL_LOCK_DIR": str(self.run_dir)}

    @property
    def ports(self) -> list[str]:
        return [self.vm.line("ttyS1").host, self.line.path]

    def start_ours(self, verb: str, *args: str) -> LinkProcess:
        secrets = self.run_dir / "secrets"
        process = LinkProcess(
            [
                verb,
                "--multilink",
                *self.ports,
                "--linkname",
                "ours",
                "--debug",
                "--chap-secrets",
                str(secrets),
                *OUR_ECHO,
                *PERSIST,
                *args,
            ],
            namespace=self.namespace,
            env=self.env,
            name=f"wanctl {verb} --multilink",
        )
        self.ours.append(process)
        process.wait_for(r"Opening ", 15)
        process.wait_for(r"Opening ", 15)
        # qemu drops what the guest sends until it has noticed our open.
        time.sleep(1.2)
        return process

    def pppds(self, *options: str) -> tuple[GuestProcess, GuestProcess]:
        """pppd on ttyS1 makes the bundle, then pppd on ttyS2 attaches to it."""
        self.pppd_options = ["multilink", *ECHO, *options]
        first = start_pppd(self.vm, "ttyS1", self.pppd_options)
        first.wait_for_log(NEW_BUNDLE, timeout=40)
        return first, self.second_pppd()

    def second_pppd(self) -> GuestProcess:
        second = start_pppd(self.vm, "ttyS2", self.pppd_options)
        second.wait_for_log(ATTACHED, timeout=40)
        return second

    def status(self) -> dict[str, object]:
        process = LinkProcess(["status", "ours", "--json"], env=self.env, name="status")
        assert process.wait() == 0, process.output()
        report: dict[str, object] = json.loads(process.output())
        return report

    def active_members(self) -> list[str]:
        bundle = self.status()["bundle"]
        assert isinstance(bundle, dict)
        return [m["member"] for m in bundle["members"] if m["state"] == "active"]

    def wait_members(self, count: int, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            active = self.active_members()
            if len(active) == count or time.monotonic() > deadline:
                return active
            time.sleep(0.3)

    def ping_both_ways(self) -> None:
        ok, summary = ping(self.namespace, PPPD, count=3, size=1400)  # two fragments each
        assert ok, summary
        status, output = self.vm.run(f"ping -c 3 -W 5 -s 1400 {OURS}", timeout=30)
        assert status == 0, output


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    with namespaces(1, prefix="mlink") as (name,):
        yield name


@pytest.fixture
def bench(module_pppd_vm: PppdVm, namespace: str, tmp_path: Path) -> Iterator[Bench]:
    module_pppd_vm.write_file("/etc/ppp/chap-secrets", f"client server {SECRET} *\n", mode=0o600)
    module_pppd_vm.check_output("rm -f /run/pppd2.tdb")  # no bundle left from an earlier test
    secrets = tmp_path / "secrets"
    secrets.write_text(f"client server {SECRET} *\n")
    secrets.chmod(0o600)
    line = CuttableLine(module_pppd_vm.line("ttyS2").host)
    bench = Bench(module_pppd_vm, namespace, tmp_path, line)
    try:
        yield bench
    finally:
        for process in bench.ours:
            process.stop()
        line.close()


# -- TCP through the bundle: busybox nc in the guest, Python on our side -------------

#: Our side of a transfer, run in our namespace: push a file, or fetch one.
_CLIENT = r"""
import hashlib, socket, sys, time
mode, address, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
started = time.monotonic()
sock = socket.create_connection((address, port), timeout=120)
sock.settimeout(120)
if mode == "push":
    with open(path, "rb") as source:
        sock.sendall(source.read())
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(65536):
        pass
    print(0, "-", time.monotonic() - started)
else:
    digest, size = hashlib.sha256(), 0
    while chunk := sock.recv(65536):
        digest.update(chunk)
        size += len(chunk)
    print(size, digest.hexdigest(), time.monotonic() - started)
"""


def _guest_serves(vm: PppdVm, script: str) -> None:
    vm.write_file("/run/xfer.sh", f"#!/bin/sh\n{script}\n", mode=0o755)
    vm.spawn(f"exec nc -l -p {PORT} -e /run/xfer.sh", name="nc")
    vm.check_output(
        f"for i in $(seq 50); do netstat -ltn | grep -q :{PORT} && exit 0; sleep 0.1; done; exit 1"
    )


def _our_client(bench: Bench, mode: str, path: Path) -> tuple[int, str, float]:
    result = subprocess.run(
        in_netns(
            bench.namespace, [sys.executable, "-c", _CLIENT, mode, PPPD, str(PORT), str(path)]
        ),
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-800:]
    size, digest, seconds = result.stdout.split()
    return int(size), digest, float(seconds)


def push(bench: Bench, size: int = MIB) -> float:
    """Random octets from us to pppd's side; the guest's copy must hash the same."""
    data = os.urandom(size)
    path = bench.run_dir / "push.bin"
    path.write_bytes(data)
    _guest_serves(bench.vm, "cat > /run/received.bin")
    _, _, seconds = _our_client(bench, "push", path)
    guest = bench.vm.check_output("sha256sum /run/received.bin; wc -c < /run/received.bin").split()
    assert (guest[0], int(guest[-1])) == (hashlib.sha256(data).hexdigest(), size)
    return seconds


def fetch(bench: Bench, size: int = MIB) -> float:
    """Random octets from pppd's side to ours; what arrives must hash the same."""
    bench.vm.check_output(f"head -c {size} /dev/urandom > /run/random.bin")
    expected = bench.vm.check_output("sha256sum /run/random.bin").split()[0]
    _guest_serves(bench.vm, "cat /run/random.bin")
    got_size, digest, seconds = _our_client(bench, "fetch", bench.run_dir / "unused")
    assert (got_size, digest) == (size, expected)
    return seconds


# -- the scenario, in both directions -------------------------------------------------


def _bundle_up(bench: Bench, ours: LinkProcess, first: GuestProcess) -> None:
    ours.wait_for(r"^Link up: ", 40)
    first.wait_for_log(IPCP_UP, timeout=40)
    assert len(bench.wait_members(2)) == 2, bench.status()


def _cut_mid_transfer_and_rejoin(
    bench: Bench,
    ours: LinkProcess,
    second: GuestProcess,
    transfer: str,
    request: pytest.FixtureRequest,
) -> None:
    """Cut ttyS2 a second into a 256 KiB transfer: it completes over ttyS1.  Then the
    line comes back: our member, under ``persist``, redials and rejoins, and a new
    pppd on ttyS2 attaches to pppd's bundle.  (pppd 2.4.9's own ``persist`` brings
    a bundle's second link back up to LCP and authentication but never attaches it
    again: ``mp_join_bundle`` returns early once a process has joined a bundle.)"""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["seconds"] = (push if transfer == "push" else fetch)(bench, CUT_TRANSFER)
        except BaseException as error:  # reported by the main thread
            outcome["error"] = error

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(1.0)
    bench.line.cut()
    worker.join(150)
    assert not worker.is_alive(), "the transfer never finished"
    assert "error" not in outcome, outcome["error"]
    request.node.user_properties.append((f"{transfer}_with_cut_seconds", outcome["seconds"]))
    print(f"{transfer} of 256 KiB with ttyS2 cut after 1 s: {outcome['seconds']:.1f} s")
    assert bench.wait_members(1) == [bench.ports[0]], bench.status()
    # A bundle's link that dies ends its pppd with "Modem hangup" (16), not 15.
    assert second.wait(30) in (15, 16), _without_echoes(second.read_log())
    assert "No response to 3 echo-requests" in second.read_log()
    bench.line.restore()
    again = bench.second_pppd()
    assert len(bench.wait_members(2, timeout=45)) == 2, (bench.status(), ours.output()[-3000:])
    assert ATTACHED in again.read_log()
    bench.ping_both_ways()


def _without_echoes(log: str) -> str:
    return "\n".join(line for line in log.splitlines() if "LCP Echo" not in line)


def _transfers(bench: Bench, request: pytest.FixtureRequest) -> None:
    pushed, fetched = push(bench), fetch(bench)
    request.node.user_properties += [("push_seconds", pushed), ("fetch_seconds", fetched)]
    print(f"1 MiB over the bundle: to pppd {pushed:.1f} s, from pppd {fetched:.1f} s")


def test_pppd_calls_us_two_links_one_bundle(bench: Bench, request: pytest.FixtureRequest) -> None:
    """pppd's two links authenticate to us with CHAP: our bundle is the peer "client"'s."""
    ours = bench.start_ours(
        "answer", "--require-chap", "--name", "server", "--ip", f"{OURS}:{PPPD}"
    )
    first, second = bench.pppds("noauth", "user", "client", "remotename", "server", "noipdefault")
    _bundle_up(bench, ours, first)
    assert str(bench.status()["bundle"]["key"]).startswith('"client"')  # type: ignore[index]
    assert "Link /dev/" in ours.output() and "attached to bundle" in ours.output()
    bench.ping_both_ways()
    _transfers(bench, request)
    _cut_mid_transfer_and_rejoin(bench, ours, second, "fetch", request)


def test_we_call_pppd_two_links_one_bundle(bench: Bench, request: pytest.FixtureRequest) -> None:
    """pppd requires CHAP on both links: its bundle is BUNDLE="client"/<our endpoint>."""
    ours = bench.start_ours("dial", "--user", "client", "--remotename", "server")
    first, second = bench.pppds("auth", "require-chap", "name", "server", f"{PPPD}:{OURS}")
    _bundle_up(bench, ours, first)
    for log in (first.read_log(), second.read_log()):
        assert "sent [CHAP Success" in log
    bench.ping_both_ways()
    _transfers(bench, request)
    _cut_mid_transfer_and_rejoin(bench, ours, second, "push", request)


def test_short_sequence_numbers_a_smaller_mrru_and_protocols_one_side_lacks(
    bench: Bench,
) -> None:
    """pppd with ``mpshortseq`` and ``mrru 1400``, without IPv6; us with IPv6 and no CCP.

    Both ends ask for 12-bit sequence numbers; we send pppd no packet over its
    MRRU (our interface's MTU is 1400); the CCP pppd offers and the IPV6CP we
    offer are each Protocol-Rejected through a member's LCP and stop at once.
    """
    ours = bench.start_ours("dial", "--mpshortseq", "--ipv6")
    first, _ = bench.pppds("noauth", "mpshortseq", "mrru", "1400", "noipv6", f"{PPPD}:{OURS}")
    _bundle_up(bench, ours, first)
    log = first.read_log()
    assert "<mrru 1400> <ssnhf>]" in log and "<mrru 1500> <ssnhf> <endpoint" in log
    link = subprocess.run(
        ["ip", "-n", bench.namespace, "link", "show", "wan0"], capture_output=True, text=True
    )
    assert " mtu 1400 " in link.stdout, link.stdout  # pppd's MRRU, below our 1500
    bench.ping_both_ways()  # 1400 octets of payload: IP-fragmented to our MTU of 1400
    assert "Protocol-Reject for 'IPv6 Control Protocol' (0x8057) received" in ours.output()
    assert "Protocol-Reject for 'Compression Control Protocol' (0x80fd) received" in log
    assert log.count("sent [CCP ConfReq") <= 2, _without_echoes(log)  # not ten
    # Our NCP packets go whole: none reached pppd as a fragment before its link
    # was in the kernel's bundle (pppd would Protocol-Reject 0x003d, losing it).
    assert "Unsupported protocol 'Multi-Link'" not in log, _without_echoes(log)
