"""pcap capture (LINKTYPE_PPP_WITH_DIR), decoded by the real tshark."""

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from wanctl.pcap import (
    LINKTYPE_PPP_WITH_DIR,
    PCAP_MAGIC,
    Direction,
    PcapWriter,
    normalize_frame,
)

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _icmp_echo_in_ipv4(src: bytes, dst: bytes) -> bytes:
    icmp = bytearray(struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"wanctl ping")
    struct.pack_into("!H", icmp, 2, _checksum(bytes(icmp)))
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 7, 0, 64, 1, 0, src, dst))
    struct.pack_into("!H", ip, 10, _checksum(bytes(ip)))
    return bytes(ip + icmp)


# Frames as the PPP core hands them over: with or without address/control, and
# with the protocol field compressed where LCP allowed it.
LCP_CONFREQ = bytes.fromhex("ff03c0210101000e010405dc050612345678")
CHAP_CHALLENGE = bytes.fromhex("c2230107001910") + bytes(range(16)) + b"ras1"
IPCP_CONFREQ = bytes.fromhex("80210102000a03060a000001")
ICMP_ECHO = b"\x21" + _icmp_echo_in_ipv4(bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))


def _tshark(path: Path, *args: str) -> str:
    assert TSHARK is not None
    result = subprocess.run(
        [TSHARK, "-n", "-r", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _read_records(path: Path) -> tuple[tuple[int, ...], list[tuple[int, int, bytes]]]:
    data = path.read_bytes()
    header = struct.unpack("<IHHiIII", data[:24])
    records, offset = [], 24
    while offset < len(data):
        _, _, incl, orig = struct.unpack("<IIII", data[offset : offset + 16])
        records.append((incl, orig, data[offset + 16 : offset + 16 + incl]))
        offset += 16 + incl
    return header, records


@needs_tshark
def test_tshark_decodes_lcp_chap_ipcp_and_icmp_with_directions(tmp_path: Path) -> None:
    path = tmp_path / "link.pcap"
    with PcapWriter(path) as pcap:
        pcap.sent(LCP_CONFREQ, timestamp=1_700_000_000.25)
        pcap.received(CHAP_CHALLENGE, timestamp=1_700_000_000.5)
        pcap.sent(IPCP_CONFREQ, timestamp=1_700_000_001.0)
        pcap.received(ICMP_ECHO, timestamp=1_700_000_001.5)

    verbose = _tshark(path, "-V")
    assert "PPP Link Control Protocol" in verbose
    assert "PPP Challenge Handshake Authentication Protocol" in verbose
    assert "PPP IP Control Protocol" in verbose
    assert "Internet Control Message Protocol" in verbose
    assert "Echo (ping) request" in verbose

    fields = _tshark(
        path, "-T", "fields", "-e", "frame.p2p_dir", "-e", "frame.protocols", "-e", "ppp.protocol"
    )
    rows = [line.split("\t") for line in fields.splitlines()]
    # Wireshark's P2P direction: 0 = sent by this host, 1 = received.
    assert [(r[0], r[1]) for r in rows] == [
        ("0", "ppp:lcp"),
        ("1", "ppp:chap"),
        ("0", "ppp:ipcp"),
        ("1", "ppp:ip:icmp:data"),
    ]
    assert [int(r[2], 0) for r in rows] == [0xC021, 0xC223, 0x8021, 0x0021]
    assert "Sent" in verbose.split("Frame 2:")[0] and "Received" in verbose.split("Frame 2:")[1]


@needs_tshark
def test_live_capture_is_readable_before_close(tmp_path: Path) -> None:
    path = tmp_path / "live.pcap"
    pcap = PcapWriter(path)
    pcap.sent(LCP_CONFREQ)
    assert len(_tshark(path).splitlines()) == 1
    pcap.received(ICMP_ECHO)
    assert len(_tshark(path).splitlines()) == 2
    pcap.close()


def test_file_header_declares_ppp_with_direction(tmp_path: Path) -> None:
    path = tmp_path / "h.pcap"
    PcapWriter(path, snaplen=2048).close()
    header, records = _read_records(path)
    assert header == (PCAP_MAGIC, 2, 4, 0, 0, 2048, LINKTYPE_PPP_WITH_DIR) and records == []
    assert LINKTYPE_PPP_WITH_DIR == 204


def test_each_packet_starts_with_direction_byte_then_ff03(tmp_path: Path) -> None:
    path = tmp_path / "d.pcap"
    with PcapWriter(path) as pcap:
        pcap.write(LCP_CONFREQ, Direction.SENT)
        pcap.write(LCP_CONFREQ, Direction.RECEIVED)
    _, records = _read_records(path)
    assert [r[2][:3] for r in records] == [b"\x01\xff\x03", b"\x00\xff\x03"]
    assert records[0][2][1:] == LCP_CONFREQ


def test_missing_address_control_is_added() -> None:
    assert normalize_frame(IPCP_CONFREQ) == b"\xff\x03" + IPCP_CONFREQ


def test_compressed_protocol_field_is_widened_to_two_bytes() -> None:
    assert normalize_frame(b"\x21\x45") == b"\xff\x03\x00\x21\x45"
    assert normalize_frame(b"\xff\x03\x21\x45") == b"\xff\x03\x00\x21\x45"
    assert normalize_frame(b"\xff\x03\x00\x21\x45") == b"\xff\x03\x00\x21\x45"


def test_snaplen_cuts_packets_but_keeps_original_length(tmp_path: Path) -> None:
    path = tmp_path / "s.pcap"
    with PcapWriter(path, snaplen=16) as pcap:
        pcap.sent(ICMP_ECHO)
    _, records = _read_records(path)
    incl, orig, data = records[0]
    assert incl == 16 == len(data)
    assert orig == 1 + len(normalize_frame(ICMP_ECHO))


def test_size_bound_drops_and_counts_packets(tmp_path: Path) -> None:
    path = tmp_path / "b.pcap"
    with PcapWriter(path, max_bytes=24 + 2 * (16 + 1 + len(LCP_CONFREQ))) as pcap:
        assert pcap.sent(LCP_CONFREQ) and pcap.sent(LCP_CONFREQ)
        assert not pcap.sent(LCP_CONFREQ)
        assert (pcap.packets, pcap.dropped) == (2, 1)
    assert path.stat().st_size == pcap.size
    assert len(_read_records(path)[1]) == 2


def test_timestamps_are_seconds_and_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    with PcapWriter(path) as pcap:
        pcap.sent(LCP_CONFREQ, timestamp=1_700_000_000.123456)
    data = path.read_bytes()
    assert struct.unpack("<II", data[24:32]) == (1_700_000_000, 123456)


def test_write_after_close_is_an_error(tmp_path: Path) -> None:
    pcap = PcapWriter(tmp_path / "c.pcap")
    pcap.close()
    assert pcap.closed
    with pytest.raises(ValueError, match="closed"):
        pcap.sent(LCP_CONFREQ)


def test_snaplen_too_small_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="snaplen"):
        PcapWriter(tmp_path / "x.pcap", snaplen=4)
