"""MPPE's cipher: RFC 3079 section 3.5's sample keys; both directions under loss and bad input."""

from __future__ import annotations

import random

import pytest
from Crypto.Hash import MD4

from ndiswan.ppp import mschap
from ndiswan.ppp.ccp import mppe
from ndiswan.ppp.ccp.methods import Decompressed, DecompressFailed

NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
HASH_HASH = MD4.new(mschap.nt_password_hash("clientPass")).digest()
MASTER = bytes.fromhex("FDECE3717A8C838CB388E527AE3CDD31")


def test_rfc3079_sample_keys() -> None:
    assert mppe.master_key(HASH_HASH, NT_RESPONSE) == MASTER
    start128 = mppe.start_key(MASTER, 16, send=True, server=True)
    assert start128 == bytes.fromhex("8B7CDC149B993A1BA118CB153F56DCCB")
    assert mppe.new_key_from_sha(start128, start128) == bytes.fromhex(
        "405CB2247A7956E6E211007AE27B22D4"
    )
    start40 = mppe.start_key(MASTER, 8, send=True, server=True)
    assert start40 == bytes.fromhex("8B7CDC149B993A1B")
    # The 40-bit session key is salted D1 26 9E; RC4 of the sample text under the 128-bit one.
    assert mppe._KeySchedule(start40, 40).session == bytes.fromhex("D1269EC49FA62E3E")
    keys = mppe._KeySchedule(start128, 128)
    assert keys.rc4.encrypt(b"test message") == bytes.fromhex("81848317DF68846272FB5ABE")


def test_the_clients_send_key_is_the_servers_receive_key() -> None:
    for length in (8, 16):
        assert mppe.start_key(MASTER, length, send=True, server=False) == mppe.start_key(
            MASTER, length, send=False, server=True
        )
        assert mppe.start_key(MASTER, length, send=True, server=True) != mppe.start_key(
            MASTER, length, send=True, server=False
        )


def pair(bits: int, stateful: bool) -> tuple[mppe.MppeCompressor, mppe.MppeDecompressor]:
    start = mppe.start_key(MASTER, 16 if bits == 128 else 8, send=True, server=False)
    return (mppe.MppeCompressor(start, bits, stateful=stateful),
            mppe.MppeDecompressor(start, bits, stateful=stateful))  # fmt: skip


@pytest.mark.parametrize("bits", [40, 56, 128])
@pytest.mark.parametrize("stateful", [False, True])
def test_datagrams_round_trip_through_600_packets(bits: int, stateful: bool) -> None:
    sender, receiver = pair(bits, stateful)
    rng = random.Random(bits)
    for number in range(600):  # past two flag packets (counts 0xff, 0x1ff)
        payload = rng.randbytes(rng.randrange(0, 1500))
        packet = sender.compress(0x21, payload)
        assert packet is not None and packet[2:] != (b"\x00\x21" + payload)[: len(packet) - 2]
        assert packet[0] & mppe.BIT_ENCRYPTED and (packet[0] & 0x0F) << 8 | packet[1] == number
        flushed = bool(packet[0] & mppe.BIT_FLUSHED)
        assert flushed == (not stateful or number & 0xFF == 0xFF)
        assert receiver.decompress(packet) == Decompressed(0x21, payload)


def test_control_protocols_are_not_encrypted() -> None:
    sender, _ = pair(128, False)
    assert sender.compress(0x80FD, b"\x01\x01\x00\x04") is None
    assert sender.compress(0xC021, b"x") is None


def test_stateless_receiver_catches_up_with_lost_packets() -> None:
    sender, receiver = pair(128, False)
    packets = [sender.compress(0x21, bytes([n]) * 10) for n in range(50)]
    assert receiver.decompress(packets[0]) == Decompressed(0x21, bytes(10))  # type: ignore[arg-type]
    assert receiver.decompress(packets[49]) == Decompressed(0x21, bytes([49]) * 10)  # type: ignore[arg-type]
    late = receiver.decompress(packets[10])  # type: ignore[arg-type]
    assert isinstance(late, DecompressFailed) and "late" in late.reason and not late.reset


