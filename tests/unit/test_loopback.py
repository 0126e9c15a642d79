"""NDISWAN loopback: own-address packets return upward; promiscuous copies."""

import ipaddress

from ndiswan.loopback import Loopback, ip_destination


def _ipv4(dst: str) -> bytes:
    header = bytearray(20)
    header[0] = 0x45
    header[16:20] = ipaddress.IPv4Address(dst).packed
    return bytes(header)


def _ipv6(dst: str) -> bytes:
    header = bytearray(40)
    header[0] = 0x60
    header[24:40] = ipaddress.IPv6Address(dst).packed
    return bytes(header)


def test_destination_of_ipv4_and_ipv6() -> None:
    assert ip_destination(_ipv4("10.7.0.1")) == ipaddress.IPv4Address("10.7.0.1")
    assert ip_destination(_ipv6("fe80::1")) == ipaddress.IPv6Address("fe80::1")


def test_truncated_or_unknown_packets_have_no_destination() -> None:
    assert ip_destination(b"") is None
    assert ip_destination(_ipv4("10.0.0.1")[:19]) is None
    assert ip_destination(b"\x70" + bytes(40)) is None


def test_packet_to_own_address_is_looped_back() -> None:
    loop = Loopback(own_addresses={ipaddress.IPv4Address("10.7.0.1")})
    assert loop.is_for_us(_ipv4("10.7.0.1"))
    assert not loop.is_for_us(_ipv4("10.7.0.2"))
    assert loop.looped == 1


def test_promiscuous_mode_copies_every_sent_packet() -> None:
    loop = Loopback()
    packet = _ipv4("10.7.0.2")
    assert loop.copy_for_promiscuous(packet) is None
    loop.promiscuous = True
    assert loop.copy_for_promiscuous(packet) == packet
    assert loop.copied == 1
