"""No parser and no session phase raises on random bytes."""

from __future__ import annotations

import random
from collections.abc import Callable
from ipaddress import IPv4Address

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ndiswan.ppp import (
    AuthRequirement,
    Phase,
    PppConfig,
    PppSession,
    SecretsTable,
    Wire,
    parse_control_packet,
    parse_options,
)
from ndiswan.ppp.config import AuthProtocol
from ndiswan.ppp.ipcp import IpcpOptions, IpcpPolicy
from ndiswan.ppp.ipv6cp import Ipv6cpOptions, Ipv6cpPolicy
from ndiswan.ppp.lcp import LcpOptions, LcpPolicy
from ndiswan.ppp.options import OptionHandler

SECRETS = SecretsTable.from_text("bob hub s3cret *\nhub bob other *\n")
PROTOCOLS = [0xC021, 0xC023, 0xC223, 0x8021, 0x8057, 0x80FD, 0x0021, 0x0057, 0x002D, 0xC025, 0x8031]

frames = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda proto, body: proto.to_bytes(2, "big") + body,
        st.sampled_from(PROTOCOLS),
        st.binary(max_size=200),
    ),
    st.builds(
        lambda proto, code, ident, body, extra: (
            proto.to_bytes(2, "big")
            + bytes((code, ident))
            + max(0, 4 + len(body) + extra).to_bytes(2, "big")
            + body
        ),
        st.sampled_from(PROTOCOLS),
        st.integers(0, 20),
        st.integers(0, 255),
        st.binary(max_size=120),
        st.integers(-6, 6) | st.just(0),
    ),
)


def pair(**hub_config: object) -> Wire:
    hub = PppSession(
        PppConfig(
            name="hub",
            local_ip=IPv4Address("10.7.0.1"),
            remote_ip=IPv4Address("10.7.0.2"),
            ipv6=True,
            noccp=False,
            lcp_echo_interval=2.0,
            lcp_echo_failure=3,
            **hub_config,  # type: ignore[arg-type]
        ),
        secrets=SECRETS,
        rng=random.Random(1).randbytes,
    )
    bob = PppSession(
        PppConfig(name="bob", ipv6=True), secrets=SECRETS, rng=random.Random(2).randbytes
    )
    wire = Wire((bob, hub))
    return wire


def in_establish() -> Wire:
    wire = pair()
    wire.start()
    return wire


def in_authenticate() -> Wire:
    wire = pair(require_auth=AuthRequirement.CHAP)
    wire.drop = lambda i, frame, n: i == 0 and frame[:2] == b"\xc2\x23"
    wire.start()
    wire.run(lambda w: w.ends[1].phase is Phase.AUTHENTICATE, max_time=5)
    return wire


def in_network() -> Wire:
    wire = pair(require_auth=AuthRequirement.PAP)
    wire.start()
    wire.run(lambda w: w.ends[1].network is not None, max_time=5)
    return wire


def in_terminate() -> Wire:
    wire = in_network()
    wire.ends[1].close("bye", wire.now)
    return wire


def in_dead() -> Wire:
    wire = in_terminate()
    wire.run(lambda w: w.ends[1].phase is Phase.DEAD, max_time=wire.now + 30)
    return wire


PHASES: dict[Phase, Callable[[], Wire]] = {
    Phase.ESTABLISH: in_establish,
    Phase.AUTHENTICATE: in_authenticate,
    Phase.NETWORK: in_network,
    Phase.TERMINATE: in_terminate,
    Phase.DEAD: in_dead,
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(PHASES)), st.lists(frames, min_size=1, max_size=12), st.floats(0, 10))
def test_random_frames_in_every_phase_never_raise(
    phase: Phase, batch: list[bytes], later: float
) -> None:
    wire = PHASES[phase]()
    hub = wire.ends[1]
    assert hub.phase is phase
    for frame in batch:
        hub.receive_frame(frame, wire.now)
    wire.run_for(later)  # let timers and the peer react to whatever happened
    assert isinstance(hub.phase, Phase)
    for output in hub.drain():
        assert output is not None


@given(st.binary(max_size=300))
def test_packet_and_option_parsers_never_raise(data: bytes) -> None:
    packet = parse_control_packet(data)
    if packet is not None:
        assert len(packet.encode()) <= len(data)
    options, tail = parse_options(data)
    assert sum(2 + len(o.data) for o in options) + len(tail) == len(data)


def handlers() -> list[OptionHandler]:
    rng = random.Random(4).randbytes
    made: list[OptionHandler] = [
        LcpOptions(LcpPolicy(require=(AuthProtocol.CHAP, AuthProtocol.PAP)), rng),
        IpcpOptions(
            IpcpPolicy(remote=IPv4Address("10.0.0.2"), give_dns=(IPv4Address("10.0.0.53"), None))
        ),
        Ipv6cpOptions(Ipv6cpPolicy(), rng),
    ]
    for handler in made:
        handler.reset()
    return made


@given(st.binary(max_size=300), st.booleans())
def test_option_handlers_never_raise_on_random_option_lists(data: bytes, flag: bool) -> None:
    for handler in handlers():
        reply = handler.judge_request(data, flag)
        assert reply.code in (2, 3, 4)
        options, tail = parse_options(data)
        if not tail:
            handler.apply_nak(options, flag)
            handler.apply_reject(options)
        handler.build_request()
