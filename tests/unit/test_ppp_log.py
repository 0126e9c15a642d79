"""Packet dumps read exactly like pppd 2.4.9's debug log."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ndiswan.ppp.log import format_frame, packet_line, q_text, quoted, visible


def frame(proto: int, code: int, ident: int, data: bytes = b"") -> bytes:
    length = 4 + len(data)
    return proto.to_bytes(2, "big") + bytes((code, ident, length >> 8, length & 0xFF)) + data


LCP, PAP, CHAP, IPCP, IPV6CP, CCP = 0xC021, 0xC023, 0xC223, 0x8021, 0x8057, 0x80FD


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            frame(LCP, 1, 1, bytes.fromhex("020600000000 05065f1d2c3a 0702 0802")),
            "[LCP ConfReq id=0x1 <asyncmap 0x0> <magic 0x5f1d2c3a> <pcomp> <accomp>]",
        ),
        (frame(LCP, 1, 2, bytes.fromhex("01040128")), "[LCP ConfReq id=0x2 <mru 296>]"),
        (frame(LCP, 3, 1, bytes.fromhex("0305c22305")), "[LCP ConfNak id=0x1 <auth chap MD5>]"),
        (frame(LCP, 4, 1, bytes.fromhex("0304c023")), "[LCP ConfRej id=0x1 <auth pap>]"),
        (frame(LCP, 1, 1, bytes.fromhex("0305c22381")), "[LCP ConfReq id=0x1 <auth chap MS-v2>]"),
        (frame(LCP, 1, 1, bytes.fromhex("0305c22399")), "[LCP ConfReq id=0x1 <auth chap 99>]"),
        (frame(LCP, 1, 1, bytes.fromhex("0d0306")), "[LCP ConfReq id=0x1 <callback CBCP>]"),
        (frame(LCP, 1, 1, bytes.fromhex("1104 05dc")), "[LCP ConfReq id=0x1 <mrru 1500>]"),
        (frame(LCP, 1, 1, bytes.fromhex("2003 06")), "[LCP ConfReq id=0x1 < 20 03 06>]"),
        (frame(LCP, 1, 1, bytes.fromhex("0103 05")), "[LCP ConfReq id=0x1 < 01 03 05>]"),
        (frame(LCP, 1, 1, bytes.fromhex("0109 05")), "[LCP ConfReq id=0x1 01 09 05]"),
        (
            frame(LCP, 1, 1, bytes.fromhex("1309 03 0211223344 55")),
            "[LCP ConfReq id=0x1 <endpoint [MAC:02:11:22:33:44:55]>]",
        ),
        (frame(LCP, 5, 2, b"User request"), '[LCP TermReq id=0x2 "User request"]'),
        (frame(LCP, 6, 2), "[LCP TermAck id=0x2]"),
        (frame(LCP, 9, 0, bytes.fromhex("5f1d2c3a")), "[LCP EchoReq id=0x0 magic=0x5f1d2c3a]"),
        (frame(LCP, 10, 0, bytes.fromhex("00000001")), "[LCP EchoRep id=0x0 magic=0x1]"),
        (
            frame(LCP, 8, 3, bytes.fromhex("80fd0101000f1a0478001804780015032f")),
            "[LCP ProtRej id=0x3 80 fd 01 01 00 0f 1a 04 78 00 18 04 78 00 15 03 2f]",
        ),
        (
            frame(LCP, 8, 3, bytes(40)),
            "[LCP ProtRej id=0x3" + " 00" * 32 + " ...]",
        ),
        (frame(LCP, 7, 4, bytes.fromhex("2a050004")), "[LCP CodeRej id=0x4 2a 05 00 04]"),
        (frame(LCP, 0x2A, 5), "[LCP code=0x2a id=0x5]"),
        (bytes.fromhex("c021 0101"), "[LCP] 01 01"),
        (bytes.fromhex("c021 010100ff 0000"), "[LCP] 01 01 00 ff 00 00"),
        (frame(LCP, 6, 1) + b"\0\0", "[LCP TermAck id=0x1] 00 00"),
        (frame(IPCP, 3, 1, bytes.fromhex("03060a070002")), "[IPCP ConfNak id=0x1 <addr 10.7.0.2>]"),
        (frame(IPCP, 1, 1, bytes.fromhex("0306 00000000")), "[IPCP ConfReq id=0x1 <addr 0.0.0.0>]"),
        (
            frame(IPCP, 1, 1, bytes.fromhex("0206002d0f01 8106c0000235 8306c0000236")),
            "[IPCP ConfReq id=0x1 <compress VJ 0f 01> <ms-dns1 192.0.2.53> <ms-dns2 192.0.2.54>]",
        ),
        (
            frame(IPCP, 1, 1, bytes.fromhex("010a0a0000010a000002")),
            "[IPCP ConfReq id=0x1 <addrs 10.0.0.1 10.0.0.2>]",
        ),
        (
            frame(IPCP, 1, 1, bytes.fromhex("8206 01020304")),
            "[IPCP ConfReq id=0x1 <ms-wins 1.2.3.4>]",
        ),
        (
            frame(IPV6CP, 1, 1, bytes.fromhex("010a 021122fffe334455")),
            "[IPV6CP ConfReq id=0x1 <addr fe80::0211:22ff:fe33:4455>]",
        ),
        (
            frame(CCP, 1, 1, bytes.fromhex("1a04780018047800150 32f".replace(" ", ""))),
            "[CCP ConfReq id=0x1 <deflate 15> <deflate(old#) 15> <bsd v1 15>]",
        ),
        (frame(CCP, 5, 1, b"bye"), '[CCP TermReq id=0x1"bye"]'),
        (
            frame(CHAP, 1, 0xCC, bytes.fromhex("04 deadbeef") + b"hub"),
            '[CHAP Challenge id=0xcc <deadbeef>, name = "hub"]',
        ),
        (frame(CHAP, 3, 1, b"Access granted"), '[CHAP Success id=0x1 "Access granted"]'),
        (frame(CHAP, 4, 1), '[CHAP Failure id=0x1 ""]'),
        (
            frame(PAP, 1, 1, b"\x03bob\x06s3cret"),
            '[PAP AuthReq id=0x1 user="bob" password=<hidden>]',
        ),
        (frame(PAP, 2, 1, b"\x08Login ok"), '[PAP AuthAck id=0x1 "Login ok"]'),
        (frame(PAP, 3, 1, b"\x05ab"), "[PAP AuthNak id=0x1 05 61 62]"),
        (bytes.fromhex("0021 4500005400004000"), "[IP data] 45 00 00 54 00 00 40 00"),
        (bytes.fromhex("21 450000540000400001"), "[IP data] 45 00 00 54 00 00 40 00 ..."),
        (bytes.fromhex("8031 0102"), "[proto=0x8031] 01 02"),
    ],
)
def test_packets_print_like_pppd(raw: bytes, expected: str) -> None:
    assert format_frame(raw) == expected


def test_sent_and_rcvd_prefixes() -> None:
    raw = frame(IPCP, 3, 1, bytes.fromhex("03060a070002"))
    assert packet_line("rcvd", raw) == "rcvd [IPCP ConfNak id=0x1 <addr 10.7.0.2>]"
    assert packet_line("sent", frame(LCP, 6, 2)) == "sent [LCP TermAck id=0x2]"


def test_pap_password_never_printed() -> None:
    raw = frame(PAP, 1, 7, b"\x05alice\x0ctopsecret!!!")
    assert "topsecret" not in format_frame(raw)
    assert format_frame(raw).endswith("password=<hidden>]")


def test_strings_escape_as_pppd_print_string() -> None:
    assert quoted(b'a"b\\c\n\r\t\x01\xff') == '"a\\"b\\\\c\\n\\r\\t\\001\\377"'


def test_visible_marks_control_and_high_characters() -> None:
    assert visible(b"ok\x01\x7f\xe9\t") == "ok^A^?M-i\t"


def test_q_format_escapes_quotes_and_controls() -> None:
    assert q_text('b"o\\b\x01') == 'b\\"o\\\\b\\x01'


@given(st.binary(max_size=300))
def test_formatter_never_raises_on_random_frames(raw: bytes) -> None:
    assert isinstance(format_frame(raw), str)


@given(st.sampled_from([LCP, PAP, CHAP, IPCP, IPV6CP, CCP]), st.binary(max_size=300))
def test_formatter_never_raises_on_random_control_packets(proto: int, body: bytes) -> None:
    text = format_frame(proto.to_bytes(2, "big") + body)
    assert text.startswith("[")
