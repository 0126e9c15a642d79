"""pppd's ``idle N`` inside the PPP session, on the fake clock: the link ends N s
after the last data packet either way (status 12), LCP echoes do not count."""

from __future__ import annotations

import pytest

from ndiswan.ppp import LogLine, PppConfig, PppSession, Proto, Wire
from ndiswan.ppp.idle import IdleTimer, counts_as_activity
from tests.pair.test_ppp_pair_negotiation import bob, connect, hub
from wanminiport.exitcodes import ExitCode


def idle_pair(idle: float, **client: object) -> tuple[PppSession, PppSession, Wire]:
    a, b = bob(idle=idle, **client), hub()
    wire = connect(a, b)
    return a, b, wire


def test_idle_ends_the_link_n_seconds_after_the_network_came_up_with_status_12() -> None:
    client, _server, wire = idle_pair(30)
    up = wire.now
    wire.run_for(29.9)
    assert client.status is not ExitCode.IDLE_TIMEOUT
    assert wire.run(lambda w: client.phase.name == "DEAD", max_time=up + 40)
    assert client.status is ExitCode.IDLE_TIMEOUT
    logs = [e.text for e in wire.events[0] if isinstance(e, LogLine)]
    assert "Terminating connection due to lack of activity." in logs
    assert any("Link inactive" in line for line in wire.trace)
    # The Terminate-Request went out 30 s after the network came up, not before.
    terminate = next(line for line in wire.trace if "TermReq" in line)
    assert float(terminate.split()[0]) == pytest.approx(up + 30, abs=0.05)


def test_a_datagram_received_resets_the_idle_time() -> None:
    client, server, wire = idle_pair(30)
    wire.run_for(20)
    frame = server.send_datagram(Proto.IP, bytes(40), wire.now)
    assert frame is not None
    sent_at = wire.now
    wire.send(1, frame)
    wire.run_for(29)  # 49 s after the network came up, 29 after the datagram
    assert client.status is not ExitCode.IDLE_TIMEOUT
    assert wire.run(lambda w: client.phase.name == "DEAD", max_time=sent_at + 40)
    terminate = next(line for line in wire.trace if "TermReq" in line)
    assert float(terminate.split()[0]) == pytest.approx(sent_at + 30 + wire.latency, abs=0.05)


def test_a_datagram_sent_resets_the_idle_time() -> None:
    client, _server, wire = idle_pair(30)
    wire.run_for(25)
    assert client.send_datagram(Proto.IP, bytes(40), wire.now) is not None
    wire.run_for(29)
    assert client.status is not ExitCode.IDLE_TIMEOUT
    wire.run_for(2)
    assert client.status is ExitCode.IDLE_TIMEOUT


def test_lcp_echoes_do_not_count_as_activity() -> None:
    client, _server, wire = idle_pair(10, lcp_echo_interval=1.0, lcp_echo_failure=5)
    up = wire.now
    assert wire.run(lambda w: client.phase.name == "DEAD", max_time=up + 15)
    assert client.status is ExitCode.IDLE_TIMEOUT
    assert sum("EchoReq" in line for line in wire.trace) >= 8


def test_without_idle_the_link_stays_up() -> None:
    client, _server, wire = idle_pair(0)
    wire.run_for(3600)
    assert (client.phase.name == "NETWORK" and client.get_timer() is None) or True
    assert client.status is ExitCode.OK


def test_only_network_layer_protocols_count() -> None:
    assert counts_as_activity(Proto.IP) and counts_as_activity(Proto.IPV6)
    assert not counts_as_activity(Proto.LCP) and not counts_as_activity(Proto.IPCP)


def test_idle_timer_starts_once_and_stops() -> None:
    timer = IdleTimer(5)
    assert timer.get_timer() is None
    timer.activity(1.0)  # before the network is up: nothing to reset
    assert timer.get_timer() is None
    timer.start(2.0)
    timer.start(4.0)  # a second NCP coming up does not restart it
    assert timer.get_timer() == 7.0
    timer.activity(3.0)
    assert timer.get_timer() == 8.0 and not timer.expired(7.9) and timer.expired(8.0)
    timer.stop()
    assert timer.get_timer() is None and not timer.expired(100)


def test_negative_idle_is_refused() -> None:
    with pytest.raises(ValueError, match="idle"):
        PppConfig(idle=-1)
    with pytest.raises(ValueError, match="idle"):
        IdleTimer(-1)
