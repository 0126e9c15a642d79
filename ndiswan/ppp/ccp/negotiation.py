"""CCP's options (RFC 1962): which method compresses each direction, as pppd decides.

A Configure-Request lists the methods its *sender* can decompress.  So our
request offers what we accept (pppd's ``deflate R,T`` and ``bsdcomp R,T``:
R, the largest window or code size we decompress with), and the peer's
request tells us what we may compress with (at most T).  Each direction uses
the first method of its acknowledged request, as pppd and Linux do.

The options, with pppd's names:

====  ==================  ============================================
 18   MPPE                bits: H stateless, S 128-bit, L 40-bit (RFC 3078)
 21   BSD-Compress        version 1, code size 9..15 bits (RFC 1977)
 24   Deflate (old#)      pppd's draft number, same body as 26
 26   Deflate             window 2**9..2**15, method 8, check 0 (RFC 1979)
====  ==================  ============================================

Anything else (Predictor-1, Stac, MPPC) is rejected; a window or code size
outside what we allow is Nak'ed with our largest.  MPPE, as in pppd, is
offered alone, only once MS-CHAP has given keys (``mppe_keys``), and is
the same both ways: a request offering several strengths is Nak'd with the
strongest we allow, stateless unless ``mppe-stateful``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ndiswan.ppp.ccp import mppe
from ndiswan.ppp.ccp.bsdcomp import BsdCompressor, BsdDecompressor
from ndiswan.ppp.ccp.deflate import DeflateCompressor, DeflateDecompressor
from ndiswan.ppp.ccp.methods import Compressor, Decompressor
from ndiswan.ppp.options import ACK, REJECT, OptionHandler, OptionVerdict, nak
from ndiswan.ppp.packet import Option

MPPE, BSD_COMPRESS, DEFLATE_DRAFT, DEFLATE = 18, 21, 24, 26
#: MPPE's supported bits (RFC 3078 2): H stateless, M 56-bit, S 128-bit, L 40-bit,
#: D (obsolete), C MPPC compression.
MPPE_H, MPPE_M, MPPE_S, MPPE_L, MPPE_D, MPPE_C = 0x01000000, 0x80, 0x40, 0x20, 0x10, 0x01
_MPPE_STRENGTH_BITS = {128: MPPE_S, 56: MPPE_M, 40: MPPE_L}
MIN_SIZE, MAX_SIZE = 9, 15
_DEFLATE_METHOD = 8
_BSD_VERSION = 1


@dataclass(frozen=True)
class CcpPolicy:
    """What we negotiate: per method, (largest size we receive, largest we send); 0 is off."""

    deflate: tuple[int, int] = (0, 0)
    #: Offer and accept pppd's old Deflate number (24) as well as 26.
    deflate_draft: bool = True
    bsdcomp: tuple[int, int] = (0, 0)
    #: MPPE strengths we accept, strongest first (empty: none), and whether stateful is.
    mppe: tuple[int, ...] = ()
    mppe_stateful: bool = False

    def __post_init__(self) -> None:
        for name, sizes in (("deflate", self.deflate), ("bsdcomp", self.bsdcomp)):
            if any(size != 0 and not MIN_SIZE <= size <= MAX_SIZE for size in sizes):
                raise ValueError(f"{name} sizes must be 0 or {MIN_SIZE}..{MAX_SIZE}, not {sizes}")

    @property
    def any_method(self) -> bool:
        return any(self.deflate) or any(self.bsdcomp) or bool(self.mppe)


@dataclass(frozen=True)
class MppeKeys:
    """MPPE's master key from MS-CHAP, and whether we were its authenticator (server).

    ``symmetric``: MS-CHAPv1's key, the same in both directions (RFC 3079 2.4).
    """

    master: bytes
    server: bool
    symmetric: bool = False

    def start(self, bits: int, *, send: bool) -> bytes:
        if self.symmetric:
            return self.master[: 16 if bits == 128 else 8]
        return mppe.start_key(self.master, 16 if bits == 128 else 8, send=send, server=self.server)


@dataclass(frozen=True)
class Method:
    """One negotiated method: its option number and window (or code) size."""

    kind: int
    size: int
    #: MPPE only: stateful (a key change every 256 packets) rather than stateless.
    stateful: bool = False

    @property
    def description(self) -> str:
        """As pppd names it: ``Deflate (15)``, ``BSD-Compress (15)``, ``MPPE 128-bit stateless``."""
        if self.kind == MPPE:
            return f"MPPE {self.size}-bit {'stateful' if self.stateful else 'stateless'}"
        if self.kind == BSD_COMPRESS:
            return f"BSD-Compress ({self.size})"
        return f"Deflate{'(old#)' if self.kind == DEFLATE_DRAFT else ''} ({self.size})"

    def compressor(self, keys: MppeKeys | None = None) -> Compressor:
        if self.kind == MPPE:
            assert keys is not None, "MPPE is only negotiated with keys"
            start = keys.start(self.size, send=True)
            return mppe.MppeCompressor(start, self.size, stateful=self.stateful)
        if self.kind == BSD_COMPRESS:
            return BsdCompressor(self.size)
        return DeflateCompressor(self.size)

    def decompressor(self, mru: int, keys: MppeKeys | None = None) -> Decompressor:
        if self.kind == MPPE:
            assert keys is not None, "MPPE is only negotiated with keys"
            start = keys.start(self.size, send=False)
            return mppe.MppeDecompressor(start, self.size, stateful=self.stateful)
        if self.kind == BSD_COMPRESS:
            return BsdDecompressor(self.size, mru)
        return DeflateDecompressor(self.size, mru)


def _mppe_bits(method: Method) -> int:
    return (0 if method.stateful else MPPE_H) | _MPPE_STRENGTH_BITS[method.size]


def method_option(method: Method) -> Option:
    """The option that asks for ``method``."""
    if method.kind == MPPE:
        return Option(MPPE, _mppe_bits(method).to_bytes(4, "big"))
    if method.kind == BSD_COMPRESS:
        return Option(BSD_COMPRESS, bytes((_BSD_VERSION << 5 | method.size,)))
    return Option(method.kind, bytes(((method.size - 8) << 4 | _DEFLATE_METHOD, 0)))


def parse_method(option: Option) -> Method | None:
    """The method an option names, or None when its body is not one we can judge."""
    if option.type == MPPE and len(option.data) == 4:
        bits = int.from_bytes(option.data, "big")
        strength = next((s for s, bit in _MPPE_STRENGTH_BITS.items() if bits & bit), 0)
        return Method(MPPE, strength, stateful=not bits & MPPE_H)
    if option.type in (DEFLATE, DEFLATE_DRAFT) and len(option.data) == 2:
        return Method(option.type, (option.data[0] >> 4) + 8)
    if option.type == BSD_COMPRESS and len(option.data) == 1:
        return Method(BSD_COMPRESS, option.data[0] & 0x1F)
    return None


def _well_formed(option: Option) -> bool:
    if option.type == BSD_COMPRESS:
        return option.data[0] >> 5 == _BSD_VERSION
    return option.data[0] & 0x0F == _DEFLATE_METHOD and option.data[1] == 0


@dataclass
class CcpOptions(OptionHandler):
    """CCP's option handler: our wishes for receiving, the peer's for our sending."""

    policy: CcpPolicy
    #: What our next Configure-Request offers, in order of preference.
    wanted: list[Method] = field(default_factory=list)
    #: The methods in the peer's last Configure-Request, in its order.
    peer_offered: list[Method] = field(default_factory=list)
    #: The first method of our acknowledged request: how we decompress.
    receive: Method | None = None
    #: MPPE's keys, once MS-CHAPv2 succeeded; without them MPPE is not offered.
    mppe_keys: MppeKeys | None = None

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        receive_deflate, _ = self.policy.deflate
        receive_bsd, _ = self.policy.bsdcomp
        self.wanted = []
        self.peer_offered = []
        self.receive = None
        if self.policy.mppe:
            # As pppd: MPPE alone (and only with keys to use).
            if self._mppe_strengths:
                self.wanted.append(Method(MPPE, self._mppe_strengths[0], self.policy.mppe_stateful))
            return
        if receive_deflate:
            self.wanted.append(Method(DEFLATE, receive_deflate))
            if self.policy.deflate_draft:
                self.wanted.append(Method(DEFLATE_DRAFT, receive_deflate))
        if receive_bsd:
            self.wanted.append(Method(BSD_COMPRESS, receive_bsd))
        self.peer_offered = []
        self.receive = None

    @property
    def transmit(self) -> Method | None:
        """The first method of the peer's acknowledged request: how we compress."""
        return self.peer_offered[0] if self.peer_offered else None

    def build_request(self) -> list[Option]:
        return [method_option(method) for method in self.wanted]

    def begin_peer_request(self) -> None:
        self.peer_offered = []

    @property
    def _mppe_strengths(self) -> tuple[int, ...]:
        """The strengths we can use: none without keys, and as pppd no 40-bit from
        MS-CHAPv1 (RFC 3079 2.1 derives it from the LAN Manager hash, never sent)."""
        if self.mppe_keys is None:
            return ()
        if self.mppe_keys.symmetric:
            return tuple(bits for bits in self.policy.mppe if bits != 40)
        return self.policy.mppe

    def _judge_mppe(self, option: Option, method: Method) -> OptionVerdict:
        strengths = self._mppe_strengths
        if not strengths:
            return REJECT
        bits = int.from_bytes(option.data, "big")
        offered = [s for s, bit in _MPPE_STRENGTH_BITS.items() if bits & bit and s in strengths]
        stateful = method.stateful and self.policy.mppe_stateful
        chosen = Method(MPPE, offered[0] if offered else strengths[0], stateful)
        if not offered or bits != _mppe_bits(chosen):
            return nak(method_option(chosen))
        self.peer_offered.append(chosen)
        return ACK

    def judge_option(self, option: Option) -> OptionVerdict:
        method = parse_method(option)
        if method is not None and method.kind == MPPE:
            return self._judge_mppe(option, method)
        if self.policy.mppe:
            return REJECT  # MPPE goes alone
        if method is None or (option.type == DEFLATE_DRAFT and not self.policy.deflate_draft):
            return REJECT
        largest = (self.policy.bsdcomp if method.kind == BSD_COMPRESS else self.policy.deflate)[1]
        if not largest:
            return REJECT
        if not _well_formed(option) or not MIN_SIZE <= method.size <= largest:
            return nak(method_option(Method(method.kind, largest)))
        # Only the first method is used; the rest are acknowledged as pppd does.
        self.peer_offered.append(method)
        return ACK

    def apply_ack(self, options: list[Option]) -> None:
        methods = [parse_method(option) for option in options]
        self.receive = next((method for method in methods if method is not None), None)

    def apply_nak(self, options: list[Option], treat_as_reject: bool) -> bool:
        for option in options:
            method = parse_method(option)
            if method is None:
                continue  # a method we did not ask for: we do not add it
            for index, mine in enumerate(self.wanted):
                if mine.kind != method.kind:
                    continue
                if mine.kind == MPPE:
                    # The strength and statefulness the peer wants, if we allow them.
                    stateful = method.stateful and self.policy.mppe_stateful
                    if treat_as_reject or method.size not in self._mppe_strengths:
                        del self.wanted[index]
                    else:
                        self.wanted[index] = Method(MPPE, method.size, stateful)
                    break
                if treat_as_reject or not _well_formed(option) or method.size < MIN_SIZE:
                    del self.wanted[index]
                elif method.size < mine.size:
                    # A smaller window is fine; a larger one we keep asking without (pppd).
                    self.wanted[index] = Method(mine.kind, method.size)
                break
        return True

    def apply_reject(self, options: list[Option]) -> bool:
        rejected = {option.type for option in options}
        self.wanted = [method for method in self.wanted if method.kind not in rejected]
        return True
