"""Multilink end to end: `wanctl answer --multilink` and `wanctl dial --multilink`
over two virtual cables, each process in its own namespace with one TUN.

Real parts: two paced pty cables (each its own process), two members per
side with LCP and CHAP each, IPCP once per bundle, the kernel's IP stack,
ping and TCP; one member is cut mid-transfer and the bundle carries on.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hw.lab.cable_process import CableProcess
from hw.lab.modem.process import ExchangeProcess
from tests.e2e.conftest import ProcessLab, running_lab
from wanctl.lab import LinkProcess, ping, tcp_transfer
from wanctl.schemacheck import load_schema, validate

HUB_IP, CLIENT_IP = "10.78.0.1", "10.78.0.2"


@dataclass
class BundleLab(ProcessLab):
    cables: list[CableProcess]

    def answer(self, *extra: str) -> LinkProcess:
        return self.start(
            "answer",
            self.ns_hub,
            "--multilink",
            *(cable.b for cable in self.cables),
            "--ip",
            f"{HUB_IP}:{CLIENT_IP}",
            "--require-chap",
            "--name",
            "hub",
            "--chap-secrets",
            str(self.secrets),
            "--linkname",
            "hub",
            "--endpoint",
            "magic:1f2e3d4c",
            *extra,
        )

    def dial(self, *extra: str) -> LinkProcess:
        return self.start(
            "dial",
            self.ns_client,
            "--multilink",
            *(cable.a for cable in self.cables),
            "--user",
            "client",
            "--remotename",
            "hub",
            "--chap-secrets",
            str(self.secrets),
            "--linkname",
            "client",
            "--endpoint",
            "magic:0a0b0c0d",
            *extra,
        )


@pytest.fixture
def bundle_lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BundleLab]:
    yield from running_lab(tmp_path, request, BundleLab, cables=2)


@pytest.fixture
def modem_lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BundleLab]:
    """The bundle lab without cables: its members are modems of a virtual exchange."""
    yield from running_lab(tmp_path, request, BundleLab, cables=0)


def test_modem_members_each_dial_their_own_number_and_make_one_bundle(
    modem_lab: BundleLab,
) -> None:
    lab = modem_lab
    hub_numbers, client_numbers = ("5552001", "5552002"), ("5553001", "5553002")
    with ExchangeProcess(
        [*hub_numbers, *client_numbers], ring_interval=0.5, handshake=0.2
    ) as exchange:
        first, second = (exchange.tty(n) for n in client_numbers)
        common = ("--ip", f"{HUB_IP}:{CLIENT_IP}", "--require-chap", "--name", "hub")
        hub = lab.start(
            "answer", lab.ns_hub, "--multilink", *(exchange.tty(n) for n in hub_numbers),
            *common, "--chap-secrets", str(lab.secrets), "--linkname", "hub", "--init", "ATZ",
        )  # fmt: skip
        for _ in hub_numbers:
            hub.wait_for(r"Waiting for a call", 30)
        client = lab.start(
            "dial", lab.ns_client, "--multilink", first, f"{second}={hub_numbers[1]}",
            "--number", hub_numbers[0], "--user", "client", "--remotename", "hub",
            "--chap-secrets", str(lab.secrets), "--linkname", "client", "--debug",
        )  # fmt: skip
        client.wait_for(r"Link up", 60)
        assert wait_members(lab, "client", 2), "the second modem never joined"
        ok, summary = ping(lab.ns_client, HUB_IP, count=2, size=1400)
        assert ok, summary
        output = client.output()
    # Each modem dialled the number of its own member, not the profile's twice.
    assert f"send (ATDT{hub_numbers[0]}^M)" in output, output
    assert f"send (ATDT{hub_numbers[1]}^M)" in output, output


def bring_up(lab: BundleLab, *extra: str) -> tuple[LinkProcess, LinkProcess]:
    hub, client = lab.answer(*extra), lab.dial(*extra)
    client.wait_for(r"Link up: \S+ local 10\.78\.0\.2 remote 10\.78\.0\.1", 30)
    hub.wait_for(r"Link up: \S+ local 10\.78\.0\.1 remote 10\.78\.0\.2", 30)
    return hub, client


def members_active(lab: BundleLab, link: str) -> list[str]:
    status = lab.wanctl("status", link, "--json")
    assert status.wait() == 0
    report = json.loads(status.output())
    assert validate(report, load_schema("status.schema.json")) == []
    return [m["member"] for m in report["bundle"]["members"] if m["state"] == "active"]


@pytest.mark.cable_baud(460800)
def test_bundle_of_two_carries_ping_and_a_megabyte_both_ways(bundle_lab: BundleLab) -> None:
    lab = bundle_lab
    bring_up(lab)
    ok, summary = ping(lab.ns_client, HUB_IP, size=1400)
    assert ok, summary
    assert sorted(members_active(lab, "client")) == sorted(c.a for c in lab.cables)
    for sender, receiver, address in (
        (lab.ns_client, lab.ns_hub, HUB_IP),
        (lab.ns_hub, lab.ns_client, CLIENT_IP),
    ):
        result = tcp_transfer(sender, receiver, address, nbytes=1 << 20)
        assert result["bytes"] == 1 << 20 and result["intact"], result
    status = lab.wanctl("status", "hub", "--json")
    assert status.wait() == 0
    members = json.loads(status.output())["bundle"]["members"]
    assert all(0.3 < m["share"] < 0.7 for m in members), members
    human = lab.wanctl("status", "hub")
    assert human.wait() == 0
    assert human.output().count("    member /dev/pts/") == 2
    drop = lab.wanctl("hangup", "client", "--member", lab.cables[1].a)
    assert drop.wait() == 0 and "dropping member" in drop.output()
    assert wait_members(lab, "client", 1) and wait_members(lab, "hub", 1)
    ok, summary = ping(lab.ns_client, HUB_IP, size=1400)
    assert ok, summary
    unknown = lab.wanctl("hangup", "client", "--member", "/dev/nonesuch")
    assert unknown.wait() != 0 and "no member '/dev/nonesuch'" in unknown.output()


@pytest.mark.cable_baud(460800)
def test_a_member_cut_mid_transfer_costs_only_bandwidth(bundle_lab: BundleLab) -> None:
    """The second cable goes silent (no carrier on a pty): LCP echo finds the dead
    member, it leaves, TCP's lost segments are resent over the other member."""
    lab = bundle_lab
    echo = ("--lcp-echo-interval", "1", "--lcp-echo-failure", "3")
    hub, client = bring_up(lab, *echo)
    worker, outcome = megabyte_in_background(lab)
    time.sleep(2.0)
    lab.cables[1].cut()
    # Its probe unanswered, it is suspect long before LCP echo calls it dead.
    quiet = re.escape(f"[{lab.cables[1].a}] quiet")
    client.wait_for(quiet, 2.5)
    worker.join(120)
    assert outcome.get("intact") and outcome.get("bytes") == 1 << 20, outcome
    client.wait_for(r"left bundle|Link down", 10)
    assert members_active(lab, "client") == [lab.cables[0].a]
    assert members_active(lab, "hub") == [lab.cables[0].b]
    assert hub.proc.poll() is None and client.proc.poll() is None
    ok, summary = ping(lab.ns_client, HUB_IP)
    assert ok, summary


