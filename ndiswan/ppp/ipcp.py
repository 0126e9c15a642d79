"""IPCP's options (RFC 1332, RFC 1877): the option handler.

IP-Address (3) in both roles: a peer asking for 0.0.0.0 is Nak'd with the
address configured for it (or rejected when we have none); a peer naming
an address is accepted unless we insist on another.  Primary and secondary
DNS (129, 131): given to a peer that asks when configured (``ms_dns``),
otherwise rejected; asked of the peer with ``usepeerdns``.
IP-Compression-Protocol (2) with Van Jacobson (0x002d, Max-Slot-Id,
Comp-Slot-Id) when ``vj`` is set: a peer asking for more slots than we keep,
or for Comp-Slot-Id we refuse, is Nak'd with ours; RFC 1172's old form and
other protocols are rejected, as is IP-Addresses (1, obsolete).  Judging
follows pppd 2.4.9's ``ipcp_reqci``.

Once we authenticated the peer with a secrets-file entry, the entry's
address words limit the peer's address (``restrict_peer_to``): the entry's
single address replaces a missing or forbidden configured one, a forbidden
request is Nak'd with it, and an IPCP that would still open with a
forbidden peer address is closed, as pppd's ``ipcp_up`` does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ndiswan.ppp.constants import IpcpOpt
from ndiswan.ppp.events import LogLevel, LogLine, NetworkUp
from ndiswan.ppp.options import ACK, REJECT, NcpResult, OptionHandler, OptionVerdict, nak
from ndiswan.ppp.packet import Option
from ndiswan.ppp.peer_addresses import AllowedPeerAddresses

IPv4 = ipaddress.IPv4Address
#: pppd's fallback remote address when nobody knows it (10.64.64.64).
DEFAULT_REMOTE = IPv4("10.64.64.64")
_ZERO = IPv4(0)
_DNS_TYPES = (IpcpOpt.PRIMARY_DNS, IpcpOpt.SECONDARY_DNS)


def _addr_option(kind: int, address: IPv4) -> Option:
    return Option(kind, address.packed)


@dataclass(frozen=True)
class IpcpPolicy:
    local: IPv4 | None = None
    remote: IPv4 | None = None
    accept_local: bool = True
    accept_remote: bool = True
    #: DNS servers for a peer that asks: (primary, secondary).
    give_dns: tuple[IPv4 | None, IPv4 | None] = (None, None)
    request_dns: bool = False
    #: Van Jacobson compression we offer and accept: (Max-Slot-Id, Comp-Slot-Id).
    vj: tuple[int, bool] | None = None


#: One direction's VJ parameters: (Max-Slot-Id, Comp-Slot-Id).
VjParameters = tuple[int, bool]
_VJ_PROTOCOL = 0x002D


def _vj_option(parameters: VjParameters) -> Option:
    max_slot_id, comp_slot_id = parameters
    return Option(IpcpOpt.IP_COMPRESSION, bytes((0x00, 0x2D, max_slot_id, int(comp_slot_id))))


def _parse_vj(option: Option) -> VjParameters | None:
    data = option.data
    if len(data) != 4 or (data[0] << 8 | data[1]) != _VJ_PROTOCOL:
        return None
    return data[2], bool(data[3])


class IpcpOptions(OptionHandler):
    def __init__(self, policy: IpcpPolicy) -> None:
        self.policy = policy
        self._our = _ZERO
        self._ask_address = True
        self._ask_dns = [False, False]
        self._dns = [_ZERO, _ZERO]
        self._nak_for_missing_address = True
        self._acked_address: IPv4 | None = None
        self._acked_dns: list[IPv4 | None] = [None, None]
        self._peer_address: IPv4 | None = None
        #: The peer's permitted addresses; None: not limited (no secrets file).
        self.allowed_remote: AllowedPeerAddresses | None = None
        self._remote = policy.remote or _ZERO
        self._accept_remote = policy.accept_remote
        self._vj = policy.vj
        self._acked_vj: VjParameters | None = None
        self._peer_vj: VjParameters | None = None

    def vj_negotiated(self) -> tuple[VjParameters | None, VjParameters | None]:
        """(how we compress, how we decompress): the peer's acknowledged VJ, and ours."""
        return self._peer_vj, self._acked_vj

    def restrict_peer_to(self, words: tuple[str, ...] | None) -> list[LogLine]:
        """Limit the peer to a secrets entry's address words (None lifts the limit).

        Returns the warnings for words that were skipped.
        """
        if words is None:
            self.allowed_remote = None
            return []
        self.allowed_remote = AllowedPeerAddresses.from_words(words)
        return [LogLine(text, LogLevel.WARNING) for text in self.allowed_remote.warnings]

    def _may_use(self, address: IPv4) -> bool:
        return self.allowed_remote is None or self.allowed_remote.allows(address)

    def reset(self) -> None:
        p = self.policy
        self._remote, self._accept_remote = p.remote or _ZERO, p.accept_remote
        allowed = self.allowed_remote
        suggestion = allowed.suggestion if allowed is not None else None
        if suggestion is not None and not self._may_use(self._remote):
            # pppd's set_allowed_addrs: the entry's address replaces ours.
            self._remote, self._accept_remote = suggestion, True
        self._our = p.local or _ZERO
        self._ask_address = True
        self._ask_dns = [p.request_dns, p.request_dns]
        self._dns = [_ZERO, _ZERO]
        self._nak_for_missing_address = True
        self._acked_address = None
        self._acked_dns = [None, None]
        self._peer_address = None
        self._vj = p.vj
        self._acked_vj = None
        self._peer_vj = None

    # -- our request ------------------------------------------------------

    def build_request(self) -> list[Option]:
        options = [] if self._vj is None else [_vj_option(self._vj)]
        if self._ask_address:
            options.append(_addr_option(IpcpOpt.IP_ADDRESS, self._our))
        for i, kind in enumerate(_DNS_TYPES):
            if self._ask_dns[i]:
                options.append(_addr_option(kind, self._dns[i]))
        return options

    def apply_ack(self, options: list[Option]) -> None:
        self._acked_address = self._our if self._ask_address else None
        self._acked_dns = [self._dns[i] if self._ask_dns[i] else None for i in range(2)]
        self._acked_vj = self._vj

    def apply_nak(self, options: list[Option], treat_as_reject: bool) -> bool:
        for option in options:
            kind = option.type
            if kind == IpcpOpt.IP_COMPRESSION:
                self._vj = self._vj_after_nak(option, treat_as_reject)
                continue
            if kind not in (IpcpOpt.IP_ADDRESS, *_DNS_TYPES):
                continue  # suggestions of things we never do
            if len(option.data) != 4:
                return False
            value = IPv4(option.data)
            if kind == IpcpOpt.IP_ADDRESS:
                if treat_as_reject and self._ask_address:
                    self._ask_address = False
                elif self.policy.accept_local and value != _ZERO:
                    self._our = value
                    self._ask_address = True
            else:
                i = _DNS_TYPES.index(kind)
                if treat_as_reject and self._ask_dns[i]:
                    self._ask_dns[i] = False
                elif self._ask_dns[i] or self.policy.request_dns:
                    self._dns[i] = value
                    self._ask_dns[i] = True
        return True

    def _vj_after_nak(self, option: Option, treat_as_reject: bool) -> VjParameters | None:
        # pppd's ipcp_nakci: fewer slots or no Comp-Slot-Id are taken, anything else
        # (more slots, another protocol) stops the asking.
        suggested = _parse_vj(option)
        if self._vj is None or suggested is None or treat_as_reject:
            return None
        (ours, our_cflag), (theirs, their_cflag) = self._vj, suggested
        if theirs > ours or theirs < 1:
            return None
        return theirs, our_cflag and their_cflag

    def apply_reject(self, options: list[Option]) -> bool:
        for option in options:
            if option.type == IpcpOpt.IP_COMPRESSION:
                self._vj = None
            elif option.type == IpcpOpt.IP_ADDRESS:
                self._ask_address = False
            elif option.type in _DNS_TYPES:
                self._ask_dns[_DNS_TYPES.index(option.type)] = False
            else:
                return False
        return True

    # -- the peer's request -----------------------------------------------

    def begin_peer_request(self) -> None:
        self._peer_address = None
        self._peer_vj = None

    def judge_option(self, option: Option) -> OptionVerdict:
        kind, p = option.type, self.policy
        if kind == IpcpOpt.IP_ADDRESS and len(option.data) == 4:
            theirs = IPv4(option.data)
            wanted = self._remote
            # A forbidden address is Nak'd with ours when ours is allowed.
            offer_ours = self._may_use(wanted) and not self._may_use(theirs)
            if theirs != wanted and (theirs == _ZERO or not self._accept_remote or offer_ours):
                self._peer_address = theirs
                return nak(_addr_option(IpcpOpt.IP_ADDRESS, wanted))
            if theirs == _ZERO:
                # Neither side knows the peer's address: refuse 0.0.0.0.
                self._nak_for_missing_address = False
                return REJECT
            self._peer_address = theirs
            return ACK
        if kind in _DNS_TYPES and len(option.data) == 4:
            ours = p.give_dns[_DNS_TYPES.index(kind)]
            if ours is None:
                return REJECT
            if IPv4(option.data) != ours:
                return nak(_addr_option(kind, ours))
            return ACK
        if kind == IpcpOpt.IP_COMPRESSION:
            return self._judge_vj(option)
        # IP-Addresses, NBNS and the unknown.
        return REJECT

    def _judge_vj(self, option: Option) -> OptionVerdict:
        ours, theirs = self.policy.vj, _parse_vj(option)
        if ours is None or theirs is None:
            return REJECT
        (max_slot, cflag), (their_max, their_cflag) = ours, theirs
        if their_max > max_slot or (their_cflag and not cflag):
            return nak(_vj_option((min(their_max, max_slot), cflag and their_cflag)))
        self._peer_vj = theirs
        return ACK

    def options_to_add(self, naking: bool) -> list[Option]:
        if self._peer_address is not None or not self._nak_for_missing_address:
            return []
        if not naking:
            self._nak_for_missing_address = False  # ask once, as pppd
        return [_addr_option(IpcpOpt.IP_ADDRESS, self._remote)]

    # -- This-Layer-Up ----------------------------------------------------

    def result(self) -> NcpResult:
        p = self.policy
        if self._acked_address is None and p.local is not None:
            return NcpResult(None, "Peer refused to agree to our IP address")
        local = self._acked_address if self._acked_address is not None else (p.local or _ZERO)
        if local == _ZERO:
            return NcpResult(None, "Could not determine local IP address")
        remote = self._peer_address or self._remote
        notes: list[LogLine] = []
        if remote == _ZERO:
            remote = DEFAULT_REMOTE
            notes.append(
                LogLine(
                    f"Could not determine remote IP address: defaulting to {remote}",
                    LogLevel.WARNING,
                )
            )
        if not self._may_use(remote):
            error = f"Peer is not authorized to use remote address {remote}"
            return NcpResult(None, error, tuple(notes), "Unauthorized remote IP address")
        dns1, dns2 = (d if d is not None and d != _ZERO else None for d in self._acked_dns)
        notes.append(LogLine(f"local  IP address {local}", LogLevel.NOTICE))
        notes.append(LogLine(f"remote IP address {remote}", LogLevel.NOTICE))
        if dns1 is not None:
            notes.append(LogLine(f"primary   DNS address {dns1}", LogLevel.NOTICE))
        if dns2 is not None:
            notes.append(LogLine(f"secondary DNS address {dns2}", LogLevel.NOTICE))
        return NcpResult(NetworkUp(local, remote, dns1, dns2), None, tuple(notes))
