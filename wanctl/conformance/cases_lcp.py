"""Cases: LCP, RFC 1661 sections 4 to 6."""

from __future__ import annotations

from ndiswan.ppp.constants import Code, LcpOpt, Proto
from ndiswan.ppp.packet import Option
from wanctl.conformance.case import CaseFailed, Strength, case
from wanctl.conformance.case import hex_text as _hex
from wanctl.conformance.context import CaseContext

#: An LCP option type no RFC assigns.
UNKNOWN_OPTION = Option(0xFE, b"\x01\x02")
#: A protocol number no RFC assigns (even high octet, odd low octet: well formed).
UNKNOWN_PROTOCOL = 0x5A21
TESTER_MAGIC = bytes.fromhex("5a5a1234")


@case(
    "lcp-unknown-option",
    group="lcp",
    rfc="RFC 1661 5.4",
    strength=Strength.MUST,
    title="a Configure-Request with an unknown option gets a Configure-Reject of exactly it",
)
def unknown_option(ctx: CaseContext) -> str:
    identifier = ctx.identifier()
    options = Option(LcpOpt.MAGIC_NUMBER, TESTER_MAGIC).encode() + UNKNOWN_OPTION.encode()
    ctx.probe.send_control(Proto.LCP, Code.CONFIGURE_REQUEST, identifier, options)
    answer = ctx.expect_control(
        Proto.LCP,
        (Code.CONFIGURE_ACK, Code.CONFIGURE_NAK, Code.CONFIGURE_REJECT),
        identifier=identifier,
    )
    if answer is None:
        raise CaseFailed(f"no answer to Configure-Request id={identifier:#x} in {ctx.timeout} s")
    packet = answer.control
    assert packet is not None
    if packet.code != Code.CONFIGURE_REJECT:
        raise CaseFailed(f"answered with {Code(packet.code).name} [{_hex(packet.data)}]")
    if packet.data != UNKNOWN_OPTION.encode():
        raise CaseFailed(
            f"Configure-Reject carries [{_hex(packet.data)}], not [{_hex(UNKNOWN_OPTION.encode())}]"
        )
    return f"Configure-Reject id={identifier:#x} [{_hex(packet.data)}]"


@case(
    "lcp-unknown-code",
    group="lcp",
    rfc="RFC 1661 5.6",
    strength=Strength.MUST,
    title="an LCP packet with an unknown code gets a Code-Reject carrying it",
)
def unknown_code(ctx: CaseContext) -> str:
    ctx.establish("lcp")
    identifier = ctx.identifier()
    rejected = bytes((0x55, identifier, 0, 8)) + b"\xde\xad\xbe\xef"
    ctx.probe.send(Proto.LCP, rejected)
    answer = ctx.expect_control(Proto.LCP, (Code.CODE_REJECT,))
    if answer is None:
        raise CaseFailed(f"no Code-Reject for code 0x55 in {ctx.timeout} s")
    packet = answer.control
    assert packet is not None
    if packet.data != rejected[: len(packet.data)] or len(packet.data) < 4:
        raise CaseFailed(f"Code-Reject carries [{_hex(packet.data)}], not [{_hex(rejected)}]")
    return f"Code-Reject id={packet.identifier:#x} [{_hex(packet.data)}]"


@case(
    "lcp-protocol-reject",
    group="lcp",
    rfc="RFC 1661 5.7",
    strength=Strength.MUST,
    title="a frame of an unknown protocol gets a Protocol-Reject with the protocol and data",
)
def protocol_reject(ctx: CaseContext) -> str:
    # Past authentication: in that phase every packet but LCP, authentication
    # and link quality MUST be silently discarded (RFC 1661 3.5).
    ctx.establish("auth")
    payload = b"conformance probe"
    identifiers = []
    for _ in range(2):
        ctx.probe.send(UNKNOWN_PROTOCOL, payload)
        answer = ctx.expect_control(Proto.LCP, (Code.PROTOCOL_REJECT,))
        if answer is None:
            raise CaseFailed(f"no Protocol-Reject for protocol {UNKNOWN_PROTOCOL:#06x}")
        packet = answer.control
        assert packet is not None
        expected = UNKNOWN_PROTOCOL.to_bytes(2, "big") + payload
        if packet.data != expected[: len(packet.data)] or len(packet.data) < 2:
            raise CaseFailed(f"Protocol-Reject carries [{_hex(packet.data)}]")
        if packet.data[:2] != expected[:2]:
            raise CaseFailed(f"Protocol-Reject names protocol {packet.data[:2].hex()}")
        identifiers.append(packet.identifier)
    if identifiers[0] == identifiers[1]:
        raise CaseFailed(f"two Protocol-Rejects share identifier {identifiers[0]:#x}")
    return (
        f"Protocol-Reject ids {identifiers[0]:#x}, {identifiers[1]:#x} "
        f"[{UNKNOWN_PROTOCOL:04x} + {len(payload)} octets]"
    )


@case(
    "lcp-echo-reply",
    group="lcp",
    rfc="RFC 1661 5.8",
    strength=Strength.MUST,
    title="an Echo-Request in Opened gets an Echo-Reply: same id and data, its own magic",
)
def echo_reply(ctx: CaseContext) -> str:
    link = ctx.establish("lcp").link
    identifier = ctx.identifier()
    data = link.local_magic.to_bytes(4, "big") + b"echo payload"
    ctx.probe.send_control(Proto.LCP, Code.ECHO_REQUEST, identifier, data)
    answer = ctx.expect_control(Proto.LCP, (Code.ECHO_REPLY,))
    if answer is None:
        raise CaseFailed(f"no Echo-Reply in {ctx.timeout} s")
    packet = answer.control
    assert packet is not None
    if packet.identifier != identifier:
        raise CaseFailed(f"Echo-Reply id={packet.identifier:#x}, the request had {identifier:#x}")
    magic = int.from_bytes(packet.data[:4], "big")
    if magic != link.peer_magic:
        raise CaseFailed(f"Echo-Reply magic {magic:#010x}, negotiated {link.peer_magic:#010x}")
    if packet.data[4:] != data[4:]:
        raise CaseFailed(f"Echo-Reply data [{_hex(packet.data[4:])}] is not the request's")
    return f"Echo-Reply id={identifier:#x} magic {magic:#010x}, data echoed"
