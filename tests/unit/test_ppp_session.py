"""PppSession rules checked with one session and hand-made frames from its peer."""

from __future__ import annotations

import random

from ndiswan.ppp import (
    AuthRequirement,
    DatagramReceived,
    LinkTerminated,
    LogLine,
    Phase,
    PppConfig,
    PppSession,
    Proto,
    ProtocolError,
    SecretsTable,
    State,
    Wire,
)
from ndiswan.ppp.packet import ControlPacket, parse_control_packet
from tests.drain import events, frames
from wanminiport.exitcodes import ExitCode

SECRETS = SecretsTable.from_text("bob hub s3cret *\n")
IP_PACKET = bytes.fromhex("4500001c0000400040010000 0a070002 0a070001 0800f7ff00000000")


def lcp_frame(code: int, ident: int, data: bytes = b"") -> bytes:
    return b"\xc0\x21" + ControlPacket(code, ident, data).encode()


def sent_packets(session: PppSession, proto: int) -> list[ControlPacket]:
    out = []
    for frame in frames(session):
        if int.from_bytes(frame[:2], "big") == proto:
            parsed = parse_control_packet(frame[2:])
            assert parsed is not None
            out.append(parsed)
    return out


def logs(session: PppSession) -> list[str]:
    return [e.text for e in events(session) if isinstance(e, LogLine)]


def lcp_opened(**config: object) -> PppSession:
    """A session whose LCP opened against a scripted peer (no auth, no NCP reply)."""
    session = PppSession(PppConfig(name="hub", **config), rng=random.Random(1).randbytes)  # type: ignore[arg-type]
    session.open(0.0)
    session.lower_up(0.0)
    (request,) = sent_packets(session, Proto.LCP)
    session.receive_frame(lcp_frame(1, 1, bytes.fromhex("05060a0b0c0d")), 0.1)
    session.receive_frame(lcp_frame(2, request.identifier, request.data), 0.1)
    assert session.state_of(Proto.LCP) is State.OPENED
    frames(session)
    events(session)
    return session


def test_network_datagrams_are_refused_before_ipcp_opens() -> None:
    session = lcp_opened()
    assert session.phase is Phase.NETWORK and session.state_of(Proto.IPCP) is State.REQ_SENT
    assert session.send_datagram(Proto.IP, IP_PACKET) is None
    session.receive_frame(b"\x00\x21" + IP_PACKET, 0.2)
    session.receive_frame(b"\x21" + IP_PACKET, 0.2)
    assert session.stats.datagrams_dropped == 2 and session.stats.sends_refused == 1
    assert not [e for e in events(session) if isinstance(e, DatagramReceived)]


def test_frames_before_lcp_opens_are_dropped_and_counted() -> None:
    session = PppSession(PppConfig(), rng=random.Random(1).randbytes)
    session.open(0.0)
    session.lower_up(0.0)
    session.receive_frame(b"\x00\x21" + IP_PACKET, 0.1)
    session.receive_frame(b"\x80\x21" + ControlPacket(1, 1).encode(), 0.1)
    assert session.stats.dropped_lcp_not_open == 2
    assert "Discarded non-LCP packet when LCP not open" in logs(session)


def test_ip_injected_during_authentication_is_dropped() -> None:
    hub = PppSession(
        PppConfig(name="hub", require_auth=AuthRequirement.CHAP),
        secrets=SECRETS,
        rng=random.Random(1).randbytes,
    )
    # A peer that completes LCP but never answers the challenge.
    bob = PppSession(PppConfig(name="bob"), secrets=SECRETS, rng=random.Random(2).randbytes)
    wire = Wire((bob, hub), drop=lambda i, frame, n: i == 0 and frame[:2] == b"\xc2\x23")
    wire.start()
    assert wire.run(lambda w: hub.phase is Phase.AUTHENTICATE, max_time=5)
    wire.run_for(0.5)
    hub.receive_frame(b"\x00\x21" + IP_PACKET, wire.now)
    hub.receive_frame(
        b"\x80\x21" + ControlPacket(1, 9, bytes.fromhex("03060a070002")).encode(), wire.now
    )
    hub.receive_frame(b"\x12\x35" + b"junk", wire.now)
    assert hub.stats.dropped_before_network == 3 and hub.stats.datagrams_dropped == 1
    assert hub.stats.protocol_rejects_sent == 0
    assert not [f for f in frames(hub) if f[:2] == b"\x80\x21"]
    assert hub.send_datagram(Proto.IP, IP_PACKET) is None


