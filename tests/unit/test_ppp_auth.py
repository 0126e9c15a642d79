"""PAP (RFC 1334) and CHAP-MD5 (RFC 1994), each role on its own."""

from __future__ import annotations

import hashlib
import random

from ndiswan.ppp.auth import AuthMachine, AuthOutcome
from ndiswan.ppp.chap import ChapAuthenticator, ChapPeer, chap_md5
from ndiswan.ppp.events import AuthRole, LogLine
from ndiswan.ppp.packet import ControlPacket, parse_control_packet
from ndiswan.ppp.pap import PapAuthenticator, PapPeer
from tests.drain import frames, take

CHALLENGE, RESPONSE, SUCCESS, FAILURE = 1, 2, 3, 4


def lookup(table: dict[tuple[str, str], str]):  # type: ignore[no-untyped-def]
    return lambda client, server: table.get((client, server))


def sent(machine: AuthMachine) -> list[ControlPacket]:
    out = []
    for raw in frames(machine):
        parsed = parse_control_packet(raw)
        assert parsed is not None
        out.append(parsed)
    return out


def texts(machine: AuthMachine) -> list[str]:
    return [e.text for e in take(machine, LogLine)]


def authenticator(
    seed: int = 1, secrets: dict[tuple[str, str], str] | None = None, **kw: float
) -> ChapAuthenticator:
    table = secrets if secrets is not None else {("bob", "hub"): "s3cret"}
    return ChapAuthenticator("hub", lookup(table), random.Random(seed).randbytes, **kw)  # type: ignore[arg-type]


def challenge_of(machine: ChapAuthenticator, now: float = 0.0) -> ControlPacket:
    machine.start(now)
    (packet,) = sent(machine)
    assert packet.code == CHALLENGE
    return packet


def test_chap_md5_is_md5_of_id_secret_challenge() -> None:
    assert chap_md5(7, b"s3cret", b"\x01\x02") == hashlib.md5(b"\x07s3cret\x01\x02").digest()


def test_chap_round_trip_succeeds() -> None:
    server = authenticator()
    peer = ChapPeer("bob", None, lookup({("bob", "hub"): "s3cret"}))
    peer.start(0.0)
    peer.receive(challenge_of(server).encode(), 0.1)
    (response,) = sent(peer)
    assert response.code == RESPONSE and response.data.endswith(b"bob")
    server.receive(response.encode(), 0.2)
    (verdict,) = sent(server)
    assert (verdict.code, verdict.data) == (SUCCESS, b"Access granted")
    assert take(server, AuthOutcome) == [
        AuthOutcome("CHAP", AuthRole.AUTHENTICATOR, True, "bob", "Access granted")
    ]
    peer.receive(verdict.encode(), 0.3)
    assert take(peer, AuthOutcome) == [
        AuthOutcome("CHAP", AuthRole.PEER, True, "bob", "Access granted")
    ]
    assert "CHAP authentication succeeded: Access granted" in texts(peer)


def test_challenges_are_random_and_16_to_24_octets() -> None:
    values = set()
    for seed in range(20):
        packet = challenge_of(authenticator(seed))
        size = packet.data[0]
        assert 16 <= size <= 24
        values.add(packet.data[1 : 1 + size])
    assert len(values) == 20


def test_each_rechallenge_uses_a_new_value_and_identifier() -> None:
    server = authenticator(rechallenge_interval=10.0)
    peer = ChapPeer("bob", "s3cret", None)
    peer.start(0.0)
    seen = set()
    now = 0.0
    for _ in range(5):
        if now == 0.0:
            server.start(now)
        else:
            server.handle_timer(now)
        (challenge,) = sent(server)
        seen.add((challenge.identifier, challenge.data))
        peer.receive(challenge.encode(), now)
        server.receive(sent(peer)[0].encode(), now)
        assert sent(server)[0].code == SUCCESS
        now = server.get_timer()  # type: ignore[assignment]
        assert now is not None
    assert len(seen) == 5


