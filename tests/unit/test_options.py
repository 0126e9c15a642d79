"""The link option table: flags and profile keys, values, merging, combinations."""

import argparse
import dataclasses
import ipaddress
from pathlib import Path

import pytest

from wanctl.errors import UsageError, UsageErrors
from wanctl.options import (
    OPTIONS,
    LinkOptions,
    OptionLayer,
    add_link_options,
    command_line_layer,
    merge_options,
)
from wanminiport.info import FramingMode


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wanctl")
    add_link_options(parser)
    return parser


def _options(*argv: str) -> LinkOptions:
    return merge_options(command_line_layer(_parser().parse_args(list(argv))))


def _errors(*argv: str) -> list[str]:
    with pytest.raises(UsageErrors) as info:
        _options(*argv)
    lines = str(info.value).splitlines()
    assert len(lines) == len(info.value.errors)
    assert all(info.value.exit_code == 2 for _ in lines)
    return lines


def test_every_option_is_a_linkoptions_field_with_the_same_default() -> None:
    fields = {f.name: f for f in dataclasses.fields(LinkOptions)}
    for spec in OPTIONS:
        if spec.name == "ip":
            continue
        assert spec.field in fields, spec.name
        default = fields[spec.field].default
        expected = FramingMode(spec.default) if spec.name == "framing" else spec.default
        assert default == expected, spec.name
        assert spec.help and spec.example.startswith(spec.name)


def test_defaults_follow_debian_pppd() -> None:
    opts = _options()
    assert (opts.mru, opts.asyncmap, opts.maxfail, opts.holdoff) == (1500, 0, 10, 30)
    assert (opts.lcp_echo_interval, opts.lcp_echo_failure) == (30, 4)
    assert opts.lock and opts.modem and opts.framing is FramingMode.PPP


def test_flags_parse_into_typed_values() -> None:
    opts = _options(
        "--device",
        "ttyUSB0",
        "--baud",
        "57600",
        "--crtscts",
        "--ip",
        "10.0.0.1:10.0.0.2",
        "--ms-dns",
        "10.0.0.53",
        "--ms-dns",
        "10.0.0.54",
        "--asyncmap",
        "a0000",
        "--escape",
        "11,13,ff",
        "--local",
        "--nolock",
        "--framing",
        "slip",
        "--number",
        "0,555 1234",
        "--init",
        "AT&F E0",
    )
    assert opts.device == "/dev/ttyUSB0" and opts.baud == 57600 and opts.flow == "crtscts"
    assert opts.local_ip == ipaddress.IPv4Address("10.0.0.1")
    assert opts.remote_ip == ipaddress.IPv4Address("10.0.0.2")
    assert [str(a) for a in opts.ms_dns] == ["10.0.0.53", "10.0.0.54"]
    assert opts.asyncmap == 0xA0000 and opts.escape == (0x11, 0x13, 0xFF)
    assert not opts.modem and not opts.lock and opts.framing is FramingMode.SLIP
    assert opts.origins["baud"] == "command line"


def test_pulse_tone_and_auto_answer_flags() -> None:
    assert not _options().pulse and _options().auto_answer == 0
    opts = _options("--pulse", "--auto-answer", "3")
    assert opts.pulse and opts.auto_answer == 3
    assert not _options("--pulse", "--tone").pulse


def test_port_is_another_name_for_device() -> None:
    assert _options("--port", "/dev/ttyS1").device == "/dev/ttyS1"


def test_negative_flag_turns_a_default_off_and_is_named_in_errors() -> None:
    assert not _options("--nolock").lock
    assert _errors("--nodefaultroute", "--noauth", "--require-chap")[0].startswith("--noauth")


