"""IPV6CP's options (RFC 5072): the option handler.

Interface-Identifier (1): each side proposes a 64-bit identifier for its
end, random and non-zero unless configured (pppd's ``eui64_magic``: the
universal/local bit cleared).  A peer proposing zero, or the identifier we
use, is Nak'd with a fresh random one (or the one configured for it), so
collisions resolve by Nak; when we are Nak'd we take the suggestion unless
it is zero or the peer's own.  IPv6-Compression-Protocol (2) is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

from ndiswan.ppp.config import RandomBytes
from ndiswan.ppp.constants import Ipv6cpOpt
from ndiswan.ppp.events import Ipv6Up, LogLevel, LogLine
from ndiswan.ppp.log import interface_id_text
from ndiswan.ppp.options import ACK, REJECT, NcpResult, OptionHandler, OptionVerdict, nak
from ndiswan.ppp.packet import Option

ZERO_ID = bytes(8)


def random_interface_id(rng: RandomBytes, avoid: bytes = ZERO_ID) -> bytes:
    """Random, non-zero, locally administered, and not ``avoid``."""
    while True:
        raw = bytearray(rng(8))
        raw[0] &= ~0x02 & 0xFF
        candidate = bytes(raw)
        if candidate != ZERO_ID and candidate != avoid:
            return candidate


@dataclass(frozen=True)
class Ipv6cpPolicy:
    local_id: bytes | None = None
    remote_id: bytes | None = None


class Ipv6cpOptions(OptionHandler):
    def __init__(self, policy: Ipv6cpPolicy, rng: RandomBytes) -> None:
        self.policy = policy
        self._rng = rng
        self._our = ZERO_ID
        self._ask = True
        self._suggested_for_peer = ZERO_ID
        self._peer_id: bytes | None = None

    def reset(self) -> None:
        self._our = self.policy.local_id or random_interface_id(self._rng)
        self._ask = True
        self._suggested_for_peer = ZERO_ID
        self._peer_id = None

    def build_request(self) -> list[Option]:
        return [Option(Ipv6cpOpt.INTERFACE_IDENTIFIER, self._our)] if self._ask else []

    def apply_ack(self, options: list[Option]) -> None:
        pass  # the acknowledged identifier is self._our

    def apply_nak(self, options: list[Option], treat_as_reject: bool) -> bool:
        for option in options:
            if option.type != Ipv6cpOpt.INTERFACE_IDENTIFIER:
                continue
            if len(option.data) != 8:
                return False
            if not self._ask:
                continue
            if treat_as_reject:
                self._ask = False
                continue
            suggestion = option.data
            peer = self._peer_id or ZERO_ID
            if suggestion in (ZERO_ID, peer):
                suggestion = random_interface_id(self._rng, avoid=peer)
            self._our = suggestion
        return True

    def apply_reject(self, options: list[Option]) -> bool:
        for option in options:
            if option.type != Ipv6cpOpt.INTERFACE_IDENTIFIER:
                return False
            self._ask = False
        return True

    def begin_peer_request(self) -> None:
        self._peer_id = None

    def judge_option(self, option: Option) -> OptionVerdict:
        if option.type != Ipv6cpOpt.INTERFACE_IDENTIFIER or len(option.data) != 8:
            return REJECT
        theirs = option.data
        wanted = self.policy.remote_id
        if theirs == ZERO_ID and self._our == ZERO_ID:
            return REJECT
        suggestion: bytes | None = None
        if wanted is not None and theirs != wanted and self._suggested_for_peer == ZERO_ID:
            suggestion = wanted
        elif theirs == ZERO_ID or theirs == self._our:
            suggestion = self._suggested_for_peer
            if suggestion == ZERO_ID and wanted is not None:
                suggestion = wanted
            if suggestion in (ZERO_ID, self._our):
                suggestion = random_interface_id(self._rng, avoid=self._our)
        if suggestion is not None:
            self._suggested_for_peer = suggestion
            self._peer_id = suggestion
            return nak(Option(Ipv6cpOpt.INTERFACE_IDENTIFIER, suggestion))
        self._peer_id = theirs
        return ACK

    def result(self) -> NcpResult:
        peer = self._peer_id or self.policy.remote_id or ZERO_ID
        if peer == ZERO_ID:
            return NcpResult(None, "Could not determine remote LL address")
        if self._our == ZERO_ID:
            return NcpResult(None, "Could not determine local LL address")
        if self._our == peer:
            return NcpResult(None, "local and remote LL addresses are equal")
        notes = (
            LogLine(f"local  LL address {interface_id_text(self._our)}", LogLevel.NOTICE),
            LogLine(f"remote LL address {interface_id_text(peer)}", LogLevel.NOTICE),
        )
        return NcpResult(Ipv6Up(self._our, peer), None, notes)
