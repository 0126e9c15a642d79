"""Fragmentation on send (RFC 1990 section 4): one sequence space per bundle.

A packet is split over the members whose send window is open (a member whose
WAN_CO_LINKPARAMS SendWindow is 0 gets nothing), each member's share in
proportion to its speed, so members of unequal speed finish their pieces at
about the same time.  No fragment is larger than its member's MRU allows.

Small packets are not fragmented: a packet is cut into at most
``len(packet) // MIN_FRAGMENT`` pieces, so one under ``2 * MIN_FRAGMENT``
octets goes whole to one open member: the one least loaded for its speed
(the fastest when they tie), so small packets -- TCP's acknowledgements --
use every member and each member hears traffic (``liveness``).  Why not cut
them: every extra fragment costs about 11 octets on an async line (4 of
Multilink header, 2 of protocol, 2 of FCS, 2 of address and control, a
flag), which is under 9 % of a 128-octet piece, while splitting a smaller
packet saves less serialisation time than its extra headers cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from ndiswan.ppp.multilink.header import Fragment, header_length, sequence_add, sequence_bits

#: The smallest piece worth a fragment of its own (see the module docstring).
MIN_FRAGMENT = 128


@dataclass(frozen=True)
class MemberLink:
    """What the fragmenter needs of a member: its speed, SendWindow and MRU."""

    name: str
    speed: int
    send_window: int
    mru: int


class Fragmenter:
    """Numbers fragments from one sequence space and shares packets over members."""

    def __init__(self, short: bool = False, first_sequence: int = 0) -> None:
        self.short = short
        self._bits = sequence_bits(short)
        self.next_sequence = first_sequence
        #: Seconds of line time given to each member, less the least of them.
        self._load: dict[str, float] = {}

    def fragment(self, packet: bytes, members: list[MemberLink]) -> list[tuple[str, Fragment]]:
        """(member name, fragment) pairs for ``packet``; empty when no window is open."""
        open_members = [m for m in members if m.send_window > 0 and m.speed > 0]
        room = header_length(self.short)
        open_members = [m for m in open_members if m.mru > room]
        if not open_members:
            return []
        pieces = max(1, min(len(open_members), len(packet) // MIN_FRAGMENT))
        if pieces < len(open_members):
            open_members.sort(key=lambda m: (self._load.get(m.name, 0.0), -m.speed))
        else:
            open_members.sort(key=lambda m: m.speed, reverse=True)
        chosen = open_members[:pieces]
        sizes = _shares(len(packet), [m.speed for m in chosen])
        plan: list[tuple[str, int]] = []
        for member, size in zip(chosen, sizes, strict=True):
            most = member.mru - room
            while size > most:  # never more than the member's MRU allows
                plan.append((member.name, most))
                size -= most
            if size or not plan:
                plan.append((member.name, size))
        self._account(plan, open_members)
        out: list[tuple[str, Fragment]] = []
        offset = 0
        for index, (name, size) in enumerate(plan):
            piece = packet[offset : offset + size]
            offset += size
            fragment = Fragment(self.next_sequence, index == 0, index == len(plan) - 1, piece)
            self.next_sequence = sequence_add(self.next_sequence, 1, self._bits)
            out.append((name, fragment))
        return out

    def _account(self, plan: list[tuple[str, int]], members: list[MemberLink]) -> None:
        speeds = {m.name: m.speed for m in members}
        load = {name: self._load.get(name, 0.0) for name in speeds}
        for name, size in plan:
            load[name] += size / speeds[name]
        least = min(load.values())
        self._load = {name: value - least for name, value in load.items()}


def _shares(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), summing exactly."""
    whole = sum(weights)
    sizes = [total * weight // whole for weight in weights]
    leftover = total - sum(sizes)
    by_remainder = sorted(
        range(len(weights)), key=lambda i: (total * weights[i]) % whole, reverse=True
    )
    for index in by_remainder[:leftover]:
        sizes[index] += 1
    return sizes
