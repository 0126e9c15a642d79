"""Back-to-back sessions that must fail, or recover, the way RFC 1661 and pppd do."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

from ndiswan.ppp import (
    AuthFailed,
    AuthRequirement,
    AuthRole,
    LinkTerminated,
    LogLine,
    Phase,
    PppConfig,
    PppSession,
    SecretsTable,
    Wire,
)
from tests.drain import events
from wanminiport.exitcodes import ExitCode

SECRETS = SecretsTable.from_text('bob hub "s3cret" *\nhub bob hubpass *\n')
WRONG = SecretsTable.from_text('bob hub "guess" *\nhub bob hubpass *\n')
HUB_IP, BOB_IP = IPv4Address("10.7.0.1"), IPv4Address("10.7.0.2")

#: Refuse to authenticate with CHAP of any algorithm and with EAP: PAP only.
NO_CHAP = {"refuse_chap": True, "refuse_mschap": True, "refuse_mschap_v2": True, "refuse_eap": True}


def session(
    name: str, seed: int, secrets: SecretsTable = SECRETS, **overrides: object
) -> PppSession:
    if name == "hub":
        overrides = {"local_ip": HUB_IP, "remote_ip": BOB_IP, **overrides}
    config = PppConfig(name=name, **overrides)  # type: ignore[arg-type]
    return PppSession(config, secrets=secrets, rng=random.Random(seed).randbytes)


def terminated(events: list[object]) -> LinkTerminated | None:
    found = [e for e in events if isinstance(e, LinkTerminated)]
    return found[0] if found else None


def run_until_both_dead(
    wire: Wire, max_time: float = 200.0
) -> tuple[LinkTerminated, LinkTerminated]:
    wire.start()
    assert wire.run(lambda w: all(terminated(ev) for ev in w.events), max_time=max_time), "\n".join(
        wire.trace
    )
    a, b = terminated(wire.events[0]), terminated(wire.events[1])
    assert a is not None and b is not None
    return a, b


def logs(events: list[object]) -> list[str]:
    return [e.text for e in events if isinstance(e, LogLine)]


def test_peer_refusing_to_authenticate_fails_with_exit_11() -> None:
    client = session("bob", 2, refuse_pap=True, **NO_CHAP)
    server = session("hub", 1, require_auth=AuthRequirement.CHAP)
    wire = Wire((client, server))
    a, b = run_until_both_dead(wire)
    assert any("sent [LCP ConfRej id=0x1 <auth chap MD5>]" in t for t in wire.trace)
    assert b.exit_code is ExitCode.PEER_AUTH_FAILED and b.reason == "peer refused to authenticate"
    assert "peer refused to authenticate: terminating link" in logs(wire.events[1])
    assert a.exit_code is ExitCode.NEGOTIATION_FAILED


def test_nak_of_required_chap_cannot_downgrade_to_pap() -> None:
    client = session("bob", 2, **NO_CHAP)
    server = session("hub", 1, require_auth=AuthRequirement.CHAP)
    wire = Wire((client, server))
    _, b = run_until_both_dead(wire)
    assert any("sent [LCP ConfNak id=0x1 <auth pap>]" in t for t in wire.trace)
    # The hub never asks for PAP after the Nak, and no PAP packet crosses.
    assert not any(t.split()[1] == "1" and "<auth pap>" in t for t in wire.trace)
    assert not any("[PAP" in t for t in wire.trace)
    assert b.exit_code is ExitCode.PEER_AUTH_FAILED


def test_both_requiring_what_the_other_refuses_fail_on_both_sides() -> None:
    client = session("bob", 2, require_auth=AuthRequirement.PAP, **NO_CHAP)
    server = session("hub", 1, require_auth=AuthRequirement.CHAP, refuse_pap=True)
    wire = Wire((client, server))
    a, b = run_until_both_dead(wire)
    assert any("sent [LCP ConfNak id=0x1 <auth pap>]" in t for t in wire.trace)
    # The hub Naks PAP with what pppd would suggest first: EAP.
    assert any("sent [LCP ConfNak id=0x1 <auth eap>]" in t for t in wire.trace)
    assert a.exit_code is ExitCode.PEER_AUTH_FAILED
    assert b.exit_code is ExitCode.PEER_AUTH_FAILED


def test_wrong_chap_secret_fails_on_both_sides() -> None:
    client = session("bob", 2, secrets=WRONG)
    server = session("hub", 1, require_auth=AuthRequirement.CHAP)
    wire = Wire((client, server))
    a, b = run_until_both_dead(wire)
    assert a.exit_code is ExitCode.AUTH_TOPEER_FAILED  # 19: we failed to authenticate
    assert b.exit_code is ExitCode.PEER_AUTH_FAILED  # 11: the peer failed to
    assert AuthFailed("CHAP", AuthRole.PEER, "Access denied") in wire.events[0]
    assert any("sent [CHAP Failure id=" in t and '"Access denied"]' in t for t in wire.trace)
    assert "Peer bob failed CHAP authentication" in logs(wire.events[1])
    assert client.network is None and server.network is None


def test_wrong_pap_password_fails_on_both_sides() -> None:
    client = session("bob", 2, password="guess")
    server = session("hub", 1, require_auth=AuthRequirement.PAP)
    wire = Wire((client, server))
    a, b = run_until_both_dead(wire)
    assert a.exit_code is ExitCode.AUTH_TOPEER_FAILED
    assert b.exit_code is ExitCode.PEER_AUTH_FAILED
    assert any('sent [PAP AuthNak id=0x1 "Login incorrect"]' in t for t in wire.trace)
    assert not any("guess" in t for t in wire.trace + logs(wire.events[0]) + logs(wire.events[1]))


def test_lost_packets_are_recovered_by_the_restart_timer() -> None:
    client, server = session("bob", 2), session("hub", 1)
    # Lose the first two frames each side sends: both initial Configure-Requests
    # and the first answers.
    wire = Wire((client, server), drop=lambda index, frame, count: count <= 2)
    wire.start()
    assert wire.run(lambda w: all(e.network is not None for e in w.ends), max_time=60)
    assert wire.dropped == 4
    assert 3.0 <= wire.now < 10.0
    retransmitted = [t for t in wire.trace if "LCP ConfReq id=0x1" in t]
    assert len(retransmitted) >= 3  # same identifier on retransmission


def test_lost_chap_challenge_is_retransmitted() -> None:
    client, server = session("bob", 2), session("hub", 1, require_auth=AuthRequirement.CHAP)
    lost = {"done": False}

    def drop_first_challenge(index: int, frame: bytes, count: int) -> bool:
        if index == 1 and frame[:3] == b"\xc2\x23\x01" and not lost["done"]:
            lost["done"] = True
            return True
        return False

    wire = Wire((client, server), drop=drop_first_challenge)
    wire.start()
    assert wire.run(lambda w: all(e.network is not None for e in w.ends), max_time=60)
    challenges = [t for t in wire.trace if "CHAP Challenge" in t]
    # RFC 1994 4.1: the retransmission has a new identifier (and Value).
    assert len(challenges) == 2 and challenges[0].split("id=")[1] != challenges[1].split("id=")[1]


def test_silent_peer_exhausts_max_configure_with_exit_10() -> None:
    client, server = session("bob", 2), session("hub", 1)
    wire = Wire((client, server), drop=lambda index, frame, count: index == 1)
    wire.start()
    assert wire.run(lambda w: terminated(w.events[0]) is not None, max_time=100)
    a = terminated(wire.events[0])
    assert a is not None and a.exit_code is ExitCode.NEGOTIATION_FAILED
    assert a.reason == "LCP: timeout sending Config-Requests"
    assert len([t for t in wire.trace if t.split()[1] == "0" and "LCP ConfReq" in t]) == 10
    assert 29.9 < wire.now < 31.0


def test_looped_back_line_is_detected_with_exit_17() -> None:
    looped = session("bob", 5)
    wire = Wire.looped(looped)
    wire.start()
    assert wire.run(lambda w: terminated(w.events[0]) is not None, max_time=100)
    end = terminated(wire.events[0])
    assert end is not None and end.exit_code is ExitCode.LOOPBACK
    assert "Serial line is looped back." in logs(wire.events[0])
    assert looped.phase is Phase.DEAD
    assert wire.now < 3.0  # found by the Naks, not by timeouts


def test_echo_failures_take_the_link_down_with_exit_15() -> None:
    client = session("bob", 2, lcp_echo_interval=5.0, lcp_echo_failure=3)
    server = session("hub", 1)
    cut = {"at": None}
    wire = Wire((client, server), drop=lambda i, f, c: i == 1 and cut["at"] is not None)
    wire.start()
    assert wire.run(lambda w: all(e.network is not None for e in w.ends), max_time=30)
    cut["at"] = wire.now  # the hub goes silent
    assert wire.run(lambda w: terminated(w.events[0]) is not None, max_time=wire.now + 60)
    end = terminated(wire.events[0])
    assert end is not None and end.exit_code is ExitCode.PEER_DEAD
    assert end.reason == "Peer not responding"
    assert "No response to 3 echo-requests" in logs(wire.events[0])
    assert "Serial link appears to be disconnected." in logs(wire.events[0])
    assert any("sent [LCP EchoReq id=0x0 magic=0x" in t for t in wire.trace)


def test_echo_replies_keep_the_link_up() -> None:
    client = session("bob", 2, lcp_echo_interval=5.0, lcp_echo_failure=2)
    server = session("hub", 1)
    wire = Wire((client, server))
    wire.start()
    wire.run_for(60.0)
    assert client.phase is Phase.NETWORK
    requests = [t for t in wire.trace if t.split()[1] == "0" and "LCP EchoReq" in t]
    replies = [t for t in wire.trace if "LCP EchoRep" in t]
    assert len(requests) == 11  # one per interval after LCP opened at 0.02 s
    assert len(replies) == 11  # an Echo-Reply is never answered


def test_lower_down_gives_exit_16() -> None:
    client, server = session("bob", 2), session("hub", 1)
    wire = Wire((client, server))
    wire.start()
    assert wire.run(lambda w: all(e.network is not None for e in w.ends), max_time=30)
    client.lower_down(wire.now)
    end = terminated(events(client))
    assert end is not None and end.exit_code is ExitCode.HANGUP and end.reason == "Modem hangup"
    assert client.phase is Phase.DEAD


def test_failed_rechallenge_ends_an_established_link() -> None:
    client_secret = {"bob": "s3cret"}
    client = PppSession(
        PppConfig(name="bob"),
        secrets=lambda c, s: client_secret.get(c),
        rng=random.Random(2).randbytes,
    )
    server = session("hub", 1, require_auth=AuthRequirement.CHAP, chap_interval=20.0)
    wire = Wire((client, server))
    wire.start()
    assert wire.run(lambda w: all(e.network is not None for e in w.ends), max_time=30)
    started = wire.now
    client_secret["bob"] = "changed"  # the client's secret changes under a running link
    assert wire.run(lambda w: terminated(w.events[1]) is not None, max_time=wire.now + 60)
    end = terminated(wire.events[1])
    assert end is not None and end.exit_code is ExitCode.PEER_AUTH_FAILED
    assert 20.0 <= wire.now < started + 25.0
    challenges = [t for t in wire.trace if "CHAP Challenge" in t]
    assert len(challenges) == 2 and challenges[0] != challenges[1]


def test_rechallenge_with_the_right_secret_keeps_the_link() -> None:
    client = session("bob", 2)
    server = session("hub", 1, require_auth=AuthRequirement.CHAP, chap_interval=10.0)
    wire = Wire((client, server))
    wire.start()
    wire.run_for(45.0)
    assert server.phase is Phase.NETWORK and client.phase is Phase.NETWORK
    successes = [t for t in wire.trace if "CHAP Success" in t]
    assert len(successes) == 5  # the first and four re-challenges
