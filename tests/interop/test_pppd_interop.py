"""Our stack against the real pppd 2.4.9 of Debian's ``ppp``, in a qemu VM.

Our side is a real ``wanctl`` process in a network namespace of its own on
the host, with its TUN interface; pppd runs on the guest's ttyS1, whose
host end is a pty that our process opens directly (qemu's pty is the wire).
Every scenario pings across the link in both directions.

Addresses: we are 10.88.0.2, pppd is 10.88.0.1.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hw.lab.vm import GuestProcess, PppdVm, count_sent, parse_pppd_log, start_pppd
from hw.lab.vm.pppd_log import IPCP_UP
from tests.interop.pppd_wire import CapturingRelay
from wanctl.lab import LinkProcess, lab_unavailable, namespaces, ping

OURS, PPPD = "10.88.0.2", "10.88.0.1"
SECRET = "s3cret-for-interop"


@dataclass
class Bench:
    vm: PppdVm
    namespace: str
    run_dir: Path
    ours: list[LinkProcess] = field(default_factory=list)

    @property
    def tty(self) -> str:
        return self.vm.line("ttyS1").host

    def start_ours(self, verb: str, *args: str, tty: str | None = None) -> LinkProcess:
        """Our side on pppd's line (or on ``tty``, a relay's end of it)."""
        env = {"WANCTL_RUN_DIR": str(self.run_dir), "WANCTL_LOCK_DIR": str(self.run_dir)}
        process = LinkProcess(
            [verb, tty or self.tty, "--linkname", "ours", "--debug", *args],
            namespace=self.namespace,
            env=env,
            name=f"wanctl {verb}",
        )
        self.ours.append(process)
        process.wait_for(r"^Opening ", 15)
        # qemu drops what the guest sends until it has noticed our open.
        time.sleep(1.2)
        return process

    def pppd(self, *options: str) -> GuestProcess:
        return start_pppd(self.vm, "ttyS1", list(options))

    def hangup_ours(self) -> None:
        env = {"WANCTL_RUN_DIR": str(self.run_dir)}
        assert LinkProcess(["hangup", "ours"], env=env).wait() == 0

    def ping_both_ways(self) -> None:
        ok, summary = ping(self.namespace, PPPD, count=2)
        assert ok, summary
        status, output = self.vm.run(f"ping -c 2 -W 5 {OURS}", timeout=30)
        assert status == 0, output


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    with namespaces(1, prefix="interop") as (name,):
        yield name


@pytest.fixture
def bench(pppd_vm: PppdVm, namespace: str, tmp_path: Path) -> Iterator[Bench]:
    pppd_vm.write_file("/etc/ppp/pap-secrets", f"client * {SECRET} *\n", mode=0o600)
    pppd_vm.write_file("/etc/ppp/chap-secrets", f"client server {SECRET} *\n", mode=0o600)
    secrets = tmp_path / "secrets"
    secrets.write_text(f"client server {SECRET} *\n")
    secrets.chmod(0o600)
    bench = Bench(pppd_vm, namespace, tmp_path)
    try:
        yield bench
    finally:
        for process in bench.ours:
            process.stop()


def _secrets_args(bench: Bench) -> list[str]:
    path = str(bench.run_dir / "secrets")
    return ["--chap-secrets", path, "--pap-secrets", path]


def _up(ours: LinkProcess, pppd: GuestProcess) -> None:
    ours.wait_for(r"^Link up: ", 40)
    pppd.wait_for_log(IPCP_UP, timeout=40)


# -- pppd as the server, we dial --------------------------------------------------


def test_pppd_server_noauth_assigns_our_address_and_dns(bench: Bench) -> None:
    ours = bench.start_ours("dial", "--usepeerdns")
    pppd = bench.pppd("noauth", f"{PPPD}:{OURS}", "ms-dns", "10.88.0.53", "ms-dns", "10.88.0.54")
    _up(ours, pppd)
    assert f"local {OURS} remote {PPPD} dns 10.88.0.53" in ours.output()
    bench.ping_both_ways()
    bench.hangup_ours()
    assert ours.wait(20) == 5
    assert pppd.wait(30) in (5, 16), pppd.read_log()[-500:]


@pytest.mark.parametrize("protocol", ["pap", "chap"])
def test_pppd_requires_authentication_from_us(bench: Bench, protocol: str) -> None:
    ours = bench.start_ours(
        "dial", "--user", "client", "--remotename", "server", *_secrets_args(bench)
    )
    pppd = bench.pppd("auth", f"require-{protocol}", "name", "server", f"{PPPD}:{OURS}")
    _up(ours, pppd)
    verdict = {"pap": "sent [PAP AuthAck", "chap": "sent [CHAP Success"}[protocol]
    assert verdict in pppd.read_log()
    bench.ping_both_ways()


@pytest.mark.parametrize("protocol", ["pap", "chap"])
def test_we_require_authentication_from_pppd(bench: Bench, protocol: str) -> None:
    ours = bench.start_ours(
        "answer",
        f"--require-{protocol}",
        "--name",
        "server",
        "--ip",
        f"{OURS}:{PPPD}",
        *_secrets_args(bench),
    )
    pppd = bench.pppd("noauth", "user", "client", "remotename", "server")
    _up(ours, pppd)
    assert f"Authenticated ({protocol.upper()}, authenticator: client)" in ours.output()
    bench.ping_both_ways()


def test_wrong_secret_fails_cleanly_on_both_sides(bench: Bench) -> None:
    ours = bench.start_ours(
        "dial", "--user", "client", "--remotename", "server", "--password", "not-the-secret"
    )
    pppd = bench.pppd("auth", "require-chap", "name", "server", f"{PPPD}:{OURS}")
    assert ours.wait(40) == 19  # EXIT_AUTH_TOPEER_FAILED
    assert "Authentication failed (CHAP)" in ours.output()
    assert pppd.wait(40) == 11  # EXIT_PEER_AUTH_FAILED
    assert "Peer client failed CHAP authentication" in pppd.read_log()


def test_pppd_with_wrong_secret_is_refused_by_us(bench: Bench) -> None:
    bench.vm.write_file("/etc/ppp/chap-secrets", "client server wrong-secret *\n", mode=0o600)
    ours = bench.start_ours(
        "answer",
        "--require-chap",
        "--name",
        "server",
        "--ip",
        f"{OURS}:{PPPD}",
        *_secrets_args(bench),
    )
    pppd = bench.pppd("noauth", "user", "client", "remotename", "server")
    assert pppd.wait(40) == 19
    assert "CHAP authentication failed" in pppd.read_log()
    ours.wait_for(r"Authentication failed", 10)


# -- pppd as the client, we answer ------------------------------------------------


def test_pppd_client_gets_address_and_dns_from_us(bench: Bench) -> None:
    ours = bench.start_ours("answer", "--ip", f"{OURS}:{PPPD}", "--ms-dns", "10.88.0.53")
    pppd = bench.pppd("noauth", "noipdefault", "usepeerdns")
    _up(ours, pppd)
    log = pppd.read_log()
    assert f"local  IP address {PPPD}" in log and "primary   DNS address 10.88.0.53" in log
    bench.ping_both_ways()
    pppd.terminate()  # hang-up from pppd's side: it sends Terminate-Request
    assert pppd.wait(30) == 5
    assert ours.wait(20) in (0, 16)
    assert "terminated by peer" in ours.output()


def test_ipv6cp_brings_up_link_local_addresses(bench: Bench) -> None:
    ours = bench.start_ours("dial", "--ipv6")
    pppd = bench.pppd("noauth", "+ipv6", f"{PPPD}:{OURS}")
    ours.wait_for(r"IPv6 up: local (\S+) remote (\S+)", 40)
    pppd.wait_for_log("remote LL address", timeout=40)
    ours_ll, pppd_ll = _agreed_link_local_addresses(ours, pppd)
    ok, summary = ping(bench.namespace, f"{pppd_ll}%wan0", count=2)
    assert ok, summary
    status, output = bench.vm.run(f"ping -c 2 -W 5 {ours_ll}%ppp0", timeout=30)
    assert status == 0, output


def _agreed_link_local_addresses(ours: LinkProcess, pppd: GuestProcess) -> tuple[str, str]:
    """Our and pppd's link-local addresses once both logs agree on them.

    On a loaded machine a restart timer can fire before a Configure-Ack arrives;
    pppd then renegotiates IPV6CP with a fresh random identifier, so the latest
    announcement on each side is the one that counts.
    """
    deadline = time.monotonic() + 15
    while True:
        ours_up = re.findall(r"IPv6 up: local (\S+) remote (\S+)", ours.output())
        log = pppd.read_log()
        pppd_local = re.findall(r"local  LL address (\S+)", log)
        pppd_remote = re.findall(r"remote LL address (\S+)", log)
        if ours_up and pppd_local and pppd_remote:
            ours_ll, pppd_ll = ours_up[-1]
            # pppd prints every group with four digits (fe80::0cd4:...), we print
            # RFC 5952 text: compare the addresses, not their spellings.
            ours_pair = (ipaddress.IPv6Address(pppd_ll), ipaddress.IPv6Address(ours_ll))
            pppd_pair = (
                ipaddress.IPv6Address(pppd_local[-1]),
                ipaddress.IPv6Address(pppd_remote[-1]),
            )
            if ours_pair == pppd_pair:
                return ours_ll, pppd_ll
        if time.monotonic() > deadline:
            raise AssertionError(f"the two sides never agreed: ours {ours_up}, pppd's log:\n{log}")
        time.sleep(0.5)


def test_lcp_echo_both_ways_keeps_the_link_up(bench: Bench) -> None:
    ours = bench.start_ours("dial", "--lcp-echo-interval", "1", "--lcp-echo-failure", "3")
    pppd = bench.pppd("noauth", f"{PPPD}:{OURS}", "lcp-echo-interval", "1", "lcp-echo-failure", "3")
    _up(ours, pppd)
    time.sleep(4)
    # pppd stops logging LCP echoes once IP is up; our debug log shows both ways.
    log = ours.output()
    for line in (
        "sent [LCP EchoReq",
        "rcvd [LCP EchoRep",
        "rcvd [LCP EchoReq",
        "sent [LCP EchoRep",
    ):
        assert log.count(line) >= 2, (line, log[-2000:])
    assert ours.proc.poll() is None and pppd.poll() is None
    bench.ping_both_ways()


def test_pppd_with_mru_296_and_asyncmap(bench: Bench) -> None:
    ours = bench.start_ours("dial")
    pppd = bench.pppd("noauth", f"{PPPD}:{OURS}", "mru", "296", "asyncmap", "0x000a0000")
    _up(ours, pppd)
    assert "LCP up: mru 296, asyncmap 0xa0000" in ours.output()
    bench.ping_both_ways()
    ok, summary = ping(bench.namespace, PPPD, count=2, size=1000)  # fragmented to the MTU
    assert ok, summary


# -- control packets: us with pppd against pppd with pppd --------------------------

_LOGGED = re.compile(r"^(sent|rcvd) \[(\S+) (\S+) id=(0x[0-9a-f]+)")


def _exchanged_until_ipcp_up(log: str) -> int:
    """Distinct control packets pppd logged, both directions, until IPCP was up.

    A timer-driven retransmission repeats its packet's identifier and is counted
    once: on this loaded 2-core machine either side may be late now and then,
    and that says nothing about how many packets the protocols needed.
    """
    seen = set()
    for line in log.splitlines():
        if IPCP_UP in line:
            break
        match = _LOGGED.match(line)
        if match:
            seen.add(match.groups())
    return len(seen)


def test_we_need_no_more_control_packets_than_pppd_with_pppd(
    bench: Bench, request: pytest.FixtureRequest
) -> None:
    # Negotiation only: both runs leave compression out (CCP and VJ would add their
    # own packets, on both sides alike).
    options = ["noauth", "noccp", "novj"]
    # pppd with pppd: ttyS2 and ttyS3 joined on the host; the observer is on ttyS2.
    vm = bench.vm
    with CapturingRelay(vm.line("ttyS2").host, vm.line("ttyS3").host):
        observer = start_pppd(vm, "ttyS2", [*options, f"{PPPD}:{OURS}"])
        other = start_pppd(vm, "ttyS3", [*options, f"{OURS}:{PPPD}"], own_netns=True)
        observer.wait_for_log(IPCP_UP, timeout=40)
        baseline = _exchanged_until_ipcp_up(observer.read_log())
        observer.terminate()
        observer.wait(30)
        other.wait(30)
    # Us with the same pppd, same options.
    ours = bench.start_ours("dial", "--ip", f"{OURS}:{PPPD}", "--noccp", "--novj")
    pppd = bench.pppd(*options, f"{PPPD}:{OURS}")
    _up(ours, pppd)
    with_us = _exchanged_until_ipcp_up(pppd.read_log())
    raw = len(parse_pppd_log(pppd.read_log(), until=IPCP_UP))
    sent = count_sent(parse_pppd_log(pppd.read_log(), until=IPCP_UP))
    print(
        f"control packets until IPCP up: pppd<->pppd {baseline}, pppd<->wanctl {with_us}"
        f" ({raw} with retransmissions; pppd sent {dict(sent)})"
    )
    request.node.user_properties.append(("pppd_pppd_control_packets", baseline))
    request.node.user_properties.append(("pppd_wanctl_control_packets", with_us))
    assert with_us <= baseline, pppd.read_log()
