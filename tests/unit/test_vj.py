"""RFC 1144 Van Jacobson compression: each encoder branch, the decoder, tossing, fuzz."""

from __future__ import annotations

import random
import struct

import pytest

from ndiswan.ppp.vj import (
    NEW_A,
    NEW_C,
    NEW_I,
    NEW_S,
    NEW_U,
    NEW_W,
    PROTO_IP,
    PROTO_VJ_COMPRESSED,
    PROTO_VJ_UNCOMPRESSED,
    SPECIAL_D,
    SPECIAL_I,
    TCP_PUSH,
    VjCompressor,
    VjDecompressFailed,
    VjDecompressor,
    ip_checksum,
)

ACK, PSH, SYN, FIN, RST, URG = 0x10, 0x08, 0x02, 0x01, 0x04, 0x20


def tcp_packet(
    *,
    seq: int = 1000,
    ack: int = 5000,
    flags: int = ACK,
    window: int = 8192,
    urgent: int = 0,
    ident: int = 1,
    data: bytes = b"",
    src: bytes = bytes((10, 0, 0, 1)),
    dst: bytes = bytes((10, 0, 0, 2)),
    sport: int = 1234,
    dport: int = 80,
    ttl: int = 64,
    tos: int = 0,
    ip_options: bytes = b"",
    tcp_options: bytes = b"",
    fragment: int = 0x4000,
) -> bytes:
    tcp = struct.pack(
        "!HHIIBBHHH",
        sport,
        dport,
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
        (5 + len(tcp_options) // 4) << 4,
        flags,
        window,
        0x1234,
        urgent,
    )
    tcp += tcp_options
    ihl = 5 + len(ip_options) // 4
    length = ihl * 4 + len(tcp) + len(data)
    ip = bytearray(
        struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, length, ident, fragment, ttl, 6, 0, src, dst)
    )
    ip += ip_options
    struct.pack_into("!H", ip, 10, ip_checksum(ip))
    return bytes(ip) + tcp + data


def pair(slots: int = 15, compress_slot_id: bool = True) -> tuple[VjCompressor, VjDecompressor]:
    return VjCompressor(slots, compress_slot_id), VjDecompressor(slots, compress_slot_id)


def through(comp: VjCompressor, decomp: VjDecompressor, packet: bytes) -> tuple[int, bytes]:
    protocol, wire = comp.compress(packet)
    assert decomp.decompress(protocol, wire) == packet
    return protocol, wire


def test_first_packet_of_a_connection_goes_uncompressed_with_its_slot() -> None:
    comp, decomp = pair()
    protocol, wire = through(comp, decomp, tcp_packet())
    assert protocol == PROTO_VJ_UNCOMPRESSED
    assert wire[9] == 0 and len(wire) == 40


def test_non_tcp_and_fragments_go_as_ip() -> None:
    comp, _ = pair()
    udp = bytearray(tcp_packet())
    udp[9] = 17
    assert comp.compress(bytes(udp)) == (PROTO_IP, bytes(udp))
    fragment = tcp_packet(fragment=0x2000)
    assert comp.compress(fragment) == (PROTO_IP, fragment)
    assert comp.compress(b"\x45\x00") == (PROTO_IP, b"\x45\x00")


@pytest.mark.parametrize("flags", [SYN | ACK, FIN | ACK, RST | ACK, 0])
def test_syn_fin_rst_or_no_ack_go_as_ip(flags: int) -> None:
    comp, _ = pair()
    comp.compress(tcp_packet())
    packet = tcp_packet(flags=flags, seq=1001)
    assert comp.compress(packet) == (PROTO_IP, packet)


def test_special_d_unidirectional_data_sends_no_deltas() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet(data=b"x" * 100))
    protocol, wire = through(comp, decomp, tcp_packet(seq=1100, ident=2, data=b"y" * 100))
    assert protocol == PROTO_VJ_COMPRESSED
    assert wire[0] == SPECIAL_D and len(wire) == 3 + 100


def test_special_i_echoed_terminal_traffic_sends_no_deltas() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet(data=b"a"))
    protocol, wire = through(comp, decomp, tcp_packet(seq=1001, ack=5001, ident=2, data=b"b"))
    assert protocol == PROTO_VJ_COMPRESSED and wire[0] == SPECIAL_I


