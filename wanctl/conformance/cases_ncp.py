"""Cases: the network control protocols, IPCP (RFC 1332, RFC 1877) and IPV6CP (RFC 5072).

The autopilot brings LCP (and authentication) up; the cases then craft the
NCP packets themselves.  The autopilot runs IPCP as it hands over, so the
peer may see one IPCP Configure-Request of the autopilot's (a low
identifier) before the case's own: every answer is matched by identifier.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from ndiswan.ppp.constants import Code, IpcpOpt, Ipv6cpOpt, Proto
from ndiswan.ppp.packet import ControlPacket, Option
from wanctl.conformance.case import CaseFailed, NotApplicable, PeerRole, Strength, case
from wanctl.conformance.case import hex_text as _hex
from wanctl.conformance.context import CaseContext, Established, option_in, packet_of

REPLIES = (Code.CONFIGURE_ACK, Code.CONFIGURE_NAK, Code.CONFIGURE_REJECT)
#: An IPCP option type no RFC assigns.
UNKNOWN_IPCP_OPTION = Option(0x5A, b"\x01\x02")
#: An IPCP code RFC 1332 does not use (LCP's Echo-Request).
ECHO_REQUEST_CODE = Code.ECHO_REQUEST
#: The DNS server the tester offers a dialling peer.
TESTER_DNS = IPv4Address("10.64.0.54")
ZERO = IPv4Address(0)
ZERO_ID = bytes(8)
#: The Interface-Identifier the tester suggests: non-zero, "u" bit clear.
SUGGESTED_ID = bytes.fromhex("00005efffe00c0de")
OTHER_SUGGESTED_ID = bytes.fromhex("00005efffe00beef")
NAMES: dict[int, str] = {Proto.IPCP: "IPCP", Proto.IPV6CP: "IPV6CP"}


def _address(option: Option | None) -> IPv4Address | None:
    if option is None or len(option.data) != 4:
        return None
    return IPv4Address(option.data)


def _options_text(data: bytes) -> str:
    return f"[{_hex(data)}]"


def _request(ctx: CaseContext, protocol: int, options: bytes) -> int:
    identifier = ctx.identifier()
    ctx.probe.send_control(protocol, Code.CONFIGURE_REQUEST, identifier, options)
    return identifier


def _reply_to(ctx: CaseContext, protocol: int, identifier: int) -> ControlPacket:
    """The peer's answer to our Configure-Request; N/A when it Protocol-Rejects the NCP."""

    def rejects_protocol(frame: object) -> bool:
        packet = packet_of(frame)
        return packet.data[:2] == protocol.to_bytes(2, "big")

    name = NAMES[protocol]
    until = ctx.probe.now() + ctx.timeout
    while (frame := ctx.probe.next_frame(until)) is not None:
        if frame.is_control(Proto.LCP, Code.PROTOCOL_REJECT) and rejects_protocol(frame):
            raise NotApplicable(f"the peer Protocol-Rejects {name}")
        if frame.is_control(protocol, *REPLIES) and packet_of(frame).identifier == identifier:
            return packet_of(frame)
    raise CaseFailed(f"no answer to {name} Configure-Request id={identifier:#x} in {ctx.timeout} s")


def _peer_request(ctx: CaseContext, est: Established, protocol: int) -> ControlPacket:
    """The peer's latest Configure-Request of ``protocol``: already seen, or the next one."""
    seen = [f for f in est.frames if f.is_control(protocol, Code.CONFIGURE_REQUEST)]
    if seen:
        return packet_of(seen[-1])
    frame = ctx.expect_control(protocol, (Code.CONFIGURE_REQUEST,), timeout=2 * ctx.timeout)
    if frame is None:
        raise NotApplicable(
            f"no {NAMES[protocol]} Configure-Request from the peer in {2 * ctx.timeout:.0f} s"
        )
    return packet_of(frame)


def _next_request(ctx: CaseContext, protocol: int, after: ControlPacket) -> ControlPacket | None:
    again = ctx.expect_control(
        protocol,
        (Code.CONFIGURE_REQUEST,),
        timeout=2 * ctx.timeout,
        also=lambda frame: packet_of(frame).identifier != after.identifier,
    )
    return None if again is None else packet_of(again)


