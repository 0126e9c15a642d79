"""Cases: PAP (RFC 1334 section 2) and CHAP with MD5 (RFC 1994 section 4).

LCP is opened by the autopilot with its own PAP and CHAP packets withheld,
so the authentication is the case's to speak by hand: when the peer
answers (``PeerRole.ANSWER``) it is the authenticator and the tester
proves itself with the user's credentials; when it dials, the tester asks
it to authenticate (``--require-auth``) and checks what it sends.  A case
whose protocol the link did not negotiate is not applicable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ndiswan.ppp import AuthRequirement
from ndiswan.ppp.constants import CHAP_MD5, Code, IpcpOpt, LcpOpt, Proto
from ndiswan.ppp.packet import ControlPacket, Option, parse_options
from wanctl.conformance.case import CaseFailed, NotApplicable, PeerRole, Strength, case
from wanctl.conformance.case import hex_text as _hex
from wanctl.conformance.context import CaseContext, Established, packet_of
from wanctl.conformance.probe import Frame, Probe

PAP_REQUEST, PAP_ACK, PAP_NAK = 1, 2, 3
CHAP_CHALLENGE, CHAP_RESPONSE, CHAP_SUCCESS, CHAP_FAILURE = 1, 2, 3, 4
#: The Authentication-Protocol option data of each protocol (RFC 1661 6.2, RFC 1994 3).
PAP_OPTION = Proto.PAP.to_bytes(2, "big")
CHAP_OPTION = Proto.CHAP.to_bytes(2, "big") + bytes((CHAP_MD5,))
#: The Challenge the tester sends when it is the authenticator.
TESTER_CHALLENGE = bytes.fromhex("c0ffee00112233445566778899aabbcc")
TESTER_NAME = b"conformance"


@dataclass(frozen=True)
class Auth:
    """Which authentication the case speaks, and how it reads in evidence."""

    name: str
    protocol: int
    option: bytes
    requirement: AuthRequirement


PAP = Auth("PAP", Proto.PAP, PAP_OPTION, AuthRequirement.PAP)
CHAP = Auth("CHAP", Proto.CHAP, CHAP_OPTION, AuthRequirement.CHAP)


def _auth_option(frames: list[Frame], code: int) -> bytes | None:
    """The Authentication-Protocol data of the peer's last LCP packet with ``code``."""
    for frame in reversed(frames):
        if frame.is_control(Proto.LCP, code):
            options, _ = parse_options(packet_of(frame).data)
            found = [option for option in options if option.type == LcpOpt.AUTH_PROTOCOL]
            return found[0].data if found else None
    return None


@contextmanager
def _withheld(probe: Probe, protocol: int) -> Iterator[None]:
    """While inside, what the autopilot sends of ``protocol`` never reaches the wire."""
    send = probe.send

    def filtered(proto: int, info: bytes, **framing: bool | int | None) -> None:
        if proto != protocol:
            send(proto, info, **framing)

    probe.send = filtered  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        probe.send = send  # type: ignore[method-assign]


def _open_for(ctx: CaseContext, auth: Auth) -> Established:
    """LCP Opened with ``auth`` agreed and not started; NotApplicable otherwise.

    Answering, the peer must have asked it of us in its Configure-Request;
    dialing, the tester asks for it (``--require-auth``) and the peer's
    Configure-Ack must carry it.
    """
    wanted = auth.name.lower()
    if ctx.role is PeerRole.DIAL and auth not in _required(ctx):
        raise NotApplicable(f"the tester does not require {auth.name} (--require-auth {wanted})")
    if ctx.role is PeerRole.ANSWER:
        # The peer's Configure-Request kept by the runner tells at no cost.
        queued = ctx.expect_control(Proto.LCP, (Code.CONFIGURE_REQUEST,), timeout=0)
        if queued is not None:
            ctx.probe.unread(queued)
            _judge_request([queued], auth)
    with _withheld(ctx.probe, auth.protocol):
        established = ctx.establish("lcp")
    if ctx.role is PeerRole.ANSWER:
        _judge_request(established.frames, auth)
    else:
        agreed = _auth_option(established.frames, Code.CONFIGURE_ACK)
        if agreed != auth.option:
            raise NotApplicable(f"the peer did not agree to authenticate with {auth.name}")
    return established


def _judge_request(frames: list[Frame], auth: Auth) -> None:
    """NotApplicable unless the peer's last Configure-Request asks for ``auth``."""
    asked = _auth_option(frames, Code.CONFIGURE_REQUEST)
    if asked is None:
        raise NotApplicable("the peer did not ask us to authenticate in LCP")
    if asked != auth.option:
        raise NotApplicable(f"the peer asked for {_hex(asked)} in LCP, not {auth.name}")


