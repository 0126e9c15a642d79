"""PPP BSD-Compress (RFC 1977): LZW with 9..N bit codes, as Linux's bsd_comp speaks it.

One 0x00FD packet is a 2-octet sequence number and the LZW codes of the
protocol's low octet followed by the payload, packed most significant bit
first and padded with one bits.  Only protocols 0x21..0xF9 are compressed.

The dictionary lives across packets: codes 0..255 are the octets, 256 is
CLEAR, new strings take 257 on; the code width grows from 9 bits to the
negotiated maximum as the dictionary fills, both sides growing at the same
code.  Each packet starts a fresh string (its first code adds no entry on the
receiving side).  Once the dictionary is full, every 10000 input octets the
compression ratio is checked and the dictionary cleared when it got worse (or
fell under 1): the compressor then ends its packet with CLEAR.

Linux's receiver runs the compressor's own hash-table search over datagrams
sent uncompressed (bsd_incomp), so which strings it finds depends on its hash
table (Linux's open addressing with double hashing, whose search stops at a
freed slot and may then add a string twice).  Both sides here keep that same
table, hash for hash, so that our dictionary stays in step with the kernel's.

Memory: the hash table (at most 35023 slots) and, on the receiving side, the
string of each code up to ``STORED_STRING`` octets; a longer one is rebuilt
from its prefix chain when it is sent, so a peer that grows strings on
purpose cannot make the receiver hold 2**15 strings of an MRU each.  At 15
bits the receiver peaks at about 6.5 MiB (Python's int objects in the tables
weigh as much as the strings); ``tests/fuzz/test_memory_bounds.py`` holds it
under 8 MiB.
"""

from __future__ import annotations

from ndiswan.ppp.ccp.methods import Decompressed, DecompressFailed

NAME = "BSD-Compress"
MIN_BITS = 9
MAX_BITS = 15
CLEAR = 256
FIRST = 257
_CHECK_GAP = 10000
_RATIO_SCALE_LOG = 8
_RATIO_MAX = 0x7FFFFFFF >> _RATIO_SCALE_LOG
_BAD = (1 << MAX_BITS) - 1  # a "code minus one" no valid slot holds
#: The longest string the receiving side keeps whole; longer ones are rebuilt.
STORED_STRING = 48
#: Hash table size and shift per maximum code width (bsd_comp's table).
_HASH = {
    9: (5003, 4),
    10: (5003, 4),
    11: (5003, 4),
    12: (5003, 4),
    13: (9001, 5),
    14: (18013, 6),
    15: (35023, 7),
}


def _handled(protocol: int) -> bool:
    return 0x21 <= protocol <= 0xF9


