"""EAP with MD5-Challenge: two engines on the fake clock, and each machine against bad input."""

from __future__ import annotations

import random

import pytest

from ndiswan.ppp import (
    AuthRequirement,
    AuthRole,
    AuthSucceeded,
    SecretsTable,
    Wire,
    eap,
)
from ndiswan.ppp.auth import AuthOutcome
from ndiswan.ppp.chap import chap_md5
from tests.pair.auth_pairs import both_dead, both_up, exit_code, run, session
from wanminiport.exitcodes import ExitCode
from wanminiport.sansio import Transmit

SECRETS = SecretsTable.from_text('bob hub "eap s3cret" *\n')
WRONG = SecretsTable.from_text('bob hub "guess" *\n')


def test_eap_md5_pair_authenticates_and_opens_ipcp() -> None:
    client, server = (
        session("bob", 2, SECRETS),
        session("hub", 1, SECRETS, require_auth=AuthRequirement.EAP),
    )
    wire = Wire((client, server))
    run(wire, both_up)
    assert any("<auth eap>" in t for t in wire.trace)
    assert any("[EAP Request id=" in t and " Identity]" in t for t in wire.trace)
    assert any("[EAP Response id=" in t and 'Identity <Name "bob">' in t for t in wire.trace)
    assert any("MD5-Challenge <Value" in t and '<Name "hub">' in t for t in wire.trace)
    assert AuthSucceeded("EAP", AuthRole.AUTHENTICATOR, "bob") in wire.events[1]
    assert AuthSucceeded("EAP", AuthRole.PEER, "bob") in wire.events[0]
    assert not any("eap s3cret" in t for t in wire.trace)


def test_eap_wrong_secret_fails_with_exit_19_and_11() -> None:
    client = session("bob", 2, secrets=WRONG)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.EAP)
    wire = Wire((client, server))
    run(wire, both_dead)
    assert exit_code(wire.events[0]) is ExitCode.AUTH_TOPEER_FAILED
    assert exit_code(wire.events[1]) is ExitCode.PEER_AUTH_FAILED
    assert any("sent [EAP Failure id=" in t for t in wire.trace)
    assert client.network is None and server.network is None


def test_required_eap_is_not_downgraded_when_the_peer_refuses_it() -> None:
    client = session("bob", 2, SECRETS, refuse_eap=True)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.EAP)
    wire = Wire((client, server))
    run(wire, both_dead)
    assert any("sent [LCP ConfNak id=0x1 <auth chap MD5>]" in t for t in wire.trace)
    assert not any("[EAP" in t or "[CHAP" in t or "[PAP" in t for t in wire.trace)
    assert exit_code(wire.events[1]) is ExitCode.PEER_AUTH_FAILED


# -- the machines alone ------------------------------------------------------------


def _sent(machine: eap.EapAuthenticator | eap.EapPeer) -> tuple[list[bytes], list[AuthOutcome]]:
    items = machine.drain()
    packets = [i.data for i in items if isinstance(i, Transmit)]
    return packets, [i for i in items if isinstance(i, AuthOutcome)]


def _authenticator() -> eap.EapAuthenticator:
    machine = eap.EapAuthenticator("hub", SECRETS.lookup, random.Random(4).randbytes)
    machine.start(0.0)
    return machine


def _challenge_of(machine: eap.EapAuthenticator) -> tuple[int, bytes]:
    """Answer the Identity request as bob; the MD5-Challenge's identifier and value."""
    (request,), _ = _sent(machine)
    parsed = eap.parse(request)
    assert parsed is not None and parsed[2] == eap.TYPE_IDENTITY
    machine.receive(eap.encode(eap.RESPONSE, parsed[1], eap.TYPE_IDENTITY, b"bob"), 0.1)
    (challenge,), _ = _sent(machine)
    parsed = eap.parse(challenge)
    assert parsed is not None and parsed[2] == eap.TYPE_MD5
    data = parsed[3]
    return parsed[1], data[1 : 1 + data[0]]


def test_a_response_to_an_old_request_is_ignored() -> None:
    machine = _authenticator()
    identifier, challenge = _challenge_of(machine)
    value = chap_md5(identifier, b"eap s3cret", challenge)
    stale = eap.encode(eap.RESPONSE, (identifier - 1) & 0xFF, eap.TYPE_MD5, bytes((16,)) + value)
    machine.receive(stale, 0.2)
    assert _sent(machine) == ([], []) and machine.ignored == 1


