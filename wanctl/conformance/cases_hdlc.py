"""Cases: HDLC-like framing, RFC 1662, and the LCP options that change it (RFC 1661 6.5, 6.6).

What the peer sends is judged from the raw octets the probe kept: which
control characters were escaped, whether address/control and the protocol
field were compressed.  What it receives is judged by its answers to frames
built by hand: a bad FCS, an abort, flags shared or repeated, control
characters slipped in, compressed headers.  Each provocation that must go
unanswered travels with a good frame that must be answered, so silence
proves something and a case waits for absence at most once.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address

from ndiswan.ppp.constants import Code, LcpOpt, Proto
from ndiswan.ppp.packet import ControlPacket, Option
from wanctl.conformance.case import CaseFailed, NotApplicable, Strength, case
from wanctl.conformance.case import hex_text as _hex
from wanctl.conformance.context import CaseContext, Established, packet_of
from wanctl.conformance.probe import ALL_CONTROLS, ESCAPE, FLAG, Frame, escape, unescape

#: XON and XOFF: the ACCM a line with software flow control asks for.
XON_XOFF = 0x000A0000
#: A protocol no RFC assigns, with a two-octet field (cannot be PFC compressed).
UNKNOWN_PROTOCOL = 0x5A21
#: A protocol no RFC assigns whose field PFC compresses to one octet (0x69).
UNKNOWN_SHORT_PROTOCOL = 0x0069
TESTER_MAGIC = bytes.fromhex("5a5a1234")
#: Octets of the control range slipped unescaped into a frame, as intervening
#: equipment might insert them (XON, NUL, US; not XOFF, which could stop a
#: peer whose tty does software flow control).
INSERTED = (0x11, 0x00, 0x1F)
#: An unassigned code, answered with a Code-Reject.
UNKNOWN_CODE = 0x55
#: An escaped Control Escape (0x5D, sent 7D 7D) and an octet sent as itself,
#: repeated: Linux's ppp_async drops the octet after such a pair unless the
#: pair happens to end one read from the tty, so a single pair shows it only
#: now and then.
ESCAPED_ESCAPE_PAIRS = bytes((0x5D, 0x30)) * 8


def _name(frame: Frame) -> str:
    packet = frame.control
    names: dict[int, str] = {Proto.LCP: "LCP", Proto.IPCP: "IPCP", Proto.IPV6CP: "IPV6CP"}
    protocol = names.get(frame.protocol, f"{frame.protocol:#06x}")
    if packet is None:
        return protocol
    try:
        code = str(Code(packet.code).name).replace("_", "-").title()
    except ValueError:
        code = f"code {packet.code}"
    return f"{protocol} {code} id={packet.identifier:#x}"


def _raw_controls(frame: Frame, octets: frozenset[int] = frozenset(range(0x20))) -> bytes:
    """The octets of ``octets`` that ``frame`` carried unescaped on the wire."""
    return bytes(sorted({octet for octet in frame.raw if octet in octets}))


def _gather(ctx: CaseContext, done: Callable[[list[Frame]], bool], timeout: float) -> list[Frame]:
    """Frames that arrive until ``done`` says there are enough, or ``timeout``."""
    frames: list[Frame] = []

    def match(frame: Frame) -> bool:
        frames.append(frame)
        return done(frames)

    ctx.probe.expect(match, timeout)
    return frames


def _echo_request(ctx: CaseContext, est: Established, identifier: int) -> bytes:
    """The escaped octets (no flags) of an LCP Echo-Request with ``identifier``."""
    data = est.link.local_magic.to_bytes(4, "big") + b"hdlc conformance"
    packet = ControlPacket(Code.ECHO_REQUEST, identifier, data).encode()
    return ctx.probe.frame_octets(Proto.LCP, packet)


def _echo_replies(ctx: CaseContext, sent: list[int]) -> list[int]:
    """Identifiers of the Echo-Replies to ``sent`` (in the order sent) that arrive.

    A peer answers in order, so once the last request is answered the ones
    before it that were not never will be: no waiting out a timeout.
    """
    seen: list[int] = []

    def done(frames: list[Frame]) -> bool:
        frame = frames[-1]
        if frame.is_control(Proto.LCP, Code.ECHO_REPLY):
            packet = packet_of(frame)
            if packet.identifier in sent and packet.identifier not in seen:
                seen.append(packet.identifier)
        return sent[-1] in seen

    _gather(ctx, done, ctx.timeout)
    return seen


def _ncp(est: Established) -> int:
    """The network control protocol the autopilot opened."""
    return Proto.IPCP if est.session.network is not None else Proto.IPV6CP


def _unknown_code(identifier: int, data: bytes) -> bytes:
    return bytes((UNKNOWN_CODE, identifier)) + (4 + len(data)).to_bytes(2, "big") + data


def _checksum(data: bytes) -> bytes:
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total & 0xFFFF).to_bytes(2, "big")


def _icmp_echo(source: IPv4Address, destination: IPv4Address, ident: int) -> bytes:
    """An IPv4 ICMP Echo Request (a ping) from ``source`` to ``destination``."""
    icmp = bytes((8, 0, 0, 0)) + ident.to_bytes(2, "big") + b"\0\1" + b"hdlc conformance"
    icmp = icmp[:2] + _checksum(icmp) + icmp[4:]
    header = (
        bytes((0x45, 0))
        + (20 + len(icmp)).to_bytes(2, "big")
        + ident.to_bytes(2, "big")
        + b"\0\0"
        + bytes((64, 1))
        + b"\0\0"
        + source.packed
        + destination.packed
    )
    return header[:10] + _checksum(header) + header[12:] + icmp


def _is_ping_reply(frame: Frame) -> bool:
    info = frame.info
    return (
        frame.fcs_ok
        and frame.protocol == Proto.IP
        and len(info) > 20
        and info[9] == 1
        and info[20] == 0
    )


@case(
    "hdlc-default-accm",
    group="hdlc",
    rfc="RFC 1662 7.1",
    strength=Strength.MUST,
    title="until LCP is Opened the peer escapes every control character (default ACCM ffffffff)",
)
def default_accm(ctx: CaseContext) -> str:
    frames = [f for f in ctx.establish("lcp").frames if f.is_control(Proto.LCP)]
    if not frames:
        raise CaseFailed("no LCP frame from the peer before Opened")
    escaped = 0
    for frame in frames:
        if raw := _raw_controls(frame):
            raise CaseFailed(f"{_name(frame)} carries [{_hex(raw)}] unescaped before Opened")
        escaped += sum(
            1
            for first, second in zip(frame.raw, frame.raw[1:], strict=False)
            if first == ESCAPE and 0x20 <= second < 0x40
        )
    return f"{len(frames)} LCP frames before Opened, all {escaped} control characters escaped"


@case(
    "hdlc-negotiated-accm",
    group="hdlc",
    rfc="RFC 1662 7.1",
    strength=Strength.MUST,
    title="the control characters of the ACCM the tester asked for stay escaped in NCP frames",
)
def negotiated_accm(ctx: CaseContext) -> str:
    est = ctx.establish("network", config=ctx.tester_config(asyncmap=XON_XOFF))
    accm = est.link.recv_accm
    if accm & XON_XOFF != XON_XOFF:
        raise NotApplicable(f"the peer agreed to escape ACCM {accm:#010x}, not {XON_XOFF:#010x}")
    # An NCP Code-Reject carries the rejected packet back: octets of our
    # choice in a frame the negotiated ACCM (not LCP's) applies to.
    protocol = _ncp(est)
    identifier = ctx.identifier()
    ctx.probe.send(protocol, _unknown_code(identifier, bytes(range(0x20))))
    answer = ctx.expect_control(protocol, (Code.CODE_REJECT,))
    if answer is None:
        raise NotApplicable(f"no Code-Reject to carry control characters back in {ctx.timeout} s")
    mapped = frozenset(octet for octet in range(0x20) if accm >> octet & 1)
    if not mapped & set(answer.info):
        raise NotApplicable(f"{_name(answer)} carries none of the mapped octets back")
    if raw := _raw_controls(answer, mapped):
        raise CaseFailed(f"{_name(answer)} carries [{_hex(raw)}] unescaped; ACCM {accm:#010x}")
    clear = len(_raw_controls(answer))
    return f"{_name(answer)}: ACCM {accm:#010x} escaped, {clear} other controls sent clear"


@case(
    "hdlc-no-unnegotiated-compression",
    group="hdlc",
    rfc="RFC 1661 6.5, 6.6",
    strength=Strength.MUST,
    title="with ACFC and PFC refused, the peer sends every frame with FF 03 and a 2-octet protocol",
)
def no_unnegotiated_compression(ctx: CaseContext) -> str:
    est = ctx.establish("network", config=ctx.tester_config(accomp=False, pcomp=False))
    # Provoke frames after LCP: an NCP Code-Reject and, when IPv4 is up, a ping
    # answered with an IP datagram (protocol 0x0021, the kind PFC compresses).
    protocol = _ncp(est)
    identifier = ctx.identifier()
    ctx.probe.send(protocol, _unknown_code(identifier, b"conformance"))
    network = est.session.network
    if network is not None:
        ctx.probe.send(Proto.IP, _icmp_echo(network.local, network.remote, identifier))

    def done(frames: list[Frame]) -> bool:
        rejected = any(f.is_control(protocol, Code.CODE_REJECT) for f in frames)
        return rejected and (network is None or any(map(_is_ping_reply, frames)))

    frames = [f for f in est.frames + _gather(ctx, done, ctx.timeout) if f.fcs_ok]
    for frame in frames:
        if not frame.address_control:
            raise CaseFailed(f"{_name(frame)} sent without FF 03, ACFC not negotiated")
        if frame.short_protocol:
            raise CaseFailed(f"{_name(frame)} sent with a 1-octet protocol, PFC not negotiated")
    short = sum(1 for f in frames if f.protocol < 0x100)
    return f"{len(frames)} frames with FF 03 and 2-octet protocols ({short} of protocol 00xx)"


@case(
    "hdlc-lcp-uncompressed",
    group="hdlc",
    rfc="RFC 1661 6.6",
    strength=Strength.MUST,
    title="with ACFC agreed, the peer still sends its LCP packets with address and control",
)
def lcp_uncompressed(ctx: CaseContext) -> str:
    est = ctx.establish("lcp")
    if not est.link.recv_acfc:
        raise NotApplicable("the peer did not agree to send compressed address/control")
    # "Any LCP packet": Linux ppp_async keeps FF 03 (and the default ACCM)
    # only for codes 1 to 7, so its Echo-Reply fails here while its
    # Code-Reject passes; both are asked for.
    echo, rejected = ctx.identifier(), ctx.identifier()
    ctx.probe.send_raw(b"\x7e" + _echo_request(ctx, est, echo) + b"\x7e")
    ctx.probe.send(Proto.LCP, _unknown_code(rejected, b"conformance"))
    wanted = {Code.ECHO_REPLY, Code.CODE_REJECT}

    def done(frames: list[Frame]) -> bool:
        codes = {f.control.code for f in frames if f.is_control(Proto.LCP) and f.control}
        return wanted <= codes

    frames = [f for f in _gather(ctx, done, ctx.timeout) if f.is_control(Proto.LCP)]
    for frame in frames:
        if not frame.address_control:
            raise CaseFailed(f"{_name(frame)} sent without FF 03 (ACFC agreed)")
    if not frames:
        raise NotApplicable(f"no LCP answer to an Echo-Request or unknown code in {ctx.timeout} s")
    names = ", ".join(_name(f) for f in frames)
    return f"with ACFC agreed, FF 03 on {names}"


def _protocol_reject(ctx: CaseContext, protocol: int, **framing: bool) -> Frame | None:
    """Send a frame of the unassigned ``protocol``; the peer's Protocol-Reject of it."""
    ctx.probe.send(protocol, b"hdlc conformance", **framing)
    rejected = protocol.to_bytes(2, "big")

    def names_it(frame: Frame) -> bool:
        packet = frame.control
        return packet is not None and packet.data[:2] == rejected

    return ctx.expect_control(Proto.LCP, (Code.PROTOCOL_REJECT,), also=names_it)


