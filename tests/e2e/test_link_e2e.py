"""Two wanctl endpoints in two namespaces over the virtual cable (115200 baud unless marked).

Real parts only: pty ttys through the paced relay (another process), a TUN
interface per namespace configured by netlink, the kernel's IP stack, ping
and TCP.  CHAP, IPCP (with DNS) and IPV6CP come up; packets cross both ways.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CLIENT_IP, HUB_IP, Lab
from wanctl.lab import ping, tcp_transfer
from wanctl.schemacheck import load_schema, validate


def bring_up(lab: Lab) -> tuple[str, str]:
    hub, client = lab.answer(), lab.dial()
    hub_up = hub.wait_for(r"IPv6 up: local (\S+) remote (\S+)", 30)
    client.wait_for(r"Link up: (\S+) local 10\.77\.0\.2 remote 10\.77\.0\.1", 30)
    hub.wait_for(r"Link up: \S+ local 10\.77\.0\.1 remote 10\.77\.0\.2", 30)
    return hub_up.group(1), hub_up.group(2)


def test_chap_ipv4_and_ipv6_come_up_and_ping_works_both_ways(lab: Lab) -> None:
    hub_ll, client_ll = bring_up(lab)
    for namespace, address in ((lab.ns_client, HUB_IP), (lab.ns_hub, CLIENT_IP)):
        ok, summary = ping(namespace, address)
        assert ok, summary
    for namespace, address in ((lab.ns_client, hub_ll), (lab.ns_hub, client_ll)):
        ok, summary = ping(namespace, f"{address}%wan0")
        assert ok, summary


def test_peer_dns_goes_to_the_resolv_file_and_defaultroute_to_the_link(lab: Lab) -> None:
    """usepeerdns writes /etc/ppp/resolv.conf as pppd does; defaultroute points at wan0."""
    lab.answer()
    client = lab.dial("--usepeerdns", "--defaultroute")
    client.wait_for(r"Link up: .* dns 10\.77\.0\.53", 30)
    assert "nameserver 10.77.0.53\n" in Path("/etc/ppp/resolv.conf").read_text()
    routes = subprocess.run(
        ["ip", "-n", lab.ns_client, "route", "show", "default"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "default dev wan0" in routes


@pytest.mark.cable_baud(921600)
def test_one_megabyte_over_tcp_arrives_intact(lab: Lab) -> None:
    """Integrity at a line rate that keeps the test short; efficiency figures are bench's."""
    bring_up(lab)
    result = tcp_transfer(lab.ns_client, lab.ns_hub, HUB_IP, nbytes=1 << 20)
    assert result["bytes"] == 1 << 20 and result["intact"], result
    line_rate = 921600 / 10
    print(
        f"1 MiB in {result['seconds']:.1f} s: "
        f"{result['bytes'] / result['seconds'] / line_rate:.1%} of line rate"
    )


def test_status_json_and_hangup_from_a_third_process(lab: Lab) -> None:
    bring_up(lab)
    status = lab.wanctl("status", "client", "--json")
    assert status.wait() == 0
    report = json.loads(status.output())
    assert validate(report, load_schema("status.schema.json")) == []
    assert report["link"] == "client" and report["phase"] == "network"
    assert report["ipv4"] == {"local": CLIENT_IP, "remote": HUB_IP}
    assert report["interface"] == "wan0" and report["speed"] == 115200
    assert report["frames"]["received"] > 0 and report["errors"]["crc"] == 0
    # The defaults: VJ each way (as pppd), CCP only when asked for.
    compression = report["compression"]
    assert (compression["send"], compression["receive"]) == (None, None)
    assert compression["vj"] == {"send": True, "receive": True}
    human = lab.wanctl("status", "client")
    assert human.wait() == 0
    assert "compression: VJ both ways" in human.output()
    every = lab.wanctl("status", "--json")
    assert every.wait() == 0
    assert {s["link"] for s in json.loads(every.output())} == {"hub", "client"}
    hangup = lab.wanctl("hangup", "client")
    assert hangup.wait() == 0
    dialer, answerer = lab.processes[1], lab.processes[0]
    assert dialer.wait(15) == 5  # pppd's EXIT_USER_REQUEST
    dialer_output = dialer.output()
    assert "Link down: User request" in dialer_output
    assert answerer.wait(15) in (0, 16)
    assert "terminated by peer" in answerer.output()


