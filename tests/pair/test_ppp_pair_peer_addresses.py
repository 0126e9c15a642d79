"""Two sessions on the fake clock: the secrets entry that authenticated the peer
limits the IPv4 address it may use (pppd's set_allowed_addrs, ipcp_up).

The hub authenticates bob with the entry ``bob hub s3cret [addresses]``; bob
asks for an address of its own (``local_ip``) or for none (0.0.0.0).
"""

from __future__ import annotations

import random
from ipaddress import IPv4Address

import pytest

from ndiswan.ppp import (
    AuthRequirement,
    DatagramReceived,
    LinkTerminated,
    LogLevel,
    LogLine,
    NetworkUp,
    Phase,
    PppConfig,
    PppSession,
    Proto,
    SecretLookup,
    SecretsTable,
    Wire,
)
from wanminiport.exitcodes import ExitCode

HUB_IP = IPv4Address("10.7.0.1")
ASKED = IPv4Address("10.7.0.9")
ENTRY_IP = IPv4Address("10.7.0.2")
ELSEWHERE = IPv4Address("192.0.2.77")
#: An IPv4 packet from bob (10.7.0.9) to the hub (10.7.0.1).
IP_PACKET = bytes.fromhex("4500001c0000400040010000 0a070009 0a070001 0800f7ff00000000")
IP_FRAME = Proto.IP.to_bytes(2, "big") + IP_PACKET
BOTH = [AuthRequirement.PAP, AuthRequirement.CHAP]


def table(addresses: str) -> SecretsTable:
    return SecretsTable.from_text(f"bob hub s3cret {addresses}\n")


def hub(
    secrets: SecretLookup,
    auth: AuthRequirement = AuthRequirement.CHAP,
    remote: IPv4Address | None = None,
) -> PppSession:
    config = PppConfig(name="hub", local_ip=HUB_IP, remote_ip=remote, require_auth=auth)
    return PppSession(config, secrets=secrets, rng=random.Random(1).randbytes)


def bob(asks: IPv4Address | None = ASKED, takes_suggestion: bool = False) -> PppSession:
    config = PppConfig(name="bob", local_ip=asks, ipcp_accept_local=takes_suggestion or None)
    return PppSession(config, secrets=table("*"), rng=random.Random(2).randbytes)


def wired(client: PppSession, server: PppSession) -> Wire:
    wire = Wire((client, server))
    wire.start()
    return wire


def both_up(wire: Wire) -> bool:
    return all(end.network is not None for end in wire.ends)


def hub_naks(wire: Wire) -> list[str]:
    return [t for t in wire.trace if " 1 sent [IPCP ConfNak" in t]


@pytest.mark.parametrize("auth", BOTH)
def test_peer_requesting_an_allowed_address_opens(auth: AuthRequirement) -> None:
    client, server = bob(), hub(table("10.7.0.0/24"), auth)
    wire = wired(client, server)
    assert wire.run(both_up, max_time=60), "\n".join(wire.trace)
    assert server.network == NetworkUp(HUB_IP, ASKED)
    assert client.network == NetworkUp(ASKED, HUB_IP)
    assert hub_naks(wire) == []


@pytest.mark.parametrize("auth", BOTH)
def test_forbidden_request_is_naked_with_the_single_allowed_address_then_opens(
    auth: AuthRequirement,
) -> None:
    client, server = bob(takes_suggestion=True), hub(table(str(ENTRY_IP)), auth)
    wire = wired(client, server)
    assert wire.run(both_up, max_time=60), "\n".join(wire.trace)
    assert any(f"<addr {ENTRY_IP}>" in t for t in hub_naks(wire)), "\n".join(wire.trace)
    assert server.network == NetworkUp(HUB_IP, ENTRY_IP)
    assert client.network == NetworkUp(ENTRY_IP, HUB_IP)


def test_single_allowed_address_is_assigned_to_a_peer_that_asks_for_one() -> None:
    client, server = bob(asks=None), hub(table(str(ENTRY_IP)))
    wire = wired(client, server)
    assert wire.run(both_up, max_time=60), "\n".join(wire.trace)
    assert client.network == NetworkUp(ENTRY_IP, HUB_IP)


def test_entry_address_replaces_a_forbidden_configured_remote_address() -> None:
    client, server = bob(asks=None), hub(table(str(ENTRY_IP)), remote=IPv4Address("10.9.9.9"))
    wire = wired(client, server)
    assert wire.run(both_up, max_time=60), "\n".join(wire.trace)
    assert server.network == NetworkUp(HUB_IP, ENTRY_IP)


def test_star_allows_any_address() -> None:
    client, server = bob(asks=ELSEWHERE), hub(table("*"))
    wire = wired(client, server)
    assert wire.run(both_up, max_time=60), "\n".join(wire.trace)
    assert server.network == NetworkUp(HUB_IP, ELSEWHERE)
    assert hub_naks(wire) == []