@case(
    "hdlc-acfc-receive",
    group="hdlc",
    rfc="RFC 1661 6.6",
    strength=Strength.SHOULD,
    title="with ACFC agreed, the peer understands frames with and without address and control",
)
def acfc_receive(ctx: CaseContext) -> str:
    est = ctx.establish("auth")
    if not est.link.send_acfc:
        raise NotApplicable("the peer did not agree to receive compressed address/control")
    if _protocol_reject(ctx, UNKNOWN_PROTOCOL, acfc=False) is None:
        raise NotApplicable(f"no Protocol-Reject of protocol {UNKNOWN_PROTOCOL:#06x} with FF 03")
    if _protocol_reject(ctx, UNKNOWN_PROTOCOL, acfc=True) is None:
        raise CaseFailed(
            f"a frame of protocol {UNKNOWN_PROTOCOL:#06x} without FF 03 went unanswered "
            "(answered with FF 03)"
        )
    return f"protocol {UNKNOWN_PROTOCOL:#06x} Protocol-Rejected both with and without FF 03"


@case(
    "hdlc-pfc-receive",
    group="hdlc",
    rfc="RFC 1661 6.5",
    strength=Strength.MUST,
    title="with PFC agreed, the peer accepts 1- and 2-octet protocol fields alike",
)
def pfc_receive(ctx: CaseContext) -> str:
    est = ctx.establish("auth")
    if not est.link.send_pfc:
        raise NotApplicable("the peer did not agree to receive compressed protocol fields")
    protocol = UNKNOWN_SHORT_PROTOCOL
    if _protocol_reject(ctx, protocol, pfc=False) is None:
        raise NotApplicable(f"no Protocol-Reject of protocol {protocol:#06x} (2-octet field)")
    if _protocol_reject(ctx, protocol, pfc=True) is None:
        raise CaseFailed(
            f"protocol {protocol:#06x} with a 1-octet field went unanswered (2 octets were)"
        )
    return f"protocol {protocol:#06x} Protocol-Rejected with 1- and 2-octet fields"


