"""PPP Deflate (RFC 1979) on the standard library's zlib, as Linux's ppp_deflate speaks it.

One 0x00FD packet is a 2-octet sequence number and the raw deflate stream of
the datagram's protocol field (one octet when it is below 0x100, as ppp_deflate
compresses it) and payload, flushed with Z_SYNC_FLUSH and with the empty
stored block's ``00 00 ff ff`` taken off; the receiver puts it back.

* Window: 2**9..2**15 octets.  Size 8 is refused: zlib rejects ``wbits=8`` for
  raw deflate and Linux's ppp_deflate refuses it too (DEFLATE_MIN_SIZE 9), so
  CCP must Nak it to 9.
* A datagram that does not shrink goes uncompressed (``compress`` returns
  None), but the compressor still deflates it into its history and counts a
  sequence number, and the peer's decompressor takes it in through
  ``incompressible`` (Linux's z_incomp), so both histories stay in step.
* Only protocols up to 0x3FFF (the network protocols) are compressed or fed to
  the history, as ppp_deflate does; control protocols pass untouched.
* A sequence gap or a stream zlib cannot inflate fails with ``reset=True`` and
  later packets fail quietly until ``reset()`` (the Reset-Ack).

Memory: two zlib streams (about 256 KiB for window 15) and one decompressed
datagram bounded by the MRU.
"""

from __future__ import annotations

import zlib

from ndiswan.ppp.ccp.methods import Decompressed, DecompressFailed

NAME = "Deflate"
MIN_WINDOW_BITS = 9
MAX_WINDOW_BITS = 15
_SYNC_TRAILER = b"\x00\x00\xff\xff"
_MEMLEVEL = 8


def _check_window(window_bits: int) -> None:
    if not MIN_WINDOW_BITS <= window_bits <= MAX_WINDOW_BITS:
        raise ValueError(f"Deflate window size {window_bits} outside 9..15")


def _handled(protocol: int) -> bool:
    return protocol <= 0x3FFF and protocol not in (0x00FD, 0x00FB)


def _protocol_field(protocol: int) -> bytes:
    return bytes((protocol,)) if protocol < 0x100 else protocol.to_bytes(2, "big")


class DeflateCompressor:
    """Deflate for what we send, with the window the peer's Configure-Request allows."""

    name = NAME

    def __init__(self, window_bits: int = MAX_WINDOW_BITS) -> None:
        _check_window(window_bits)
        self.window_bits = window_bits
        self._seq = 0
        self._stream = self._new_stream()

    def _new_stream(self) -> zlib._Compress:
        return zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self.window_bits, _MEMLEVEL
        )

    def reset(self) -> None:
        self._seq = 0
        self._stream = self._new_stream()

    def compress(self, protocol: int, payload: bytes) -> bytes | None:
        if not _handled(protocol):
            return None
        stream = self._stream
        deflated = stream.compress(_protocol_field(protocol) + payload) + stream.flush(
            zlib.Z_SYNC_FLUSH
        )
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        if deflated.endswith(_SYNC_TRAILER):
            deflated = deflated[:-4]
        # Sent compressed only when the information field (sequence number and
        # deflated data) is shorter than the payload it replaces.
        if 2 + len(deflated) >= len(payload):
            return None
        return seq.to_bytes(2, "big") + deflated


class DeflateDecompressor:
    """Deflate for what we receive, with the window our Configure-Request offered."""

    name = NAME

    def __init__(self, window_bits: int = MAX_WINDOW_BITS, mru: int = 1500) -> None:
        _check_window(window_bits)
        self.window_bits = window_bits
        # Room for the protocol field and an MRU-sized payload (never under 1500, as Linux).
        self._limit = max(mru, 1500) + 2
        self._seq = 0
        self._broken = False
        self._stream = zlib.decompressobj(-window_bits)

    def reset(self) -> None:
        self._seq = 0
        self._broken = False
        self._stream = zlib.decompressobj(-self.window_bits)

    def _fail(self, reason: str) -> DecompressFailed:
        self._broken = True
        return DecompressFailed(reason)

    def decompress(self, data: bytes) -> Decompressed | DecompressFailed:
        if self._broken:
            return DecompressFailed("Deflate: waiting for Reset-Ack", reset=False)
        if len(data) <= 2:
            return self._fail(f"Deflate: packet of {len(data)} octets is too short")
        seq = data[0] << 8 | data[1]
        if seq != self._seq:
            return self._fail(f"Deflate: bad sequence number {seq}, expected {self._seq}")
        self._seq = (seq + 1) & 0xFFFF
        stream = self._stream
        try:
            out = stream.decompress(data[2:] + _SYNC_TRAILER, self._limit)
        except zlib.error as error:
            return self._fail(f"Deflate: inflate failed ({error})")
        if stream.unconsumed_tail:
            return self._fail(f"Deflate: datagram longer than {self._limit - 2} octets")
        if stream.eof:
            return self._fail("Deflate: peer ended the stream")
        if not out:
            return self._fail("Deflate: no protocol field")
        if out[0] & 1:
            return Decompressed(out[0], out[1:])
        if len(out) < 2:
            return self._fail("Deflate: protocol field cut short")
        return Decompressed(out[0] << 8 | out[1], out[2:])

    def incompressible(self, protocol: int, payload: bytes) -> None:
        if self._broken or not _handled(protocol):
            return
        self._seq = (self._seq + 1) & 0xFFFF
        data = _protocol_field(protocol) + payload
        # Inflate a stored block of the datagram so it enters the window: the
        # stream sits on a block boundary after every packet (the sync flush).
        stream = self._stream
        try:
            for start in range(0, len(data), 0xFFFF):
                chunk = data[start : start + 0xFFFF]
                size = len(chunk)
                block = b"\x00" + size.to_bytes(2, "little") + (size ^ 0xFFFF).to_bytes(2, "little")
                stream.decompress(block + chunk)
        except zlib.error:
            self._broken = True
