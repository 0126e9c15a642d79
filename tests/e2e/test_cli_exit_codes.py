"""pppd's exit codes, each provoked through the real ``wanctl`` command.

0 success, 1 fatal error, 2 bad options, 3 not permitted, 5 user request,
6 port locked, 7 cannot open port, 8 connect script failed, 12 idle, 15 echo
timeout, 16 modem hangup, 19 authentication failed.  Every error is one line
naming what to fix, never a traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hw.lab.modem.process import ExchangeProcess
from tests.e2e.conftest import Lab
from wanctl.lab import LinkProcess, python_env


def wanctl(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wanctl", *argv],
        capture_output=True,
        text=True,
        env=python_env(env),
        timeout=60,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    return lines[-1]


def test_0_success_for_a_query() -> None:
    assert wanctl("import-pppd", "tests/data/pppd_peers/etc/ppp/peers/nullmodem").returncode == 0


def test_1_fatal_error_hanging_up_a_link_that_is_not_running(tmp_path: Path) -> None:
    result = wanctl("hangup", "nosuch", env={"WANCTL_RUN_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "link 'nosuch' is not running" in one_line_error(result)


def test_2_no_verb_lists_every_verb_with_its_line() -> None:
    result = wanctl()
    assert result.returncode == 2
    listed = dict(
        line.split(None, 1) for line in result.stderr.splitlines() if line.startswith("  ")
    )
    for verb in ("ports", "dial", "answer", "hangup", "status", "capture", "demo"):
        assert listed.get(verb, "").strip(), (verb, result.stderr)
    assert "the following arguments are required" not in result.stderr


def test_2_dial_of_neither_a_profile_nor_a_port_says_where_it_looked(tmp_path: Path) -> None:
    result = wanctl("dial", "nosuchprofile", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert result.returncode == 2
    line = one_line_error(result)
    assert "Opening" not in result.stdout + result.stderr
    assert "neither a profile nor a port of that name" in line
    assert str(tmp_path / "wanctl" / "nosuchprofile.toml") in line
    assert "/etc/wanctl/nosuchprofile.toml" in line and "/dev/nosuchprofile" in line
    assert "'wanctl ports' lists the ports" in line


def test_2_a_broken_profile_is_reported_not_taken_for_a_port(tmp_path: Path) -> None:
    (tmp_path / "wanctl").mkdir()
    profile = tmp_path / "wanctl" / "office.toml"
    profile.write_text("mru = 5\n")
    profile.chmod(0o600)
    result = wanctl("dial", "office", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert result.returncode == 2
    line = one_line_error(result)
    assert "office.toml" in line and "mru" in line, line


def test_2_bad_option_value_names_the_flag_and_the_fix() -> None:
    result = wanctl("dial", "/dev/ttyS0", "--mru", "5")
    assert result.returncode == 2
    assert one_line_error(result) == (
        "wanctl: --mru: 5 is out of range; use a number from 128 to 16384 bytes"
    )


def test_2_unknown_flag() -> None:
    result = wanctl("dial", "/dev/ttyS0", "--mtu-size", "5")
    assert result.returncode == 2
    assert "unrecognized arguments: --mtu-size" in one_line_error(result)


def test_2_bad_profile_line_names_file_line_and_key(tmp_path: Path) -> None:
    profile = tmp_path / "office.toml"
    profile.write_text('device = "/dev/ttyS0"\nbuad = 9600\n')
    result = wanctl("dial", "office", "--config", str(profile))
    assert result.returncode == 2
    error = one_line_error(result)
    assert f"{profile}:2" in error and "buad" in error and "baud" in error


def test_3_control_socket_refuses_users_outside_its_group(lab: Lab) -> None:
    lab.answer()
    lab.dial().wait_for(r"Link up", 30)
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "wanctl",
            "status",
            "client",
        ],
        capture_output=True,
        text=True,
        env=python_env(lab.env),
        timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert "permission denied" in one_line_error(result)


def test_6_port_locked_names_the_owner(lab: Lab) -> None:
    hub = lab.answer()
    hub.wait_for(r"Direct line", 15)
    result = wanctl("dial", lab.cable.b, env=lab.env)
    assert result.returncode == 6
    assert f"is locked by PID {hub.proc.pid} (" in one_line_error(result)


def test_7_cannot_open_port() -> None:
    result = wanctl("dial", "/dev/ttyNOPE")
    assert result.returncode == 7
    assert "no such device /dev/ttyNOPE" in one_line_error(result)


def test_8_connect_failed_when_the_number_does_not_answer(lab: Lab) -> None:
    with ExchangeProcess(["5551001"], ring_interval=1.0, handshake=0.2) as exchange:
        dialer = lab.start("dial", lab.ns_client, exchange.tty("5551001"), "--number", "5550000")
        assert dialer.wait(60) == 8
        assert "NO CARRIER" in dialer.output()


def test_12_idle_ends_a_quiet_link(lab: Lab) -> None:
    lab.answer()
    client = lab.dial("--idle", "2")
    client.wait_for(r"Link up", 30)
    assert client.wait(20) == 12
    assert "Terminating connection due to lack of activity (2 s)" in client.output()


def test_15_peer_stops_answering_lcp_echo(lab: Lab) -> None:
    hub = lab.answer()
    client = lab.dial("--lcp-echo-interval", "1", "--lcp-echo-failure", "2")
    client.wait_for(r"Link up", 30)
    os.kill(hub.proc.pid, signal.SIGSTOP)
    try:
        assert client.wait(20) == 15
    finally:
        os.kill(hub.proc.pid, signal.SIGCONT)
    assert "Link down" in client.output()


def test_16_line_hangup_during_the_call(lab: Lab) -> None:
    lab.answer()
    client = lab.dial()
    client.wait_for(r"Link up", 30)
    lab.cable.hangup("a")  # the client's end: its tty reads end-of-file, as on carrier loss
    assert client.wait(20) == 16
    assert "Modem hangup" in client.output()


def test_19_authentication_to_the_peer_failed(lab: Lab) -> None:
    lab.answer()
    client = lab.start(
        "dial",
        lab.ns_client,
        lab.cable.a,
        "--user",
        "client",
        "--remotename",
        "hub",
        "--password",
        "wrong",
    )
    assert client.wait(30) == 19
    assert "Authentication failed (CHAP)" in client.output()


def test_5_user_request_on_sigterm(lab: Lab) -> None:
    lab.answer()
    client = lab.dial()
    client.wait_for(r"Link up", 30)
    client.proc.send_signal(signal.SIGTERM)
    assert client.wait(20) == 5


def test_background_detaches_once_ip_is_up(lab: Lab) -> None:
    lab.answer()
    parent = lab.dial("--background")
    assert parent.wait(40) == 0
    assert "running in the background as PID" in parent.output()
    status = LinkProcess(["status", "client", "--json"], env=lab.env)
    assert status.wait() == 0 and '"phase": "network"' in status.output()
    assert LinkProcess(["hangup", "client"], env=lab.env).wait() == 0
