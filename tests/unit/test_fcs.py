"""FCS-16 and FCS-32 of RFC 1662 (sections C.2 and C.3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from wanminiport.framing.fcs import (
    FCS16_GOOD,
    FCS32_GOOD,
    fcs16,
    fcs16_bytes,
    fcs16_good,
    fcs16_register,
    fcs32,
    fcs32_bytes,
    fcs32_good,
    fcs32_register,
)

CHECK_INPUT = b"123456789"


def bitwise_fcs16(data: bytes) -> int:
    """RFC 1662 C.2 one bit at a time, independent of any table."""
    register = 0xFFFF
    for octet in data:
        register ^= octet
        for _ in range(8):
            register = (register >> 1) ^ 0x8408 if register & 1 else register >> 1
    return register ^ 0xFFFF


def bitwise_fcs32(data: bytes) -> int:
    """RFC 1662 C.3 one bit at a time."""
    register = 0xFFFFFFFF
    for octet in data:
        register ^= octet
        for _ in range(8):
            register = (register >> 1) ^ 0xEDB88320 if register & 1 else register >> 1
    return register ^ 0xFFFFFFFF


def test_fcs16_check_value_is_crc16_x25() -> None:
    assert fcs16(CHECK_INPUT) == 0x906E


def test_fcs32_check_value_is_crc32() -> None:
    assert fcs32(CHECK_INPUT) == 0xCBF43926


def test_good_residue_constants_are_rfc1662_values() -> None:
    assert FCS16_GOOD == 0xF0B8
    assert FCS32_GOOD == 0xDEBB20E3


def test_fcs16_of_frame_with_its_fcs_leaves_good_residue() -> None:
    frame = CHECK_INPUT + fcs16_bytes(CHECK_INPUT)
    assert fcs16_register(frame) == 0xF0B8
    assert fcs16_good(frame)


def test_fcs32_of_frame_with_its_fcs_leaves_good_residue() -> None:
    frame = CHECK_INPUT + fcs32_bytes(CHECK_INPUT)
    assert fcs32_register(frame) == 0xDEBB20E3
    assert fcs32_good(frame)


def test_fcs_is_sent_least_significant_octet_first() -> None:
    assert fcs16_bytes(CHECK_INPUT) == b"\x6e\x90"
    assert fcs32_bytes(CHECK_INPUT) == b"\x26\x39\xf4\xcb"


def test_fcs_of_empty_data() -> None:
    assert fcs16(b"") == 0x0000
    assert fcs32(b"") == 0x00000000
    assert fcs16_good(fcs16_bytes(b""))
    assert fcs32_good(fcs32_bytes(b""))


@given(st.binary(max_size=300))
def test_fcs16_matches_bitwise_rfc_algorithm(data: bytes) -> None:
    assert fcs16(data) == bitwise_fcs16(data)


@given(st.binary(max_size=300))
def test_fcs32_matches_bitwise_rfc_algorithm(data: bytes) -> None:
    assert fcs32(data) == bitwise_fcs32(data)


@given(st.binary(min_size=1, max_size=300), st.data())
def test_any_single_bit_error_breaks_the_residue(data: bytes, draw: st.DataObject) -> None:
    frame16 = bytearray(data + fcs16_bytes(data))
    frame32 = bytearray(data + fcs32_bytes(data))
    bit = draw.draw(st.integers(0, len(data) * 8 - 1))
    frame16[bit // 8] ^= 1 << (bit % 8)
    frame32[bit // 8] ^= 1 << (bit % 8)
    assert not fcs16_good(bytes(frame16))
    assert not fcs32_good(bytes(frame32))


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_fcs16_register_continues_across_pieces(first: bytes, second: bytes) -> None:
    assert fcs16_register(second, fcs16_register(first)) == fcs16_register(first + second)
    assert fcs32_register(second, fcs32_register(first)) == fcs32_register(first + second)


def test_missing_crc_extension_refuses_to_import_with_reinstall_advice() -> None:
    code = "import crcmod.crcmod as c\nc._usingExtension = False\nimport wanminiport.framing.fcs\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "crcmod-plus" in result.stderr
    assert "reinstall" in result.stderr.lower()
