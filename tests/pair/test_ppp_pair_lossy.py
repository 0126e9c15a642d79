"""Lossy lines: whatever is lost, both ends stay consistent and never misuse the automaton."""

from __future__ import annotations

import random
from ipaddress import IPv4Address

from hypothesis import given, settings
from hypothesis import strategies as st

from ndiswan.ppp import (
    AuthRequirement,
    LinkTerminated,
    Phase,
    PppConfig,
    PppSession,
    ProtocolError,
    SecretsTable,
    State,
    Wire,
)
from ndiswan.ppp.constants import Proto

SECRETS = SecretsTable.from_text("bob hub s3cret *\n")
#: Frames are lost only during the first LOSSY_SECONDS; then the line is clean.
LOSSY_SECONDS = 120.0


def lossy_pair(seed: int, loss: float, auth: AuthRequirement) -> Wire:
    common = {"ipv6": True, "lcp_echo_interval": 10.0, "lcp_echo_failure": 4}
    hub = PppSession(
        PppConfig(
            name="hub",
            require_auth=auth,
            local_ip=IPv4Address("10.7.0.1"),
            remote_ip=IPv4Address("10.7.0.2"),
            **common,  # type: ignore[arg-type]
        ),
        secrets=SECRETS,
        rng=random.Random(seed).randbytes,
    )
    bob = PppSession(
        PppConfig(name="bob", **common),  # type: ignore[arg-type]
        secrets=SECRETS,
        rng=random.Random(seed + 1).randbytes,
    )
    chance = random.Random(seed + 2)
    wire = Wire((bob, hub))
    wire.drop = lambda index, frame, count: wire.now < LOSSY_SECONDS and chance.random() < loss
    return wire


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10_000),
    st.sampled_from([0.1, 0.3, 0.5, 0.8]),
    st.sampled_from(list(AuthRequirement)),
)
def test_lossy_line_leaves_both_ends_consistent(
    seed: int, loss: float, auth: AuthRequirement
) -> None:
    wire = lossy_pair(seed, loss, auth)
    wire.start()
    wire.run_for(LOSSY_SECONDS + 200.0)
    for index, end in enumerate(wire.ends):
        events = wire.events[index]
        # Our own calls never hit a missing pair of the RFC 1661 table.
        assert not [e for e in events if isinstance(e, ProtocolError) and not e.by_peer]
        ended = [e for e in events if isinstance(e, LinkTerminated)]
        assert len(ended) == (1 if end.phase is Phase.DEAD else 0)
    # Keepalives settle the link: both ends up, or both gone.
    lcp = [end.state_of(Proto.LCP) for end in wire.ends]
    phases = [end.phase for end in wire.ends]
    assert lcp == [State.OPENED, State.OPENED] or phases == [Phase.DEAD, Phase.DEAD]


def test_heavy_loss_still_connects_given_time() -> None:
    wire = lossy_pair(7, 0.5, AuthRequirement.CHAP)
    wire.start()
    assert wire.run(lambda w: all(e.network is not None for e in w.ends), max_time=600.0)
    assert wire.dropped > 20


def test_lost_chap_success_is_recovered_by_repeating_the_response() -> None:
    hub = PppSession(
        PppConfig(
            name="hub",
            require_auth=AuthRequirement.CHAP,
            local_ip=IPv4Address("10.7.0.1"),
            remote_ip=IPv4Address("10.7.0.2"),
        ),
        secrets=SECRETS,
        rng=random.Random(1).randbytes,
    )
    bob = PppSession(PppConfig(name="bob"), secrets=SECRETS, rng=random.Random(2).randbytes)
    lost = {"success": False}

    def drop_first_success(index: int, frame: bytes, count: int) -> bool:
        if index == 1 and frame[:3] == b"\xc2\x23\x03" and not lost["success"]:
            lost["success"] = True
            return True
        return False

    wire = Wire((bob, hub), drop=drop_first_success)
    wire.start()
    assert wire.run(lambda w: all(e.network is not None for e in w.ends), max_time=30.0)
    assert lost["success"] and wire.now < 10.0  # not the 60 s CHAP wait timeout
    responses = [t for t in wire.trace if "CHAP Response" in t]
    assert len(responses) == 2 and responses[0].split("id=")[1] == responses[1].split("id=")[1]