def test_pyserial_url_device_takes_any_speed() -> None:
    assert _options("--device", "socket://localhost:7000", "--baud", "12345").baud == 12345


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--baud", "fast"], "--baud: 'fast' is not a whole number"),
        (["--baud", "0"], "--baud: 0 is out of range"),
        (["--mru", "127"], "--mru: 127 is out of range; use a number from 128 to 16384"),
        (["--mru", "16385"], "--mru: 16385 is out of range"),
        (["--mtu", "-1"], "--mtu: -1 is out of range"),
        (["--flow", "rtscts"], "--flow: 'rtscts' is not a choice; did you mean 'crtscts'?"),
        (["--framing", "hdlc"], "--framing: 'hdlc' is not a choice"),
        (["--device", "/dev/tty S0"], "--device: device '/dev/tty S0' contains a space"),
        (["--device", ""], "--device: device is empty"),
        (["--local-ip", "10.0.0.256"], "--local-ip: '10.0.0.256' is not an IPv4 address"),
        (["--local-ip", "0.0.0.0"], "--local-ip: 0.0.0.0 names no address"),
        (["--remote-ip", "224.0.0.1"], "--remote-ip: 224.0.0.1 is not a host address"),
        (["--ip", "10.0.0.1"], "--ip: '10.0.0.1' is not local:remote"),
        (["--ip", ":"], "--ip: both sides of ':' are empty"),
        (["--ip", "1.2.3.4:x"], "--ip: 'x' is not an IPv4 address"),
        (
            ["--ms-dns", "1.1.1.1", "--ms-dns", "2.2.2.2", "--ms-dns", "3.3.3.3"],
            "--ms-dns: 3 addresses given; give at most 2",
        ),
        (["--asyncmap", "0xfffffffff"], "--asyncmap: 0xfffffffff does not fit in 32 bits"),
        (["--asyncmap", "ffzz"], "--asyncmap: 'ffzz' is not a hex number"),
        (["--escape", "20"], "--escape: 0x20 cannot be escaped"),
        (["--escape", "5e"], "--escape: 0x5e cannot be escaped"),
        (["--escape", "100"], "--escape: 0x100 is not a byte"),
        (["--escape", ","], "--escape: the escape list is empty"),
        (["--number", "555-CALL"], "--number: '555-CALL' has characters a modem cannot dial"),
        (["--init", "ZZ"], "--init: 'ZZ' is not an AT command"),
        (["--connect", "'' ATZ OK 'ATDT"], "--connect: chat script: unterminated quote (line 1)"),
        (
            ["--connect", "'' ATZ\nOK 'ATDT\n5551234'"],
            "--connect: chat script: unterminated quote (line 2)",
        ),
        (["--connect", "/etc/chat\nx"], "--connect: a script path cannot span lines"),
        (["--connect", "   "], "--connect: the connect script is empty"),
        (["--user", "a\nb"], "--user: user name contains a control character"),
        (["--password", "x" * 300], "--password: password is 300 characters long"),
        (["--lcp-echo-interval", "1.5"], "--lcp-echo-interval: '1.5' is not a whole number"),
        (["--maxfail", "-3"], "--maxfail: -3 is out of range"),
        (["--holdoff", "x"], "--holdoff: 'x' is not a whole number"),
        (["--idle", "31536001"], "--idle: 31536001 is out of range"),
        (["--lcp-echo-failure", "1001"], "--lcp-echo-failure: 1001 is out of range"),
        (["--ipparam", "a\tb"], "--ipparam: ipparam contains a control character"),
        (["--pap-secrets", ""], "--pap-secrets: path is empty"),
        (["--chap-secrets", "/etc/ppp/x\n"], "--chap-secrets: path contains a control"),
        (["--pcap", ""], "--pcap: path is empty"),
        (["--name", "gw\x7f"], "--name: name contains a control character"),
        (["--remotename", "r" * 256], "--remotename: name is 256 characters long"),
        (["--auto-answer", "256"], "--auto-answer: 256 is out of range; use a number from 0"),
        (["--auto-answer", "two"], "--auto-answer: 'two' is not a whole number"),
    ],
)
def test_malformed_flag_value_is_one_line_naming_flag_and_fix(
    argv: list[str], expected: str
) -> None:
    lines = _errors(*argv)
    assert len(lines) == 1
    assert lines[0].startswith(expected), lines[0]
    assert "; " in lines[0]  # a fix follows