@pytest.mark.cable_baud(460800)
def test_a_member_quiet_for_a_moment_is_suspect_then_heard_again_and_never_leaves(
    bundle_lab: BundleLab,
) -> None:
    lab = bundle_lab
    _hub, client = bring_up(lab, "--lcp-echo-interval", "2", "--lcp-echo-failure", "4")
    worker, outcome = megabyte_in_background(lab)
    time.sleep(1.5)
    lab.cables[1].cut()
    member = re.escape(f"[{lab.cables[1].a}]")
    client.wait_for(member + " quiet", 2.5)
    lab.cables[1].restore()
    client.wait_for(member + " heard again", 3)
    worker.join(120)
    assert outcome.get("intact") and outcome.get("bytes") == 1 << 20, outcome
    assert members_active(lab, "client") == [c.a for c in lab.cables]
    assert members_active(lab, "hub") == [c.b for c in lab.cables]
    status = lab.wanctl("status", "client", "--json")
    assert status.wait() == 0
    report = json.loads(status.output())["bundle"]["members"]
    assert all(m["state"] == "active" and m["frames_sent"] > 0 for m in report), report


def test_with_persist_a_cut_member_rejoins_the_bundle(bundle_lab: BundleLab) -> None:
    lab = bundle_lab
    keep = ("--persist", "--holdoff", "0", "--maxfail", "0")
    bring_up(lab, "--lcp-echo-interval", "1", "--lcp-echo-failure", "2", *keep)
    lab.cables[1].cut()
    assert wait_members(lab, "client", 1), "the cut member never left"
    lab.cables[1].restore()
    assert wait_members(lab, "client", 2), "the member never rejoined"
    assert wait_members(lab, "hub", 2)
    ok, summary = ping(lab.ns_client, HUB_IP, size=1400)
    assert ok, summary