def _required(ctx: CaseContext) -> tuple[Auth, ...]:
    return {
        AuthRequirement.PAP: (PAP,),
        AuthRequirement.CHAP: (CHAP,),
        AuthRequirement.PAP_OR_CHAP: (PAP, CHAP),
    }.get(ctx.settings.require_auth, ())


def _password(ctx: CaseContext) -> bytes:
    if ctx.settings.password is None:
        side = "ours to the peer" if ctx.role is PeerRole.ANSWER else "the peer's"
        raise NotApplicable(f"no --password given ({side})")
    return ctx.settings.password.encode()


def _counted(text: bytes) -> bytes:
    return bytes((len(text),)) + text


# -- PAP: the peer is the authenticator -------------------------------------


def _pap_login(ctx: CaseContext, password: bytes) -> tuple[int, ControlPacket]:
    """Our Authenticate-Request and the peer's Ack or Nak to it."""
    identifier = ctx.identifier()
    body = _counted(ctx.settings.user.encode()) + _counted(password)
    ctx.probe.send_control(Proto.PAP, PAP_REQUEST, identifier, body)
    answer = ctx.require_control(
        Proto.PAP,
        (PAP_ACK, PAP_NAK),
        f"no Authenticate-Ack or -Nak to Authenticate-Request id={identifier:#x}",
    )
    return identifier, packet_of(answer)


@case(
    "pap-nak-wrong-password",
    group="pap",
    rfc="RFC 1334 2.2.2",
    strength=Strength.MUST,
    title="a wrong password gets an Authenticate-Nak with the request's identifier",
    roles=(PeerRole.ANSWER,),
)
def pap_nak_wrong_password(ctx: CaseContext) -> str:
    _open_for(ctx, PAP)
    identifier, packet = _pap_login(ctx, b"not-" + _password(ctx))
    if packet.code == PAP_ACK:
        raise CaseFailed(f"Authenticate-Ack id={packet.identifier:#x} for a wrong password")
    if packet.identifier != identifier:
        raise CaseFailed(
            f"Authenticate-Nak id={packet.identifier:#x}, the request had {identifier:#x}"
        )
    return f"Authenticate-Nak id={identifier:#x} [{_hex(packet.data)}]"


@case(
    "pap-ack-identifier",
    group="pap",
    rfc="RFC 1334 2.2.2",
    strength=Strength.MUST,
    title="the right password gets an Authenticate-Ack with the request's identifier",
    roles=(PeerRole.ANSWER,),
)
def pap_ack_identifier(ctx: CaseContext) -> str:
    _open_for(ctx, PAP)
    identifier, packet = _pap_login(ctx, _password(ctx))
    if packet.code != PAP_ACK:
        raise CaseFailed(f"Authenticate-Nak [{_hex(packet.data)}] for user {ctx.settings.user!r}")
    if packet.identifier != identifier:
        raise CaseFailed(
            f"Authenticate-Ack id={packet.identifier:#x}, the request had {identifier:#x}"
        )
    return f"Authenticate-Ack id={identifier:#x} [{_hex(packet.data)}]"


# -- PAP: the peer authenticates itself ---------------------------------------


@case(
    "pap-request-retransmitted",
    group="pap",
    rfc="RFC 1334 2.2.1",
    strength=Strength.MUST,
    title="an unanswered Authenticate-Request is repeated, with a new identifier",
    roles=(PeerRole.DIAL,),
)
def pap_request_retransmitted(ctx: CaseContext) -> str:
    _open_for(ctx, PAP)
    patience = 2 * ctx.timeout
    first = ctx.require_control(
        Proto.PAP,
        (PAP_REQUEST,),
        f"no Authenticate-Request in {patience:.0f} s after LCP opened",
        timeout=patience,
    )
    again = ctx.require_control(
        Proto.PAP,
        (PAP_REQUEST,),
        f"Authenticate-Request id={packet_of(first).identifier:#x} not repeated",
        timeout=patience,
    )
    ids = packet_of(first).identifier, packet_of(again).identifier
    if ids[0] == ids[1]:
        raise CaseFailed(f"Authenticate-Request repeated with the same identifier {ids[0]:#x}")
    return (
        f"Authenticate-Request id={ids[0]:#x}, again after {again.time - first.time:.1f} s "
        f"as id={ids[1]:#x}"
    )


# -- CHAP: the peer is the authenticator --------------------------------------


def _challenge(ctx: CaseContext, patience: float | None = None) -> tuple[Frame, bytes]:
    """The peer's next Challenge and its Value."""
    wait = ctx.timeout if patience is None else patience
    frame = ctx.require_control(
        Proto.CHAP, (CHAP_CHALLENGE,), f"no CHAP Challenge in {wait:.0f} s", timeout=wait
    )
    data = packet_of(frame).data
    if not data or len(data) < 1 + data[0] or data[0] == 0:
        raise CaseFailed(f"malformed Challenge [{_hex(data)}]")
    return frame, data[1 : 1 + data[0]]