@pytest.mark.parametrize(
    ("changes", "kwargs"),
    [
        (NEW_W, {"window": 8000}),
        (NEW_A, {"ack": 5010}),
        (NEW_S, {"seq": 1010}),
        (NEW_U | NEW_S, {"flags": ACK | URG, "urgent": 7, "seq": 1001}),
        (NEW_S | NEW_I, {"seq": 1010, "ident": 9}),
        (TCP_PUSH | NEW_S, {"flags": ACK | PSH, "seq": 1010}),
        (NEW_S | NEW_A | NEW_W, {"seq": 1010, "ack": 5020, "window": 100}),
    ],
)
def test_change_mask_names_each_changed_field(changes: int, kwargs: dict[str, int]) -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet(data=b"z" * 3))
    new = {"ident": 2, "data": b"q" * 3, **kwargs}
    protocol, wire = through(comp, decomp, tcp_packet(**new))  # type: ignore[arg-type]
    assert protocol == PROTO_VJ_COMPRESSED
    assert wire[0] == changes


def test_delta_encoding_one_octet_then_zero_and_sixteen_bits() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet())
    _, wire = through(comp, decomp, tcp_packet(ident=2, ack=5000 + 255))
    assert wire[0] == NEW_A and wire[3:] == b"\xff"
    _, wire = through(comp, decomp, tcp_packet(ident=3, ack=5255 + 256))
    assert wire[0] == NEW_A and wire[3:] == b"\x00\x01\x00"


def test_ip_id_delta_of_zero_is_sent_as_three_octets() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet())
    _, wire = through(comp, decomp, tcp_packet(ident=1, ack=5001))
    assert wire[0] == NEW_A | NEW_I and wire[3:] == b"\x01\x00\x00\x00"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ack": 5000 + 0x10000},
        {"seq": 1000 + 0x10000},
        {"seq": 999},  # negative: a retransmission of older data
        {"ttl": 63},
        {"tos": 0x10},
        {"fragment": 0},
        {"tcp_options": b"\x01\x01\x01\x01"},
        {"urgent": 5},  # urgent pointer moved without URG
    ],
)
def test_what_rfc_1144_expects_constant_changing_sends_uncompressed(kwargs: dict[str, int]) -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet())
    protocol, _ = through(comp, decomp, tcp_packet(ident=2, **kwargs))  # type: ignore[arg-type]
    assert protocol == PROTO_VJ_UNCOMPRESSED


def test_changed_ip_or_tcp_option_contents_send_uncompressed() -> None:
    comp, decomp = pair()
    options = {"ip_options": b"\x94\x04\x00\x00", "tcp_options": b"\x01\x01\x08\x0a" + bytes(8)}
    through(comp, decomp, tcp_packet(**options))  # type: ignore[arg-type]
    same = through(comp, decomp, tcp_packet(ident=2, seq=1010, **options))  # type: ignore[arg-type]
    assert same[0] == PROTO_VJ_COMPRESSED
    stamp = {
        "ip_options": options["ip_options"],
        "tcp_options": b"\x01\x01\x08\x0a" + bytes(7) + b"\x01",
    }
    assert through(comp, decomp, tcp_packet(ident=3, seq=1020, **stamp))[0] == PROTO_VJ_UNCOMPRESSED  # type: ignore[arg-type]


def test_retransmission_with_nothing_changed_goes_uncompressed() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet(data=b"abc"))
    assert through(comp, decomp, tcp_packet(ident=2, data=b"abc"))[0] == PROTO_VJ_UNCOMPRESSED


def test_data_after_a_pure_ack_with_nothing_changed_goes_compressed() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet())
    protocol, wire = through(comp, decomp, tcp_packet(ident=2, data=b"hello"))
    assert protocol == PROTO_VJ_COMPRESSED and wire[0] == 0


def test_slot_id_is_left_out_only_when_it_repeats_and_comp_slot_id_allows() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet())
    other = {"sport": 4000}
    through(comp, decomp, tcp_packet(**other))
    _, wire = through(comp, decomp, tcp_packet(ident=2, seq=1005))
    assert wire[0] & NEW_C and wire[1] == 0
    _, wire = through(comp, decomp, tcp_packet(ident=3, seq=1010))
    assert not wire[0] & NEW_C
    comp, decomp = pair(compress_slot_id=False)
    through(comp, decomp, tcp_packet())
    _, wire = through(comp, decomp, tcp_packet(ident=2, seq=1005))
    assert wire[0] & NEW_C


def test_slots_are_bounded_and_the_least_recently_used_is_reused() -> None:
    comp, decomp = pair(slots=1)
    through(comp, decomp, tcp_packet(sport=1))
    through(comp, decomp, tcp_packet(sport=2))
    protocol, wire = through(comp, decomp, tcp_packet(sport=1, ident=2))
    assert protocol == PROTO_VJ_UNCOMPRESSED and wire[9] in (0, 1)
    protocol, wire = through(comp, decomp, tcp_packet(sport=3))
    assert wire[9] != through(comp, decomp, tcp_packet(sport=1, ident=3, seq=1001))[1][1]


