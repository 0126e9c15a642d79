"""MS-CHAP v1 and v2 between two PPP engines on the fake clock, and each machine alone.

The pair tests run both roles of our own CHAP core against each other
(pppd plays the other side in tests/interop); the machine tests feed one
role packets a broken or hostile peer would send: a forged or missing
authenticator response, a replayed Response, malformed values.
"""

from __future__ import annotations

import random

from ndiswan.ppp import (
    AuthFailed,
    AuthRequirement,
    AuthRole,
    AuthSucceeded,
    SecretsTable,
    Wire,
    mschap,
)
from ndiswan.ppp.auth import AuthOutcome
from ndiswan.ppp.chap import CHALLENGE, FAILURE, RESPONSE, SUCCESS, ChapAuthenticator, ChapPeer
from ndiswan.ppp.config import AuthProtocol
from ndiswan.ppp.packet import ControlPacket, parse_control_packet
from tests.pair.auth_pairs import both_dead, both_up, exit_code, run, session
from wanminiport.exitcodes import ExitCode
from wanminiport.sansio import Transmit

PASSWORD = "clientPass"
SECRETS = SecretsTable.from_text(f'bob hub "{PASSWORD}" *\n')
WRONG = SecretsTable.from_text('bob hub "clientPasS" *\n')


def test_mschap_v2_pair_authenticates_and_opens_ipcp() -> None:
    client, server = (
        session("bob", 2, SECRETS),
        session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP_V2),
    )
    wire = Wire((client, server))
    run(wire, both_up)
    assert any("<auth chap MS-v2>" in t for t in wire.trace)
    assert AuthSucceeded("MS-CHAPv2", AuthRole.AUTHENTICATOR, "bob") in wire.events[1]
    assert AuthSucceeded("MS-CHAPv2", AuthRole.PEER, "bob") in wire.events[0]
    # Neither the password nor its hash shows in the trace.
    hash_hex = mschap.nt_password_hash(PASSWORD).hex()
    assert not any(PASSWORD in t or hash_hex in t.replace(" ", "").lower() for t in wire.trace)


def test_mschap_v1_pair_authenticates() -> None:
    client, server = (
        session("bob", 2, SECRETS),
        session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP),
    )
    wire = Wire((client, server))
    run(wire, both_up)
    assert any("<auth chap MS>" in t for t in wire.trace)
    assert AuthSucceeded("MS-CHAP", AuthRole.AUTHENTICATOR, "bob") in wire.events[1]


def test_mschap_v2_wrong_password_fails_with_exit_19_and_11() -> None:
    client = session("bob", 2, secrets=WRONG)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP_V2)
    wire = Wire((client, server))
    run(wire, both_dead)
    assert exit_code(wire.events[0]) is ExitCode.AUTH_TOPEER_FAILED
    assert exit_code(wire.events[1]) is ExitCode.PEER_AUTH_FAILED
    assert any("sent [CHAP Failure" in t and "E=691 R=0" in t for t in wire.trace)
    assert client.network is None and server.network is None


def test_required_mschap_v2_is_not_downgraded_to_md5_or_pap() -> None:
    client = session("bob", 2, SECRETS, refuse_mschap_v2=True)  # would do MD5, MS-CHAP v1 or PAP
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP_V2)
    wire = Wire((client, server))
    run(wire, both_dead)
    assert any("sent [LCP ConfNak id=0x1 <auth chap MD5>]" in t for t in wire.trace)
    assert not any("[CHAP" in t or "[PAP" in t for t in wire.trace)
    assert exit_code(wire.events[1]) is ExitCode.PEER_AUTH_FAILED
    assert server.network is None


# -- one machine against a hostile peer --------------------------------------------


def _packets(machine: ChapPeer | ChapAuthenticator) -> list[ControlPacket]:
    out = []
    for item in machine.drain():
        if isinstance(item, Transmit):
            packet = parse_control_packet(item.data)
            assert packet is not None
            out.append(packet)
    return out


def _outcomes(items: list[object]) -> list[AuthOutcome]:
    return [i for i in items if isinstance(i, AuthOutcome)]


def _v2_peer() -> ChapPeer:
    peer = ChapPeer("bob", PASSWORD, None, kind=AuthProtocol.MSCHAP_V2,
                    rng=random.Random(3).randbytes)  # fmt: skip
    peer.start(0.0)
    return peer


def _challenge(identifier: int, challenge: bytes) -> bytes:
    return ControlPacket(
        CHALLENGE, identifier, bytes((len(challenge),)) + challenge + b"hub"
    ).encode()


def _answer(peer: ChapPeer, identifier: int, challenge: bytes) -> mschap.V2Response:
    peer.receive(_challenge(identifier, challenge), 0.0)
    (response,) = _packets(peer)
    assert response.code == RESPONSE and response.data[0] == 49
    parsed = mschap.parse_v2_response(response.data[1:50])
    assert parsed is not None and response.data[50:] == b"bob"
    return parsed


