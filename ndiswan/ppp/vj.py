"""Van Jacobson TCP/IP header compression (RFC 1144), both directions, sans-I/O.

IPCP's IP-Compression-Protocol option (RFC 1332, 0x002d) turns it on with two
numbers: the highest slot id (Max-Slot-Id, so ``max_slot_id + 1`` slots, at
most 256) and whether the slot id may be left out when it repeats
(Comp-Slot-Id).  The compressor hands back one of three PPP protocols:

* ``0x0021`` IP: the packet unchanged (not TCP, a fragment, SYN/FIN/RST or no
  ACK, a runt: RFC 1144 section 3.2.3 sends these as plain IP);
* ``0x002f`` uncompressed-TCP: the packet with its IP protocol octet replaced
  by the slot id, which stores the headers in that slot on both sides;
* ``0x002d`` compressed-TCP: change mask, [slot id], TCP checksum, deltas, data.

Behaviour follows Linux's slhc (the kernel pppd uses): a delta of 0 or of 256
and more is sent as ``00`` plus 16 bits, the IP id delta of 1 and an unchanged
urgent pointer cost nothing, an urgent pointer that changes without URG, an
ACK or sequence delta beyond 16 bits, or any change in the fields RFC 1144
expects constant (version, IHL, TOS, DF, TTL, TCP header length, IP or TCP
options) sends the packet uncompressed.  The uncompressed-TCP packet keeps the
IP checksum of the original (computed with protocol 6), which the receiver
checks after putting 6 back; a rebuilt packet gets a fresh IP checksum.

State is bounded: at most 256 slots of 120 octets of headers each.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PROTO_IP = 0x0021
PROTO_VJ_COMPRESSED = 0x002D
PROTO_VJ_UNCOMPRESSED = 0x002F

# Change-mask bits (RFC 1144 section 3.2.2).
NEW_C = 0x40
NEW_I = 0x20
TCP_PUSH = 0x10
NEW_S = 0x08
NEW_A = 0x04
NEW_W = 0x02
NEW_U = 0x01
#: S+A+W (echoed interactive traffic) and S+W+U (unidirectional data): these
#: combinations never occur for real, so RFC 1144 gives them special meanings.
SPECIAL_I = NEW_S | NEW_W | NEW_U
SPECIAL_D = NEW_S | NEW_A | NEW_W | NEW_U
SPECIALS_MASK = SPECIAL_D

_TCP = 6
_SYN, _RST, _FIN, _PSH, _ACK, _URG = 0x02, 0x04, 0x01, 0x08, 0x10, 0x20


@dataclass(frozen=True, slots=True)
class VjDecompressFailed:
    """A VJ packet that could not be rebuilt: dropped and counted by the caller."""

    reason: str


def ip_checksum(header: bytes | bytearray) -> int:
    """The RFC 791 one's-complement checksum over ``header`` (even length)."""
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _encode(value: int) -> bytes:
    """A delta: one octet for 1..255, else ``00`` and 16 bits (slhc's encode)."""
    value &= 0xFFFF
    if 0 < value < 256:
        return bytes((value,))
    return bytes((0, value >> 8, value & 0xFF))


def _check_slots(max_slot_id: int) -> None:
    if not 0 <= max_slot_id <= 255:
        raise ValueError(f"max_slot_id {max_slot_id} outside 0..255")


@dataclass(slots=True)
class _Slot:
    ip: bytes  # the whole IP header, options included
    tcp: bytes  # the whole TCP header, options included