def test_pap_request_is_ignored_when_chap_is_required() -> None:
    hub = PppSession(
        PppConfig(name="hub", require_auth=AuthRequirement.CHAP),
        secrets=SECRETS,
        rng=random.Random(1).randbytes,
    )
    bob = PppSession(PppConfig(name="bob"), secrets=SECRETS, rng=random.Random(2).randbytes)
    wire = Wire((bob, hub), drop=lambda i, frame, n: i == 0 and frame[:2] == b"\xc2\x23")
    wire.start()
    assert wire.run(lambda w: hub.phase is Phase.AUTHENTICATE, max_time=5)
    request = ControlPacket(1, 1, b"\x03bob\x06s3cret").encode()
    hub.receive_frame(b"\xc0\x23" + request, wire.now)
    assert hub.phase is Phase.AUTHENTICATE
    assert not [f for f in frames(hub) if f[:2] == b"\xc0\x23"]


def test_unknown_protocol_in_network_phase_gets_protocol_reject() -> None:
    session = lcp_opened()
    session.receive_frame(b"\x80\x57" + ControlPacket(1, 1, bytes(10)).encode(), 0.2)
    (reject,) = sent_packets(session, Proto.LCP)
    assert reject.code == 8 and reject.data[:2] == b"\x80\x57"
    assert "Unsupported protocol 'IPv6 Control Protocol' (0x8057) received" in logs(session)


def test_protocol_reject_is_cut_to_the_peers_mru() -> None:
    session = PppSession(PppConfig(), rng=random.Random(1).randbytes)
    session.open(0.0)
    session.lower_up(0.0)
    (request,) = sent_packets(session, Proto.LCP)
    session.receive_frame(lcp_frame(1, 1, bytes.fromhex("01040080")), 0.1)  # peer MRU 128
    session.receive_frame(lcp_frame(2, request.identifier, request.data), 0.1)
    frames(session)
    session.receive_frame(b"\x12\x35" + bytes(1000), 0.2)
    (reject,) = sent_packets(session, Proto.LCP)
    assert len(reject.encode()) == 128


def test_echo_request_is_answered_with_our_magic() -> None:
    session = lcp_opened()
    assert session.link is not None
    session.receive_frame(lcp_frame(9, 0x42, bytes.fromhex("0a0b0c0d") + b"data"), 0.2)
    (reply,) = sent_packets(session, Proto.LCP)
    assert reply.code == 10 and reply.identifier == 0x42
    assert reply.data == session.link.local_magic.to_bytes(4, "big") + b"data"


def test_unknown_lcp_code_gets_code_reject() -> None:
    session = lcp_opened()
    session.receive_frame(lcp_frame(0x77, 3, b"x"), 0.2)
    (reject,) = sent_packets(session, Proto.LCP)
    assert reject.code == 7 and reject.data == ControlPacket(0x77, 3, b"x").encode()


def test_hundreds_of_options_in_a_configure_request() -> None:
    session = PppSession(PppConfig(), rng=random.Random(1).randbytes)
    session.open(0.0)
    session.lower_up(0.0)
    frames(session)
    options = b"".join(bytes((100 + i % 100, 2)) for i in range(700))
    session.receive_frame(lcp_frame(1, 5, options), 0.1)
    (reply,) = sent_packets(session, Proto.LCP)
    assert reply.code == 4 and len(reply.data) <= len(options)


def test_lying_length_fields_are_dropped() -> None:
    session = lcp_opened()
    for frame in (
        b"\xc0\x21\x09\x01\x00\x40ab",  # length beyond the frame
        b"\xc0\x21\x09\x01\x00\x02",  # length below the header
        b"\xc0\x21\x09\x01",  # shorter than a header
        b"\xc0\x21",  # no information field at all
    ):
        session.receive_frame(frame, 0.2)
    assert sent_packets(session, Proto.LCP) == []
    assert session.state_of(Proto.LCP) is State.OPENED


def test_zero_length_and_bad_protocol_fields_are_counted() -> None:
    session = lcp_opened()
    for frame in (b"", b"\x00", b"\x00\x00", b"\xc0\x20abcd"):
        session.receive_frame(frame, 0.2)
    assert session.stats.malformed_frames == 4


def test_padding_after_the_length_is_ignored() -> None:
    session = lcp_opened()
    session.receive_frame(lcp_frame(9, 1, bytes(4)) + b"\0" * 20, 0.2)
    (reply,) = sent_packets(session, Proto.LCP)
    assert reply.code == 10 and len(reply.data) == 4


def test_calling_lower_up_twice_is_reported_not_raised() -> None:
    session = PppSession(PppConfig(), rng=random.Random(1).randbytes)
    session.lower_up(0.0)
    session.lower_up(0.0)
    errors = [e for e in events(session) if isinstance(e, ProtocolError)]
    assert errors == [ProtocolError("LCP", "CLOSED", "Up", False)]