def test_the_peer_refuses_a_success_with_a_forged_authenticator_response() -> None:
    peer, challenge = _v2_peer(), bytes(range(16))
    _answer(peer, 7, challenge)
    forged = "S=" + "0" * 40 + " M=Access granted"
    peer.receive(ControlPacket(SUCCESS, 7, forged.encode()).encode(), 0.1)
    (outcome,) = _outcomes(peer.drain())
    assert not outcome.success and outcome.message == "mutual authentication failed"


def test_the_peer_refuses_a_success_without_an_authenticator_response() -> None:
    peer = _v2_peer()
    _answer(peer, 7, bytes(16))
    peer.receive(ControlPacket(SUCCESS, 7, b"Access granted").encode(), 0.1)
    (outcome,) = _outcomes(peer.drain())
    assert not outcome.success


def test_the_peer_believes_a_success_that_proves_the_password() -> None:
    peer, challenge = _v2_peer(), bytes(range(16))
    response = _answer(peer, 7, challenge)
    proof = mschap.authenticator_response(
        PASSWORD, response.nt_response, response.peer_challenge, challenge, "bob"
    )
    peer.receive(ControlPacket(SUCCESS, 7, f"{proof} M=Access granted".encode()).encode(), 0.1)
    (outcome,) = _outcomes(peer.drain())
    assert outcome.success


def test_the_peer_ignores_a_challenge_of_the_wrong_size() -> None:
    peer = _v2_peer()
    peer.receive(_challenge(1, bytes(8)), 0.0)
    assert _packets(peer) == [] and peer.ignored == 1


def _v2_authenticator(seed: int) -> ChapAuthenticator:
    machine = ChapAuthenticator("hub", SECRETS.lookup, random.Random(seed).randbytes,
                                kind=AuthProtocol.MSCHAP_V2)  # fmt: skip
    machine.start(0.0)
    return machine


def _response_to(machine: ChapAuthenticator) -> ControlPacket:
    (challenge,) = _packets(machine)
    assert challenge.code == CHALLENGE and challenge.data[0] == 16
    peer = _v2_peer()
    peer.receive(challenge.encode(), 0.0)
    (response,) = _packets(peer)
    return response


def test_a_response_replayed_to_a_new_challenge_is_refused() -> None:
    first = _v2_authenticator(5)
    recorded = _response_to(first)
    first.receive(recorded.encode(), 0.1)
    assert [p.code for p in _packets(first)] == [SUCCESS]
    # Another link, another challenge: the recorded Response (its identifier
    # fixed up) proves nothing.
    second = _v2_authenticator(6)
    (challenge,) = _packets(second)
    replayed = ControlPacket(RESPONSE, challenge.identifier, recorded.data)
    second.receive(replayed.encode(), 0.2)
    verdicts = _packets(second)
    assert [p.code for p in verdicts] == [FAILURE]
    failure = mschap.parse_failure(verdicts[0].data)
    assert failure is not None and failure.error == 691 and not failure.retry


def test_malformed_v2_responses_are_refused() -> None:
    for value in (bytes(48), bytes(50), bytes(16) + b"\x01" + bytes(32)):
        machine = _v2_authenticator(5)
        (challenge,) = _packets(machine)
        body = bytes((len(value),)) + value + b"bob"
        machine.receive(ControlPacket(RESPONSE, challenge.identifier, body).encode(), 0.1)
        items = machine.drain()
        verdicts = [parse_control_packet(i.data) for i in items if isinstance(i, Transmit)]
        assert [p.code for p in verdicts if p is not None] == [FAILURE]
        (outcome,) = _outcomes(items)
        assert not outcome.success and outcome.name == "bob"


def test_an_authenticator_failure_names_its_challenge_as_rfc2759_says() -> None:
    machine = _v2_authenticator(5)
    (challenge,) = _packets(machine)
    body = bytes((49,)) + bytes(49) + b"bob"
    machine.receive(ControlPacket(RESPONSE, challenge.identifier, body).encode(), 0.1)
    (failure_packet,) = _packets(machine)
    failure = mschap.parse_failure(failure_packet.data)
    assert failure == mschap.Failure(691, False, challenge.data[1:17], 3, "Access denied")


def test_peer_failure_message_is_reported_as_pppd_would() -> None:
    peer = _v2_peer()
    _answer(peer, 7, bytes(16))
    text = b"E=691 R=0 C=" + b"00" * 16 + b" V=3 M=Access denied"
    peer.receive(ControlPacket(FAILURE, 7, text).encode(), 0.1)
    items = peer.drain()
    (outcome,) = _outcomes(items)
    assert not outcome.success
    assert any("E=691 Access denied" in str(item) for item in items)


def test_auth_failed_event_carries_no_secret() -> None:
    client = session("bob", 2, secrets=WRONG)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP_V2)
    wire = Wire((client, server))
    run(wire, both_dead)
    failed = [e for e in wire.events[0] if isinstance(e, AuthFailed)]
    assert failed and all("clientPas" not in str(e) for e in wire.events[0] + wire.events[1])
