"""The Frame Check Sequences of RFC 1662: FCS-16 (section C.2) and FCS-32 (C.3).

FCS-16 is CRC-CCITT, bit-reflected, register preset to 0xFFFF, transmitted
one's-complemented, least significant octet first.  It runs on crcmod's C
extension, called directly with a table built here once: the per-call
wrapper of ``crcmod.mkCrcFun`` costs more than the CRC of a short frame.
FCS-32 is the same construction on the Ethernet polynomial, which is exactly
``zlib.crc32``.

A receiver runs the CRC over the frame *including* its FCS and compares the
register with the "good" residue: 0xF0B8 for FCS-16, 0xDEBB20E3 for FCS-32.
"""

from __future__ import annotations

import struct
import zlib

import crcmod.crcmod as _crcmod

Buffer = bytes | bytearray | memoryview

if not getattr(_crcmod, "_usingExtension", False):
    raise ImportError(
        "crcmod-plus is installed without its C extension, so the FCS would run about "
        "20 times slower. Reinstall it from its binary wheel: "
        "pip install --force-reinstall --only-binary=:all: crcmod-plus"
    )

from crcmod import _crcfunext  # noqa: E402  (only after the extension check above)

FCS16_INIT = 0xFFFF
#: Register value after running FCS-16 over a frame and its correct FCS.
FCS16_GOOD = 0xF0B8
FCS32_INIT = 0xFFFFFFFF
#: Register value after running FCS-32 over a frame and its correct FCS.
FCS32_GOOD = 0xDEBB20E3
#: ``zlib.crc32`` complements its register on the way out; the good residue
#: as zlib reports it.
_ZLIB_FCS32_GOOD = FCS32_GOOD ^ 0xFFFFFFFF

#: x**0 + x**5 + x**12 + x**16, bit-reversed (RFC 1662 C.2 "P").
_POLY16_REFLECTED = 0x8408


def _reflected_table16() -> bytes:
    table = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ _POLY16_REFLECTED if reg & 1 else reg >> 1
        table.append(reg)
    # The extension reads the table as 256 native unsigned shorts.
    return struct.pack("256H", *table)


_TABLE16 = _reflected_table16()
_crc16r = _crcfunext._crc16r


def fcs16_register(data: Buffer, register: int = FCS16_INIT) -> int:
    """The FCS-16 shift register after ``data`` (no final complement)."""
    result: int = _crc16r(data, register, _TABLE16)
    return result


def fcs16(data: Buffer) -> int:
    """The FCS-16 to transmit after ``data`` (already complemented)."""
    result: int = _crc16r(data, FCS16_INIT, _TABLE16) ^ 0xFFFF
    return result


def fcs16_bytes(data: Buffer) -> bytes:
    """The two FCS-16 octets as they go on the wire, least significant first."""
    register: int = _crc16r(data, FCS16_INIT, _TABLE16)
    return (register ^ 0xFFFF).to_bytes(2, "little")


def fcs16_good(frame: Buffer) -> bool:
    """True when ``frame`` (data followed by its FCS-16) checks."""
    result: bool = _crc16r(frame, FCS16_INIT, _TABLE16) == FCS16_GOOD
    return result


def fcs32(data: Buffer) -> int:
    """The FCS-32 to transmit after ``data`` (already complemented)."""
    return zlib.crc32(data)


def fcs32_bytes(data: Buffer) -> bytes:
    """The four FCS-32 octets as they go on the wire, least significant first."""
    return zlib.crc32(data).to_bytes(4, "little")


def fcs32_register(data: Buffer, register: int = FCS32_INIT) -> int:
    """The FCS-32 shift register after ``data`` (no final complement)."""
    return zlib.crc32(data, register ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def fcs32_good(frame: Buffer) -> bool:
    """True when ``frame`` (data followed by its FCS-32) checks."""
    return zlib.crc32(frame) == _ZLIB_FCS32_GOOD


# The framers call these directly on their hot paths.
crc16_raw = _crc16r
TABLE16 = _TABLE16
ZLIB_FCS32_GOOD = _ZLIB_FCS32_GOOD
