"""MPPE (RFC 3078) with keys from MS-CHAP (RFC 3079): the cipher of one direction, no I/O.

A 0x00FD packet is a 2-octet header (bits A: flushed, D: encrypted, then a
12-bit coherency count) and the datagram, its 2-octet protocol field
included, under RC4.  The session key changes: before every packet when
stateless; when stateful, before every packet whose count ends in 0xFF (a
"flag" packet) and after a Reset-Request, each change announced with the A
bit.  Keys follow RFC 3079: a master key from the MS-CHAPv2 NT-Response, a
start key per direction (which end is the server decides which is which),
and each new key SHA-1 of the start key and the old one, then RC4 over
itself; 40-bit keys have their first three octets set to D1 26 9E.  What
Linux's ppp_mppe does is followed where RFC 3078 is loose (the first count
is 0; a stateful receiver that lost a packet waits for a flushed one).

Bad input costs bounded work: a count from the past is dropped; one from the
future is caught up with at most 2047 key changes (stateless) or 15 (stateful).
"""

from __future__ import annotations

import hashlib

from Crypto.Cipher import ARC4

from ndiswan.ppp.ccp.methods import Decompressed, DecompressFailed

NAME = "MPPE"
COUNT_SPACE = 0x1000
BIT_FLUSHED = 0x80
BIT_ENCRYPTED = 0x10
_PAD1 = bytes(40)
_PAD2 = b"\xf2" * 40
_MAGIC1 = b"This is the MPPE Master Key"
_MAGIC2 = b"On the client side, this is the send key; on the server side, it is the receive key."
_MAGIC3 = b"On the client side, this is the receive key; on the server side, it is the send key."
_SALT_40 = b"\xd1\x26\x9e"


def master_key(password_hash_hash: bytes, nt_response: bytes) -> bytes:
    """RFC 3079 3.4 GetMasterKey."""
    return hashlib.sha1(password_hash_hash + nt_response + _MAGIC1).digest()[:16]


def v1_start_key(password_hash_hash: bytes, challenge: bytes) -> bytes:
    """RFC 3079 2.4 Get_Start_Key from MS-CHAPv1: one key for both directions.

    128-bit only, as pppd: RFC 3079 2.1 derives v1's 40-bit key from the LAN
    Manager hash, which neither side sends.
    """
    return hashlib.sha1(password_hash_hash + password_hash_hash + challenge).digest()[:16]


def start_key(master: bytes, length: int, *, send: bool, server: bool) -> bytes:
    """RFC 3079 3.4 GetAsymmetricStartKey: ``length`` 8 (40 or 56 bits) or 16 (128)."""
    magic = _MAGIC3 if send == server else _MAGIC2
    return hashlib.sha1(master + _PAD1 + magic + _PAD2).digest()[:length]


def new_key_from_sha(start: bytes, session: bytes) -> bytes:
    """RFC 3079 3.1 GetNewKeyFromSHA."""
    length = len(start)
    return hashlib.sha1(start + _PAD1 + session[:length] + _PAD2).digest()[:length]


class _KeySchedule:
    """One direction's session keys and the RC4 stream they drive."""

    def __init__(self, start: bytes, bits: int) -> None:
        if (bits, len(start)) not in ((40, 8), (56, 8), (128, 16)):
            raise ValueError(f"MPPE: a {bits}-bit key needs 8 or 16 octets, not {len(start)}")
        self.start, self.bits = start, bits
        self.session = start
        self._change(initial=True)

    def _change(self, *, initial: bool) -> None:
        interim = new_key_from_sha(self.start, self.session)
        key = interim if initial else ARC4.new(interim).encrypt(interim)
        if self.bits == 40:
            key = _SALT_40 + key[3:]
        elif self.bits == 56:
            key = _SALT_40[:1] + key[1:]
        self.session = key
        self.rc4 = ARC4.new(key)

    def change(self) -> None:
        self._change(initial=False)


def _handled(protocol: int) -> bool:
    return 0x21 <= protocol <= 0xFA


class MppeCompressor:
    """What we send, encrypted with our send key."""

    name = NAME

    def __init__(self, start: bytes, bits: int, *, stateful: bool = False) -> None:
        self._keys = _KeySchedule(start, bits)
        self.stateful = stateful
        self._count = COUNT_SPACE - 1
        self._flush_next = False

    def reset(self) -> None:
        """The peer's Reset-Request: change key now and say so (the A bit)."""
        self._flush_next = True

    def compress(self, protocol: int, payload: bytes) -> bytes | None:
        if not _handled(protocol):
            return None
        self._count = (self._count + 1) % COUNT_SPACE
        bits = BIT_ENCRYPTED
        if not self.stateful or (self._count & 0xFF) == 0xFF or self._flush_next:
            self._keys.change()
            bits |= BIT_FLUSHED
            self._flush_next = False
        header = ((bits << 8) | self._count).to_bytes(2, "big")
        return header + self._keys.rc4.encrypt(protocol.to_bytes(2, "big") + payload)


class MppeDecompressor:
    """What we receive, decrypted with our receive key."""

    name = NAME

    def __init__(self, start: bytes, bits: int, *, stateful: bool = False) -> None:
        self._start, self._bits = start, bits
        self.stateful = stateful
        self.reset()

    def reset(self) -> None:
        self._keys = _KeySchedule(self._start, self._bits)
        self._count = COUNT_SPACE - 1
        self._discarding = False

    def incompressible(self, protocol: int, payload: bytes) -> None:
        """MPPE keeps no history of what was sent in the clear."""

    def decompress(self, data: bytes) -> Decompressed | DecompressFailed:
        if len(data) < 4:
            return DecompressFailed(f"MPPE: packet of {len(data)} octets is too short")
        bits, count = data[0] & 0xF0, (data[0] & 0x0F) << 8 | data[1]
        flushed = bool(bits & BIT_FLUSHED)
        if not bits & BIT_ENCRYPTED:
            return DecompressFailed("MPPE: packet not encrypted", reset=False)
        if not self.stateful:
            if not flushed:
                return DecompressFailed("MPPE: FLUSHED bit not set in stateless mode", reset=False)
            if (count - self._count) % COUNT_SPACE > COUNT_SPACE // 2:
                return DecompressFailed(f"MPPE: late packet, count {count}", reset=False)
            while self._count != count:  # a key change for every packet, lost ones too
                self._keys.change()
                self._count = (self._count + 1) % COUNT_SPACE
        else:
            failed = self._stateful_step(count, flushed)
            if failed is not None:
                return failed
        plain = self._keys.rc4.decrypt(data[2:])
        if plain[0] & 1:  # a compressed (one-octet) protocol field
            return Decompressed(plain[0], plain[1:])
        return Decompressed(plain[0] << 8 | plain[1], plain[2:])

    def _stateful_step(self, count: int, flushed: bool) -> DecompressFailed | None:
        if (count & 0xFF) == 0xFF and not flushed:
            return DecompressFailed("MPPE: flag packet without the FLUSHED bit", reset=False)
        if not self._discarding:
            self._count = (self._count + 1) % COUNT_SPACE
            if count != self._count:
                # A packet was lost: ask for a reset, and drop until a flushed one.
                self._discarding = True
                return DecompressFailed(f"MPPE: count {count}, expected {self._count}")
        elif not flushed:
            return DecompressFailed("MPPE: waiting for a flushed packet", reset=False)
        else:
            while (count & ~0xFF) != (self._count & ~0xFF):  # each missed flag packet
                self._keys.change()
                self._count = (self._count + 0x100) % COUNT_SPACE
            self._discarding = False
            self._count = count
        if flushed:
            self._keys.change()
        return None
