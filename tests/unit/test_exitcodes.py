"""Exit codes follow pppd; usage errors are one line, name the option and the fix."""

import gzip
import re
from pathlib import Path

import pytest

from wanctl.errors import (
    ControlPermissionError,
    LinkNotRunningError,
    ProfileError,
    UsageError,
    UsageErrors,
    WanctlError,
    show,
)
from wanminiport.exitcodes import ExitCode

PPPD_MAN = Path("/usr/share/man/man8/pppd.8.gz")

# What pppd(8) says each status means, by a phrase that must appear in it.
MAN_PHRASES = {
    0: "detached",
    1: "fatal error",
    2: "processing the options",
    3: "not setuid-root",
    4: "kernel does not support",
    5: "SIGINT",
    6: "could not be locked",
    7: "could not be opened",
    8: "connect script failed",
    9: "pty option",
    10: "negotiation failed",
    11: "authenticate itself",
    12: "idle",
    13: "connect time limit",
    14: "Callback",
    15: "echo",
    16: "modem hanging up",
    17: "loopback",
    18: "init script failed",
    19: "authenticate ourselves",
}


def test_exit_codes_are_pppds_numbers() -> None:
    assert [int(code) for code in ExitCode] == list(range(22))
    numbers = {code.name: int(code) for code in ExitCode}
    assert numbers["OPTION_ERROR"] == 2 and numbers["LOCK_FAILED"] == 6
    assert numbers["CONNECT_FAILED"] == 8 and numbers["PEER_DEAD"] == 15
    assert numbers["HANGUP"] == 16 and numbers["AUTH_TOPEER_FAILED"] == 19
    assert numbers["TRAFFIC_LIMIT"] == 20 and numbers["CNID_AUTH_FAILED"] == 21


@pytest.mark.skipif(not PPPD_MAN.exists(), reason="pppd manual page not installed")
def test_exit_codes_match_the_installed_pppd_manual() -> None:
    man = gzip.decompress(PPPD_MAN.read_bytes()).decode("utf-8", "replace")
    section = re.sub(r"\\f[BIRP]", "", man.split(".SH EXIT STATUS", 1)[1].split("\n.SH", 1)[0])
    entries = dict(re.findall(r"\.B (\d+)\n(.*?)(?=\n\.TP|\Z)", section, re.S))
    assert len(entries) >= 20
    for number, phrase in MAN_PHRASES.items():
        assert phrase.lower() in " ".join(entries[str(number)].split()).lower(), number
        assert ExitCode(number).description


def test_usage_error_is_one_line_naming_option_and_fix() -> None:
    err = UsageError("--mru", "'15\n00' is not a whole number", "use a number from 128 to 16384")
    text = str(err)
    assert "\n" not in text
    assert text.startswith("--mru: ") and text.endswith("use a number from 128 to 16384")
    assert err.exit_code is ExitCode.OPTION_ERROR and int(err.exit_code) == 2


def test_profile_error_names_file_line_and_key() -> None:
    err = ProfileError("/etc/wanctl/isp.toml", "mru", "99 is out of range", "use 128-16384", 3)
    assert str(err) == "/etc/wanctl/isp.toml:3: key 'mru': 99 is out of range; use 128-16384"
    assert isinstance(err, UsageError) and err.exit_code == 2


def test_several_usage_errors_give_one_line_each() -> None:
    errs = UsageErrors([UsageError("--mru", "bad", "fix a"), UsageError("--baud", "bad", "fix b")])
    assert str(errs).splitlines() == ["--mru: bad; fix a", "--baud: bad; fix b"]
    assert errs.exit_code == 2


def test_control_errors_carry_their_exit_codes() -> None:
    assert ControlPermissionError("x").exit_code == ExitCode.NOT_ROOT
    assert LinkNotRunningError("x").exit_code == ExitCode.FATAL_ERROR
    assert str(WanctlError("a\nb")) == "a\\nb"


def test_shown_values_are_bounded_and_single_line() -> None:
    shown = show("x" * 500 + "\n")
    assert len(shown) <= 60 and "\n" not in shown


def test_every_error_that_ends_the_program_is_one_type_with_an_exit_code() -> None:
    from ndiswan.resolv import ResolvConfError
    from ndiswan.tun import TunError
    from wanctl.errors import ControlError, UsageError
    from wanminiport.exitcodes import WanctlError
    from wanminiport.mcm.dialup import CallSetupError
    from wanminiport.transports.base import TransportError

    ending = (TransportError, TunError, CallSetupError, ResolvConfError, ControlError)
    for cls in ending:
        assert issubclass(cls, WanctlError), cls
        assert isinstance(cls("x").exit_code, ExitCode), cls
    assert issubclass(UsageError, WanctlError)
    assert UsageError("--mru", "too small").exit_code is ExitCode.OPTION_ERROR


def test_cli_main_prints_one_line_and_exits_with_the_errors_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wanctl import cli
    from wanminiport.transports.base import TransportError

    def fail(args: object) -> int:
        raise TransportError("/dev/ttyUSB9: no such device\nsecond line", ExitCode.OPEN_FAILED)

    monkeypatch.setattr(cli, "_dispatch", fail)
    assert cli.main(["ports"]) == 7
    assert capsys.readouterr().err == "wanctl: /dev/ttyUSB9: no such device\\nsecond line\n"
