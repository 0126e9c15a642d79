"""Loopback as NDISWAN provides it (the miniport never loops a packet back).

* Software loopback: a packet the upper edge sends to the link's own
  address is indicated straight back up instead of going on the wire.
* Promiscuous loopback: while enabled, a copy of every packet sent on the
  link is indicated upward too (what a capture on the interface sees).

Pure decisions on bytes; the link glue does the indicating.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


def ip_destination(packet: bytes) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The destination address of an IPv4 or IPv6 packet, None if it is neither."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return ipaddress.IPv4Address(packet[16:20])
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return ipaddress.IPv6Address(packet[24:40])
    return None


@dataclass
class Loopback:
    """Which packets come back up: to our own addresses, or all in promiscuous mode."""

    own_addresses: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = field(default_factory=set)
    promiscuous: bool = False
    looped: int = 0
    copied: int = 0

    def is_for_us(self, packet: bytes) -> bool:
        """Software loopback: the packet never reaches the miniport."""
        if ip_destination(packet) in self.own_addresses:
            self.looped += 1
            return True
        return False

    def copy_for_promiscuous(self, packet: bytes) -> bytes | None:
        if self.promiscuous:
            self.copied += 1
            return packet
        return None
