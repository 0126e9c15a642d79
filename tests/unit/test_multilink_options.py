"""Multilink's options: pppd's names, the member ports, and a clear line for each bad one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_options import _errors, _options
from wanctl.config import ppp_config
from wanctl.errors import WanctlError
from wanctl.options import merge_options
from wanctl.profiles import load_profile
from wanctl.values import split_member


def test_pppd_names_reach_the_ppp_engine() -> None:
    options = _options(
        "--device", "/dev/ttyS0", "--multilink", "--members", "/dev/ttyS1,/dev/ttyS2@57600",
        "--mrru", "1600", "--mpshortseq", "--endpoint", "magic:0a0b0c0d",
    )  # fmt: skip
    assert options.members == ("/dev/ttyS1", "/dev/ttyS2@57600")
    config = ppp_config(options)
    assert config.multilink and config.mrru == 1600 and config.mpshortseq
    assert config.endpoint is not None and str(config.endpoint) == "magic:0a0b0c0d"
    assert split_member("/dev/ttyS2@57600", 115200) == ("/dev/ttyS2", 57600, None)
    assert split_member("/dev/ttyS1", 115200) == ("/dev/ttyS1", 115200, None)


def test_a_modem_member_has_its_own_number_on_the_command_line_and_in_a_profile(
    tmp_path: Path,
) -> None:
    options = _options(
        "--device", "/dev/ttyACM0", "--number", "5551001", "--multilink",
        "--members", "/dev/ttyACM1=5551002,/dev/ttyACM2@57600=*70 5551003,/dev/ttyS3",
    )  # fmt: skip
    specs = [split_member(m, 115200) for m in options.members]
    assert specs == [
        ("/dev/ttyACM1", 115200, "5551002"),
        ("/dev/ttyACM2", 57600, "*70 5551003"),
        ("/dev/ttyS3", 115200, None),
    ]
    profile = tmp_path / "bundle.toml"
    profile.write_text(
        'device = "/dev/ttyACM0"\nnumber = "5551001"\nmultilink = true\n'
        'members = [{port = "/dev/ttyACM1", number = "5551002"},'
        ' {port = "ttyACM2", baud = 57600}, "/dev/ttyS3=9,5551004"]\n'
    )
    loaded = load_profile(profile).layer
    members = merge_options(loaded).members
    assert members == ("/dev/ttyACM1=5551002", "/dev/ttyACM2@57600", "/dev/ttyS3=9,5551004")


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ('[{port = "/dev/ttyACM1", phone = "1"}]', "has 'phone'"),
        ('[{number = "5551002"}]', "has no port"),
        ('["/dev/ttyACM1=555x"]', "characters a modem cannot dial"),
        ('[{port = "/dev/ttyACM1", baud = 57601}]', "57601 is not a standard tty speed"),
    ],
)
def test_a_bad_member_in_a_profile_is_one_clear_error(
    tmp_path: Path, members: str, words: str
) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text(f'device = "/dev/ttyACM0"\nmultilink = true\nmembers = {members}\n')
    with pytest.raises(WanctlError, match=re.escape(words)):
        merge_options(load_profile(profile).layer)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--members", "/dev/ttyS1"), "--members (command line): needs multilink"),
        (("--mrru", "1500"), "--mrru (command line): needs multilink"),
        (("--endpoint", "magic:0a0b0c0d"), "--endpoint (command line): needs multilink"),
        (("--mpshortseq",), "--mpshortseq (command line): needs multilink"),
        (("--multilink", "--members", "/dev/ttyS0"), "names a port twice"),
        (("--multilink", "--members", "/dev/ttyS1,/dev/ttyS1@9600"), "names a port twice"),
        (("--multilink", "--mrru", "64"), "64 is out of range"),
        (("--multilink", "--endpoint", "bogus:1"), "Can't parse 'bogus:1'"),
        (("--multilink", "--members", "/dev/ttyS1@57601"), "57601 is not a standard tty speed"),
        (("--multilink", "--members", "/dev/ttyS1@fast"), "'fast' is not a whole number"),
        (("--multilink", "--framing", "slip", "--ip", "1.1.1.1:1.1.1.2"), "needs PPP"),
        (("--multilink", "--require-mppe-128"), "not supported over a multilink bundle"),
        (("--multilink", "--idle", "60"), "--idle (command line): is not supported over"),
    ],
)
def test_bad_multilink_option_is_one_line_naming_it(argv: tuple[str, ...], words: str) -> None:
    lines = _errors("--device", "/dev/ttyS0", *argv)
    assert any(words in line for line in lines), lines


def test_more_ports_on_the_command_line_need_multilink() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wanctl", "dial", "/dev/ttyS0", "/dev/ttyS1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "PORT (command line): needs multilink" in result.stderr
