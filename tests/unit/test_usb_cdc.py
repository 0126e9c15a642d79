"""The CDC-ACM wire records: port specs, line coding, notifications, descriptors."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wanminiport.transports.base import ModemLines, TransportError
from wanminiport.transports.usb_cdc import (
    CDC_UNION,
    CS_INTERFACE,
    REQUEST_IN,
    SERIAL_STATE,
    FunctionalDescriptor,
    LineCoding,
    Notification,
    NotificationError,
    NotificationReassembler,
    SerialState,
    UsbPortSpec,
    UsbSpecError,
    control_line_state,
    is_usb_spec,
    needs_zero_length_packet,
    parse_functional_descriptors,
    union_interfaces,
)

# -- port specs -------------------------------------------------------------------


def test_spec_with_vendor_and_product_matches_any_serial() -> None:
    assert UsbPortSpec.parse("usb:0525:a4a7") == UsbPortSpec(0x0525, 0xA4A7, None)


def test_spec_serial_number_is_everything_after_the_third_colon() -> None:
    assert UsbPortSpec.parse("usb:1d6b:0104:AB:CD").serial_number == "AB:CD"


def test_spec_ids_accept_short_and_uppercase_hex() -> None:
    assert UsbPortSpec.parse("USB:403:6001") == UsbPortSpec(0x0403, 0x6001)
    assert UsbPortSpec.parse("usb:1D6B:0104").vendor_id == 0x1D6B


def test_spec_prints_back_as_parsed() -> None:
    assert str(UsbPortSpec.parse("usb:525:A4A7:X1")) == "usb:0525:a4a7:X1"


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("/dev/ttyACM0", "must start with 'usb:'"),
        ("usb:", "expected usb:VID:PID"),
        ("usb:0525", "expected usb:VID:PID"),
        ("usb::a4a7", "vendor id must be 1 to 4 hexadecimal digits"),
        ("usb:0525:", "product id must be 1 to 4 hexadecimal digits"),
        ("usb:12345:a4a7", "vendor id must be 1 to 4"),
        ("usb:0525:a4g7", "product id must be 1 to 4"),
        ("usb:0x52:a4a7", "vendor id must be 1 to 4"),
        ("usb:0525:a4a7:", "serial number after the last ':' is empty"),
        ("usb:0525:a4a7:ab\ncd", "control characters"),
        ("usb:-525:a4a7", "vendor id must be 1 to 4"),
    ],
)
def test_malformed_spec_is_refused_with_a_reason(spec: str, complaint: str) -> None:
    with pytest.raises(UsbSpecError, match="bad USB port") as caught:
        UsbPortSpec.parse(spec)
    assert complaint in str(caught.value)


def test_spec_errors_are_option_errors_with_pppd_exit_code_2() -> None:
    with pytest.raises(TransportError) as caught:
        UsbPortSpec.parse("usb:zz:1")
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, ValueError)


def test_spec_ids_must_fit_16_bits() -> None:
    with pytest.raises(UsbSpecError):
        UsbPortSpec(0x10000, 1)


def test_usb_specs_are_told_apart_from_ttys_and_urls() -> None:
    assert is_usb_spec("usb:0525:a4a7")
    assert not is_usb_spec("/dev/ttyUSB0")
    assert not is_usb_spec("loop://")


PRINTABLE_ASCII = st.characters(min_codepoint=33, max_codepoint=126)


@given(
    st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.none() | st.text(PRINTABLE_ASCII, min_size=1)
)
def test_spec_round_trips_through_its_text(vendor: int, product: int, serial: str | None) -> None:
    spec = UsbPortSpec(vendor, product, serial)
    assert UsbPortSpec.parse(str(spec)) == spec


# -- line coding ------------------------------------------------------------------


def test_line_coding_is_the_seven_byte_pstn_layout() -> None:
    assert LineCoding(115200, 8, "N", 1).to_bytes() == struct.pack("<IBBB", 115200, 0, 0, 8)
    assert LineCoding(9600, 7, "E", 2).to_bytes() == struct.pack("<IBBB", 9600, 2, 2, 7)
    assert LineCoding(300, 5, "S", 1.5).to_bytes() == struct.pack("<IBBB", 300, 1, 4, 5)


@given(st.integers(1, 0xFFFFFFFF), st.sampled_from([5, 6, 7, 8, 16]),
       st.sampled_from("NOEMS"), st.sampled_from([1, 1.5, 2]))  # fmt: skip
def test_line_coding_round_trips(baud: int, bits: int, parity: str, stop: float) -> None:
    coding = LineCoding(baud, bits, parity, stop)
    assert LineCoding.from_bytes(coding.to_bytes()) == coding


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xc2\x01\x00\x00\x00",  # six bytes
        b"\x00\xc2\x01\x00\x00\x00\x08\x00",  # eight bytes
        struct.pack("<IBBB", 9600, 3, 0, 8),  # bCharFormat 3
        struct.pack("<IBBB", 9600, 0, 5, 8),  # bParityType 5
        struct.pack("<IBBB", 9600, 0, 0, 9),  # bDataBits 9
        struct.pack("<IBBB", 0, 0, 0, 8),  # 0 baud
    ],
)
def test_malformed_line_coding_answer_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        LineCoding.from_bytes(raw)


@pytest.mark.parametrize(
    "fields",
    [(0,), (2**32,), (9600, 4), (9600, 8, "X"), (9600, 8, "N", 3)],
)
def test_line_coding_refuses_values_it_cannot_encode(fields: tuple[object, ...]) -> None:
    with pytest.raises(ValueError):
        LineCoding(*fields)  # type: ignore[arg-type]


def test_bits_per_character_counts_start_parity_and_stop_bits() -> None:
    assert LineCoding(9600).bits_per_character == 10
    assert LineCoding(9600, 7, "E", 2).bits_per_character == 11


def test_control_line_state_has_dtr_in_bit_0_and_rts_in_bit_1() -> None:
    assert [control_line_state(d, r) for d, r in ((0, 0), (1, 0), (0, 1), (1, 1))] == [0, 1, 2, 3]


# -- notifications ---------------------------------------------------------------------


def serial_state_packet(bits: int, interface: int = 0) -> bytes:
    return struct.pack("<BBHHHH", REQUEST_IN, SERIAL_STATE, 0, interface, 2, bits)


def test_serial_state_bits_map_to_modem_lines() -> None:
    (notification,) = NotificationReassembler().feed(serial_state_packet(0x0B))
    state = SerialState.from_notification(notification)
    assert state == SerialState(dcd=True, dsr=True, ring=True)
    assert state.modem_lines() == ModemLines(cd=True, dsr=True, cts=True, ri=True)


def test_serial_state_error_bits_are_reported() -> None:
    (notification,) = NotificationReassembler().feed(serial_state_packet(0x74))
    state = SerialState.from_notification(notification)
    assert (state.break_detected, state.framing_error, state.parity_error, state.overrun) == (
        True, True, True, True,
    )  # fmt: skip
    assert not state.dcd


def test_notification_split_over_eight_byte_packets_is_reassembled() -> None:
    packet = serial_state_packet(0x03)
    reassembler = NotificationReassembler()
    assert reassembler.feed(packet[:8]) == []
    (notification,) = reassembler.feed(packet[8:])
    assert notification.data == b"\x03\x00"


def test_two_notifications_in_one_transfer_are_both_returned() -> None:
    found = NotificationReassembler().feed(serial_state_packet(1) + serial_state_packet(0))
    assert [n.data for n in found] == [b"\x01\x00", b"\x00\x00"]


def test_garbage_on_the_interrupt_endpoint_is_counted_and_dropped() -> None:
    reassembler = NotificationReassembler()
    assert reassembler.feed(b"\x21\x20\x00\x00\x00\x00\x02\x00\x01\x00") == []
    assert reassembler.discarded == 1
    # The next good notification still comes through.
    assert len(reassembler.feed(serial_state_packet(1))) == 1


def test_oversized_notification_length_is_dropped_not_awaited() -> None:
    reassembler = NotificationReassembler()
    header = struct.pack("<BBHHH", REQUEST_IN, SERIAL_STATE, 0, 0, 0xFFFF)
    assert reassembler.feed(header) == []
    assert reassembler.discarded == 1
    assert len(reassembler.feed(serial_state_packet(2))) == 1


def test_serial_state_with_short_data_is_malformed() -> None:
    notification = Notification(REQUEST_IN, SERIAL_STATE, 0, 0, b"\x01")
    with pytest.raises(NotificationError):
        SerialState.from_notification(notification)


def test_other_notifications_are_not_serial_state() -> None:
    with pytest.raises(NotificationError):
        SerialState.from_notification(Notification(REQUEST_IN, 0x01, 0, 0, b""))


@given(st.lists(st.binary(max_size=40), max_size=20))
def test_reassembler_never_raises_and_stays_bounded(transfers: list[bytes]) -> None:
    reassembler = NotificationReassembler()
    for transfer in transfers:
        reassembler.feed(transfer)
        assert len(reassembler._partial) < 8 + 64


# -- functional descriptors ---------------------------------------------------------


HEADER = bytes([5, CS_INTERFACE, 0x00, 0x10, 0x01])
UNION = bytes([5, CS_INTERFACE, CDC_UNION, 2, 3])
ENDPOINT = bytes([7, 0x05, 0x83, 0x03, 0x0A, 0x00, 0x09])


def test_union_descriptor_names_control_and_data_interfaces() -> None:
    descriptors = parse_functional_descriptors(HEADER + ENDPOINT + UNION)
    assert [d.subtype for d in descriptors] == [0x00, CDC_UNION]
    assert union_interfaces(descriptors) == (2, (3,))


def test_no_union_descriptor_gives_none() -> None:
    assert union_interfaces(parse_functional_descriptors(HEADER)) is None
    assert union_interfaces([FunctionalDescriptor(CDC_UNION, b"\x01")]) is None


@pytest.mark.parametrize(
    "extra",
    [bytes([0, CS_INTERFACE]), bytes([1]), bytes([9, CS_INTERFACE, 0]), bytes([2, CS_INTERFACE])],
)
def test_malformed_functional_descriptors_are_refused(extra: bytes) -> None:
    with pytest.raises(ValueError):
        parse_functional_descriptors(extra)


# -- zero-length packets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "max_packet", "zlp"),
    [(512, 512, True), (1024, 512, True), (513, 512, False), (0, 512, False),
     (64, 64, True), (63, 64, False), (1, 8, False)],
)  # fmt: skip
def test_zero_length_packet_follows_a_transfer_ending_on_a_full_packet(
    length: int, max_packet: int, zlp: bool
) -> None:
    assert needs_zero_length_packet(length, max_packet) is zlp


def test_zero_length_packet_rule_needs_a_packet_size() -> None:
    with pytest.raises(ValueError):
        needs_zero_length_packet(512, 0)