class _Dictionary:
    """The LZW state both directions share, as bsd_comp keeps it."""

    def __init__(self, bits: int, strings: bool) -> None:
        if bits not in _HASH:
            raise ValueError(f"BSD-Compress code size {bits} outside 9..15")
        self.bits = bits
        self.hsize, self.hshift = _HASH[bits]
        self.maxmaxcode = (1 << bits) - 1
        # Per hash slot: the code minus one it holds (or >= max_ent: free) and its key.
        self.codem1 = [_BAD] * self.hsize
        self.fcode = [0] * self.hsize
        # Per code: the hash slot holding it.
        self.cptr = [0] * (self.maxmaxcode + 1)
        # Receiving side only: each code's string.
        self.strings: list[bytes | None] | None = None
        if strings:
            octets: list[bytes | None] = [bytes((i,)) for i in range(256)]
            self.strings = octets + [b""] * (self.maxmaxcode + 1 - 256)
        self.seq = 0
        self.clear()

    def clear(self) -> None:
        """Forget every string (the hash table keeps its slots, now all free)."""
        self.max_ent = FIRST - 1
        self.n_bits = MIN_BITS
        self.bytes_out = 0
        self.in_count = 0
        self.ratio = 0
        self.checkpoint = _CHECK_GAP

    def reset(self) -> None:
        self.seq = 0
        self.clear()

    def check(self) -> bool:
        """The ratio check; True when it cleared the dictionary."""
        if self.in_count < self.checkpoint:
            return False
        if self.in_count >= _RATIO_MAX or self.bytes_out >= _RATIO_MAX:
            self.in_count -= self.in_count >> 2
            self.bytes_out -= self.bytes_out >> 2
        self.checkpoint = self.in_count + _CHECK_GAP
        if self.max_ent >= self.maxmaxcode:
            new_ratio = self.in_count << _RATIO_SCALE_LOG
            if self.bytes_out:
                new_ratio //= self.bytes_out
            if new_ratio < self.ratio or new_ratio < 1 << _RATIO_SCALE_LOG:
                self.clear()
                return True
            self.ratio = new_ratio
        return False

    def encode(self, protocol: int, payload: bytes, out: bytearray | None) -> None:
        """Run the compressor over one datagram, packing codes into ``out`` (None: count only).

        Hot loop: everything it touches is a local.
        """
        codem1, fcodes, cptr, strings = self.codem1, self.fcode, self.cptr, self.strings
        hsize, hshift, maxmaxcode = self.hsize, self.hshift, self.maxmaxcode
        max_ent, n_bits = self.max_ent, self.n_bits
        mxcode = (1 << n_bits) - 1
        acc = 0  # pending bits, ``pending`` of them
        pending = 0
        total_bits = 0
        ent = protocol
        for c in payload:
            fcode = (c << 16) + ent
            hval = (c << hshift) ^ ent
            code = codem1[hval]
            if code < max_ent:
                if fcodes[hval] == fcode:
                    ent = code + 1
                    continue
                disp = hval or 1
                while True:
                    hval += disp
                    if hval >= hsize:
                        hval -= hsize
                    code = codem1[hval]
                    if code >= max_ent:
                        break
                    if fcodes[hval] == fcode:
                        break
                if code < max_ent:
                    ent = code + 1
                    continue
            # No match: send the prefix, add prefix + c as the next code.
            total_bits += n_bits
            if out is not None:
                acc = (acc << n_bits) | ent
                pending += n_bits
                while pending >= 8:
                    pending -= 8
                    out.append(acc >> pending)
                    acc &= (1 << pending) - 1
            if max_ent < maxmaxcode:
                if max_ent >= mxcode:
                    n_bits += 1
                    mxcode = (1 << n_bits) - 1
                old = cptr[max_ent + 1]
                if codem1[old] == max_ent:
                    codem1[old] = _BAD
                cptr[max_ent + 1] = hval
                codem1[hval] = max_ent
                fcodes[hval] = fcode
                max_ent += 1
                if strings is not None:
                    prefix = strings[ent]
                    strings[max_ent] = (
                        prefix + bytes((c,))
                        if prefix is not None and len(prefix) < STORED_STRING
                        else None
                    )
            ent = c
        total_bits += n_bits
        self.max_ent = max_ent
        self.n_bits = n_bits
        self.bytes_out += (total_bits + 7) >> 3
        self.in_count += len(payload) + 1
        self.seq = (self.seq + 1) & 0xFFFF
        cleared = self.check()
        if out is not None:
            acc = (acc << n_bits) | ent
            pending += n_bits
            if cleared:
                acc = (acc << n_bits) | CLEAR
                pending += n_bits
            while pending >= 8:
                pending -= 8
                out.append((acc >> pending) & 0xFF)
            if pending:
                out.append(((acc << (8 - pending)) | (0xFF >> pending)) & 0xFF)
        if max_ent >= mxcode and max_ent < maxmaxcode:
            self.n_bits += 1


def _rebuilt(d: _Dictionary, code: int) -> bytes:
    """A string not kept whole: its kept prefix and the suffixes the hash table records."""
    assert d.strings is not None
    suffixes = bytearray()
    known = d.strings[code]
    while known is None:
        entry = d.fcode[d.cptr[code]]  # (suffix << 16) + prefix code
        suffixes.append(entry >> 16)
        code = entry & 0xFFFF
        known = d.strings[code]
    suffixes.reverse()
    return known + suffixes


class BsdCompressor:
    """BSD-Compress for what we send, with the code size the peer's Configure-Request allows."""

    name = NAME

    def __init__(self, bits: int = MAX_BITS) -> None:
        self._dictionary = _Dictionary(bits, strings=False)
        self.bits = bits

    def reset(self) -> None:
        self._dictionary.reset()

    def compress(self, protocol: int, payload: bytes) -> bytes | None:
        if not _handled(protocol):
            return None
        dictionary = self._dictionary
        out = bytearray(dictionary.seq.to_bytes(2, "big"))
        dictionary.encode(protocol, payload, out)
        # Sent compressed only when shorter than the payload it replaces (the
        # dictionary has taken the datagram in either way, as the peer's will).
        if len(out) >= len(payload):
            return None
        return bytes(out)


