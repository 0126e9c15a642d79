"""USB CDC-ACM on the wire: port specs, line coding, notifications, descriptors.

No I/O here: these are the records and parsers ``UsbCdcTransport`` drives
pyusb with, kept apart so every malformed input can be tested without a
device.  The numbers come from the USB Class Definitions for Communication
Devices 1.2 and its PSTN subclass document (ACM = Abstract Control Model).

A port spec names a device the way ``wanctl`` takes it on the command line:
``usb:VID:PID`` or ``usb:VID:PID:SERIAL`` with VID and PID in hexadecimal
(``usb:0525:a4a7:WANTEST1``).  The serial number is everything after the
third colon, so serial numbers containing colons still work.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from wanminiport.exitcodes import ExitCode
from wanminiport.transports.base import ModemLines, TransportError

USB_SPEC_PREFIX = "usb:"

# Interface classes (USB-IF class codes).
USB_CLASS_COMM = 0x02
USB_CLASS_CDC_DATA = 0x0A
CDC_SUBCLASS_ACM = 0x02

# Class-specific descriptor type and the functional descriptor subtypes used.
CS_INTERFACE = 0x24
CDC_HEADER = 0x00
CDC_CALL_MANAGEMENT = 0x01
CDC_ACM = 0x02
CDC_UNION = 0x06

# Class-specific requests (PSTN 1.2 section 6.3).
SET_LINE_CODING = 0x20
GET_LINE_CODING = 0x21
SET_CONTROL_LINE_STATE = 0x22
SEND_BREAK = 0x23
#: bmRequestType: host-to-device, class, interface.
REQUEST_OUT = 0x21
#: bmRequestType: device-to-host, class, interface.
REQUEST_IN = 0xA1
LINE_CODING_SIZE = 7

# Notifications on the interrupt endpoint (CDC 1.2 section 6.3, PSTN 6.5).
NOTIFICATION_HEADER_SIZE = 8
NETWORK_CONNECTION = 0x00
RESPONSE_AVAILABLE = 0x01
SERIAL_STATE = 0x20
#: The largest notification payload accepted; anything longer is garbage.
MAX_NOTIFICATION_DATA = 64

# SET_CONTROL_LINE_STATE wValue bits.
CONTROL_DTR = 0x01
CONTROL_RTS = 0x02


class UsbSpecError(TransportError, ValueError):
    """A ``usb:VID:PID[:SERIAL]`` port spec that cannot be parsed (pppd exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=ExitCode.OPTION_ERROR)


def is_usb_spec(port: str) -> bool:
    """True when ``port`` names a USB device rather than a tty or a pyserial URL."""
    return port[: len(USB_SPEC_PREFIX)].lower() == USB_SPEC_PREFIX


def _parse_id(text: str, what: str, spec: str) -> int:
    if not 1 <= len(text) <= 4 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise UsbSpecError(
            f"bad USB port {spec!r}: the {what} must be 1 to 4 hexadecimal digits, "
            f"not {text!r} (e.g. usb:0525:a4a7 or usb:0525:a4a7:SERIAL)"
        )
    return int(text, 16)


@dataclass(frozen=True)
class UsbPortSpec:
    """Which USB device to open: vendor and product id, optionally a serial number."""

    vendor_id: int
    product_id: int
    serial_number: str | None = None

    def __post_init__(self) -> None:
        for what, value in (("vendor id", self.vendor_id), ("product id", self.product_id)):
            if not 0 <= value <= 0xFFFF:
                raise UsbSpecError(f"USB {what} {value:#x} does not fit in 16 bits")
        if self.serial_number is not None:
            _check_serial(self.serial_number, str(self.serial_number))

    @classmethod
    def parse(cls, spec: str) -> UsbPortSpec:
        """``usb:0525:a4a7`` or ``usb:0525:a4a7:SERIAL``; raises UsbSpecError."""
        if not is_usb_spec(spec):
            raise UsbSpecError(f"bad USB port {spec!r}: it must start with {USB_SPEC_PREFIX!r}")
        fields = spec[len(USB_SPEC_PREFIX) :].split(":", 2)
        if len(fields) < 2:
            raise UsbSpecError(
                f"bad USB port {spec!r}: expected usb:VID:PID or usb:VID:PID:SERIAL "
                f"(hexadecimal ids, e.g. usb:0525:a4a7)"
            )
        vendor = _parse_id(fields[0], "vendor id", spec)
        product = _parse_id(fields[1], "product id", spec)
        serial = fields[2] if len(fields) == 3 else None
        if serial is not None:
            _check_serial(serial, spec)
        return cls(vendor, product, serial)

    @property
    def ids(self) -> str:
        return f"{self.vendor_id:04x}:{self.product_id:04x}"

    def __str__(self) -> str:
        tail = f":{self.serial_number}" if self.serial_number is not None else ""
        return f"{USB_SPEC_PREFIX}{self.ids}{tail}"


