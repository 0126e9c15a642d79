"""EAP-TLS (RFC 5216): two engines on the fake clock with real certificates, and bad input."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from ndiswan.ppp import AuthRequirement, AuthRole, AuthSucceeded, SecretsTable, Wire, eap
from ndiswan.ppp.auth import AuthOutcome
from ndiswan.ppp.eap_tls import (
    FLAG_LENGTH,
    FLAG_MORE,
    FLAG_START,
    MAX_MESSAGE,
    TYPE_TLS,
    EapTlsError,
    TlsExchange,
    fragments,
    tls_context,
)
from tests.pair.auth_pairs import both_dead, both_up, exit_code, run, session
from tests.pki import make_ca, make_leaf
from wanminiport.exitcodes import ExitCode
from wanminiport.sansio import Transmit

NO_SECRETS = SecretsTable.from_text("")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pki")
    ca, rogue = make_ca(directory, "ca"), make_ca(directory, "rogue")
    paths = {"ca": ca[0], "rogue": rogue[0]}
    for name, issuer in (("hub", ca), ("bob", ca), ("eve", ca), ("fakehub", rogue)):
        paths[f"{name}.crt"], paths[f"{name}.key"] = make_leaf(directory, issuer, name)
    return paths


def context(pki: dict[str, Path], name: str, *, server: bool, ca: str = "ca") -> ssl.SSLContext:
    cert, key = str(pki[f"{name}.crt"]), str(pki[f"{name}.key"])
    return tls_context(server=server, ca_file=str(pki[ca]), cert_file=cert, key_file=key)


def tls_pair(pki: dict[str, Path], client_cert: str = "bob", server_cert: str = "hub",
             **client: object) -> Wire:  # fmt: skip
    bob = session("bob", 2, NO_SECRETS,
                  eap_tls_client=context(pki, client_cert, server=False), **client)  # fmt: skip
    hub = session("hub", 1, NO_SECRETS, require_auth=AuthRequirement.EAP,
                  eap_tls_server=context(pki, server_cert, server=True))  # fmt: skip
    return Wire((bob, hub))


def test_eap_tls_pair_authenticates_both_ways_and_opens_ipcp(pki: dict[str, Path]) -> None:
    wire = tls_pair(pki, remote_name="hub")
    run(wire, both_up)
    assert AuthSucceeded("EAP", AuthRole.AUTHENTICATOR, "bob") in wire.events[1]
    assert AuthSucceeded("EAP", AuthRole.PEER, "bob") in wire.events[0]
    assert any("[EAP Request id=" in t and "TLS <flags S> <0 octets>" in t for t in wire.trace)
    # The server's flight (certificate chain) goes in fragments, each acknowledged.
    assert sum("[EAP Response id=" in t for t in wire.trace) >= 4


def test_a_server_certificate_from_another_ca_is_refused(pki: dict[str, Path]) -> None:
    wire = tls_pair(pki, server_cert="fakehub")
    run(wire, both_dead)
    assert exit_code(wire.events[0]) is ExitCode.AUTH_TOPEER_FAILED
    # The client's alert ends TLS; the server hears no more, and LCP ends the call.
    assert exit_code(wire.events[1]) in (ExitCode.PEER_AUTH_FAILED, ExitCode.NEGOTIATION_FAILED)
    assert any("CERTIFICATE_VERIFY_FAILED" in str(e) for e in wire.events[0])
    assert both_up(wire) is False


def test_a_server_certificate_for_another_name_is_refused(pki: dict[str, Path]) -> None:
    wire = tls_pair(pki, remote_name="elsewhere")
    run(wire, both_dead)
    assert exit_code(wire.events[0]) is ExitCode.AUTH_TOPEER_FAILED
    assert any('server certificate is for hub, not elsewhere' in str(e)
               for e in wire.events[0])  # fmt: skip


def test_a_client_whose_certificate_names_someone_else_is_refused(pki: dict[str, Path]) -> None:
    wire = tls_pair(pki, client_cert="eve")  # identity "bob", certificate CN=eve
    run(wire, both_dead)
    assert exit_code(wire.events[1]) is ExitCode.PEER_AUTH_FAILED
    assert exit_code(wire.events[0]) is ExitCode.AUTH_TOPEER_FAILED
    assert any("sent [EAP Failure" in t for t in wire.trace)


def _peer(pki: dict[str, Path]) -> eap.EapPeer:
    peer = eap.EapPeer("bob", None, None, tls=context(pki, "bob", server=False))
    peer.start(0.0)
    return peer


def _drained(peer: eap.EapPeer) -> tuple[list[bytes], list[AuthOutcome]]:
    items = peer.drain()
    sent = [item.data for item in items if isinstance(item, Transmit)]
    return sent, [item for item in items if isinstance(item, AuthOutcome)]


def test_a_success_before_the_handshake_ends_is_refused(pki: dict[str, Path]) -> None:
    peer = _peer(pki)
    peer.receive(eap.encode(eap.REQUEST, 7, TYPE_TLS, bytes((FLAG_START,))), 0.0)
    (hello,), _ = _drained(peer)
    assert eap.parse(hello)[2] == TYPE_TLS  # type: ignore[index]
    peer.receive(eap.encode(eap.SUCCESS, 8), 0.1)
    _, outcomes = _drained(peer)
    assert outcomes and not outcomes[-1].success


def test_a_retransmitted_request_gets_the_same_answer(pki: dict[str, Path]) -> None:
    peer = _peer(pki)
    start = eap.encode(eap.REQUEST, 7, TYPE_TLS, bytes((FLAG_START,)))
    peer.receive(start, 0.0)
    peer.receive(start, 3.0)
    sent, _ = _drained(peer)
    assert len(sent) == 2 and sent[0] == sent[1]


def test_fragments_carry_the_length_first_and_more_on_all_but_the_last() -> None:
    assert fragments(b"x" * 10) == [b"\x00" + b"x" * 10]
    parts = fragments(bytes(2500), size=1000)
    assert [p[0] for p in parts] == [FLAG_LENGTH | FLAG_MORE, FLAG_MORE, 0]
    assert int.from_bytes(parts[0][1:5], "big") == 2500
    assert sum(len(p) for p in parts) == 2500 + 3 + 4


@pytest.mark.parametrize(
    ("packet", "why"),
    [
        (b"", "without Flags"),
        (bytes((FLAG_LENGTH,)) + b"\x00\x01", "without a length"),
        (bytes((FLAG_LENGTH | FLAG_MORE,)) + (MAX_MESSAGE + 1).to_bytes(4, "big"), "refused"),
        (bytes((FLAG_LENGTH | FLAG_MORE,)) + (2).to_bytes(4, "big") + b"abc", "refused"),
        (bytes((FLAG_LENGTH,)) + (9).to_bytes(4, "big") + b"abc", "shorter than announced"),
        (bytes((0,)) + b"\x16\x03\x03\x00\x02garbage", "handshake failed"),
    ],
)
def test_bad_tls_packets_end_the_exchange_with_a_reason(
    pki: dict[str, Path], packet: bytes, why: str
) -> None:
    exchange = TlsExchange(context(pki, "hub", server=True), server=True)
    with pytest.raises(EapTlsError, match=why):
        exchange.receive(packet)


def test_fragments_past_the_announced_length_are_refused(pki: dict[str, Path]) -> None:
    exchange = TlsExchange(context(pki, "hub", server=True), server=True)
    assert exchange.receive(bytes((FLAG_LENGTH | FLAG_MORE,)) + (4).to_bytes(4, "big") + b"ab")
    with pytest.raises(EapTlsError, match="longer than announced"):
        exchange.receive(bytes((FLAG_MORE,)) + b"abc")


def test_a_garbage_stream_of_more_fragments_is_bounded(pki: dict[str, Path]) -> None:
    exchange = TlsExchange(context(pki, "hub", server=True), server=True)
    with pytest.raises(EapTlsError, match="longer than announced"):
        for _ in range(MAX_MESSAGE // 1000 + 2):
            exchange.receive(bytes((FLAG_MORE,)) + bytes(1000))


def test_random_tls_packets_only_ever_end_the_exchange_cleanly(pki: dict[str, Path]) -> None:
    """Fuzz: 2000 random packets (flags, lengths, records) at both roles: a reply,
    None or EapTlsError, never another exception; what is buffered stays bounded."""
    import random

    rng = random.Random(5216)
    contexts = {True: context(pki, "hub", server=True), False: context(pki, "bob", server=False)}
    for server in (True, False):
        exchange = TlsExchange(contexts[server], server=server)
        for _ in range(1000):
            flags = rng.choice(
                (0, FLAG_MORE, FLAG_LENGTH, FLAG_LENGTH | FLAG_MORE, FLAG_START, 0xFF)
            )
            body = rng.randbytes(rng.choice((0, 3, 4, 5, 100, 1000)))
            if rng.random() < 0.3:
                body = b"\x16\x03\x03" + rng.randbytes(2) + body  # record-looking garbage
            try:
                reply = exchange.receive(bytes((flags,)) + body)
            except EapTlsError:
                exchange = TlsExchange(contexts[server], server=server)
                continue
            assert reply is None or isinstance(reply, bytes)
            incoming = exchange._incoming
            assert incoming is None or len(incoming.data) <= MAX_MESSAGE