def _code(packet: ControlPacket) -> str:
    try:
        return Code(packet.code).name
    except ValueError:
        return f"code {packet.code}"


# -- IPCP, RFC 1332 -----------------------------------------------------------


@case(
    "ipcp-address-assigned",
    group="ipcp",
    rfc="RFC 1332 3.3",
    strength=Strength.SHOULD,
    title="an IP-Address of 0.0.0.0 gets a Configure-Nak carrying the address to use",
    roles=(PeerRole.ANSWER,),
)
def address_assigned(ctx: CaseContext) -> str:
    ctx.establish("auth")
    request = Option(IpcpOpt.IP_ADDRESS, ZERO.packed).encode()
    identifier = _request(ctx, Proto.IPCP, request)
    packet = _reply_to(ctx, Proto.IPCP, identifier)
    if packet.code == Code.CONFIGURE_REJECT:
        raise NotApplicable(
            f"the peer assigns no address: Configure-Reject {_options_text(packet.data)}"
        )
    if packet.code != Code.CONFIGURE_NAK:
        raise CaseFailed(f"<addr 0.0.0.0> got {_code(packet)} {_options_text(packet.data)}")
    address = _address(option_in(packet.data, IpcpOpt.IP_ADDRESS))
    if address is None or address == ZERO:
        raise CaseFailed(f"Configure-Nak of <addr 0.0.0.0> is {_options_text(packet.data)}")
    return f"<addr 0.0.0.0>: Configure-Nak id={identifier:#x} <addr {address}>"


@case(
    "ipcp-nak-address-adopted",
    group="ipcp",
    rfc="RFC 1332 3.3, RFC 1661 5.3",
    strength=Strength.SHOULD,
    title="after a Configure-Nak of its 0.0.0.0, the peer asks for the address the Nak gave",
    roles=(PeerRole.DIAL,),
)
def nak_address_adopted(ctx: CaseContext) -> str:
    est = ctx.establish("auth")
    request = _peer_request(ctx, est, Proto.IPCP)
    asked = _address(option_in(request.data, IpcpOpt.IP_ADDRESS))
    if asked is None:
        raise NotApplicable(
            f"the peer's IPCP Configure-Request has no IP-Address {_options_text(request.data)}"
        )
    if asked != ZERO:
        raise NotApplicable(f"the peer asks for its own address {asked}, not 0.0.0.0")
    given = ctx.settings.peer_ip
    nak = Option(IpcpOpt.IP_ADDRESS, given.packed).encode()
    ctx.probe.send_control(Proto.IPCP, Code.CONFIGURE_NAK, request.identifier, nak)
    again = _next_request(ctx, Proto.IPCP, request)
    if again is None:
        raise CaseFailed(f"no new IPCP Configure-Request after Configure-Nak <addr {given}>")
    now = _address(option_in(again.data, IpcpOpt.IP_ADDRESS))
    if now != given:
        raise CaseFailed(
            f"Configure-Nak <addr {given}>, then id={again.identifier:#x} "
            f"{_options_text(again.data)}"
        )
    return f"Nak <addr {given}>, then Configure-Request id={again.identifier:#x} <addr {now}>"


def _own_address(ctx: CaseContext) -> Option:
    """An IP-Address option the peer has reason to accept from the tester."""
    return Option(IpcpOpt.IP_ADDRESS, ctx.settings.tester_ip.packed)


@case(
    "ipcp-unknown-option",
    group="ipcp",
    rfc="RFC 1661 5.4, RFC 1332 3",
    strength=Strength.MUST,
    title="an IPCP Configure-Request with an unknown option gets a Configure-Reject of exactly it",
)
def unknown_option(ctx: CaseContext) -> str:
    ctx.establish("auth")
    options = _own_address(ctx).encode() + UNKNOWN_IPCP_OPTION.encode()
    identifier = _request(ctx, Proto.IPCP, options)
    packet = _reply_to(ctx, Proto.IPCP, identifier)
    if packet.code != Code.CONFIGURE_REJECT:
        raise CaseFailed(f"answered with {_code(packet)} {_options_text(packet.data)}")
    if packet.data != UNKNOWN_IPCP_OPTION.encode():
        raise CaseFailed(
            f"Configure-Reject carries {_options_text(packet.data)}, "
            f"not {_options_text(UNKNOWN_IPCP_OPTION.encode())}"
        )
    return f"IPCP Configure-Reject id={identifier:#x} {_options_text(packet.data)}"