def test_a_replayed_md5_response_fails_against_a_fresh_challenge() -> None:
    first = _authenticator()
    identifier, challenge = _challenge_of(first)
    value = chap_md5(identifier, b"eap s3cret", challenge)
    response = eap.encode(eap.RESPONSE, identifier, eap.TYPE_MD5, bytes((16,)) + value)
    first.receive(response, 0.2)
    assert _sent(first)[1][0].success
    second = eap.EapAuthenticator("hub", SECRETS.lookup, random.Random(5).randbytes)
    second.start(0.0)
    identifier2, _ = _challenge_of(second)
    replay = bytearray(response)
    replay[1] = identifier2
    second.receive(bytes(replay), 0.2)
    packets, outcomes = _sent(second)
    assert eap.parse(packets[0])[0] == eap.FAILURE  # type: ignore[index]
    assert not outcomes[0].success


def test_a_peer_naking_md5_fails_authentication() -> None:
    machine = _authenticator()
    identifier, _ = _challenge_of(machine)
    machine.receive(eap.encode(eap.RESPONSE, identifier, eap.TYPE_NAK, bytes((13,))), 0.2)
    packets, outcomes = _sent(machine)
    assert eap.parse(packets[0])[0] == eap.FAILURE  # type: ignore[index]
    assert outcomes[0].message == "no common EAP method"


def test_the_peer_naks_a_method_it_does_not_have_with_md5() -> None:
    peer = eap.EapPeer("bob", "eap s3cret", None)
    peer.start(0.0)
    peer.receive(eap.encode(eap.REQUEST, 9, 13, b"\x20"), 0.1)  # EAP-TLS start
    (reply,), _ = _sent(peer)
    assert eap.parse(reply) == (eap.RESPONSE, 9, eap.TYPE_NAK, bytes((eap.TYPE_MD5,)))


def test_the_peer_believes_only_a_success_for_its_own_response() -> None:
    peer = eap.EapPeer("bob", "eap s3cret", None)
    peer.start(0.0)
    peer.receive(eap.encode(eap.SUCCESS, 1), 0.1)  # before any Response: ignored
    assert _sent(peer) == ([], [])
    peer.receive(eap.encode(eap.REQUEST, 3, eap.TYPE_IDENTITY), 0.2)
    peer.receive(eap.encode(eap.SUCCESS, 9), 0.3)  # not for the Response we sent
    assert _sent(peer)[1] == [] and peer.ignored == 2
    peer.receive(eap.encode(eap.SUCCESS, 3), 0.4)
    assert _sent(peer)[1][0].success


def test_the_peer_takes_pppds_success_numbered_one_past_its_response() -> None:
    peer = eap.EapPeer("bob", "eap s3cret", None)
    peer.start(0.0)
    peer.receive(eap.encode(eap.REQUEST, 0xFF, eap.TYPE_IDENTITY), 0.1)
    peer.receive(eap.encode(eap.SUCCESS, 0x00), 0.2)  # pppd: the Response's id + 1
    assert _sent(peer)[1][-1].success


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x01\x01\x00",  # short header
        b"\x01\x01\x00\x03\x01",  # length under the header
        b"\x01\x01\x00\x09\x01",  # length past the packet
        b"\x01\x01\x00\x04",  # a Request without a type
        b"\x03\x01\x00\x05\x00",  # a Success with data
        b"\x05\x01\x00\x04",  # unknown code
    ],
)
def test_malformed_eap_packets_are_ignored_by_both_roles(packet: bytes) -> None:
    assert eap.parse(packet) is None
    machine = _authenticator()
    _sent(machine)
    machine.receive(packet, 0.1)
    peer = eap.EapPeer("bob", "x", None)
    peer.start(0.0)
    peer.receive(packet, 0.1)
    assert (machine.ignored, peer.ignored) == (1, 1)
    assert _sent(machine) == ([], []) and _sent(peer) == ([], [])


def test_an_md5_challenge_with_a_lying_value_size_is_ignored() -> None:
    peer = eap.EapPeer("bob", "x", None)
    peer.start(0.0)
    peer.receive(eap.encode(eap.REQUEST, 2, eap.TYPE_MD5, bytes((40,)) + bytes(16)), 0.1)
    assert _sent(peer) == ([], []) and peer.ignored == 1