def _check_serial(serial: str, spec: str) -> None:
    if not serial:
        raise UsbSpecError(
            f"bad USB port {spec!r}: the serial number after the last ':' is empty "
            f"(leave out the ':' to match any serial number)"
        )
    if any(not ch.isprintable() for ch in serial):
        raise UsbSpecError(f"bad USB port {spec!r}: the serial number has control characters")


class StopBits(enum.IntEnum):
    """bCharFormat of the line coding."""

    ONE = 0
    ONE_POINT_FIVE = 1
    TWO = 2


_STOP_BITS = {1: StopBits.ONE, 1.5: StopBits.ONE_POINT_FIVE, 2: StopBits.TWO}
#: bParityType: the letters are pyserial's PARITY_* values.
_PARITY_CODES = {"N": 0, "O": 1, "E": 2, "M": 3, "S": 4}
_PARITY_LETTERS = {code: letter for letter, code in _PARITY_CODES.items()}
_DATA_BITS = (5, 6, 7, 8, 16)


@dataclass(frozen=True)
class LineCoding:
    """The 7-byte line coding of SET_LINE_CODING / GET_LINE_CODING.

    ``parity`` and ``stop_bits`` use pyserial's values ("N", "O", "E", "M",
    "S"; 1, 1.5, 2) so a profile means the same on a tty and on USB.
    """

    baudrate: int
    data_bits: int = 8
    parity: str = "N"
    stop_bits: float = 1

    def __post_init__(self) -> None:
        if not 0 < self.baudrate <= 0xFFFFFFFF:
            raise ValueError(f"baud rate must be 1..4294967295, not {self.baudrate}")
        if self.data_bits not in _DATA_BITS:
            raise ValueError(f"data bits must be one of {_DATA_BITS}, not {self.data_bits}")
        if self.parity not in _PARITY_CODES:
            raise ValueError(f"parity must be one of {sorted(_PARITY_CODES)}, not {self.parity!r}")
        if self.stop_bits not in _STOP_BITS:
            raise ValueError(f"stop bits must be 1, 1.5 or 2, not {self.stop_bits}")

    def to_bytes(self) -> bytes:
        return struct.pack(
            "<IBBB",
            self.baudrate,
            _STOP_BITS[self.stop_bits],
            _PARITY_CODES[self.parity],
            self.data_bits,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LineCoding:
        """Parse a GET_LINE_CODING answer; raises ValueError on a malformed one."""
        if len(data) != LINE_CODING_SIZE:
            raise ValueError(f"a line coding is {LINE_CODING_SIZE} bytes, not {len(data)}")
        baudrate, char_format, parity, data_bits = struct.unpack("<IBBB", data)
        if char_format not in _STOP_BITS.values():
            raise ValueError(f"bad bCharFormat {char_format} in line coding")
        if parity not in _PARITY_LETTERS:
            raise ValueError(f"bad bParityType {parity} in line coding")
        stop_bits = {code: bits for bits, code in _STOP_BITS.items()}[StopBits(char_format)]
        return cls(baudrate, data_bits, _PARITY_LETTERS[parity], stop_bits)

    @property
    def bits_per_character(self) -> float:
        """Bit times one character takes on an asynchronous line (start bit included)."""
        return 1 + self.data_bits + (self.parity != "N") + self.stop_bits


def control_line_state(dtr: bool, rts: bool) -> int:
    """wValue of SET_CONTROL_LINE_STATE."""
    return (CONTROL_DTR if dtr else 0) | (CONTROL_RTS if rts else 0)


@dataclass(frozen=True)
class Notification:
    """One notification from the interrupt endpoint: an 8-byte header and its data."""

    request_type: int
    code: int
    value: int
    index: int
    data: bytes


class NotificationError(ValueError):
    """Bytes on the interrupt endpoint that are not a notification."""


class NotificationReassembler:
    """Rebuilds notifications from interrupt transfers.

    A SERIAL_STATE notification is 10 bytes, so on an endpoint with an 8-byte
    wMaxPacketSize it arrives in two packets.  Bytes that cannot start a
    notification (wrong bmRequestType, oversized wLength) are dropped and
    counted, and the partial buffer never exceeds one maximal notification.
    """

    def __init__(self) -> None:
        self._partial = b""
        #: Transfers or fragments discarded as malformed.
        self.discarded = 0

    def feed(self, transfer: bytes) -> list[Notification]:
        buffer = self._partial + transfer
        found: list[Notification] = []
        while buffer:
            if buffer[0] != REQUEST_IN:
                self.discarded += 1
                buffer = b""
                break
            if len(buffer) < NOTIFICATION_HEADER_SIZE:
                break
            request_type, code, value, index, length = struct.unpack_from("<BBHHH", buffer)
            if length > MAX_NOTIFICATION_DATA:
                self.discarded += 1
                buffer = b""
                break
            end = NOTIFICATION_HEADER_SIZE + length
            if len(buffer) < end:
                break
            data = bytes(buffer[NOTIFICATION_HEADER_SIZE:end])
            found.append(Notification(request_type, code, value, index, data))
            buffer = buffer[end:]
        self._partial = bytes(buffer)
        return found

    def reset(self) -> None:
        self._partial = b""


@dataclass(frozen=True)
class SerialState:
    """The UART state bitmap of a SERIAL_STATE notification (PSTN 1.2 table 31)."""

    dcd: bool = False
    dsr: bool = False
    break_detected: bool = False
    ring: bool = False
    framing_error: bool = False
    parity_error: bool = False
    overrun: bool = False

    @classmethod
    def from_notification(cls, notification: Notification) -> SerialState:
        if notification.code != SERIAL_STATE:
            raise NotificationError(f"notification {notification.code:#04x} is not SERIAL_STATE")
        if len(notification.data) < 2:
            raise NotificationError(
                f"SERIAL_STATE carries {len(notification.data)} data bytes; it needs 2"
            )
        bits = notification.data[0] | notification.data[1] << 8
        return cls(
            dcd=bool(bits & 0x01),
            dsr=bool(bits & 0x02),
            break_detected=bool(bits & 0x04),
            ring=bool(bits & 0x08),
            framing_error=bool(bits & 0x10),
            parity_error=bool(bits & 0x20),
            overrun=bool(bits & 0x40),
        )

    def modem_lines(self) -> ModemLines:
        """The lines as a transport reports them.

        CDC-ACM has no CTS; it reads as on, as Linux's cdc-acm reports it.
        """
        return ModemLines(cd=self.dcd, dsr=self.dsr, cts=True, ri=self.ring)


@dataclass(frozen=True)
class FunctionalDescriptor:
    """A class-specific interface descriptor: its subtype and the bytes after it."""

    subtype: int
    body: bytes


def parse_functional_descriptors(extra: bytes) -> list[FunctionalDescriptor]:
    """The CS_INTERFACE descriptors in an interface's extra bytes.

    Other descriptor types are skipped; a length that is too short or runs
    past the end raises ValueError (some devices ship such tables, and the
    caller then falls back to looking for a data interface by class).
    """
    found: list[FunctionalDescriptor] = []
    offset = 0
    while offset < len(extra):
        length = extra[offset]
        if length < 2:
            raise ValueError(f"descriptor at offset {offset} has bLength {length}")
        if offset + length > len(extra):
            raise ValueError(
                f"descriptor at offset {offset} claims {length} bytes; {len(extra) - offset} remain"
            )
        if extra[offset + 1] == CS_INTERFACE:
            if length < 3:
                raise ValueError(f"functional descriptor at offset {offset} has no subtype")
            found.append(
                FunctionalDescriptor(extra[offset + 2], bytes(extra[offset + 3 : offset + length]))
            )
        offset += length
    return found


def union_interfaces(descriptors: list[FunctionalDescriptor]) -> tuple[int, tuple[int, ...]] | None:
    """(control interface, subordinate interfaces) from a Union descriptor, if any."""
    for descriptor in descriptors:
        if descriptor.subtype == CDC_UNION and len(descriptor.body) >= 2:
            return descriptor.body[0], tuple(descriptor.body[1:])
    return None


def needs_zero_length_packet(transfer_length: int, max_packet_size: int) -> bool:
    """A bulk OUT transfer ends with a short packet; a full last packet needs a ZLP after it."""
    if max_packet_size <= 0:
        raise ValueError(f"wMaxPacketSize must be positive, not {max_packet_size}")
    return transfer_length > 0 and transfer_length % max_packet_size == 0