def test_capture_writes_a_pcap_that_tshark_decodes(lab: Lab, tmp_path: object) -> None:
    pcap = f"{tmp_path}/link.pcap"
    lab.answer()
    # The pcap is of the line: with CCP, tshark would see "PPP Compressed Datagram"
    # where this test reads ICMP, so the client refuses CCP.
    client = lab.dial("--pcap", pcap, "--noccp")
    client.wait_for(r"Link up", 30)
    ok, _ = ping(lab.ns_client, HUB_IP, count=2)
    assert ok
    lab.wanctl("hangup", "client").wait()
    client.wait(15)
    decoded = subprocess.run(
        ["tshark", "-r", pcap, "-T", "fields", "-e", "frame.protocols"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    protocols = decoded.stdout
    for name in ("lcp", "chap", "ipcp", "icmp"):
        assert f":{name}" in protocols, (name, protocols)


def test_capture_verb_streams_a_running_links_frames(lab: Lab, tmp_path: object) -> None:
    pcap = f"{tmp_path}/live.pcap"
    lab.answer()
    client = lab.dial("--noccp")  # ICMP must be readable in the line's capture
    client.wait_for(r"Link up", 30)
    capture = lab.wanctl("capture", "client", "-w", pcap, "-c", "4")
    time.sleep(0.5)  # the capture client connects before the pings start
    ok, _ = ping(lab.ns_client, HUB_IP, count=3)
    assert ok
    assert capture.wait(15) == 0
    decoded = subprocess.run(
        ["tshark", "-r", pcap, "-T", "fields", "-e", "frame.p2p_dir", "-e", "icmp.type"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = [line.split("\t") for line in decoded.stdout.splitlines()]
    assert len(rows) == 4
    # Wireshark's p2p_dir: 0 = sent, 1 = received (the pcap byte is the other way round).
    assert {("0", "8"), ("1", "0")} <= {tuple(r) for r in rows}, rows


def test_secrets_entry_without_addresses_gives_the_peer_no_ipv4(lab: Lab) -> None:
    """pppd's rule, through the real file: an entry of three words allows the peer no
    address, so the hub closes IPCP with pppd's message and no IPv4 crosses; IPV6CP,
    which the address column does not govern, stays up."""
    lab.secrets.write_text("client hub s3cret\n")
    hub, _ = lab.answer(), lab.dial()
    hub.wait_for(rf"Peer is not authorized to use remote address {CLIENT_IP}", 30)
    hub.wait_for(r"IPv6 up", 30)
    status = lab.wanctl("status", "hub", "--json")
    assert status.wait() == 0
    report = json.loads(status.output())
    assert report["phase"] == "network"
    assert report["ipv4"] == {"local": None, "remote": None}
    ok, summary = ping(lab.ns_client, HUB_IP, count=1)
    assert not ok, summary
    # The client's IPCP had opened before the hub closed it: its addresses are gone
    # from its status and from its interface, as pppd clears them on IPCP down.
    client = _client_status_without_ipv4(lab)
    assert client["phase"] == "network" and client["ipv6"]["local_id"], client
    addresses = subprocess.run(
        ["ip", "-n", lab.ns_client, "-4", "addr", "show"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert CLIENT_IP not in addresses, addresses


def _client_status_without_ipv4(lab: Lab) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while True:
        status = lab.wanctl("status", "client", "--json")
        assert status.wait() == 0
        report: dict[str, Any] = json.loads(status.output())
        if report["ipv4"] == {"local": None, "remote": None} or time.monotonic() > deadline:
            return report
        time.sleep(0.2)
