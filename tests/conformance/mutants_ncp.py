"""Deliberately broken copies of our own PPP, one per NCP case, for tests only.

Each breaks the peer's IPCP or IPV6CP the way real ones have been broken:
an address pool that hands out nothing, suggestions ignored, unknown
options let through, a shared LCP dispatcher answering IPCP echoes.
"""

from __future__ import annotations

from collections.abc import Callable

from ndiswan.ppp import PppSession
from ndiswan.ppp.automaton import Automaton
from ndiswan.ppp.constants import Code, IpcpOpt, Ipv6cpOpt, Proto
from ndiswan.ppp.fsm import State
from ndiswan.ppp.options import ACK, OptionVerdict
from ndiswan.ppp.packet import Option, parse_control_packet
from tests.conformance.simline import Mutant
from wanctl.conformance.case import PeerRole
from wanminiport.framing import PppAsyncFramer

Patch = Callable[[PppSession, PppAsyncFramer], None]


def _on_ncp(protocol: int, change: Callable[[Automaton], None]) -> Patch:
    """A mutant patch: ``change`` applied to the peer's automaton of ``protocol``."""

    def patch(session: PppSession, framer: PppAsyncFramer) -> None:
        change(session._ncps[protocol])

    return patch


def _judging(protocol: int, verdict: Callable[[Automaton, Option], OptionVerdict | None]) -> Patch:
    """The NCP's judge_option, overruled where ``verdict`` returns a verdict."""

    def change(ncp: Automaton) -> None:
        judge = ncp.handler.judge_option

        def overruled(option: Option) -> OptionVerdict:
            mine = verdict(ncp, option)
            return judge(option) if mine is None else mine

        ncp.handler.judge_option = overruled  # type: ignore[method-assign]

    return _on_ncp(protocol, change)


def _ignoring_naks_of(protocol: int, *kinds: int) -> Patch:
    def change(ncp: Automaton) -> None:
        apply_nak = ncp.handler.apply_nak

        def ignoring(options: list[Option], treat_as_reject: bool) -> bool:
            return apply_nak([o for o in options if o.type not in kinds], treat_as_reject)

        ncp.handler.apply_nak = ignoring  # type: ignore[method-assign]

    return _on_ncp(protocol, change)


def _acks_zero_address(ncp: Automaton, option: Option) -> OptionVerdict | None:
    # An empty address pool: 0.0.0.0 is taken as the peer's address.
    return ACK if option.type == IpcpOpt.IP_ADDRESS and option.data == bytes(4) else None


def _acks_unknown(ncp: Automaton, option: Option) -> OptionVerdict | None:
    known = (IpcpOpt.IP_ADDRESS, IpcpOpt.IP_COMPRESSION, IpcpOpt.PRIMARY_DNS)
    return ACK if option.type not in (*known, IpcpOpt.SECONDARY_DNS) else None


def _acks_any_dns(ncp: Automaton, option: Option) -> OptionVerdict | None:
    # Takes the DNS option as a flag and its value on trust.
    return ACK if option.type == IpcpOpt.PRIMARY_DNS else None


def _acks_its_own_identifier(ncp: Automaton, option: Option) -> OptionVerdict | None:
    own = ncp.handler._our  # type: ignore[attr-defined]
    return ACK if option.type == Ipv6cpOpt.INTERFACE_IDENTIFIER and option.data == own else None


def _acks_zero_identifier(ncp: Automaton, option: Option) -> OptionVerdict | None:
    zero = option.type == Ipv6cpOpt.INTERFACE_IDENTIFIER and option.data == bytes(8)
    return ACK if zero else None


def _answers_ipcp_before_lcp(session: PppSession, framer: PppAsyncFramer) -> None:
    dispatch = session._dispatch

    def eager(proto: int, info: bytes, now: float) -> None:
        packet = parse_control_packet(info)
        ipcp = session._ncps[Proto.IPCP]
        early = proto == Proto.IPCP and not session._lcp.is_opened
        if early and packet is not None and packet.code == Code.CONFIGURE_REQUEST:
            reply = ipcp.handler.judge_request(packet.data, False)
            ipcp._queue(reply.code, packet.identifier, reply.data)
            return
        dispatch(proto, info, now)

    session._dispatch = eager  # type: ignore[method-assign]


def _echoes_on_ipcp(ncp: Automaton) -> None:
    # One dispatcher for every control protocol: LCP's codes 8-11 on IPCP too.
    ncp.link_control = True


def _no_renegotiation(ncp: Automaton) -> None:
    send = ncp._send_configure_request

    def only_when_not_opened(prior: State, *, retransmit: bool, reset: bool) -> None:
        if prior is not State.OPENED:
            send(prior, retransmit=retransmit, reset=reset)

    ncp._send_configure_request = only_when_not_opened  # type: ignore[method-assign]


MUTANTS: dict[str, Mutant] = {
    "ipcp-address-assigned": Mutant(
        "Acks 0.0.0.0 as the peer's address", patch=_judging(Proto.IPCP, _acks_zero_address)
    ),
    "ipcp-nak-address-adopted": Mutant(
        "ignores a Nak of its IP-Address", patch=_ignoring_naks_of(Proto.IPCP, IpcpOpt.IP_ADDRESS)
    ),
    "ipcp-unknown-option": Mutant(
        "acknowledges unknown IPCP options", patch=_judging(Proto.IPCP, _acks_unknown)
    ),
    "ipcp-before-lcp-opened": Mutant(
        "answers IPCP Configure-Requests before LCP is Opened", patch=_answers_ipcp_before_lcp
    ),
    "ipcp-unknown-code": Mutant(
        "treats IPCP code 9 as LCP's Echo-Request", patch=_on_ncp(Proto.IPCP, _echoes_on_ipcp)
    ),
    "ipcp-renegotiate": Mutant(
        "answers an IPCP Configure-Request in Opened but never sends its own",
        patch=_on_ncp(Proto.IPCP, _no_renegotiation),
    ),
    "ipcp-dns-request": Mutant(
        "Acks any Primary-DNS, 0.0.0.0 too", patch=_judging(Proto.IPCP, _acks_any_dns)
    ),
    "ipcp-dns-nak-adopted": Mutant(
        "ignores a Nak of its Primary-DNS",
        patch=_ignoring_naks_of(Proto.IPCP, IpcpOpt.PRIMARY_DNS),
    ),
    "ipv6cp-collision": Mutant(
        "Acks its own Interface-Identifier", patch=_judging(Proto.IPV6CP, _acks_its_own_identifier)
    ),
    "ipv6cp-zero-identifier": Mutant(
        "Acks a zero Interface-Identifier", patch=_judging(Proto.IPV6CP, _acks_zero_identifier)
    ),
    "ipv6cp-nak-adopted": Mutant(
        "ignores a Nak of its Interface-Identifier",
        patch=_ignoring_naks_of(Proto.IPV6CP, Ipv6cpOpt.INTERFACE_IDENTIFIER),
    ),
}

#: The role a mutant is run in when its case applies to one role only.
MUTANT_ROLES: dict[str, PeerRole] = {
    "ipcp-nak-address-adopted": PeerRole.DIAL,
    "ipcp-dns-nak-adopted": PeerRole.DIAL,
}