@case(
    "hdlc-bad-fcs",
    group="hdlc",
    rfc="RFC 1662 3.1",
    strength=Strength.SHOULD,
    title="a frame with a bad FCS is silently discarded; the good frame after it is not",
)
def bad_fcs(ctx: CaseContext) -> str:
    est = ctx.establish("lcp")
    bad, good = ctx.identifier(), ctx.identifier()
    data = est.link.local_magic.to_bytes(4, "big") + b"hdlc conformance"
    damaged = ControlPacket(Code.ECHO_REQUEST, bad, data).encode()
    octets = ctx.probe.frame_octets(Proto.LCP, damaged, good_fcs=False)
    ctx.probe.send_raw(b"\x7e" + octets + b"\x7e\x7e" + _echo_request(ctx, est, good) + b"\x7e")
    seen = _echo_replies(ctx, [bad, good])
    if bad in seen:
        raise CaseFailed(f"Echo-Request id={bad:#x} with a bad FCS got an Echo-Reply")
    if good not in seen:
        raise CaseFailed(f"no Echo-Reply to the good Echo-Request id={good:#x} after a bad FCS")
    return f"bad FCS id={bad:#x} ignored, good id={good:#x} answered"


@case(
    "hdlc-flags",
    group="hdlc",
    rfc="RFC 1662 3.1",
    strength=Strength.SHOULD,
    title="frames sharing one flag, and a run of flags (empty frames) between frames, are decoded",
)
def flags(ctx: CaseContext) -> str:
    est = ctx.establish("lcp")
    first, second, third = ctx.identifier(), ctx.identifier(), ctx.identifier()
    ctx.probe.send_raw(
        b"\x7e"
        + _echo_request(ctx, est, first)
        + b"\x7e"
        + _echo_request(ctx, est, second)
        + b"\x7e\x7e\x7e\x7e"
        + _echo_request(ctx, est, third)
        + b"\x7e\x7e"
    )
    seen = _echo_replies(ctx, [first, second, third])
    if second not in seen:
        raise CaseFailed(f"no Echo-Reply to id={second:#x}, which shared its opening flag")
    if third not in seen:
        raise CaseFailed(f"no Echo-Reply to id={third:#x}, which followed a run of 4 flags")
    if first not in seen:
        raise CaseFailed(f"no Echo-Reply to id={first:#x}, the first of three")
    return f"Echo-Replies to {first:#x}, {second:#x} (shared flag), {third:#x} (after 4 flags)"