def test_terminate_after_close_and_dead_session_ignores_nothing_fatal() -> None:
    session = lcp_opened()
    session.close("User request", 1.0)
    (term,) = sent_packets(session, Proto.LCP)
    assert term.code == 5 and term.data == b"User request"
    assert session.phase is Phase.TERMINATE
    session.receive_frame(lcp_frame(6, term.identifier), 1.1)
    assert session.phase is Phase.DEAD


def test_ipv4_disabled_rejects_ipcp() -> None:
    session = lcp_opened(ipv4=False, ipv6=True)
    session.receive_frame(
        b"\x80\x21" + ControlPacket(1, 1, bytes.fromhex("030600000000")).encode(), 0.2
    )
    codes = [p.code for p in sent_packets(session, Proto.LCP)]
    assert codes == [8]


def test_datagram_frame_uses_full_protocol_field_without_pfc() -> None:
    session = lcp_opened(pcomp=False)
    assert session.link is not None and not session.link.send_pfc
    assert session.send_datagram(0x1234, b"x") is None


def test_echo_reply_and_discard_request_are_not_answered() -> None:
    session = lcp_opened()
    session.receive_frame(lcp_frame(10, 1, bytes.fromhex("0a0b0c0d")), 0.2)
    session.receive_frame(lcp_frame(11, 2, bytes.fromhex("0a0b0c0d") + b"discard me"), 0.2)
    assert sent_packets(session, Proto.LCP) == []


def test_frames_after_termination_do_not_restart_the_link() -> None:
    session = lcp_opened()
    session.close("User request", 1.0)
    (term,) = sent_packets(session, Proto.LCP)
    session.receive_frame(lcp_frame(6, term.identifier), 1.1)
    assert session.phase is Phase.DEAD
    events(session)
    session.receive_frame(lcp_frame(1, 7, bytes.fromhex("05060a0b0c0d")), 1.2)
    assert sent_packets(session, Proto.LCP) == [] and events(session) == []
    assert session.stats.dropped_after_termination == 1


def test_close_before_the_line_comes_up_still_ends_the_link() -> None:
    session = PppSession(PppConfig(), rng=random.Random(1).randbytes)
    session.open(0.0)
    session.close("User request", 0.5)
    ends = [e for e in events(session) if isinstance(e, LinkTerminated)]
    assert ends == [LinkTerminated("User request", ExitCode.USER_REQUEST)]
    assert frames(session) == []


def test_line_lost_before_it_came_up_is_a_hangup_not_an_error() -> None:
    session = PppSession(PppConfig(), rng=random.Random(1).randbytes)
    session.open(0.0)
    session.lower_down(0.5)
    reported = events(session)
    assert not [e for e in reported if isinstance(e, ProtocolError)]
    assert [e for e in reported if isinstance(e, LinkTerminated)] == [
        LinkTerminated("Modem hangup", ExitCode.HANGUP)
    ]


def test_session_can_be_reopened_after_hangup() -> None:
    session = lcp_opened()
    session.lower_down(1.0)
    events(session)
    session.open(2.0)
    session.lower_up(2.0)
    (request,) = sent_packets(session, Proto.LCP)
    assert request.code == 1 and session.phase is Phase.ESTABLISH


def test_forged_chap_verdicts_cannot_skip_our_authentication() -> None:
    hub = PppSession(
        PppConfig(name="hub", require_auth=AuthRequirement.CHAP),
        secrets=SECRETS,
        rng=random.Random(1).randbytes,
    )
    bob = PppSession(PppConfig(name="bob"), secrets=SECRETS, rng=random.Random(2).randbytes)
    wire = Wire((bob, hub), drop=lambda i, frame, n: i == 0 and frame[:2] == b"\xc2\x23")
    wire.start()
    assert wire.run(lambda w: hub.phase is Phase.AUTHENTICATE, max_time=5)
    for code in (3, 4):  # Success, Failure: only an authenticatee acts on these
        hub.receive_frame(
            b"\xc2\x23" + ControlPacket(code, 0, b"Access granted").encode(), wire.now
        )
    for ident in range(256):  # a Response with a guessed value for every identifier
        forged = ControlPacket(2, ident, bytes((16,)) + bytes(16) + b"bob").encode()
        hub.receive_frame(b"\xc2\x23" + forged, wire.now)
    assert hub.phase is not Phase.NETWORK and hub.network is None
    assert hub.send_datagram(Proto.IP, IP_PACKET) is None