def test_all_bad_flags_are_reported_together() -> None:
    assert len(_errors("--mru", "1", "--baud", "x", "--asyncmap", "q")) == 3


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--device", "/dev/ttyS0", "--baud", "11520"],
            "--baud (command line): 11520 is not a standard tty speed; use 9600",
        ),
        (
            ["--require-pap", "--refuse-pap"],
            "--require-pap (command line): conflicts with --refuse-pap",
        ),
        (["--noauth", "--require-chap"], "--noauth (command line): conflicts with --require-chap"),
        (
            ["--require-mschap-v2", "--refuse-mschap-v2"],
            "--require-mschap-v2 (command line): conflicts with --refuse-mschap-v2",
        ),
        (
            ["--noauth", "--require-mschap"],
            "--noauth (command line): conflicts with --require-mschap",
        ),
        (
            ["--require-eap", "--refuse-eap"],
            "--require-eap (command line): conflicts with --refuse-eap",
        ),
        (["--ip", "10.0.0.1:10.0.0.1"], "--ip (command line): is the same as local-ip"),
        (["--lcp-echo-interval", "0"], "lcp-echo-failure (default): has no effect"),
        (["--framing", "slip"], "--framing (command line): SLIP cannot negotiate addresses"),
        (
            ["--framing", "slip", "--ip", "1.1.1.1:2.2.2.2", "--require-chap"],
            "--require-chap (command line): needs PPP",
        ),
        (
            ["--ip", "1.1.1.1:2.2.2.2", "--local-ip", "1.1.1.3"],
            "--ip: sets the same option as --local-ip",
        ),
    ],
)
def test_conflicting_options_name_both_sources(argv: list[str], expected: str) -> None:
    assert any(line.startswith(expected) for line in _errors(*argv)), _errors(*argv)


def test_command_line_overrides_profile_and_origins_say_so() -> None:
    profile = OptionLayer("profile /etc/wanctl/isp.toml")
    for name, raw in (("mru", 1400), ("baud", 57600), ("require-pap", True)):
        profile.set(next(s for s in OPTIONS if s.name == name), raw, False, name)
    cli = command_line_layer(_parser().parse_args(["--mru", "1200"]))
    opts = merge_options(profile, cli)
    assert (opts.mru, opts.baud, opts.require_pap) == (1200, 57600, True)
    assert opts.origins["mru"] == "command line"
    assert opts.origins["baud"] == "profile /etc/wanctl/isp.toml"
    with pytest.raises(
        UsageErrors,
        match=r"--noauth \(command line\): conflicts with "
        r"require-pap \(profile /etc/wanctl/isp.toml\)",
    ):
        merge_options(profile, command_line_layer(_parser().parse_args(["--noauth"])))


def test_profile_values_lists_only_what_differs_from_defaults() -> None:
    opts = _options("--mru", "1400", "--ip", "10.1.0.1:10.1.0.2", "--escape", "ff")
    assert opts.profile_values() == {
        "mru": 1400,
        "local-ip": "10.1.0.1",
        "remote-ip": "10.1.0.2",
        "escape": [0xFF],
    }


def test_password_is_kept_out_of_repr() -> None:
    assert "hunter2" not in repr(_options("--password", "hunter2"))


def test_help_lists_every_option() -> None:
    text = _parser().format_help()
    for spec in OPTIONS:
        assert f"--{spec.name}" in text


def test_inline_connect_script_gives_chat_words() -> None:
    opts = _options("--connect", "ABORT BUSY\n'' ATZ OK ATDT\\T CONNECT ''\n")
    assert opts.chat_words() == ["ABORT", "BUSY", "", "ATZ", "OK", "ATDT\\T", "CONNECT", ""]
    assert _options().chat_words() is None


def test_connect_script_file_is_read_for_chat_words(tmp_path: Path) -> None:
    script = tmp_path / "isp"
    script.write_text("# dial\n'' ATZ\nOK 'ATDT 555'\n")
    assert _options("--connect", str(script)).chat_words() == ["", "ATZ", "OK", "ATDT 555"]
    with pytest.raises(UsageError, match=r"connect \(command line\): .*absent cannot be read"):
        _options("--connect", str(tmp_path / "absent")).chat_words()
    script.write_text("'' 'ATZ\n")
    with pytest.raises(UsageError, match=r"unterminated quote .line 1.; close each quote"):
        _options("--connect", str(script)).chat_words()