def test_skipped_words_are_logged_and_the_rest_of_the_list_applies() -> None:
    client, server = bob(takes_suggestion=True), hub(table(f"10.0.0.300 peer.example {ENTRY_IP}"))
    wire = wired(client, server)
    assert wire.run(both_up, max_time=60), "\n".join(wire.trace)
    warnings = [
        e.text
        for e in wire.events[1]
        if isinstance(e, LogLine) and e.level is LogLevel.WARNING and "auth. address list" in e.text
    ]
    assert warnings == [
        "invalid address 10.0.0.300 in auth. address list",
        "unknown host peer.example in auth. address list (names are not resolved)",
    ]
    assert server.network == NetworkUp(HUB_IP, ENTRY_IP)


def run_feeding_ip_to_the_hub(wire: Wire) -> int:
    """Step until both ends terminated; from the hub's Network phase on, a raw IP
    frame from bob reaches the hub at every step.  The number of frames fed."""
    server, fed = wire.ends[1], 0
    for _ in range(10_000):
        if all(any(isinstance(e, LinkTerminated) for e in events) for events in wire.events):
            return fed
        assert server.send_datagram(Proto.IP, IP_PACKET) is None
        if server.phase is Phase.NETWORK:
            wire.send(0, IP_FRAME)
            fed += 1
        if not wire.step():
            break
    raise AssertionError("\n".join(wire.trace))


@pytest.mark.parametrize(
    ("addresses", "asks", "refused"),
    [
        ("-", ASKED, ASKED),
        ("", ASKED, ASKED),
        ("-", None, IPv4Address("10.64.64.64")),  # pppd's default remote, refused too
        ("!10.7.0.9 10.7.0.0/24", ASKED, ASKED),
        ("10.7.0.0/24", ELSEWHERE, ELSEWHERE),  # no single address to offer instead
    ],
)
def test_unauthorized_address_never_opens_ipcp_and_no_ip_passes(
    addresses: str, asks: IPv4Address | None, refused: IPv4Address
) -> None:
    client, server = bob(asks=asks), hub(table(addresses))
    wire = wired(client, server)
    fed = run_feeding_ip_to_the_hub(wire)
    hub_events = wire.events[1]
    error = LogLine(f"Peer is not authorized to use remote address {refused}", LogLevel.ERROR)
    assert error in hub_events
    assert any(
        "1 sent [IPCP TermReq id=" in t and '"Unauthorized remote IP address"]' in t
        for t in wire.trace
    ), "\n".join(wire.trace)
    assert not [e for e in hub_events if isinstance(e, NetworkUp | DatagramReceived)]
    assert server.network is None
    # Every frame fed was dropped: by IPCP not being open, or by LCP once it closed.
    assert fed > 1 and server.stats.datagrams_received == 0
    assert 1 <= server.stats.datagrams_dropped <= fed
    (ended,) = [e for e in hub_events if isinstance(e, LinkTerminated)]
    assert ended == LinkTerminated("No network protocols running", ExitCode.NEGOTIATION_FAILED)


def test_plain_secret_lookup_leaves_the_peer_address_free() -> None:
    def plain(client: str, server: str) -> str | None:
        return "s3cret" if (client, server) == ("bob", "hub") else None

    client, server = bob(asks=ELSEWHERE), hub(plain)
    wire = wired(client, server)
    assert wire.run(both_up, max_time=60), "\n".join(wire.trace)
    assert server.network == NetworkUp(HUB_IP, ELSEWHERE)


def test_without_authentication_the_entry_limits_nothing() -> None:
    client, server = bob(asks=ELSEWHERE), hub(table("-"), AuthRequirement.NONE)
    wire = wired(client, server)
    assert wire.run(both_up, max_time=60), "\n".join(wire.trace)
    assert server.network == NetworkUp(HUB_IP, ELSEWHERE)


def test_our_own_entry_does_not_limit_the_address_we_take() -> None:
    """Bob authenticates the hub with 'hub bob pw -': the hub's address is limited,
    bob's own (proved with the same file) is not."""
    secrets = SecretsTable.from_text("bob hub s3cret *\nhub bob pw 10.7.0.1\n")
    config = PppConfig(name="bob", local_ip=ELSEWHERE, require_auth=AuthRequirement.CHAP)
    client = PppSession(config, secrets=secrets, rng=random.Random(2).randbytes)
    server = hub(secrets)
    wire = wired(client, server)
    assert wire.run(both_up, max_time=60), "\n".join(wire.trace)
    assert client.network == NetworkUp(ELSEWHERE, HUB_IP)
    assert server.network == NetworkUp(HUB_IP, ELSEWHERE)
