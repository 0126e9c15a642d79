"""A bundle's network phase on the fake clock: two BundleNetworks wired back to back."""

from __future__ import annotations

import dataclasses
import ipaddress

from ndiswan.ppp import NetworkUp, Phase, PppConfig
from ndiswan.ppp.events import (
    BundleProtocolUnsupported,
    CloseRequested,
    DatagramReceived,
    LinkTerminated,
    LogLine,
    NetworkDown,
    PhaseChanged,
)
from ndiswan.ppp.multilink.network import BundleNetwork
from wanminiport.exitcodes import ExitCode
from wanminiport.sansio import Transmit

HUB = PppConfig(
    name="hub",
    local_ip=ipaddress.IPv4Address("10.9.0.1"),
    remote_ip=ipaddress.IPv4Address("10.9.0.2"),
    multilink=True,
)
CLIENT = PppConfig(multilink=True)


def pair() -> tuple[BundleNetwork, BundleNetwork]:
    return (
        BundleNetwork(HUB, mrru=1500, peer_mrru=1500),
        BundleNetwork(CLIENT, mrru=1500, peer_mrru=1500),
    )


def exchange(a: BundleNetwork, b: BundleNetwork, now: float = 0.0) -> dict[int, list[object]]:
    """Move packets both ways until both are quiet; every event, by side."""
    events: dict[int, list[object]] = {0: [], 1: []}
    busy = True
    while busy:
        busy = False
        for index, (src, dst) in enumerate(((a, b), (b, a))):
            for output in src.drain():
                busy = True
                if isinstance(output, Transmit):
                    dst.receive_frame(output.data, now)
                else:
                    events[index].append(output)
    return events


def test_ipcp_runs_once_over_the_bundle_and_datagrams_cross() -> None:
    hub, client = pair()
    hub.start(0.0)
    client.start(0.0)
    events = exchange(hub, client)
    [up] = [e for e in events[1] if isinstance(e, NetworkUp)]
    assert str(up.local) == "10.9.0.2" and str(up.remote) == "10.9.0.1"
    assert hub.phase is Phase.NETWORK and hub.status is ExitCode.OK
    packet = client.send_datagram(0x21, b"\x45" + bytes(39))
    assert packet == b"\x00\x21\x45" + bytes(39)
    hub.receive_frame(packet, 1.0)
    assert [e for e in hub.drain() if isinstance(e, DatagramReceived)] == [
        DatagramReceived(0x21, b"\x45" + bytes(39))
    ]


def test_nothing_is_sent_or_delivered_before_ipcp_opens() -> None:
    hub, client = pair()
    assert client.send_datagram(0x21, b"\x45" + bytes(39)) is None
    assert client.stats.sends_refused == 1
    hub.start(0.0)
    hub.receive_frame(b"\x00\x21\x45" + bytes(39), 0.0)
    assert not [e for e in hub.drain() if isinstance(e, DatagramReceived)]
    assert hub.stats.datagrams_dropped == 1


def test_bad_frames_are_counted_and_change_nothing() -> None:
    hub, client = pair()
    hub.start(0.0)
    client.start(0.0)
    exchange(hub, client)
    for frame in (b"", b"\x00", b"\x00\x00\x01", b"\x80\x57\x01"):  # short, even, IPV6CP off
        hub.receive_frame(frame, 1.0)
    assert hub.stats.malformed_frames == 3
    assert hub.stats.protocol_rejects_sent == 1
    assert hub.phase is Phase.NETWORK and hub.network is not None
    too_big = client.send_datagram(0x21, bytes(1501))
    assert too_big is None


def test_last_member_leaving_ends_the_bundle_with_its_status() -> None:
    hub, client = pair()
    hub.start(0.0)
    client.start(0.0)
    exchange(hub, client)
    client.end("Modem hangup", 5.0, ExitCode.HANGUP)
    out = client.drain()
    assert NetworkDown(4) in out
    assert out[-1] == LinkTerminated("Modem hangup", ExitCode.HANGUP)
    assert PhaseChanged(Phase.DEAD) in out
    client.end("again", 6.0)  # a second end changes nothing
    assert client.drain() == []
    client.receive_frame(b"\x00\x21\x45" + bytes(39), 7.0)
    assert client.stats.dropped_after_termination == 1


def test_close_asks_the_driver_to_terminate_the_members() -> None:
    hub, client = pair()
    hub.start(0.0)
    client.start(0.0)
    exchange(hub, client)
    client.close("User request", 3.0)
    assert CloseRequested("User request", ExitCode.USER_REQUEST) in client.drain()
    client.close("User request", 3.5)  # asked once only
    assert not [e for e in client.drain() if isinstance(e, CloseRequested)]


def test_ipcp_that_never_converges_closes_the_bundle() -> None:
    hub, _ = pair()
    hub.start(0.0)
    now = 0.0
    requested: list[CloseRequested] = []
    while (deadline := hub.get_timer()) is not None and now < 120:
        now = deadline
        hub.handle_timer(now)
        requested += [e for e in hub.drain() if isinstance(e, CloseRequested)]
    assert requested and requested[0].exit_code is ExitCode.NEGOTIATION_FAILED


def test_a_protocol_the_bundle_does_not_run_goes_to_a_member_to_reject() -> None:
    """pppd offers CCP and IPV6CP on its bundle: unanswered, it resends them ten times."""
    hub, client = pair()
    hub.start(0.0)
    client.start(0.0)
    exchange(hub, client)
    client.receive_frame(b"\x80\xfd\x01\x01\x00\x04", 1.0)  # CCP Configure-Request, CCP off
    assert BundleProtocolUnsupported(0x80FD, b"\x01\x01\x00\x04") in client.drain()
    assert client.stats.protocol_rejects_sent == 1


def test_a_protocol_reject_of_a_bundle_ncp_stops_it() -> None:
    hub = BundleNetwork(dataclasses.replace(HUB, ipv6=True), mrru=1500, peer_mrru=1500)
    client = BundleNetwork(CLIENT, mrru=1500, peer_mrru=1500)
    hub.start(0.0)
    client.start(0.0)
    events = exchange(hub, client)
    rejects = [e for e in events[1] if isinstance(e, BundleProtocolUnsupported)]
    assert [e.protocol for e in rejects] == [0x8057]
    assert hub.get_timer() is not None  # IPV6CP's restart timer: it would resend
    hub.protocol_rejected(0x8057, 1.0)  # what the member's LCP received
    assert hub.get_timer() is None
    assert hub.network is not None and hub.phase is Phase.NETWORK
    hub.protocol_rejected(0x1234, 2.0)  # not ours: logged, nothing changes
    assert [e for e in hub.drain() if isinstance(e, LogLine) and "0x1234" in e.text]