def test_replayed_response_from_an_earlier_challenge_fails() -> None:
    first, second = authenticator(1), authenticator(2)
    peer = ChapPeer("bob", "s3cret", None)
    peer.start(0.0)
    peer.receive(challenge_of(first).encode(), 0.0)
    (captured,) = sent(peer)
    new_challenge = challenge_of(second)
    replay = ControlPacket(RESPONSE, new_challenge.identifier, captured.data)
    second.receive(replay.encode(), 0.1)
    assert [p.code for p in sent(second)] == [FAILURE]
    (outcome,) = take(second, AuthOutcome)
    assert not outcome.success


def test_response_to_another_identifier_is_ignored() -> None:
    server = authenticator()
    challenge = challenge_of(server)
    stale = ControlPacket(
        RESPONSE, (challenge.identifier + 1) & 0xFF, bytes((16,)) + bytes(16) + b"bob"
    )
    server.receive(stale.encode(), 0.1)
    assert sent(server) == [] and take(server, AuthOutcome) == [] and server.ignored == 1


def test_repeated_response_gets_the_same_verdict_once_more() -> None:
    server = authenticator()
    peer = ChapPeer("bob", "s3cret", None)
    peer.start(0.0)
    peer.receive(challenge_of(server).encode(), 0.0)
    (response,) = sent(peer)
    server.receive(response.encode(), 0.1)
    server.receive(response.encode(), 0.2)
    assert [p.code for p in sent(server)] == [SUCCESS, SUCCESS]
    assert len(take(server, AuthOutcome)) == 1


def test_long_names_of_255_octets_work_both_ways() -> None:
    client_name, server_name = "c" * 255, "s" * 255
    table = {(client_name, server_name): "pw"}
    server = ChapAuthenticator(server_name, lookup(table), random.Random(1).randbytes)
    peer = ChapPeer(client_name, None, lookup(table))
    peer.start(0.0)
    challenge = challenge_of(server)
    assert challenge.data.endswith(server_name.encode())
    peer.receive(challenge.encode(), 0.0)
    server.receive(sent(peer)[0].encode(), 0.1)
    assert [p.code for p in sent(server)] == [SUCCESS]


def test_unknown_peer_name_fails_with_a_message() -> None:
    server = authenticator()
    peer = ChapPeer("mallory", "x", None)
    peer.start(0.0)
    peer.receive(challenge_of(server).encode(), 0.0)
    server.receive(sent(peer)[0].encode(), 0.1)
    assert [p.code for p in sent(server)] == [FAILURE]
    assert "No CHAP secret found for authenticating mallory" in texts(server)


def test_challenge_is_retransmitted_then_given_up() -> None:
    server = authenticator(max_transmits=3)
    server.start(0.0)
    now, challenges = 0.0, sent(server)
    while server.get_timer() is not None:
        now = server.get_timer()  # type: ignore[assignment]
        server.handle_timer(now)
        challenges += sent(server)
    # RFC 1994 4.1: every Challenge sent has a new identifier and Value.
    assert len(challenges) == 3
    assert len({c.identifier for c in challenges}) == len({c.data for c in challenges}) == 3
    (outcome,) = take(server, AuthOutcome)
    assert not outcome.success and now == 9.0


def test_malformed_challenge_and_response_are_ignored() -> None:
    peer = ChapPeer("bob", "pw", None)
    peer.start(0.0)
    peer.receive(ControlPacket(CHALLENGE, 1, b"\x20short").encode(), 0.0)
    peer.receive(ControlPacket(CHALLENGE, 1, b"").encode(), 0.0)
    peer.receive(b"\x01\x01\x00", 0.0)
    assert sent(peer) == [] and peer.ignored == 3
    server = authenticator()
    challenge = challenge_of(server)
    server.receive(ControlPacket(RESPONSE, challenge.identifier, b"\x10abc").encode(), 0.0)
    assert sent(server) == [] and server.ignored == 1


def test_verdict_for_an_identifier_we_never_answered_is_ignored() -> None:
    peer = ChapPeer("bob", "pw", None)
    peer.start(0.0)
    peer.receive(ControlPacket(SUCCESS, 9, b"").encode(), 0.0)
    assert take(peer, AuthOutcome) == []


