"""Deliberately broken copies of our own PPP, one per HDLC case, for tests only.

Most break the peer's framer the way real ones have been broken: an ACCM
never applied, a header compressed too eagerly, a receiver that takes the
FCS on trust or insists on what it was not promised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ndiswan.ppp import PppSession
from tests.conformance.simline import Mutant
from wanctl.conformance.probe import ALL_CONTROLS, ESCAPE, escape, unescape
from wanminiport.framing import PppAsyncFramer, fcs16_bytes, fcs16_good
from wanminiport.info import LinkInfo

LCP = b"\xc0\x21"
ADDRESS_CONTROL = b"\xff\x03"


def _per_frame(change: Callable[[bytes], bytes | None]) -> Callable[[bytes], bytes]:
    """A wire filter: each whole frame's body (FCS checked and removed) through ``change``.

    ``change`` returns the new body (re-framed with every control character
    escaped) or None to drop the frame; pieces that are no good frame pass as
    they are.
    """

    def rewrite(data: bytes) -> bytes:
        out = []
        for piece in data.split(b"\x7e"):
            body = unescape(piece)
            if not piece or piece.endswith(bytes((ESCAPE,))) or not fcs16_good(body):
                out.append(piece)
                continue
            new = change(body[:-2])
            out.append(b"" if new is None else escape(new + fcs16_bytes(new), ALL_CONTROLS))
        return b"\x7e".join(out)

    return rewrite


def _on_configure(change: Callable[[PppAsyncFramer], None]) -> Mutant:
    """A mutant whose framer gets ``change`` after each (re)configuration."""

    def patch(session: PppSession, framer: PppAsyncFramer) -> None:
        configure = framer._configure

        def configured() -> None:
            configure()
            change(framer)

        framer._configure = configured  # type: ignore[method-assign]
        configured()

    return Mutant("", patch=patch)


def _never_escapes(data: bytes) -> bytes:
    """The peer's octets as if it had escaped no control character (only 7D and 7E)."""
    out = bytearray()
    escaped = False
    for octet in data:
        if escaped:
            escaped = False
            if octet ^ 0x20 < 0x20:
                out.append(octet ^ 0x20)
            else:
                out += bytes((ESCAPE, octet))
        elif octet == ESCAPE:
            escaped = True
        else:
            out.append(octet)
    return bytes(out)


def _ignores_negotiated_accm(framer: PppAsyncFramer) -> None:
    # Applies everything from SET_LINK_INFO but the send ACCM, assumed 0.
    set_link_info = framer.set_link_info

    def without_accm(info: LinkInfo) -> None:
        set_link_info(replace(info, send_accm=0))

    framer.set_link_info = without_accm  # type: ignore[method-assign]


def _compresses_always(framer: PppAsyncFramer) -> None:
    framer._tx_header = b""


def _compresses_lcp_too(session: PppSession, framer: PppAsyncFramer) -> None:
    encode = framer.encode
    strip = _per_frame(lambda body: body[2:] if body.startswith(ADDRESS_CONTROL) else body)

    def encode_compressed(frame: bytes, now: float = 0.0) -> bytes:
        wire = encode(frame, now)
        if frame[:2] == LCP and framer._tx_header == b"":
            return strip(wire)
        return wire

    framer.encode = encode_compressed  # type: ignore[method-assign]


def _ignores_accm_on_receive(framer: PppAsyncFramer) -> None:
    framer._rx_discard = b""


def _drops_one_octet_protocols(session: PppSession, framer: PppAsyncFramer) -> None:
    receive = session.receive_frame

    def two_octets_only(frame: bytes, now: float) -> None:
        if frame and frame[0] & 1:
            return  # read as a two-octet field: not a valid protocol number
        receive(frame, now)

    session.receive_frame = two_octets_only  # type: ignore[method-assign]


def _hunts_after_each_frame(data: bytes) -> bytes:
    """A receiver that, after a closing flag, waits for another flag to open the next frame."""
    pieces = data.split(b"\x7e")
    for index in range(len(pieces) - 1, 1, -1):
        if pieces[index] and pieces[index - 1]:
            pieces[index] = b""
    return b"\x7e".join(pieces)