@case(
    "ipcp-before-lcp-opened",
    group="ipcp",
    rfc="RFC 1661 3.4, RFC 1332 2",
    strength=Strength.MUST,
    title="an IPCP Configure-Request before LCP is Opened is silently discarded",
)
def before_lcp_opened(ctx: CaseContext) -> str:
    early = _request(ctx, Proto.IPCP, _own_address(ctx).encode())

    def answers_early(frame: object) -> bool:
        return (
            getattr(frame, "protocol", None) == Proto.IPCP and packet_of(frame).identifier == early
        )

    answer = ctx.expect_control(Proto.IPCP, (), identifier=early)
    if answer is not None:
        raise CaseFailed(f"IPCP {_code(packet_of(answer))} id={early:#x} before LCP was Opened")
    est = ctx.establish("auth")
    late = next((f for f in est.frames if f.is_control(Proto.IPCP) and answers_early(f)), None)
    if late is not None:
        raise CaseFailed(
            f"IPCP {_code(packet_of(late))} id={early:#x} once LCP opened: it was kept"
        )
    identifier = _request(ctx, Proto.IPCP, _own_address(ctx).encode())
    packet = _reply_to(ctx, Proto.IPCP, identifier)
    return (
        f"no answer to IPCP id={early:#x} before LCP Opened; "
        f"{_code(packet)} id={identifier:#x} after"
    )


@case(
    "ipcp-unknown-code",
    group="ipcp",
    rfc="RFC 1332 2",
    strength=Strength.SHOULD,
    title="an IPCP packet with a code IPCP does not use (9, Echo-Request) gets a Code-Reject",
)
def unknown_code(ctx: CaseContext) -> str:
    ctx.establish("auth")
    identifier = ctx.identifier()
    rejected = ControlPacket(ECHO_REQUEST_CODE, identifier, b"\0\0\0\0ipcp echo?").encode()
    ctx.probe.send(Proto.IPCP, rejected)
    until = ctx.probe.now() + ctx.timeout
    while (frame := ctx.probe.next_frame(until)) is not None:
        if (
            frame.is_control(Proto.LCP, Code.PROTOCOL_REJECT)
            and packet_of(frame).data[:2] == b"\x80\x21"
        ):
            raise NotApplicable("the peer Protocol-Rejects IPCP")
        if not frame.is_control(Proto.IPCP):
            continue
        packet = packet_of(frame)
        if packet.code == Code.CODE_REJECT and packet.data[:2] == rejected[:2]:
            if packet.data != rejected[: len(packet.data)] or len(packet.data) < 4:
                raise CaseFailed(f"IPCP Code-Reject carries [{_hex(packet.data)}]")
            return f"IPCP Code-Reject id={packet.identifier:#x} [{_hex(packet.data)}]"
        if packet.identifier == identifier:
            raise CaseFailed(f"IPCP {_code(packet)} id={identifier:#x} to an IPCP Echo-Request")
    raise CaseFailed(f"no IPCP Code-Reject for code 9 in {ctx.timeout} s")


@case(
    "ipcp-renegotiate",
    group="ipcp",
    rfc="RFC 1661 4.3",
    strength=Strength.SHOULD,
    title="an IPCP Configure-Request in Opened is answered and the peer sends its own again",
)
def renegotiate(ctx: CaseContext) -> str:
    est = ctx.establish("network")
    network = est.session.network
    if network is None:
        raise NotApplicable("IPCP did not open")
    options = Option(IpcpOpt.IP_ADDRESS, network.local.packed).encode()
    identifier = _request(ctx, Proto.IPCP, options)
    reply: ControlPacket | None = None
    request: ControlPacket | None = None
    until = ctx.probe.now() + ctx.timeout
    while reply is None or request is None:
        frame = ctx.probe.next_frame(until)
        if frame is None:
            break
        if frame.is_control(Proto.IPCP, *REPLIES) and packet_of(frame).identifier == identifier:
            reply = packet_of(frame)
        elif frame.is_control(Proto.IPCP, Code.CONFIGURE_REQUEST):
            request = packet_of(frame)
    if reply is None:
        raise CaseFailed(f"no answer to IPCP Configure-Request id={identifier:#x} in Opened")
    if request is None:
        raise CaseFailed(
            f"IPCP {_code(reply)} id={identifier:#x}, but no Configure-Request of its own"
        )
    return (
        f"IPCP {_code(reply)} id={identifier:#x} and Configure-Request id={request.identifier:#x}"
    )