def test_chap_peer_gives_up_waiting() -> None:
    peer = ChapPeer("bob", "pw", None, wait_timeout=60.0)
    peer.start(0.0)
    peer.handle_timer(60.0)
    (outcome,) = take(peer, AuthOutcome)
    assert not outcome.success and "CHAP authentication timed out" in texts(peer)


def pap_request(ident: int, user: bytes, password: bytes) -> bytes:
    body = bytes((len(user),)) + user + bytes((len(password),)) + password
    return ControlPacket(1, ident, body).encode()


def test_pap_authenticator_accepts_the_right_password() -> None:
    server = PapAuthenticator("hub", lookup({("bob", "hub"): "s3cret"}), 30.0)
    server.start(0.0)
    server.receive(pap_request(1, b"bob", b"s3cret"), 0.1)
    assert [(p.code, p.data) for p in sent(server)] == [(2, b"\x08Login ok")]
    assert take(server, AuthOutcome)[0].success
    assert "PAP peer authentication succeeded for bob" in texts(server)


def test_pap_wrong_password_and_repeat_get_nak() -> None:
    server = PapAuthenticator("hub", lookup({("bob", "hub"): "s3cret"}), 30.0)
    server.start(0.0)
    server.receive(pap_request(1, b"bob", b"guess"), 0.1)
    server.receive(pap_request(2, b"bob", b"s3cret"), 0.2)
    assert [(p.code, p.identifier) for p in sent(server)] == [(3, 1), (3, 2)]
    assert len(take(server, AuthOutcome)) == 1
    assert not any("guess" in t or "s3cret" in t for t in texts(server))


def test_pap_lying_lengths_are_ignored() -> None:
    server = PapAuthenticator("hub", lookup({("bob", "hub"): "pw"}), 30.0)
    server.start(0.0)
    for body in (b"", b"\x09bob", b"\x03bob", b"\x03bob\x09pw"):
        server.receive(ControlPacket(1, 1, body).encode(), 0.0)
    assert sent(server) == [] and server.ignored == 4


def test_pap_authenticator_gives_up_waiting() -> None:
    server = PapAuthenticator("hub", None, 30.0)
    server.start(0.0)
    server.handle_timer(30.0)
    assert not take(server, AuthOutcome)[0].success


def test_pap_peer_retransmits_with_new_ids_and_accepts_late_ack() -> None:
    peer = PapPeer("bob", "s3cret", restart_time=3.0, max_transmits=10)
    peer.start(0.0)
    peer.handle_timer(3.0)
    first, second = sent(peer)
    assert first.identifier != second.identifier and first.data == second.data
    peer.receive(ControlPacket(2, first.identifier, b"\x00").encode(), 3.5)
    assert take(peer, AuthOutcome)[0].success


def test_pap_peer_gives_up_after_max_transmits() -> None:
    peer = PapPeer("bob", "pw", restart_time=3.0, max_transmits=10)
    peer.start(0.0)
    while peer.get_timer() is not None:
        peer.handle_timer(peer.get_timer())  # type: ignore[arg-type]
    assert len(sent(peer)) == 10
    assert not take(peer, AuthOutcome)[0].success
    assert "No response to PAP authenticate-requests" in texts(peer)


def test_pap_peer_ignores_answers_to_ids_it_never_sent() -> None:
    peer = PapPeer("bob", "pw")
    peer.start(0.0)
    peer.receive(ControlPacket(2, 99, b"\x00").encode(), 0.1)
    assert take(peer, AuthOutcome) == [] and peer.ignored == 1


def test_chap_peer_repeats_its_response_until_the_verdict() -> None:
    server = authenticator()
    peer = ChapPeer("bob", "s3cret", None, restart_time=3.0, max_transmits=3)
    peer.start(0.0)
    peer.receive(challenge_of(server).encode(), 0.0)
    (first,) = sent(peer)
    peer.handle_timer(3.0)
    peer.handle_timer(6.0)
    peer.handle_timer(9.0)  # max_transmits reached: no fourth copy
    repeats = sent(peer)
    assert [p.encode() for p in repeats] == [first.encode()] * 2
    server.receive(first.encode(), 9.5)
    peer.receive(sent(server)[0].encode(), 9.6)
    assert take(peer, AuthOutcome)[0].success and peer.get_timer() is None