class VjCompressor:
    """The sending side: at most ``max_slot_id + 1`` connections, least recently used out."""

    def __init__(self, max_slot_id: int = 15, compress_slot_id: bool = True) -> None:
        _check_slots(max_slot_id)
        self.slot_count = max_slot_id + 1
        self.compress_slot_id = compress_slot_id
        self._slots: dict[int, _Slot] = {}
        # Connection key -> slot, most recently used last.
        self._by_key: dict[bytes, int] = {}
        self._last_sent_slot: int | None = None

    def compress(self, packet: bytes) -> tuple[int, bytes]:
        """The PPP protocol and information field to send ``packet`` (an IPv4 datagram) as."""
        if len(packet) < 20 or packet[0] >> 4 != 4:
            return PROTO_IP, packet
        ihl = (packet[0] & 0x0F) * 4
        fragment = struct.unpack_from("!H", packet, 6)[0] & 0x3FFF
        if packet[9] != _TCP or fragment or ihl < 20 or len(packet) < ihl + 20:
            return PROTO_IP, packet
        thl = (packet[ihl + 12] >> 4) * 4
        hlen = ihl + thl
        flags = packet[ihl + 13]
        if thl < 20 or hlen > len(packet) or flags & (_SYN | _FIN | _RST) or not flags & _ACK:
            return PROTO_IP, packet
        ip, tcp = packet[:ihl], packet[ihl:hlen]
        key = packet[12:20] + packet[ihl : ihl + 4]
        slot_id = self._by_key.pop(key, None)
        if slot_id is None:
            return self._uncompressed(self._take_slot(key), packet, ip, tcp)
        self._by_key[key] = slot_id  # now the most recently used
        old = self._slots[slot_id]
        if (
            old.ip[0] != ip[0]
            or old.ip[1] != ip[1]
            or (old.ip[6] ^ ip[6]) & 0x40
            or old.ip[8] != ip[8]
            or old.tcp[12] >> 4 != tcp[12] >> 4
            or old.ip[20:] != ip[20:]
            or old.tcp[20:] != tcp[20:]
        ):
            return self._uncompressed(slot_id, packet, ip, tcp)
        return self._compressed(slot_id, old, packet, ip, tcp, hlen)

    def _take_slot(self, key: bytes) -> int:
        if len(self._by_key) < self.slot_count:
            used = set(self._by_key.values())
            slot_id = next(i for i in range(self.slot_count) if i not in used)
        else:
            oldest = next(iter(self._by_key))
            slot_id = self._by_key.pop(oldest)
        self._by_key[key] = slot_id
        return slot_id

    def _uncompressed(
        self, slot_id: int, packet: bytes, ip: bytes, tcp: bytes
    ) -> tuple[int, bytes]:
        self._slots[slot_id] = _Slot(ip, tcp)
        self._last_sent_slot = slot_id
        return PROTO_VJ_UNCOMPRESSED, packet[:9] + bytes((slot_id,)) + packet[10:]

    def _compressed(
        self, slot_id: int, old: _Slot, packet: bytes, ip: bytes, tcp: bytes, hlen: int
    ) -> tuple[int, bytes]:
        seq, ack = struct.unpack_from("!II", tcp, 4)
        window, checksum, urgent = struct.unpack_from("!HHH", tcp, 14)
        old_seq, old_ack = struct.unpack_from("!II", old.tcp, 4)
        old_window, _, old_urgent = struct.unpack_from("!HHH", old.tcp, 14)
        flags = tcp[13]
        changes = 0
        deltas = bytearray()
        if flags & _URG:
            deltas += _encode(urgent)
            changes |= NEW_U
        elif urgent != old_urgent:
            return self._uncompressed(slot_id, packet, ip, tcp)
        delta_w = (window - old_window) & 0xFFFF
        if delta_w:
            deltas += _encode(delta_w)
            changes |= NEW_W
        delta_a = (ack - old_ack) & 0xFFFFFFFF
        if delta_a:
            if delta_a > 0xFFFF:
                return self._uncompressed(slot_id, packet, ip, tcp)
            deltas += _encode(delta_a)
            changes |= NEW_A
        delta_s = (seq - old_seq) & 0xFFFFFFFF
        if delta_s:
            if delta_s > 0xFFFF:
                return self._uncompressed(slot_id, packet, ip, tcp)
            deltas += _encode(delta_s)
            changes |= NEW_S
        old_length = struct.unpack_from("!H", old.ip, 2)[0]
        old_data = old_length - len(old.ip) - len(old.tcp)
        if changes == 0:
            # Nothing changed: data after a pure ACK goes compressed; anything else is
            # likely a retransmission and goes uncompressed in case the last one was lost.
            length = struct.unpack_from("!H", ip, 2)[0]
            if not (length != old_length and old_data == 0):
                return self._uncompressed(slot_id, packet, ip, tcp)
        elif changes in (SPECIAL_I, SPECIAL_D):
            return self._uncompressed(slot_id, packet, ip, tcp)
        elif changes == NEW_S | NEW_A:
            if delta_s == delta_a == old_data:
                changes, deltas = SPECIAL_I, bytearray()
        elif changes == NEW_S and delta_s == old_data:
            changes, deltas = SPECIAL_D, bytearray()
        ident, old_ident = ip[4] << 8 | ip[5], old.ip[4] << 8 | old.ip[5]
        delta_i = (ident - old_ident) & 0xFFFF
        if delta_i != 1:
            deltas += _encode(delta_i)
            changes |= NEW_I
        if flags & _PSH:
            changes |= TCP_PUSH
        self._slots[slot_id] = _Slot(ip, tcp)
        if not self.compress_slot_id or self._last_sent_slot != slot_id:
            head = bytes((changes | NEW_C, slot_id))
        else:
            head = bytes((changes,))
        self._last_sent_slot = slot_id
        return PROTO_VJ_COMPRESSED, head + struct.pack("!H", checksum) + deltas + packet[hlen:]


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def delta(self) -> int:
        """One delta as slhc's decode reads it; IndexError when the packet ends."""
        data, pos = self.data, self.pos
        if data[pos]:
            self.pos = pos + 1
            return data[pos]
        value = data[pos + 1] << 8 | data[pos + 2]
        self.pos = pos + 3
        return value