# -- DNS, RFC 1877 ------------------------------------------------------------


@case(
    "ipcp-dns-request",
    group="ipcp",
    rfc="RFC 1877 1.1, RFC 1661 5.4",
    strength=Strength.SHOULD,
    title="Primary-DNS 0.0.0.0 gets a Nak of a server or a Reject; one of bad length a Reject",
)
def dns_request(ctx: CaseContext) -> str:
    ctx.establish("auth")
    dns = Option(IpcpOpt.PRIMARY_DNS, ZERO.packed)
    identifier = _request(ctx, Proto.IPCP, _own_address(ctx).encode() + dns.encode())
    packet = _reply_to(ctx, Proto.IPCP, identifier)
    if packet.code == Code.CONFIGURE_NAK:
        server = _address(option_in(packet.data, IpcpOpt.PRIMARY_DNS))
        if server is None or server == ZERO:
            raise CaseFailed(f"Configure-Nak of <ms-dns1 0.0.0.0> is {_options_text(packet.data)}")
        first = f"<ms-dns1 0.0.0.0>: Nak <ms-dns1 {server}>"
    elif packet.code == Code.CONFIGURE_REJECT:
        if packet.data != dns.encode():
            raise CaseFailed(
                f"Configure-Reject of <ms-dns1 0.0.0.0> is {_options_text(packet.data)}"
            )
        first = "<ms-dns1 0.0.0.0>: Reject"
    else:
        raise CaseFailed(f"<ms-dns1 0.0.0.0> got {_code(packet)} {_options_text(packet.data)}")
    short = Option(IpcpOpt.PRIMARY_DNS, ZERO.packed[:2])
    identifier = _request(ctx, Proto.IPCP, _own_address(ctx).encode() + short.encode())
    packet = _reply_to(ctx, Proto.IPCP, identifier)
    if packet.code != Code.CONFIGURE_REJECT or packet.data != short.encode():
        raise CaseFailed(
            f"{first}; a 4-octet Primary-DNS got {_code(packet)} {_options_text(packet.data)}"
        )
    return f"{first}; a 4-octet Primary-DNS: Reject {_options_text(packet.data)}"


@case(
    "ipcp-dns-nak-adopted",
    group="ipcp",
    rfc="RFC 1877 1.1",
    strength=Strength.SHOULD,
    title="after a Configure-Nak of its Primary-DNS 0.0.0.0, the peer asks for the server given",
    roles=(PeerRole.DIAL,),
)
def dns_nak_adopted(ctx: CaseContext) -> str:
    est = ctx.establish("auth")
    request = _peer_request(ctx, est, Proto.IPCP)
    asked = _address(option_in(request.data, IpcpOpt.PRIMARY_DNS))
    if asked is None:
        raise NotApplicable(f"the peer asks for no DNS server {_options_text(request.data)}")
    nak = Option(IpcpOpt.PRIMARY_DNS, TESTER_DNS.packed).encode()
    ctx.probe.send_control(Proto.IPCP, Code.CONFIGURE_NAK, request.identifier, nak)
    again = _next_request(ctx, Proto.IPCP, request)
    if again is None:
        raise CaseFailed(
            f"no new IPCP Configure-Request after Configure-Nak <ms-dns1 {TESTER_DNS}>"
        )
    now = _address(option_in(again.data, IpcpOpt.PRIMARY_DNS))
    if now != TESTER_DNS:
        raise CaseFailed(
            f"Configure-Nak <ms-dns1 {TESTER_DNS}>, then id={again.identifier:#x} "
            f"{_options_text(again.data)}"
        )
    return f"<ms-dns1 {asked}> Nak'd <ms-dns1 {TESTER_DNS}>, then id={again.identifier:#x} asks it"