@pytest.mark.parametrize(
    ("argv", "requirement"),
    [
        ([], "none"),
        (["--require-chap"], "chap"),
        (["--require-mschap"], "mschap"),
        (["--require-mschap-v2"], "mschap-v2"),
        (["--require-eap"], "eap"),
        # The strongest asked for is required.
        (["--require-chap", "--require-mschap-v2"], "mschap-v2"),
        (["--require-mschap-v2", "--require-eap"], "eap"),
    ],
)
def test_auth_requirement_from_the_command_line(argv: list[str], requirement: str) -> None:
    from wanctl.config import ppp_config

    assert ppp_config(_options(*argv)).require_auth.value == requirement


def test_refusing_each_chap_algorithm_reaches_the_ppp_config() -> None:
    from wanctl.config import ppp_config

    config = ppp_config(_options("--refuse-chap", "--refuse-mschap", "--refuse-mschap-v2"))
    assert (config.refuse_chap, config.refuse_mschap, config.refuse_mschap_v2) == (True,) * 3
    config = ppp_config(_options("--refuse-mschap"))
    assert (config.refuse_chap, config.refuse_mschap, config.refuse_mschap_v2) == (
        False, True, False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "flag", ["--require-chap", "--require-mschap", "--require-mschap-v2", "--require-eap"]
)
def test_an_authenticator_loads_the_chap_secrets_for_each_chap(flag: str, tmp_path: Path) -> None:
    from wanctl.config import secrets_for

    secrets = tmp_path / "chap-secrets"
    secrets.write_text("client server s3cret *\n")
    secrets.chmod(0o600)
    options = _options(flag, "--chap-secrets", str(secrets), "--pap-secrets", str(tmp_path / "x"))
    table = secrets_for(options)
    assert table is not None and table.lookup("client", "server") == "s3cret"


@pytest.mark.parametrize(
    ("argv", "strengths"),
    [
        ([], ()),
        (["--require-mppe"], (128, 40)),
        (["--require-mppe", "--nomppe-128"], (40,)),
        (["--require-mppe", "--nomppe-40"], (128,)),
        (["--require-mppe-128"], (128,)),
        (["--require-mppe-40"], (40,)),
    ],
)
def test_mppe_options_reach_the_ppp_config(argv: list[str], strengths: tuple[int, ...]) -> None:
    from wanctl.config import ppp_config

    config = ppp_config(_options(*argv, "--deflate", "15,15"))
    assert config.mppe == strengths and config.require_mppe == bool(strengths)
    if strengths:  # CCP runs, with MPPE alone
        assert not config.noccp and config.deflate == (0, 0)
    assert ppp_config(_options("--require-mppe", "--mppe-stateful")).mppe_stateful


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--require-mppe-128", "--nomppe-128"], "--require-mppe-128 (command line): conflicts"),
        (["--require-mppe", "--nomppe-40", "--nomppe-128"], "--require-mppe (command line)"),
    ],
)
def test_contradictory_mppe_options_are_refused(argv: list[str], expected: str) -> None:
    assert any(line.startswith(expected) for line in _errors(*argv)), _errors(*argv)


def test_lcp_timers_take_pppds_names_and_reach_the_ppp_config() -> None:
    from wanctl.config import ppp_config

    config = ppp_config(_options())
    assert (config.restart_time, config.max_configure, config.max_terminate) == (3.0, 10, 2)
    assert config.max_failure == 5
    config = ppp_config(
        _options(
            *("--lcp-restart", "1", "--lcp-max-configure", "4"),
            *("--lcp-max-terminate", "1", "--lcp-max-failure", "2"),
        )
    )
    assert (config.restart_time, config.max_configure, config.max_terminate) == (1.0, 4, 1)
    assert config.max_failure == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lcp-restart", "0"], "--lcp-restart"),
        (["--lcp-restart", "0.5"], "not a whole number"),
        (["--lcp-max-configure", "0"], "--lcp-max-configure"),
        (["--lcp-max-failure", "-1"], "--lcp-max-failure"),
    ],
)
def test_bad_lcp_timer_values_are_named(argv: list[str], message: str) -> None:
    errors = _errors(*argv)
    assert len(errors) == 1 and message in errors[0]
