"""wanctl conformance: bad arguments, the reports, and a run on a simulated line."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.conformance.harness import answering_config, secrets
from tests.conformance.simline import SimulatedLine, SimulatedPeer
from wanctl.conformance.case import Outcome
from wanctl.conformance.cli import main, run_on
from wanctl.pcap import PCAP_MAGIC
from wanminiport.exitcodes import ExitCode
from wanminiport.transports.lockfile import lock_name


def wanctl(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wanctl", "conformance", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "which port?"),
        (("/dev/ttyS0", "--timeout", "0"), "--timeout must be positive"),
        (("/dev/ttyS0", "--baud", "-5"), "--baud must be positive"),
        (("/dev/ttyS0", "--require-auth", "pap"), "--require-auth needs --peer-role dial"),
        (
            ("/dev/ttyS0", "--peer-role", "dial", "--require-auth", "chap"),
            "--require-auth needs --user and --password",
        ),
    ],
)
def test_bad_arguments_are_one_line_and_an_option_error(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(list(argv)) == ExitCode.OPTION_ERROR
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_unknown_group_or_case_names_the_choices(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    try:
        path = os.ttyname(slave)
        env = {"WANCTL_LOCK_DIR": str(tmp_path)}
        group = wanctl(path, "--group", "nosuch", env=env)
        assert group.returncode == ExitCode.OPTION_ERROR
        assert "no group nosuch; groups: " in group.stderr and "lcp" in group.stderr
        case = wanctl(path, "--case", "lcp-nosuch", env=env)
        assert case.returncode == ExitCode.OPTION_ERROR
        assert "no case lcp-nosuch" in case.stderr
    finally:
        os.close(master)
        os.close(slave)


def test_a_missing_port_is_open_failed() -> None:
    result = wanctl("/dev/nonexistent-tty")
    assert result.returncode == ExitCode.OPEN_FAILED
    assert "/dev/nonexistent-tty" in result.stderr


def test_a_locked_port_says_who_holds_it(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    try:
        path = os.ttyname(slave)
        (tmp_path / lock_name(path)).write_text(f"{os.getpid():>10}\n")
        result = wanctl(path, env={"WANCTL_LOCK_DIR": str(tmp_path)})
        assert result.returncode == ExitCode.LOCK_FAILED, result.stderr
        assert str(os.getpid()) in result.stderr
    finally:
        os.close(master)
        os.close(slave)


def test_list_shows_every_case_with_its_rule() -> None:
    result = wanctl("--list")
    assert result.returncode == 0
    rows = result.stdout.splitlines()
    assert len(rows) >= 4
    assert all(("MUST" in row or "SHOULD" in row) and "RFC " in row for row in rows)


def test_a_run_writes_the_table_junit_and_pcap(tmp_path: Path) -> None:
    import argparse

    from wanctl.conformance.cli import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    junit, pcap = tmp_path / "report.xml", tmp_path / "run.pcap"
    args = parser.parse_args(["sim", "--group", "lcp", "--junit", str(junit), "--pcap", str(pcap)])
    out = io.StringIO()
    line = SimulatedLine(SimulatedPeer(answering_config, secrets))
    results = run_on(line, args, out)
    text = out.getvalue()
    assert all(result.outcome is Outcome.PASS for result in results), text
    assert "lcp-unknown-option" in text and "every MUST that applies passed" in text
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and int(suite.get("tests", "0")) == len(results)
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    assert len(suite.findall("testcase")) == len(results)
    data = pcap.read_bytes()
    assert int.from_bytes(data[:4], "little") == PCAP_MAGIC
    assert len(data) > 24 + 16 * 2 * len(results)