# -- IPV6CP, RFC 5072 ---------------------------------------------------------


def _identifier_of(packet: ControlPacket) -> bytes | None:
    option = option_in(packet.data, Ipv6cpOpt.INTERFACE_IDENTIFIER)
    return option.data if option is not None and len(option.data) == 8 else None


def _peer_interface_id(ctx: CaseContext) -> tuple[Established, ControlPacket, bytes]:
    est = ctx.establish("auth")
    request = _peer_request(ctx, est, Proto.IPV6CP)
    ours = _identifier_of(request)
    if ours is None:
        raise NotApplicable(
            f"the peer's IPV6CP Configure-Request has no Interface-Identifier "
            f"{_options_text(request.data)}"
        )
    return est, request, ours


def _nak_of_identifier(ctx: CaseContext, sent: bytes, own: bytes, what: str) -> str:
    option = Option(Ipv6cpOpt.INTERFACE_IDENTIFIER, sent).encode()
    identifier = _request(ctx, Proto.IPV6CP, option)
    packet = _reply_to(ctx, Proto.IPV6CP, identifier)
    if packet.code != Code.CONFIGURE_NAK:
        raise CaseFailed(f"{what} {sent.hex()} got {_code(packet)} {_options_text(packet.data)}")
    suggested = _identifier_of(packet)
    if suggested is None or suggested in (ZERO_ID, own):
        raise CaseFailed(
            f"Configure-Nak of {what} {sent.hex()} is {_options_text(packet.data)} "
            f"(the peer's own: {own.hex()})"
        )
    return f"{what} {sent.hex()}: Configure-Nak id={identifier:#x} <ifaceid {suggested.hex()}>"


@case(
    "ipv6cp-collision",
    group="ipv6cp",
    rfc="RFC 5072 4.1",
    strength=Strength.MUST,
    title="the peer's own Interface-Identifier gets a Configure-Nak of another non-zero one",
)
def collision(ctx: CaseContext) -> str:
    _, _, own = _peer_interface_id(ctx)
    if own == ZERO_ID:
        raise NotApplicable("the peer proposes a zero Interface-Identifier for itself")
    return _nak_of_identifier(ctx, own, own, "its own identifier")


@case(
    "ipv6cp-zero-identifier",
    group="ipv6cp",
    rfc="RFC 5072 4.1",
    strength=Strength.SHOULD,
    title="a zero Interface-Identifier gets a Configure-Nak of a non-zero one, not the peer's",
)
def zero_identifier(ctx: CaseContext) -> str:
    _, _, own = _peer_interface_id(ctx)
    if own == ZERO_ID:
        raise NotApplicable("the peer's identifier is zero too: Configure-Reject is its answer")
    return _nak_of_identifier(ctx, ZERO_ID, own, "a zero identifier")


@case(
    "ipv6cp-nak-adopted",
    group="ipv6cp",
    rfc="RFC 5072 4.1",
    strength=Strength.MUST,
    title="after a Configure-Nak of its Interface-Identifier, the peer asks for the one suggested",
)
def nak_adopted(ctx: CaseContext) -> str:
    _, request, own = _peer_interface_id(ctx)
    suggestion = SUGGESTED_ID if own != SUGGESTED_ID else OTHER_SUGGESTED_ID
    nak = Option(Ipv6cpOpt.INTERFACE_IDENTIFIER, suggestion).encode()
    ctx.probe.send_control(Proto.IPV6CP, Code.CONFIGURE_NAK, request.identifier, nak)
    again = _next_request(ctx, Proto.IPV6CP, request)
    if again is None:
        raise CaseFailed(f"no new IPV6CP Configure-Request after Nak <ifaceid {suggestion.hex()}>")
    now = _identifier_of(again)
    if now != suggestion:
        raise CaseFailed(
            f"Nak <ifaceid {suggestion.hex()}>, then id={again.identifier:#x} "
            f"{_options_text(again.data)}"
        )
    return (
        f"<ifaceid {own.hex()}> Nak'd <ifaceid {suggestion.hex()}>, "
        f"then id={again.identifier:#x} asks it"
    )