def megabyte_in_background(lab: BundleLab) -> tuple[threading.Thread, dict[str, object]]:
    """1 MiB of TCP client -> hub on a started thread; its outcome fills the dict."""
    outcome: dict[str, object] = {}

    def transfer() -> None:
        outcome.update(tcp_transfer(lab.ns_client, lab.ns_hub, HUB_IP, nbytes=1 << 20))

    worker = threading.Thread(target=transfer)
    worker.start()
    return worker, outcome


def wait_members(lab: BundleLab, link: str, count: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(members_active(lab, link)) == count:
            return True
        time.sleep(0.5)
    return False


def test_the_pcap_carries_the_fragments_and_tshark_decodes_them(
    bundle_lab: BundleLab, tmp_path: Path
) -> None:
    lab = bundle_lab
    pcap = f"{tmp_path}/bundle.pcap"
    lab.answer()
    client = lab.dial("--pcap", pcap, "--noccp", "--novj")
    client.wait_for(r"Link up", 30)
    # Both ends with both members: a bundle of one sends its packets whole.
    assert wait_members(lab, "client", 2) and wait_members(lab, "hub", 2)
    ok, _ = ping(lab.ns_client, HUB_IP, count=2, size=1400)
    assert ok
    lab.wanctl("hangup", "client").wait()
    assert client.wait(15) == 5
    decoded = subprocess.run(
        ["tshark", "-r", pcap, "-T", "fields", "-e", "frame.protocols", "-e", "mp.seq"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    protocols = decoded.stdout
    for name in ("lcp", "chap", "mp"):
        assert f":{name}" in protocols, (name, protocols)
    # tshark reassembles the fragments of each 1400-byte ping.
    assert "ppp:mp:ip:icmp" in protocols, protocols
    sequences = [int(line.split("\t")[1]) for line in protocols.splitlines() if ":mp" in line]
    # Two pings each way, two fragments each: 0..3 both ways (the NCPs go whole).
    assert len(sequences) >= 8 and max(sequences) >= 3, sequences


def test_bandwidth_on_demand_adds_a_member_under_load_and_drops_it_when_idle(
    bundle_lab: BundleLab,
) -> None:
    lab = bundle_lab
    lab.answer()
    client = lab.dial("--demand-add", "60,2", "--demand-drop", "10,3", "--demand-min", "1")
    client.wait_for(r"Link up: .* over 1 member\b", 30)
    assert members_active(lab, "client") == [lab.cables[0].a]
    result = tcp_transfer(lab.ns_client, lab.ns_hub, HUB_IP, seconds=8)
    assert result["intact"], result
    second = re.escape(lab.cables[1].a)
    client.wait_for(r"Bandwidth on demand: \d+% busy, bringing up " + second, 1)
    client.wait_for(rf"\[{second}\] joined bundle .* \(2 members\)", 10)
    client.wait_for(r"Bandwidth on demand: \d+% busy, dropping " + second, 20)
    client.wait_for(rf"\[{second}\] left bundle", 10)
    assert wait_members(lab, "client", 1, timeout=10)
    ok, summary = ping(lab.ns_client, HUB_IP)
    assert ok, summary
