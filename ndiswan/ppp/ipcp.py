"""IPCP's options (RFC 1332, RFC 1877): the option handler.

IP-Address (3) in both roles: a peer asking for 0.0.0.0 is Nak'd with the
address configured for it (or rejected when we have none); a peer naming
an address is accepted unless we insist on another.  Primary and secondary
DNS (129, 131): given to a peer that asks when configured (``ms_dns``),
otherwise rejected; asked of the peer with ``usepeerdns``.  IP-Addresses (1,
obsolete) and IP-Compression-Protocol (2, Van Jacobson) are rejected: we do
no header compression.  Judging follows pppd 2.4.9's ``ipcp_reqci``.

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

    # -- our request ------------------------------------------------------

    def build_request(self) -> list[Option]:
        options = []
        if self._ask_address:
            options.append(_addr_option(IpcpOpt.IP_ADDRESS, self._our))
        for i, kind in enumerate(_DNS_TYPES):
            if self._ask_dns[i]:
                options.append(_addr_option(kind, self._dns[i]))
        return options

    def apply_ack(self, options: list[Option]) -> None:
        self._acked_address = self._our if self._ask_address else None
        self._acked_dns = [self._dns[i] if self._ask_dns[i] else None for i in range(2)]

    def apply_nak(self, options: list[Option], treat_as_reject: bool) -> bool:
        for option in options:
            kind = option.type
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

    def apply_reject(self, options: list[Option]) -> bool:
        for option in options:
            if option.type == IpcpOpt.IP_ADDRESS:
                self._ask_address = False
            elif option.type in _DNS_TYPES:
                self._ask_dns[_DNS_TYPES.index(option.type)] = False
            else:
                return False
        return True

    # -- the peer's request -----------------------------------------------

    def begin_peer_request(self) -> None:
        self._peer_address = None

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
        # IP-Addresses, IP-Compression-Protocol (VJ), NBNS and the unknown.
        return REJECT

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