def test_max_slot_id_beyond_255_is_refused() -> None:
    with pytest.raises(ValueError, match="max_slot_id"):
        VjCompressor(256)


def test_line_error_tosses_implicit_slot_packets_until_one_is_named() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet())
    decomp.toss()
    protocol, wire = comp.compress(tcp_packet(ident=2, seq=1005))
    assert not wire[0] & NEW_C
    assert isinstance(decomp.decompress(protocol, wire), VjDecompressFailed)
    packet = tcp_packet(ident=3, seq=1010, sport=9)
    assert through(comp, decomp, packet)[0] == PROTO_VJ_UNCOMPRESSED


def test_explicit_slot_ends_tossing() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet())
    decomp.toss()
    comp2 = VjCompressor(15, compress_slot_id=False)
    through(comp2, VjDecompressor(), tcp_packet())
    protocol, wire = comp2.compress(tcp_packet(ident=2, seq=1005))
    assert wire[0] & NEW_C
    assert decomp.decompress(protocol, wire) == tcp_packet(ident=2, seq=1005)


def test_compressed_packet_before_any_slot_is_tossed() -> None:
    result = VjDecompressor().decompress(PROTO_VJ_COMPRESSED, b"\x08\x12\x34\x05")
    assert isinstance(result, VjDecompressFailed)


def test_uncompressed_tcp_with_bad_checksum_or_slot_is_refused() -> None:
    decomp = VjDecompressor(3)
    bad = bytearray(tcp_packet())
    bad[9] = 0
    bad[8] ^= 1
    assert isinstance(decomp.decompress(PROTO_VJ_UNCOMPRESSED, bytes(bad)), VjDecompressFailed)
    beyond = bytearray(tcp_packet())
    beyond[9] = 4
    assert "slot 4" in str(decomp.decompress(PROTO_VJ_UNCOMPRESSED, bytes(beyond)))


def test_rebuilt_packet_has_a_valid_ip_checksum() -> None:
    comp, decomp = pair()
    through(comp, decomp, tcp_packet())
    protocol, wire = comp.compress(tcp_packet(ident=7, seq=1003, data=b"hi"))
    rebuilt = decomp.decompress(protocol, wire)
    assert isinstance(rebuilt, bytes) and ip_checksum(rebuilt[:20]) == 0


def _conversation(rng: random.Random, count: int) -> list[bytes]:
    packets = []
    seq = {1: 1000, 2: 7000, 3: 9}
    ack = {1: 5000, 2: 100, 3: 77}
    ident = 1
    for _ in range(count):
        port = rng.choice((1, 2, 3))
        data = bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 10, 536))))
        ident += rng.choice((1, 1, 1, 2, 0, 300))
        ack[port] += rng.choice((0, 0, 1, 536, 70000))
        flags = ACK | rng.choice((0, PSH, 0, 0, URG))
        urgent = rng.randrange(1, 500) if flags & URG else 0
        packets.append(
            tcp_packet(
                seq=seq[port],
                ack=ack[port],
                flags=flags,
                urgent=urgent,
                ident=ident & 0xFFFF,
                sport=port,
                window=rng.choice((8192, 8192, 4096)),
                data=data,
            )
        )
        seq[port] += len(data)
    return packets


def test_mixed_conversations_round_trip() -> None:
    comp, decomp = pair(slots=1)
    seen = set()
    for packet in _conversation(random.Random(1144), 2000):
        seen.add(through(comp, decomp, packet)[0])
    assert seen == {PROTO_VJ_COMPRESSED, PROTO_VJ_UNCOMPRESSED}


def test_fuzzed_compressed_streams_give_a_packet_or_an_error_never_an_exception() -> None:
    rng = random.Random(20)
    comp, decomp = pair(slots=3)
    outcomes = {"packet": 0, "error": 0}
    for packet in _conversation(rng, 3000):
        protocol, wire = comp.compress(packet)
        mutated = bytearray(wire)
        for _ in range(rng.randrange(0, 3)):
            if mutated and rng.random() < 0.7:
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            else:
                del mutated[rng.randrange(len(mutated) + 1) :]
        result = decomp.decompress(protocol, bytes(mutated))
        if isinstance(result, VjDecompressFailed):
            outcomes["error"] += 1
        else:
            assert isinstance(result, bytes)
            outcomes["packet"] += 1
        if rng.random() < 0.05:
            decomp.toss()
    assert outcomes["packet"] > 100 and outcomes["error"] > 100
    assert len(decomp._ip) == 4  # the state is the slots, whatever arrives


def test_unknown_protocol_is_our_mistake() -> None:
    with pytest.raises(ValueError, match="0x0057"):
        VjDecompressor().decompress(0x0057, b"")
