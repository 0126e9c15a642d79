"""The IPv4 addresses a peer may use: the address column of pppd's secrets files.

When we authenticate the peer with a pap-secrets / chap-secrets entry, the
words after the secret (``client server secret [address ...]``) say which
addresses the peer may take, as pppd(8) describes under AUTHENTICATION:

* no words at all, or ``-``: no address is allowed (``-`` also ends the
  list, so words after it are ignored);
* ``*``: any address (and the end of the list);
* ``a.b.c.d``: that address; ``a.b.c.d/n``: that subnet (n from 1 to 32);
* a leading ``!`` excludes instead of allowing; the first word that matches
  an address decides, and an address no word matches is refused;
* the first single address the list allows is suggested to a peer that
  needs one.

Loopback (127/8), multicast (224/4), class E (240/4) and 0.0.0.0 are never
allowed.  This is a pure function of the words: host and network names are
not resolved (that would be I/O), so a name, like any malformed word, is
skipped with a warning in pppd's words ("... in auth. address list").  So is
pppd's ``/n+`` form, which depends on the interface unit number.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ndiswan.ppp.log import visible

IPv4 = ipaddress.IPv4Address
IPv4Net = ipaddress.IPv4Network

_NEVER = tuple(IPv4Net(n) for n in ("0.0.0.0/32", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"))
_ANY = IPv4Net("0.0.0.0/0")
_DOTTED = frozenset("0123456789.")


def never_allowed(address: IPv4) -> bool:
    """Addresses no peer may use, whatever the list says (pppd's ``bad_ip_adrs``)."""
    return any(address in net for net in _NEVER)


@dataclass(frozen=True)
class AddressRule:
    network: IPv4Net
    permit: bool


@dataclass(frozen=True)
class AllowedPeerAddresses:
    """Rules from one secrets entry; addresses no rule matches are refused."""

    rules: tuple[AddressRule, ...] = ()
    #: The first single address the rules allow: what we offer the peer.
    suggestion: IPv4 | None = None
    #: One line per word that was skipped, for the log.
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_words(cls, words: Sequence[str]) -> AllowedPeerAddresses:
        """The rules of an entry's address words; never raises."""
        rules: list[AddressRule] = []
        warnings: list[str] = []
        for word in words:
            if word == "-":
                break
            if word == "*":
                rules.append(AddressRule(_ANY, True))
                break
            rule = _parse_rule(word)
            if isinstance(rule, str):
                warnings.append(rule)
            else:
                rules.append(rule)
        allowed = cls(tuple(rules), None, tuple(warnings))
        for rule in rules:
            single = rule.network.network_address
            if rule.permit and rule.network.prefixlen == 32 and allowed.allows(single):
                return cls(allowed.rules, single, allowed.warnings)
        return allowed

    def allows(self, address: IPv4) -> bool:
        """True when the peer may use ``address``: the first matching rule decides."""
        if never_allowed(address):
            return False
        for rule in self.rules:
            if address in rule.network:
                return rule.permit
        return False


def _parse_rule(word: str) -> AddressRule | str:
    """One address word as a rule, or the warning that explains why it is skipped."""
    permit = not word.startswith("!")
    text = word if permit else word[1:]
    address, slash, length = text.partition("/")
    if not address:
        return f'invalid address word "{visible(word.encode())}" in auth. address list'
    prefix = 32
    if slash:
        if length.endswith("+") and length[:-1].isdecimal():
            return f"unsupported address length syntax: {length} (the +unit form)"
        if not (length.isascii() and length.isdecimal()) or not 1 <= int(length) <= 32:
            return f"invalid address length {visible(length.encode())} in auth. address list"
        prefix = int(length)
    if not set(address) <= _DOTTED:
        name = visible(address.encode())
        return f"unknown host {name} in auth. address list (names are not resolved)"
    try:
        network = IPv4Net(f"{address}/{prefix}", strict=False)
    except ValueError:
        return f"invalid address {address} in auth. address list"
    return AddressRule(network, permit)