def _respond(ctx: CaseContext, identifier: int, value: bytes) -> None:
    body = _counted(value) + ctx.settings.user.encode()
    ctx.probe.send_control(Proto.CHAP, CHAP_RESPONSE, identifier, body)


def _answer_challenge(ctx: CaseContext, secret: bytes) -> tuple[int, bytes]:
    """Take the peer's next Challenge and answer it with ``secret``.

    The Response's Value is MD5(identifier, secret, challenge) (RFC 1994 4.1);
    returns the identifier and that Value.
    """
    frame, value = _challenge(ctx)
    identifier = packet_of(frame).identifier
    response = hashlib.md5(bytes((identifier,)) + secret + value).digest()
    _respond(ctx, identifier, response)
    return identifier, response


def _verdict(ctx: CaseContext, identifier: int) -> ControlPacket:
    answer = ctx.require_control(
        Proto.CHAP,
        (CHAP_SUCCESS, CHAP_FAILURE),
        f"no Success or Failure to Response id={identifier:#x}",
    )
    return packet_of(answer)


def _two_challenges(ctx: CaseContext) -> tuple[Frame, bytes, Frame, bytes]:
    _open_for(ctx, CHAP)
    first, value = _challenge(ctx)
    # pppd's chap-restart is 3 s: the tester's answer timeout twice over.
    again, again_value = _challenge(ctx, 2 * ctx.timeout)
    return first, value, again, again_value


@case(
    "chap-challenge-retransmitted",
    group="chap",
    rfc="RFC 1994 4.1",
    strength=Strength.MUST,
    title="without a Response the authenticator sends Challenges again",
    roles=(PeerRole.ANSWER,),
)
def chap_challenge_retransmitted(ctx: CaseContext) -> str:
    _open_for(ctx, CHAP)
    first, _ = _challenge(ctx)
    again = ctx.expect_control(Proto.CHAP, (CHAP_CHALLENGE,), timeout=2 * ctx.timeout)
    if again is None:
        raise CaseFailed(
            f"Challenge id={packet_of(first).identifier:#x} not repeated in {2 * ctx.timeout:.0f} s"
        )
    return (
        f"Challenge id={packet_of(first).identifier:#x}, again after "
        f"{again.time - first.time:.1f} s (id={packet_of(again).identifier:#x})"
    )


@case(
    "chap-challenge-changes",
    group="chap",
    rfc="RFC 1994 4.1",
    strength=Strength.MUST,
    title="each Challenge sent has a new Identifier and a new Value",
    roles=(PeerRole.ANSWER,),
)
def chap_challenge_changes(ctx: CaseContext) -> str:
    first, value, again, again_value = _two_challenges(ctx)
    ids = packet_of(first).identifier, packet_of(again).identifier
    if ids[0] == ids[1]:
        raise CaseFailed(f"Challenge sent twice with identifier {ids[0]:#x}")
    if value == again_value:
        raise CaseFailed(f"Challenges id={ids[0]:#x} and {ids[1]:#x} carry the same Value")
    return f"Challenges id={ids[0]:#x} then {ids[1]:#x}, Values differ"


@case(
    "chap-success-identifier",
    group="chap",
    rfc="RFC 1994 4.2",
    strength=Strength.MUST,
    title="a right Response gets a Success with the Response's identifier",
    roles=(PeerRole.ANSWER,),
)
def chap_success_identifier(ctx: CaseContext) -> str:
    _open_for(ctx, CHAP)
    identifier, _ = _answer_challenge(ctx, _password(ctx))
    packet = _verdict(ctx, identifier)
    if packet.code != CHAP_SUCCESS:
        raise CaseFailed(f"Failure [{_hex(packet.data)}] for user {ctx.settings.user!r}")
    if packet.identifier != identifier:
        raise CaseFailed(f"Success id={packet.identifier:#x}, the Response had {identifier:#x}")
    return f"Success id={identifier:#x} [{_hex(packet.data)}]"


@case(
    "chap-failure-wrong-response",
    group="chap",
    rfc="RFC 1994 4.2",
    strength=Strength.MUST,
    title="a wrong Response gets a Failure with the Response's identifier",
    roles=(PeerRole.ANSWER,),
)
def chap_failure_wrong_response(ctx: CaseContext) -> str:
    _open_for(ctx, CHAP)
    identifier, _ = _answer_challenge(ctx, b"not-" + _password(ctx))
    packet = _verdict(ctx, identifier)
    if packet.code == CHAP_SUCCESS:
        raise CaseFailed(f"Success id={packet.identifier:#x} for a wrong secret")
    if packet.identifier != identifier:
        raise CaseFailed(f"Failure id={packet.identifier:#x}, the Response had {identifier:#x}")
    return f"Failure id={identifier:#x} [{_hex(packet.data)}]"