def _ignores_abort(data: bytes) -> bytes:
    return data.replace(b"\x7d\x7e", b"\x7e")


def _escapes_of_accm_only(data: bytes) -> bytes:
    """A receiver whose decoding table knows only escaped controls, 7D and 7E: drops the rest."""
    known = set(range(0x20, 0x40)) | {0x5D, 0x5E}
    out = []
    for piece in data.split(b"\x7e"):
        pairs = piece.split(bytes((ESCAPE,)))[1:]
        out.append(b"" if any(pair[:1] and pair[0] not in known for pair in pairs) else piece)
    return b"\x7e".join(out)


def _loses_octet_after_escaped_escape(data: bytes) -> bytes:
    """Linux ppp_async's receiver: the octet after 7D 7D (an escaped 0x5D) is lost.

    It keeps it only when the pair ends one read from the tty; here the
    first pair of each frame is that lucky one.
    """
    out = bytearray()
    pairs, index = 0, 0
    while index < len(data):
        octet = data[index]
        out.append(octet)
        index += 1
        if octet == 0x7E:
            pairs = 0
        elif octet == ESCAPE and index < len(data):
            out.append(data[index])
            index += 1
            if data[index - 1] == ESCAPE:
                pairs += 1
                if pairs > 1 and index < len(data) and data[index] not in (ESCAPE, 0x7E):
                    index += 1
    return bytes(out)


#: A receiver that decodes a single escaped 0x5D right but not every one.
SOMETIMES_LOSES_AFTER_7D_7D = Mutant(
    "loses the octet after 7D 7D, except the first time in a frame",
    incoming=_loses_octet_after_escaped_escape,
)


def _named(mutant: Mutant, name: str) -> Mutant:
    return replace(mutant, name=name)


def _fcs_unchecked(data: bytes) -> bytes:
    """Every frame reaches the peer with its FCS made good: as if it never checked it."""
    out = []
    for piece in data.split(b"\x7e"):
        body = unescape(piece)
        if len(body) < 4 or piece.endswith(bytes((ESCAPE,))):
            out.append(piece)
            continue
        body = body[:-2]
        out.append(escape(body + fcs16_bytes(body), ALL_CONTROLS))
    return b"\x7e".join(out)


MUTANTS: dict[str, Mutant] = {
    "hdlc-default-accm": Mutant(
        "escapes no control character, even before LCP", wire=_never_escapes
    ),
    "hdlc-negotiated-accm": Mutant(
        "never applies the negotiated send ACCM",
        patch=lambda session, framer: _ignores_negotiated_accm(framer),
    ),
    "hdlc-no-unnegotiated-compression": _named(
        _on_configure(_compresses_always), "always leaves out address/control"
    ),
    "hdlc-lcp-uncompressed": Mutant(
        "leaves address/control out of LCP once ACFC is on", patch=_compresses_lcp_too
    ),
    "hdlc-acfc-receive": Mutant(
        "discards frames without FF 03",
        incoming=_per_frame(lambda body: body if body.startswith(ADDRESS_CONTROL) else None),
    ),
    "hdlc-pfc-receive": Mutant(
        "reads every protocol field as two octets", patch=_drops_one_octet_protocols
    ),
    "hdlc-bad-fcs": Mutant("never checks the FCS", incoming=_fcs_unchecked),
    "hdlc-flags": Mutant(
        "needs an opening flag of its own per frame", incoming=_hunts_after_each_frame
    ),
    "hdlc-abort": Mutant("takes 7D 7E for a plain closing flag", incoming=_ignores_abort),
    "hdlc-escaped-octets": Mutant(
        "drops frames with escapes of octets no ACCM names", incoming=_escapes_of_accm_only
    ),
    "hdlc-accm-discard": _named(
        _on_configure(_ignores_accm_on_receive), "keeps unescaped control characters"
    ),
}
