"""Cases: LCP's automaton, counters and packet rules (RFC 1661 sections 4 and 5).

These watch what the peer does while it negotiates or once it is Opened:
Naks, Max-Failure and Max-Configure, the Restart timer, Terminate, Echo
and Discard outside their states, bogus Configure-Acks, the Length field.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from ndiswan.ppp.constants import Code, LcpOpt, Proto
from ndiswan.ppp.packet import ControlPacket, Option, encode_options, parse_options
from wanctl.conformance.case import CaseFailed, NotApplicable, Strength, case
from wanctl.conformance.case import hex_text as _hex
from wanctl.conformance.cases_lcp import TESTER_MAGIC
from wanctl.conformance.context import CaseContext, option_in, packet_of
from wanctl.conformance.probe import Frame

REPLIES = (Code.CONFIGURE_ACK, Code.CONFIGURE_NAK, Code.CONFIGURE_REJECT)
#: Control characters the Nak case asks the peer to escape too (XON, XOFF).
NAK_ACCM = 0x000A0000
#: An MRU pppd and most peers Nak (pppd's MINMRU is 128).
SMALL_MRU = 64
#: Naks the Max-Failure case waits through (RFC default 5, pppd's 10).
MAX_FAILURE_ROUNDS = 20
#: Configure-Requests the Max-Configure case allows (RFC default 10).
MAX_CONFIGURE_BOUND = 30
#: Shortest Restart interval taken for a timer rather than a flood (pppd: 1 s at least).
MIN_RESTART = 0.9


def _peer_request(ctx: CaseContext) -> Frame:
    """The peer's Configure-Request, waking a silent peer with one of ours first.

    A peer kept for this case by the runner is in the queue already; one
    that waits for the caller (pppd's ``silent``, ``wanctl answer`` on a
    direct line) starts negotiating only when a Configure-Request reaches it.
    """
    queued = ctx.expect_control(Proto.LCP, (Code.CONFIGURE_REQUEST,), timeout=0)
    if queued is not None:
        return queued
    _, request = _answer_and_request(ctx, Option(LcpOpt.MAGIC_NUMBER, TESTER_MAGIC).encode())
    return request


def _answer_and_request(
    ctx: CaseContext, options: bytes, patience: float | None = None
) -> tuple[ControlPacket, Frame]:
    """Send a Configure-Request of ``options``: the peer's answer and its own latest request.

    The peer's request may come before or after its answer; after it, it is
    awaited ``patience`` seconds (twice the timeout unless told).
    """
    identifier = ctx.identifier()
    ctx.probe.send_control(Proto.LCP, Code.CONFIGURE_REQUEST, identifier, options)
    reply: ControlPacket | None = None
    request: Frame | None = None
    until = ctx.probe.now() + ctx.timeout
    while reply is None:
        frame = ctx.probe.next_frame(until)
        if frame is None:
            raise CaseFailed(
                f"no answer to Configure-Request id={identifier:#x} in {ctx.timeout} s"
            )
        if frame.is_control(Proto.LCP, *REPLIES) and packet_of(frame).identifier == identifier:
            reply = packet_of(frame)
        elif frame.is_control(Proto.LCP, Code.CONFIGURE_REQUEST):
            request = frame
    if request is None:
        wait = 2 * ctx.timeout if patience is None else patience
        request = ctx.expect_control(Proto.LCP, (Code.CONFIGURE_REQUEST,), timeout=wait)
        if request is None:
            name = Code(reply.code).name
            raise CaseFailed(f"{name} id={identifier:#x}, then no Configure-Request in {wait:g} s")
    return reply, request


def _reply_to(ctx: CaseContext, identifier: int) -> ControlPacket:
    answer = ctx.require_control(
        Proto.LCP,
        REPLIES,
        f"no answer to Configure-Request id={identifier:#x} in {ctx.timeout} s",
        identifier=identifier,
    )
    return packet_of(answer)


@case(
    "lcp-nak-adopted",
    group="lcp",
    rfc="RFC 1661 5.3",
    strength=Strength.SHOULD,
    title="after a Configure-Nak of its ACCM, the peer's next Configure-Request carries it",
)
def nak_adopted(ctx: CaseContext) -> str:
    request = packet_of(_peer_request(ctx))
    accm = option_in(request.data, LcpOpt.ACCM)
    if accm is None or len(accm.data) != 4:
        raise NotApplicable("the peer's Configure-Request carries no ACCM")
    wanted = accm.uint | NAK_ACCM
    if wanted == accm.uint:
        raise NotApplicable(f"the peer already asks for ACCM {accm.uint:#010x}")
    nak = Option(LcpOpt.ACCM, wanted.to_bytes(4, "big"))
    ctx.probe.send_control(Proto.LCP, Code.CONFIGURE_NAK, request.identifier, nak.encode())
    again = ctx.expect_control(
        Proto.LCP,
        (Code.CONFIGURE_REQUEST,),
        timeout=2 * ctx.timeout,
        also=lambda frame: packet_of(frame).identifier != request.identifier,
    )
    if again is None:
        raise CaseFailed(f"no new Configure-Request after Configure-Nak <asyncmap {wanted:#x}>")
    packet = packet_of(again)
    now = option_in(packet.data, LcpOpt.ACCM)
    if now is None or len(now.data) != 4 or now.uint & wanted != wanted:
        raise CaseFailed(
            f"Configure-Nak <asyncmap {wanted:#x}>, then id={packet.identifier:#x} "
            f"[{_hex(packet.data)}]"
        )
    return f"Nak <asyncmap {wanted:#x}>, then id={packet.identifier:#x} <asyncmap {now.uint:#x}>"


@case(
    "lcp-max-failure",
    group="lcp",
    rfc="RFC 1661 4.6",
    strength=Strength.SHOULD,
    title="Naks of the same request turn into a Configure-Reject after Max-Failure",
)
def max_failure(ctx: CaseContext) -> str:
    mru = Option(LcpOpt.MRU, SMALL_MRU.to_bytes(2, "big")).encode()
    for round in range(1, MAX_FAILURE_ROUNDS + 1):
        identifier = ctx.identifier()
        ctx.probe.send_control(Proto.LCP, Code.CONFIGURE_REQUEST, identifier, mru)
        packet = _reply_to(ctx, identifier)
        if packet.code == Code.CONFIGURE_NAK:
            continue
        if round == 1:
            raise NotApplicable(f"the peer answers <mru {SMALL_MRU}> with {Code(packet.code).name}")
        return f"{round - 1} Configure-Naks, then {Code(packet.code).name} [{_hex(packet.data)}]"
    raise CaseFailed(f"still Configure-Nak <mru {SMALL_MRU}> after {MAX_FAILURE_ROUNDS} requests")


@case(
    "lcp-terminate-ack",
    group="lcp",
    rfc="RFC 1661 5.5",
    strength=Strength.MUST,
    title="a Terminate-Request gets a Terminate-Ack of its identifier, before and in Opened",
)
def terminate_ack(ctx: CaseContext) -> str:
    identifiers: list[int] = []
    for when in ("before Opened", "in Opened"):
        if identifiers:
            ctx.establish("lcp")
        identifier = ctx.identifier()
        ctx.probe.send_control(Proto.LCP, Code.TERMINATE_REQUEST, identifier, b"conformance")
        answer = ctx.require_control(
            Proto.LCP, (Code.TERMINATE_ACK,), f"no Terminate-Ack {when} in {ctx.timeout} s"
        )
        got = packet_of(answer).identifier
        if got != identifier:
            raise CaseFailed(f"Terminate-Ack {when} id={got:#x}, the request had {identifier:#x}")
        identifiers.append(identifier)
    return f"Terminate-Ack id={identifiers[0]:#x} before Opened, id={identifiers[1]:#x} in Opened"


@case(
    "lcp-renegotiate",
    group="lcp",
    rfc="RFC 1661 4.3",
    strength=Strength.SHOULD,
    title="a Configure-Request in Opened is answered and the peer sends its own again",
)
def renegotiate(ctx: CaseContext) -> str:
    link = ctx.establish("lcp").link
    magic = Option(LcpOpt.MAGIC_NUMBER, link.local_magic.to_bytes(4, "big")).encode()
    # Opened + RCR: tld, scr, sca/scn: the request goes out with the answer,
    # well before any Restart timer could send one.
    reply, request = _answer_and_request(ctx, magic, patience=ctx.timeout / 2)
    code, identifier = Code(reply.code).name, packet_of(request).identifier
    return f"{code} id={reply.identifier:#x} and Configure-Request id={identifier:#x}"


@case(
    "lcp-echo-before-opened",
    group="lcp",
    rfc="RFC 1661 5.8",
    strength=Strength.SHOULD,
    title="an Echo-Request before LCP is Opened is silently discarded",
)
def echo_before_opened(ctx: CaseContext) -> str:
    identifier = ctx.identifier()
    ctx.probe.send_control(Proto.LCP, Code.ECHO_REQUEST, identifier, TESTER_MAGIC + b"too early")
    answer = ctx.expect_control(Proto.LCP, (Code.ECHO_REPLY, Code.CODE_REJECT))
    if answer is not None:
        packet = packet_of(answer)
        raise CaseFailed(f"{Code(packet.code).name} id={packet.identifier:#x} before Opened")
    return f"no answer to Echo-Request id={identifier:#x} in {ctx.timeout} s"


@case(
    "lcp-magic-loopback",
    group="lcp",
    rfc="RFC 1661 6.4",
    strength=Strength.MUST,
    title="a Configure-Request with the peer's own Magic-Number gets a Nak of another one",
)
def magic_loopback(ctx: CaseContext) -> str:
    request = packet_of(_peer_request(ctx))
    magic = option_in(request.data, LcpOpt.MAGIC_NUMBER)
    if magic is None or len(magic.data) != 4:
        raise NotApplicable("the peer's Configure-Request carries no Magic-Number")
    identifier = ctx.identifier()
    ctx.probe.send_control(Proto.LCP, Code.CONFIGURE_REQUEST, identifier, magic.encode())
    packet = _reply_to(ctx, identifier)
    if packet.code != Code.CONFIGURE_NAK:
        raise CaseFailed(
            f"its own magic {magic.uint:#010x} got {Code(packet.code).name} [{_hex(packet.data)}]"
        )
    other = option_in(packet.data, LcpOpt.MAGIC_NUMBER)
    if other is None or len(other.data) != 4 or other.data == magic.data:
        raise CaseFailed(f"Configure-Nak of magic {magic.uint:#010x} is [{_hex(packet.data)}]")
    return f"magic {magic.uint:#010x} back: Configure-Nak <magic {other.uint:#010x}>"


def _bogus_ack_ignored(
    ctx: CaseContext, what: str, bogus: Callable[[ControlPacket], tuple[int, bytes]]
) -> str:
    """A request of ours the peer Acks, then a Configure-Ack ``bogus`` makes of its request.

    A peer that took the bogus Ack is Opened and sends no more
    Configure-Requests; one that discarded it is still in Ack-Sent and
    sends its request again when its Restart timer fires.
    """
    magic = Option(LcpOpt.MAGIC_NUMBER, TESTER_MAGIC).encode()
    reply, request = _answer_and_request(ctx, magic)
    if reply.code != Code.CONFIGURE_ACK:
        name = Code(reply.code).name
        raise NotApplicable(f"the peer answers <magic {TESTER_MAGIC.hex()}> with a {name}")
    identifier, data = bogus(packet_of(request))
    ctx.probe.send_control(Proto.LCP, Code.CONFIGURE_ACK, identifier, data)
    again = ctx.expect_control(Proto.LCP, (Code.CONFIGURE_REQUEST,), timeout=2 * ctx.timeout)
    if again is None:
        raise CaseFailed(
            f"Configure-Ack {what} taken: no Configure-Request in {2 * ctx.timeout:.0f} s, "
            "the peer thinks LCP Opened"
        )
    return (
        f"Configure-Ack {what} ignored: Configure-Request id={packet_of(again).identifier:#x} again"
    )


@case(
    "lcp-ack-wrong-id",
    group="lcp",
    rfc="RFC 1661 5.2",
    strength=Strength.MUST,
    title="a Configure-Ack whose identifier is not the request's is silently discarded",
)
def ack_wrong_id(ctx: CaseContext) -> str:
    def bogus(request: ControlPacket) -> tuple[int, bytes]:
        return (request.identifier ^ 0x80, request.data)

    return _bogus_ack_ignored(ctx, "with a foreign id", bogus)


@case(
    "lcp-ack-wrong-options",
    group="lcp",
    rfc="RFC 1661 5.2",
    strength=Strength.MUST,
    title="a Configure-Ack with options other than those requested is silently discarded",
)
def ack_wrong_options(ctx: CaseContext) -> str:
    def bogus(request: ControlPacket) -> tuple[int, bytes]:
        options, _ = parse_options(request.data)
        if not options:
            raise NotApplicable("the peer's Configure-Request carries no option")
        return (request.identifier, encode_options(options[:-1]))

    return _bogus_ack_ignored(ctx, "missing an option", bogus)


@case(
    "lcp-restart-timer",
    group="lcp",
    rfc="RFC 1661 4.6",
    strength=Strength.SHOULD,
    title="unanswered, the Configure-Request is sent again on a Restart timer, not in a flood",
)
def restart_timer(ctx: CaseContext) -> str:
    frames = [_fresh_series(ctx, packet_of(_peer_request(ctx)))]
    while len(frames) < 3:
        frame = ctx.require_control(
            Proto.LCP,
            (Code.CONFIGURE_REQUEST,),
            f"no retransmission in {2 * ctx.timeout:.0f} s",
            timeout=2 * ctx.timeout,
        )
        frames.append(frame)
    intervals = [b.time - a.time for a, b in itertools.pairwise(frames)]
    if min(intervals) < MIN_RESTART:
        raise CaseFailed(f"Configure-Requests {min(intervals):.2f} s apart")
    for a, b in itertools.pairwise(frames):
        first, second = packet_of(a), packet_of(b)
        if first.identifier == second.identifier and first.data != second.data:
            # RFC 1661 5.1: the Identifier MUST change when the options do.
            raise CaseFailed(f"id={first.identifier:#x} kept for changed options")
    spacing = ", ".join(f"{interval:.1f}" for interval in intervals)
    ids = ", ".join(f"{packet_of(frame).identifier:#x}" for frame in frames)
    return f"Configure-Request ids {ids} {spacing} s apart"


def _fresh_series(ctx: CaseContext, request: ControlPacket) -> Frame:
    """The first Configure-Request of a series with its whole Max-Configure ahead.

    A request the runner kept may be late in its series: a Terminate-Request
    in Ack-Sent only sends a Terminate-Ack and goes back to Req-Sent (RFC
    1661 4.1), so the Restart counter runs on.  A Configure-Nak in Req-Sent
    or Ack-Sent initializes it and sends a new request (RCN: irc, scr).
    """
    accm = option_in(request.data, LcpOpt.ACCM)
    asked = accm.uint if accm is not None and len(accm.data) == 4 else 0
    nak = Option(LcpOpt.ACCM, (asked | NAK_ACCM).to_bytes(4, "big"))
    ctx.probe.send_control(Proto.LCP, Code.CONFIGURE_NAK, request.identifier, nak.encode())
    return ctx.require_control(
        Proto.LCP,
        (Code.CONFIGURE_REQUEST,),
        f"no new Configure-Request after a Configure-Nak of id={request.identifier:#x}",
        timeout=2 * ctx.timeout,
        also=lambda frame: packet_of(frame).identifier != request.identifier,
    )


@case(
    "lcp-max-configure",
    group="lcp",
    rfc="RFC 1661 4.6",
    strength=Strength.SHOULD,
    title="unanswered, the peer gives up after Max-Configure Configure-Requests",
    budget=40,
)
def max_configure(ctx: CaseContext) -> str:
    """The series ends at a silence or when the request changes (a new link: a new magic)."""
    first = _peer_request(ctx)
    options = packet_of(first).data
    count, last, longest = 1, first, 0.0
    while count <= MAX_CONFIGURE_BOUND:
        wait = max(2 * ctx.timeout, 2.5 * longest)
        frame = ctx.expect_control(Proto.LCP, (Code.CONFIGURE_REQUEST,), timeout=wait)
        if frame is None:
            return f"gave up after {count} Configure-Requests ({last.time - first.time:.0f} s)"
        if packet_of(frame).data != options:
            return (
                f"gave up after {count} Configure-Requests ({last.time - first.time:.0f} s), "
                "then started over"
            )
        longest = max(longest, frame.time - last.time)
        count, last = count + 1, frame
    raise CaseFailed(f"{count - 1} Configure-Requests and still sending")


@case(
    "lcp-discard-request",
    group="lcp",
    rfc="RFC 1661 5.9",
    strength=Strength.MUST,
    title="a Discard-Request in Opened is silently discarded",
)
def discard_request(ctx: CaseContext) -> str:
    link = ctx.establish("lcp").link
    magic = link.local_magic.to_bytes(4, "big")
    discard, echo = ctx.identifier(), ctx.identifier()
    ctx.probe.send_control(Proto.LCP, Code.DISCARD_REQUEST, discard, magic + b"discard me")
    ctx.probe.send_control(Proto.LCP, Code.ECHO_REQUEST, echo, magic + b"still there?")
    until = ctx.probe.now() + ctx.timeout
    while (frame := ctx.probe.next_frame(until)) is not None:
        if not frame.is_control(Proto.LCP):
            continue
        packet = packet_of(frame)
        if packet.code == Code.CODE_REJECT and packet.data[:1] == bytes((Code.DISCARD_REQUEST,)):
            raise CaseFailed(f"Code-Reject of the Discard-Request [{_hex(packet.data)}]")
        if packet.identifier == discard and packet.code == Code.ECHO_REPLY:
            raise CaseFailed(f"{Code(packet.code).name} id={discard:#x} to the Discard-Request")
        if packet.code == Code.ECHO_REPLY and packet.identifier == echo:
            return f"no answer to Discard-Request id={discard:#x}; Echo-Reply id={echo:#x} after it"
    raise CaseFailed(f"no Echo-Reply after the Discard-Request in {ctx.timeout} s")


def _echo_request(identifier: int, magic: bytes, payload: bytes, *, length: int) -> bytes:
    return bytes((Code.ECHO_REQUEST, identifier)) + length.to_bytes(2, "big") + magic + payload


@case(
    "lcp-length-padding",
    group="lcp",
    rfc="RFC 1661 5",
    strength=Strength.SHOULD,
    title="octets past the Length field are padding: the Echo-Reply leaves them out",
)
def length_padding(ctx: CaseContext) -> str:
    link = ctx.establish("lcp").link
    identifier = ctx.identifier()
    payload = b"padded echo"
    length = 8 + len(payload)
    magic = link.local_magic.to_bytes(4, "big")
    padding = b"\0PADDING"
    ctx.probe.send(Proto.LCP, _echo_request(identifier, magic, payload, length=length) + padding)
    answer = ctx.require_control(
        Proto.LCP,
        (Code.ECHO_REPLY,),
        f"no Echo-Reply to a padded Echo-Request in {ctx.timeout} s",
        identifier=identifier,
    )
    packet = packet_of(answer)
    if packet.data[4:] != payload:
        raise CaseFailed(f"Echo-Reply data [{_hex(packet.data[4:])}]: the padding was taken in")
    return (
        f"Echo-Reply id={identifier:#x}: {len(payload)} octets, {len(padding)} of padding left out"
    )


@case(
    "lcp-length-too-long",
    group="lcp",
    rfc="RFC 1661 5",
    strength=Strength.SHOULD,
    title="a packet shorter than its Length field is silently discarded",
)
def length_too_long(ctx: CaseContext) -> str:
    link = ctx.establish("lcp").link
    magic = link.local_magic.to_bytes(4, "big")
    payload = b"truncated echo"
    short, good = ctx.identifier(), ctx.identifier()
    ctx.probe.send(Proto.LCP, _echo_request(short, magic, payload, length=8 + len(payload) + 16))
    answer = ctx.expect_control(Proto.LCP, (Code.ECHO_REPLY,), identifier=short)
    if answer is not None:
        raise CaseFailed(
            f"Echo-Reply id={short:#x} to an Echo-Request 16 octets short of its Length"
        )
    ctx.probe.send(Proto.LCP, _echo_request(good, magic, payload, length=8 + len(payload)))
    if ctx.expect_control(Proto.LCP, (Code.ECHO_REPLY,), identifier=good) is None:
        raise CaseFailed(f"no Echo-Reply to a whole Echo-Request id={good:#x} after it")
    return f"short Echo-Request id={short:#x} ignored; Echo-Reply id={good:#x} to a whole one"
