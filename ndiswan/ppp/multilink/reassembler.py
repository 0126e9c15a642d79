"""Reassembly on receive (RFC 1990 sections 4.1 and 4.2).

Each member's most recent sequence number is kept; M is their minimum.
Sequence numbers arrive increasing on each member, so a fragment still
missing below M is lost: the fragments around it are dropped up to the next
B.  Everything the peer gets wrong is counted in ``ReassemblyCounters`` and
dropped, never raised.  Memory is bounded: at most ``max_fragments`` buffered
fragments (default 64) and ``max_octets`` buffered octets (default
``2 * mrru``); past either the
oldest partial packet is dropped (a B that never meets its E ends this way).
A sequence number more than ``4 * max_fragments`` away from the next expected
one is wild and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ndiswan.ppp.multilink.header import Fragment, parse_fragment, sequence_bits, sequence_distance


@dataclass
class ReassemblyCounters:
    packets: int = 0
    fragments: int = 0
    malformed: int = 0
    lost: int = 0
    duplicates: int = 0
    wild: int = 0
    over_mrru: int = 0
    overflow: int = 0


class Reassembler:
    """One bundle's reassembly: 0x003d information fields in, packets out."""

    def __init__(
        self, mrru: int, short: bool = False, max_fragments: int = 64, max_octets: int | None = None
    ) -> None:
        self.mrru = mrru
        self.short = short
        self.max_fragments = max_fragments
        self.max_octets = 2 * mrru if max_octets is None else max_octets
        self.counters = ReassemblyCounters()
        self._bits = sequence_bits(short)
        self._expected: int | None = None  # unwrapped, so plain comparisons work
        self._buffer: dict[int, Fragment] = {}
        self._octets = 0
        self._latest: dict[str, int] = {}
        self._started = False

    def add_member(self, name: str) -> None:
        self._latest.setdefault(name, -1 if self._expected is None else self._expected - 1)

    def remove_member(self, name: str) -> list[bytes]:
        """The member leaves M's calculation; what it held back may now complete."""
        self._latest.pop(name, None)
        return self._drain()

    def buffered(self) -> tuple[int, int]:
        return len(self._buffer), self._octets

    def receive(self, member: str, data: bytes) -> list[bytes]:
        fragment = parse_fragment(data, self.short)
        if fragment is None:
            self.counters.malformed += 1
            return []
        self.counters.fragments += 1
        if self._expected is None:
            self._expected = fragment.sequence
        distance = sequence_distance(
            fragment.sequence, self._expected & _mask(self._bits), self._bits
        )
        if abs(distance) > 4 * self.max_fragments:
            self.counters.wild += 1
            return []
        number = self._expected + distance
        if number < self._expected and not self._started:
            self._expected = number  # reordered before anything was delivered
        if number < self._expected or number in self._buffer:
            self.counters.duplicates += 1
            return []
        self._latest[member] = max(self._latest.get(member, number), number)
        self._buffer[number] = fragment
        self._octets += len(fragment.payload)
        return self._drain()

    def _minimum(self) -> int:
        return min(self._latest.values()) if self._latest else (self._expected or 0)

    def _drain(self) -> list[bytes]:
        packets: list[bytes] = []
        while self._expected is not None and self._buffer:
            first = self._buffer.get(self._expected)
            if first is None:
                if self._expected < self._minimum() or self._over_cap():
                    self._skip_to_next_begin(self._expected + 1)
                    continue
                break
            if not first.begin:
                # Its beginning was lost, unless we joined mid-stream and it may still come.
                if self._started or self._expected - 1 < self._minimum() or self._over_cap():
                    self._skip_to_next_begin(self._expected)
                    continue
                break
            end = self._expected
            while end in self._buffer and not self._buffer[end].end:
                end += 1
            if end not in self._buffer:
                if end < self._minimum():
                    self._skip_to_next_begin(end)
                    continue
                if self._over_cap():  # a B whose E does not come in time
                    self.counters.overflow += 1
                    self._discard(self._expected, end)
                    self._advance(end)
                    continue
                break
            packet = b"".join(self._buffer[n].payload for n in range(self._expected, end + 1))
            self._discard(self._expected, end + 1)
            self._advance(end + 1)
            if information_length(packet) > self.mrru:
                self.counters.over_mrru += 1
            else:
                self.counters.packets += 1
                packets.append(packet)
        return packets

    def _over_cap(self) -> bool:
        return len(self._buffer) > self.max_fragments or self._octets > self.max_octets

    def _skip_to_next_begin(self, start: int) -> None:
        """Count a loss and drop fragments from ``_expected`` up to the next B at or after start."""
        self.counters.lost += 1
        assert self._expected is not None
        later = [n for n, f in self._buffer.items() if n >= start and f.begin]
        stop = min(later) if later else max(self._buffer) + 1
        self._discard(self._expected, stop)
        self._advance(stop)

    def _advance(self, number: int) -> None:
        self._expected = number
        self._started = True

    def _discard(self, start: int, stop: int) -> None:
        for number in range(start, stop):
            dropped = self._buffer.pop(number, None)
            if dropped is not None:
                self._octets -= len(dropped.payload)


def _mask(bits: int) -> int:
    return (1 << bits) - 1


def information_length(packet: bytes) -> int:
    """The octets the MRRU bounds: the packet after its protocol field (RFC 1990
    section 5.1.1 counts Information fields), 1 octet of it when PFC compressed."""
    return len(packet) - (1 if packet[:1] and packet[0] & 1 else 2)