class VjDecompressor:
    """The receiving side: rebuilds IPv4 packets from the three VJ protocols."""

    def __init__(self, max_slot_id: int = 15, compress_slot_id: bool = True) -> None:
        _check_slots(max_slot_id)
        self.slot_count = max_slot_id + 1
        # slhc accepts an implicit slot id even when Comp-Slot-Id was refused; so do we.
        self.compress_slot_id = compress_slot_id
        self._ip: list[bytearray | None] = [None] * self.slot_count
        self._tcp: list[bytearray | None] = [None] * self.slot_count
        self._current: int | None = None
        self._tossing = True  # nothing to refer to until a slot is named

    def toss(self) -> None:
        """A line error (bad FCS, lost frame): drop implicit-slot packets until a slot is named."""
        self._tossing = True

    def decompress(self, protocol: int, data: bytes) -> bytes | VjDecompressFailed:
        """The IPv4 packet carried by one received frame of ``protocol``."""
        if protocol == PROTO_IP:
            return data
        if protocol == PROTO_VJ_UNCOMPRESSED:
            return self._remember(data)
        if protocol == PROTO_VJ_COMPRESSED:
            return self._rebuild(data)
        raise ValueError(f"protocol {protocol:#06x} is not one of VJ's")

    def _fail(self, reason: str) -> VjDecompressFailed:
        self._tossing = True
        return VjDecompressFailed(reason)

    def _remember(self, data: bytes) -> bytes | VjDecompressFailed:
        if len(data) < 40:
            return self._fail("uncompressed-TCP packet shorter than 40 octets")
        ihl = (data[0] & 0x0F) * 4
        if data[0] >> 4 != 4 or ihl < 20 or len(data) < ihl + 20:
            return self._fail("uncompressed-TCP packet with a bad IP header")
        thl = (data[ihl + 12] >> 4) * 4
        if thl < 20 or len(data) < ihl + thl:
            return self._fail("uncompressed-TCP packet with a bad TCP header")
        slot_id = data[9]
        packet = data[:9] + bytes((_TCP,)) + data[10:]
        if ip_checksum(packet[:ihl]) != 0:
            return self._fail("uncompressed-TCP packet with a bad IP checksum")
        if slot_id >= self.slot_count:
            return self._fail(f"uncompressed-TCP slot {slot_id} beyond {self.slot_count - 1}")
        self._ip[slot_id] = bytearray(packet[:ihl])
        self._tcp[slot_id] = bytearray(packet[ihl : ihl + thl])
        self._current = slot_id
        self._tossing = False
        return packet

    def _rebuild(self, data: bytes) -> bytes | VjDecompressFailed:
        if len(data) < 3:
            return self._fail("compressed-TCP packet shorter than 3 octets")
        changes = data[0]
        pos = 1
        if changes & NEW_C:
            slot_id = data[1]
            pos = 2
            if slot_id >= self.slot_count or self._ip[slot_id] is None:
                return self._fail(f"compressed-TCP names unknown slot {slot_id}")
            self._current = slot_id
            self._tossing = False
        elif self._tossing or self._current is None:
            return VjDecompressFailed("compressed-TCP tossed after a line error")
        slot = self._current
        ip, tcp = self._ip[slot], self._tcp[slot]
        assert ip is not None and tcp is not None
        reader = _Reader(data, pos + 2)
        try:
            checksum = data[pos : pos + 2]
            if len(checksum) < 2:
                return self._fail("compressed-TCP packet cut inside its checksum")
            old_data = (ip[2] << 8 | ip[3]) - len(ip) - len(tcp)
            seq, ack = struct.unpack_from("!II", tcp, 4)
            special = changes & SPECIALS_MASK
            if special == SPECIAL_I:
                seq, ack = seq + old_data, ack + old_data
            elif special == SPECIAL_D:
                seq += old_data
            else:
                if changes & NEW_U:
                    tcp[13] |= _URG
                    struct.pack_into("!H", tcp, 18, reader.delta())
                else:
                    tcp[13] &= ~_URG & 0xFF
                if changes & NEW_W:
                    window = struct.unpack_from("!H", tcp, 14)[0]
                    struct.pack_into("!H", tcp, 14, (window + reader.delta()) & 0xFFFF)
                if changes & NEW_A:
                    ack += reader.delta()
                if changes & NEW_S:
                    seq += reader.delta()
            ident = ip[4] << 8 | ip[5]
            ident += reader.delta() if changes & NEW_I else 1
        except IndexError:
            return self._fail("compressed-TCP packet cut inside its deltas")
        struct.pack_into("!II", tcp, 4, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF)
        tcp[16:18] = checksum
        if changes & TCP_PUSH:
            tcp[13] |= _PSH
        else:
            tcp[13] &= ~_PSH & 0xFF
        payload = data[reader.pos :]
        length = len(ip) + len(tcp) + len(payload)
        if length > 0xFFFF:
            return self._fail("compressed-TCP packet longer than an IP datagram")
        struct.pack_into("!HH", ip, 2, length, ident & 0xFFFF)
        struct.pack_into("!H", ip, 10, 0)
        struct.pack_into("!H", ip, 10, ip_checksum(ip))
        return bytes(ip) + bytes(tcp) + payload