@case(
    "hdlc-abort",
    group="hdlc",
    rfc="RFC 1662 4.3",
    strength=Strength.SHOULD,
    title="a frame ended by the abort sequence 7D 7E is discarded; the next frame is not",
)
def abort(ctx: CaseContext) -> str:
    est = ctx.establish("lcp")
    aborted, good = ctx.identifier(), ctx.identifier()
    ctx.probe.send_raw(
        b"\x7e"
        + _echo_request(ctx, est, aborted)
        + bytes((ESCAPE, FLAG))
        + _echo_request(ctx, est, good)
        + b"\x7e"
    )
    seen = _echo_replies(ctx, [aborted, good])
    if aborted in seen:
        raise CaseFailed(f"Echo-Request id={aborted:#x} ended by 7D 7E got an Echo-Reply")
    if good not in seen:
        raise CaseFailed(f"no Echo-Reply to id={good:#x}, the frame right after an abort")
    return f"aborted id={aborted:#x} ignored, next id={good:#x} answered"


@case(
    "hdlc-accm-discard",
    group="hdlc",
    rfc="RFC 1662 4.2",
    strength=Strength.SHOULD,
    title="before LCP is negotiated, unescaped control characters in a frame are removed",
)
def accm_discard(ctx: CaseContext) -> str:
    # Before LCP opens the peer's receive ACCM is the default, every control
    # character: inserted ones are to be removed before the FCS is checked.
    identifier = ctx.identifier()
    options = Option(LcpOpt.MAGIC_NUMBER, TESTER_MAGIC).encode()
    packet = ControlPacket(Code.CONFIGURE_REQUEST, identifier, options).encode()
    octets = ctx.probe.frame_octets(Proto.LCP, packet)
    spots = (1, len(octets) // 2, len(octets) - 1)
    noisy = bytearray(octets)
    for spot, inserted in sorted(zip(spots, INSERTED, strict=True), reverse=True):
        if noisy[spot - 1] == ESCAPE:
            spot += 1  # not between an escape and the octet it escapes
        noisy[spot:spot] = bytes((inserted,))
    ctx.probe.send_raw(b"\x7e" + bytes(noisy) + b"\x7e")
    answer = ctx.require_control(
        Proto.LCP,
        (Code.CONFIGURE_ACK, Code.CONFIGURE_NAK, Code.CONFIGURE_REJECT),
        f"no answer to Configure-Request id={identifier:#x} with "
        f"[{_hex(bytes(INSERTED))}] inserted unescaped",
        identifier=identifier,
    )
    return f"{_name(answer)} to a request with [{_hex(bytes(INSERTED))}] inserted unescaped"


@case(
    "hdlc-escaped-octets",
    group="hdlc",
    rfc="RFC 1662 4.2, 7.1",
    strength=Strength.SHOULD,
    title="octets 0x40-0xFF sent in Control Escape form (which a sender MAY do) are decoded",
)
def escaped_octets(ctx: CaseContext) -> str:
    est = ctx.establish("lcp")
    identifier = ctx.identifier()
    data = est.link.local_magic.to_bytes(4, "big") + bytes(range(0x100)) + ESCAPED_ESCAPE_PAIRS
    packet = ControlPacket(Code.ECHO_REQUEST, identifier, data).encode()
    octets = ctx.probe.frame_octets(Proto.LCP, packet)
    # Escaping 0x20-0x3F would put control characters on the wire, and 0x5E
    # would become the abort 7D 7E: those stay as they are.
    extended = frozenset(range(0x40, 0x100)) - {FLAG ^ 0x20}
    octets = escape(unescape(octets), ALL_CONTROLS, extended)
    ctx.probe.send_raw(b"\x7e" + octets + b"\x7e")
    answer = ctx.require_control(
        Proto.LCP,
        (Code.ECHO_REPLY,),
        f"no Echo-Reply to id={identifier:#x} with 0x40-0xFF escaped",
        identifier=identifier,
    )
    reply = packet_of(answer)
    if reply.data[4:] != data[4:]:
        raise CaseFailed(f"Echo-Reply data [{_hex(reply.data[4:])}] is not the request's")
    escapes = octets.count(bytes((ESCAPE,)))
    return f"Echo-Reply id={identifier:#x} to a request with {escapes} escapes, data intact"
