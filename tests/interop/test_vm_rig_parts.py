"""The rig's parts that need no VM: pppd log reading, the agent's reply format,
the cpio writer, module resolution and the capture frame reader."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hw.lab.vm import (
    IPCP_UP,
    LoggedPacket,
    VmUnavailable,
    count_sent,
    packet_numbers,
    parse_pppd_log,
)
from hw.lab.vm.agent import ReplyParser, encode_request
from hw.lab.vm.cpio import CpioArchive
from hw.lab.vm.initramfs import find_kernel, resolve_modules
from tests.interop.pppd_wire import read_frames

# -- pppd debug logs ---------------------------------------------------------------

LOG = """\
using channel 1
Connect: ppp0 <--> /dev/ttyS1
sent [LCP ConfReq id=0x1 <asyncmap 0x0> <magic 0x3f257e35> <pcomp> <accomp>]
rcvd [LCP ConfAck id=0x1 <asyncmap 0x0> <magic 0x3f257e35> <pcomp> <accomp>]
sent [CHAP Challenge id=0x27 <e4e2d3c06dbe07aa>, name = "server"]
sent [IPCP ConfReq id=0x1 <compress VJ 0f 01> <addr 10.77.0.1>]
rcvd [IPCP ConfAck id=0x1 <compress VJ 0f 01> <addr 10.77.0.1>]
local  IP address 10.77.0.1
remote IP address 10.77.0.2
sent [LCP TermReq id=0x2 "User request"]
"""


def test_pppd_log_packets_come_out_in_order_with_direction_protocol_and_code() -> None:
    assert parse_pppd_log(LOG) == [
        ("sent", "LCP", "ConfReq"),
        ("rcvd", "LCP", "ConfAck"),
        ("sent", "CHAP", "Challenge"),
        ("sent", "IPCP", "ConfReq"),
        ("rcvd", "IPCP", "ConfAck"),
        ("sent", "LCP", "TermReq"),
    ]


def test_pppd_log_reading_stops_at_the_until_marker() -> None:
    until_up = parse_pppd_log(LOG, until=IPCP_UP)
    assert until_up[-1] == LoggedPacket("rcvd", "IPCP", "ConfAck")
    assert count_sent(until_up) == {
        ("LCP", "ConfReq"): 1,
        ("CHAP", "Challenge"): 1,
        ("IPCP", "ConfReq"): 1,
    }


def test_pppd_log_lines_behind_a_syslog_prefix_parse() -> None:
    line = 'Nov 22 01:44:02 host pppd[233]: rcvd [PAP AuthReq id=0x1 user="u" password=<hidden>]'
    assert parse_pppd_log(line) == [("rcvd", "PAP", "AuthReq")]


def test_pppd_log_unknown_protocol_and_code_keep_pppd_spelling() -> None:
    packets = parse_pppd_log("rcvd [proto=0x8281]\nsent [LCP code=0xe id=0x3]")
    assert packets == [("rcvd", "proto=0x8281", ""), ("sent", "LCP", "code=0xe")]
    assert packet_numbers(packets[0]) == (0x8281, None)
    assert packet_numbers(packets[1]) == (0xC021, 14)


def test_pppd_log_data_packet_reads_as_protocol_and_data() -> None:
    assert parse_pppd_log("rcvd [IP data] 45 00 00 54 ...") == [("rcvd", "IP", "data")]


def test_pppd_log_lines_without_a_packet_are_ignored() -> None:
    garbage = "sent LCP ConfReq\n[LCP ConfReq id=0x1]\nsent [\nresent [LCP ConfReq]\n\x00\xff"
    assert parse_pppd_log(garbage) == []


def test_pppd_code_names_map_to_rfc_numbers() -> None:
    assert packet_numbers(LoggedPacket("sent", "LCP", "EchoReq")) == (0xC021, 9)
    assert packet_numbers(LoggedPacket("sent", "CCP", "ResetAck")) == (0x80FD, 15)
    assert packet_numbers(LoggedPacket("sent", "CHAP", "Failure")) == (0xC223, 4)
    assert packet_numbers(LoggedPacket("sent", "IPV6CP", "NoSuchCode")) == (0x8057, None)


# -- the agent's reply format --------------------------------------------------------


def test_agent_request_is_one_line_whatever_the_code_contains() -> None:
    request = encode_request("abc", "printf 'a\\nb'\n'quoted' \"x\"\n", 2.5)
    assert request.endswith(b"\n") and request.count(b"\n") == 1
    assert request.startswith(b"abc 3 ")


def test_agent_reply_skips_bytes_before_its_acknowledgement() -> None:
    parser = ReplyParser("id1")
    reply = parser.feed(b"@@READY\nstray\n@@A id1\n@@B id1\nhello\n\n@@E id1 0 0\n")
    assert reply is not None and (reply.status, reply.output, reply.timed_out) == (
        0,
        b"hello\n",
        False,
    )


def test_agent_reply_split_into_single_bytes_is_reassembled() -> None:
    parser = ReplyParser("id2")
    replies = [parser.feed(bytes([byte])) for byte in b"x@@A id2\n@@B id2\nout\n@@E id2 3 1\n"]
    assert all(reply is None for reply in replies[:-1])
    final = replies[-1]
    assert final is not None and (final.status, final.output, final.timed_out) == (3, b"out", True)


def test_agent_reply_ignores_the_end_marker_of_another_request() -> None:
    parser = ReplyParser("mine")
    assert parser.feed(b"@@A mine\n@@B mine\n\n@@E other 0 0\nmore") is None
    reply = parser.feed(b"\n@@E mine 1 0\n")
    assert reply is not None and reply.output == b"\n@@E other 0 0\nmore"


def test_agent_reply_with_malformed_end_marker_is_not_accepted() -> None:
    parser = ReplyParser("id3")
    assert parser.feed(b"@@A id3\n@@B id3\n\n@@E id3 x 0\n\n@@E id3 0 2\n") is None
    assert parser.partial_output.startswith(b"\n@@E id3 x 0")


def test_agent_greeting_after_the_acknowledgement_means_the_answer_is_lost() -> None:
    parser = ReplyParser("id4")
    assert parser.feed(b"@@READY\n@@A id4\n") is None
    assert not parser.agent_restarted
    assert parser.feed(b"@@READY\n") is None
    assert parser.agent_restarted


def test_agent_greeting_before_the_acknowledgement_is_a_normal_start() -> None:
    parser = ReplyParser("id5")
    reply = parser.feed(b"@@READY\n@@A id5\n@@B id5\n\n@@E id5 0 0\n")
    assert reply is not None and reply.output == b""
    assert not parser.agent_restarted


# -- cpio newc ---------------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("cpio") is None, reason="needs the cpio tool (Debian package cpio)"
)
def test_cpio_archive_is_read_back_by_the_cpio_tool(tmp_path: Path) -> None:
    archive = CpioArchive()
    archive.add_file("etc/ppp/chap-secrets", b"a b c *\n", 0o600)
    archive.add_symlink("bin/sh", "busybox")
    archive.add_char_device("dev/console", 5, 1)
    listing = subprocess.run(
        ["cpio", "-itv"], input=archive.to_bytes(), capture_output=True, check=True
    ).stdout.decode()
    rows = {
        line.split()[-1] if "->" not in line else line.split()[-3]: line
        for line in listing.splitlines()
    }
    assert set(rows) == {
        "etc",
        "etc/ppp",
        "etc/ppp/chap-secrets",
        "bin",
        "bin/sh",
        "dev",
        "dev/console",
    }
    assert rows["etc/ppp/chap-secrets"].startswith("-rw-------")
    assert rows["bin/sh"].startswith("l") and rows["bin/sh"].endswith("-> busybox")
    assert rows["dev/console"].startswith("crw-------")
    subprocess.run(["cpio", "-id", "--quiet"], input=archive.to_bytes(), cwd=tmp_path, check=True)
    assert (tmp_path / "etc/ppp/chap-secrets").read_bytes() == b"a b c *\n"


def test_cpio_archive_rejects_a_duplicate_name() -> None:
    archive = CpioArchive()
    archive.add_file("init", b"#!/bin/sh\n")
    with pytest.raises(ValueError, match="duplicate"):
        archive.add_file("/init", b"again")


def test_cpio_archive_rejects_an_empty_name() -> None:
    with pytest.raises(ValueError, match="name"):
        CpioArchive().add_file("/", b"")


# -- kernel and modules --------------------------------------------------------------


def _modules_dir(tmp_path: Path, dep: str, builtin: str = "") -> Path:
    (tmp_path / "modules.dep").write_text(dep)
    (tmp_path / "modules.builtin").write_text(builtin)
    return tmp_path


def test_modules_load_after_their_dependencies_and_builtins_are_skipped(tmp_path: Path) -> None:
    modules = _modules_dir(
        tmp_path,
        "kernel/ppp_async.ko.xz: kernel/ppp_generic.ko.xz kernel/slhc.ko.xz\n"
        "kernel/ppp_generic.ko.xz: kernel/slhc.ko.xz\n"
        "kernel/slhc.ko.xz:\n"
        "kernel/bsd_comp.ko.xz: kernel/ppp_generic.ko.xz kernel/slhc.ko.xz\n",
        builtin="kernel/lib/crc-ccitt.ko\n",
    )
    order = resolve_modules(modules, required=("ppp_async",), optional=("crc-ccitt", "bsd_comp"))
    assert order == [
        "kernel/slhc.ko.xz",
        "kernel/ppp_generic.ko.xz",
        "kernel/ppp_async.ko.xz",
        "kernel/bsd_comp.ko.xz",
    ]


def test_missing_required_module_names_the_kernel_package(tmp_path: Path) -> None:
    modules = _modules_dir(tmp_path, "kernel/ppp_async.ko: kernel/ppp_generic.ko\n")
    with pytest.raises(VmUnavailable) as missing:
        resolve_modules(modules, required=("ppp_async",), optional=())
    assert missing.value.package == "linux-image-amd64"
    assert "ppp_generic" in str(missing.value) and "ppp_async" in str(missing.value)


def test_missing_kernel_image_names_the_kernel_package(tmp_path: Path) -> None:
    (tmp_path / "boot").mkdir()
    (tmp_path / "modules" / "6.1.0-9-amd64").mkdir(parents=True)
    with pytest.raises(VmUnavailable) as missing:
        find_kernel(boot_dir=tmp_path / "boot", modules_root=tmp_path / "modules")
    assert missing.value.package == "linux-image-amd64"
    assert "apt-get install linux-image-amd64" in str(missing.value)


def test_newest_kernel_with_modules_is_chosen(tmp_path: Path) -> None:
    boot, modules = tmp_path / "boot", tmp_path / "modules"
    for release in ("6.1.0-9-amd64", "6.1.0-10-amd64", "6.2.0-1-amd64"):
        (boot / f"vmlinuz-{release}").parent.mkdir(exist_ok=True)
        (boot / f"vmlinuz-{release}").write_bytes(b"")
    for release in ("6.1.0-9-amd64", "6.1.0-10-amd64"):  # 6.2 has no modules
        (modules / release).mkdir(parents=True)
        (modules / release / "modules.dep").write_text("")
    assert find_kernel(boot_dir=boot, modules_root=modules).release == "6.1.0-10-amd64"


# -- the capture frame reader ------------------------------------------------------

# LCP TermAck id=2 as pppd sent it in chap_client_to_server.bin: ff 03 c0 21 06 02 00 04,
# FCS 94 0d, control characters escaped.
TERM_ACK = bytes.fromhex("7eff7d23c0217d267d227d207d24947d2d7e")


def test_frame_reader_decodes_an_escaped_lcp_frame() -> None:
    (frame,) = read_frames(TERM_ACK)
    assert (frame.protocol, frame.code, frame.information) == (0xC021, 6, b"\x06\x02\x00\x04")


def test_frame_reader_drops_a_frame_with_a_bad_fcs() -> None:
    corrupted = bytearray(TERM_ACK)
    corrupted[-3] ^= 0x01
    assert read_frames(bytes(corrupted)) == []


def test_frame_reader_drops_runts_and_noise_between_flags() -> None:
    assert read_frames(b"~~\x01~\xff\x03~" + b"\x7d" * 5 + b"~") == []