class BsdDecompressor:
    """BSD-Compress for what we receive, with the code size our Configure-Request offered."""

    name = NAME

    def __init__(self, bits: int = MAX_BITS, mru: int = 1500) -> None:
        self._dictionary = _Dictionary(bits, strings=True)
        self.bits = bits
        # The protocol octet and an MRU-sized payload (never under 1500, as Linux).
        self._limit = max(mru, 1500) + 1
        self._broken = False

    def reset(self) -> None:
        self._dictionary.reset()
        self._broken = False

    def _fail(self, reason: str) -> DecompressFailed:
        self._broken = True
        return DecompressFailed(f"BSD-Compress: {reason}")

    def incompressible(self, protocol: int, payload: bytes) -> None:
        if not self._broken and _handled(protocol):
            self._dictionary.encode(protocol, payload, None)

    def decompress(self, data: bytes) -> Decompressed | DecompressFailed:
        if self._broken:
            return DecompressFailed("BSD-Compress: waiting for Reset-Ack", reset=False)
        if len(data) < 2:
            return self._fail(f"packet of {len(data)} octets is too short")
        d = self._dictionary
        seq = data[0] << 8 | data[1]
        if seq != d.seq:
            return self._fail(f"bad sequence number {seq}, expected {d.seq}")
        d.seq = (seq + 1) & 0xFFFF
        d.bytes_out += len(data) - 2
        strings = d.strings
        assert strings is not None
        codem1, fcodes, cptr = d.codem1, d.fcode, d.cptr
        hsize, hshift, maxmaxcode, limit = d.hsize, d.hshift, d.maxmaxcode, self._limit
        max_ent, n_bits = d.max_ent, d.n_bits
        parts: list[bytes] = []
        length = 0
        oldcode = CLEAR
        acc = 0
        pending = 0
        last = len(data) - 1
        for index in range(2, len(data)):
            acc = (acc << 8) | data[index]
            pending += 8
            if pending < n_bits:
                continue
            pending -= n_bits
            incode = acc >> pending
            acc &= (1 << pending) - 1
            if incode == CLEAR:
                if index != last:
                    return self._fail("CLEAR before the end of the packet")
                d.max_ent, d.n_bits = max_ent, n_bits
                d.clear()
                return self._result(parts)
            if (
                incode > max_ent + 1
                or incode > maxmaxcode
                or (incode > max_ent and oldcode == CLEAR)
            ):
                return self._fail(f"bad code {incode:#x} (last {max_ent:#x})")
            if incode > max_ent:  # the KwKwK case: the code being defined right now
                previous = strings[oldcode] or _rebuilt(d, oldcode)
                string = previous + previous[:1]
            else:
                string = strings[incode] or _rebuilt(d, incode)
            length += len(string)
            if length > limit:
                return self._fail(f"datagram longer than {limit - 1} octets")
            parts.append(string)
            if oldcode != CLEAR and max_ent < maxmaxcode:
                finchar = string[0]
                hval = (finchar << hshift) ^ oldcode
                if codem1[hval] < max_ent:
                    disp = hval or 1
                    while True:
                        hval += disp
                        if hval >= hsize:
                            hval -= hsize
                        if codem1[hval] >= max_ent:
                            break
                old = cptr[max_ent + 1]
                if codem1[old] == max_ent:
                    codem1[old] = _BAD
                cptr[max_ent + 1] = hval
                codem1[hval] = max_ent
                fcodes[hval] = (finchar << 16) + oldcode
                max_ent += 1
                prefix = strings[oldcode]
                strings[max_ent] = (
                    prefix + string[:1]
                    if prefix is not None and len(prefix) < STORED_STRING
                    else None
                )
                if max_ent >= (1 << n_bits) - 1 and max_ent < maxmaxcode:
                    n_bits += 1
            oldcode = incode
        d.max_ent, d.n_bits = max_ent, n_bits
        d.in_count += length
        d.check()
        return self._result(parts)

    def _result(self, parts: list[bytes]) -> Decompressed | DecompressFailed:
        plain = b"".join(parts)
        if not plain:
            return self._fail("no protocol octet")
        return Decompressed(plain[0], plain[1:])