def test_stateful_receiver_drops_until_a_flushed_packet_after_a_loss() -> None:
    sender, receiver = pair(128, True)
    for _ in range(3):
        assert isinstance(receiver.decompress(sender.compress(0x21, b"ok")), Decompressed)  # type: ignore[arg-type]
    sender.compress(0x21, b"lost")
    failed = receiver.decompress(sender.compress(0x21, b"after the loss"))  # type: ignore[arg-type]
    assert isinstance(failed, DecompressFailed) and failed.reset  # CCP sends Reset-Request
    waiting = receiver.decompress(sender.compress(0x21, b"still unflushed"))  # type: ignore[arg-type]
    assert isinstance(waiting, DecompressFailed) and not waiting.reset
    sender.reset()  # the Reset-Request reached the sender: it changes key, sets A
    assert receiver.decompress(sender.compress(0x21, b"resync")) == Decompressed(0x21, b"resync")  # type: ignore[arg-type]
    assert receiver.decompress(sender.compress(0x21, b"on")) == Decompressed(0x21, b"on")  # type: ignore[arg-type]


def test_stateful_receiver_resyncs_across_missed_flag_packets() -> None:
    sender, receiver = pair(128, True)
    receiver.decompress(sender.compress(0x21, b"first"))  # type: ignore[arg-type]
    for _ in range(700):  # past the flag packets at 0xff, 0x1ff and 0x2ff
        sender.compress(0x21, b"lost")
    assert isinstance(receiver.decompress(sender.compress(0x21, b"x")), DecompressFailed)  # type: ignore[arg-type]
    sender.reset()
    assert receiver.decompress(sender.compress(0x21, b"back")) == Decompressed(0x21, b"back")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (b"\x00\x00", "not encrypted"),
        (b"\x10\x00", "FLUSHED bit not set"),
    ],
)
def test_unencrypted_or_unflushed_stateless_packets_are_dropped(header: bytes, why: str) -> None:
    _, receiver = pair(128, False)
    failed = receiver.decompress(header + b"\x12\x34\x56")
    assert isinstance(failed, DecompressFailed) and why in failed.reason


def test_a_short_packet_is_dropped() -> None:
    _, receiver = pair(128, False)
    assert isinstance(receiver.decompress(b"\x90\x00\x01"), DecompressFailed)


def test_wild_coherency_counts_cost_bounded_work_and_never_raise() -> None:
    rng = random.Random(5)
    for stateful in (False, True):
        _, receiver = pair(128, stateful)
        for _ in range(300):
            header = bytes(
                (rng.choice([0x90, 0x10, 0x80, 0x00]) | rng.randrange(16), rng.randrange(256))
            )
            result = receiver.decompress(header + rng.randbytes(rng.randrange(2, 40)))
            assert isinstance(result, (Decompressed, DecompressFailed))


def test_a_wrong_key_gives_garbage_not_an_exception() -> None:
    sender, _ = pair(128, False)
    other = mppe.MppeDecompressor(bytes(16), 128)
    result = other.decompress(sender.compress(0x21, b"secret datagram"))  # type: ignore[arg-type]
    assert isinstance(result, Decompressed) and result.payload != b"secret datagram"


def test_key_sizes_are_checked() -> None:
    with pytest.raises(ValueError, match="128-bit key needs"):
        mppe.MppeCompressor(bytes(8), 128)


def test_a_flushed_bit_storm_changes_keys_per_packet_and_the_link_recovers() -> None:
    """Every packet flagged flushed (A) in stateful mode: one key change each, no error
    builds up, and a real packet after the storm and a reset decodes."""
    sender, receiver = pair(128, True)
    rng = random.Random(9)
    for count in range(1, 2000):
        header = bytes((0x90 | (count >> 8) & 0x0F, count & 0xFF))
        result = receiver.decompress(header + rng.randbytes(20))
        assert isinstance(result, (Decompressed, DecompressFailed))
    receiver.reset()
    assert receiver.decompress(sender.compress(0x21, b"after")) == Decompressed(0x21, b"after")  # type: ignore[arg-type]
