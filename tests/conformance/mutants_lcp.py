"""Deliberately broken copies of our own PPP, one per LCP case, for tests only."""

from __future__ import annotations

from ndiswan.ppp.constants import Code, Proto
from tests.conformance.simline import Mutant


def _rewrite_lcp(code: int, change):  # type: ignore[no-untyped-def]
    """A mutant filter: every LCP packet with ``code`` the peer sends goes through ``change``."""

    def outgoing(frames: list[bytes]) -> list[bytes]:
        out = []
        for frame in frames:
            if frame[:2] == Proto.LCP.to_bytes(2, "big") and len(frame) > 2 and frame[2] == code:
                replaced = change(frame)
                if replaced is not None:
                    out.append(replaced)
            else:
                out.append(frame)
        return out

    return outgoing


def _with_length(frame: bytes) -> bytes:
    """``frame`` (LCP) with its length field recomputed."""
    length = len(frame) - 2
    return frame[:4] + length.to_bytes(2, "big") + frame[6:]


def _reject_with_extra(frame: bytes) -> bytes:
    # The reject also lists a Magic-Number the request carried.
    return _with_length(frame + bytes.fromhex("05065a5a1234"))


MUTANTS: dict[str, Mutant] = {
    "lcp-unknown-option": Mutant(
        "rejects more than the unknown option",
        outgoing=_rewrite_lcp(Code.CONFIGURE_REJECT, _reject_with_extra),
    ),
    "lcp-unknown-code": Mutant(
        "ignores unknown codes", outgoing=_rewrite_lcp(Code.CODE_REJECT, lambda frame: None)
    ),
    "lcp-protocol-reject": Mutant(
        "Protocol-Reject always with identifier 1",
        outgoing=_rewrite_lcp(Code.PROTOCOL_REJECT, lambda frame: frame[:3] + b"\x01" + frame[4:]),
    ),
    "lcp-echo-reply": Mutant(
        "Echo-Reply with a zero magic number",
        outgoing=_rewrite_lcp(Code.ECHO_REPLY, lambda frame: frame[:6] + b"\0\0\0\0" + frame[10:]),
    ),
}