@case(
    "chap-repeated-response",
    group="chap",
    rfc="RFC 1994 4.1",
    strength=Strength.MUST,
    title="a Response repeated after Success gets the same reply Code again",
    roles=(PeerRole.ANSWER,),
)
def chap_repeated_response(ctx: CaseContext) -> str:
    _open_for(ctx, CHAP)
    identifier, response = _answer_challenge(ctx, _password(ctx))
    first = _verdict(ctx, identifier)
    if first.code != CHAP_SUCCESS or first.identifier != identifier:
        raise NotApplicable(f"the first Response got code {first.code} id={first.identifier:#x}")
    # As if the Success was lost: the same Response again.
    _respond(ctx, identifier, response)
    again = _verdict(ctx, identifier)
    if again.code != CHAP_SUCCESS:
        raise CaseFailed(f"the repeated Response got Failure [{_hex(again.data)}] after a Success")
    if again.identifier != identifier:
        raise CaseFailed(f"Success again with id={again.identifier:#x}, not {identifier:#x}")
    return f"Success id={identifier:#x} twice"


# -- CHAP: the peer authenticates itself --------------------------------------


@case(
    "chap-response-value",
    group="chap",
    rfc="RFC 1994 4.1",
    strength=Strength.MUST,
    title="the Response copies the Challenge's identifier; Value = MD5(id, secret, challenge)",
    roles=(PeerRole.DIAL,),
)
def chap_response_value(ctx: CaseContext) -> str:
    _open_for(ctx, CHAP)
    secret = _password(ctx)
    identifier = ctx.identifier()
    body = _counted(TESTER_CHALLENGE) + TESTER_NAME
    ctx.probe.send_control(Proto.CHAP, CHAP_CHALLENGE, identifier, body)
    answer = ctx.require_control(
        Proto.CHAP,
        (CHAP_RESPONSE,),
        f"no Response to Challenge id={identifier:#x} in {ctx.timeout} s",
    )
    packet = packet_of(answer)
    if packet.identifier != identifier:
        raise CaseFailed(f"Response id={packet.identifier:#x}, the Challenge had {identifier:#x}")
    data = packet.data
    if not data or len(data) < 1 + data[0]:
        raise CaseFailed(f"malformed Response [{_hex(data)}]")
    value = data[1 : 1 + data[0]]
    expected = hashlib.md5(bytes((identifier,)) + secret + TESTER_CHALLENGE).digest()
    if value != expected:
        raise CaseFailed(f"Response Value [{_hex(value)}], MD5 gives [{_hex(expected)}]")
    name = data[1 + data[0] :].decode(errors="replace")
    return f"Response id={identifier:#x} name {name!r}, MD5 Value right"


# -- both: nothing of the network layer before authentication -----------------


def _ncp_discarded(ctx: CaseContext, auth: Auth) -> str:
    _open_for(ctx, auth)
    identifier = ctx.identifier()
    address = ctx.settings.tester_ip if ctx.role is PeerRole.ANSWER else ctx.settings.peer_ip
    option = Option(IpcpOpt.IP_ADDRESS, address.packed)
    ctx.probe.send_control(Proto.IPCP, Code.CONFIGURE_REQUEST, identifier, option.encode())
    early = ctx.probe.expect(
        lambda frame: frame.fcs_ok and frame.protocol == Proto.IPCP, ctx.timeout
    )
    if early is not None:
        packet = early.control
        code = "?" if packet is None else str(packet.code)
        raise CaseFailed(f"IPCP code {code} during {auth.name} authentication, before any verdict")
    return f"IPCP Configure-Request id={identifier:#x} unanswered during {auth.name}"


@case(
    "pap-ncp-before-auth",
    group="pap",
    rfc="RFC 1661 3.5",
    strength=Strength.MUST,
    title="no IPCP while PAP has not completed: our Configure-Request is discarded",
)
def pap_ncp_before_auth(ctx: CaseContext) -> str:
    return _ncp_discarded(ctx, PAP)


@case(
    "chap-ncp-before-auth",
    group="chap",
    rfc="RFC 1661 3.5",
    strength=Strength.MUST,
    title="no IPCP while CHAP has not completed: our Configure-Request is discarded",
)
def chap_ncp_before_auth(ctx: CaseContext) -> str:
    return _ncp_discarded(ctx, CHAP)
