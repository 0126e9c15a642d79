"""ip-up/ip-down hooks: pppd's arguments and environment; unsafe scripts refused."""

import asyncio
import os
from pathlib import Path

import pytest

from ndiswan.hooks import LinkFacts, UnsafeScriptError, check_script_safe, run_hook

FACTS = LinkFacts(
    ifname="wan0",
    device="/dev/ttyS1",
    speed=115200,
    ipparam="office",
    local="10.7.0.1",
    remote="10.7.0.2",
    dns=["10.7.0.53", "10.7.0.54"],
    usepeerdns=True,
)


def _script(tmp_path: Path, body: str, mode: int = 0o755) -> Path:
    path = tmp_path / "ip-up"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


def test_hook_gets_pppd_arguments_and_environment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = _script(tmp_path, f'echo "$@" > {out}; env | sort >> {out}\n')
    status = asyncio.run(run_hook(str(script), FACTS))
    assert status == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "wan0 /dev/ttyS1 115200 10.7.0.1 10.7.0.2 office"
    env = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    assert env["IFNAME"] == "wan0" and env["IPLOCAL"] == "10.7.0.1"
    assert env["IPREMOTE"] == "10.7.0.2" and env["DNS1"] == "10.7.0.53"
    assert env["DNS2"] == "10.7.0.54" and env["USEPEERDNS"] == "1"
    assert env["PPPD_PID"] == str(os.getpid())


def test_ipv6_hook_gets_link_local_addresses(tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = _script(tmp_path, f'echo "$4 $5 $LLLOCAL" > {out}\n')
    facts = LinkFacts(
        ifname="wan0", device="/dev/ttyS1", speed=9600, ll_local="fe80::1", ll_remote="fe80::2"
    )
    assert asyncio.run(run_hook(str(script), facts, ipv6=True)) == 0
    assert out.read_text().split() == ["fe80::1", "fe80::2", "fe80::1"]


def test_missing_hook_is_not_an_error(tmp_path: Path) -> None:
    assert asyncio.run(run_hook(str(tmp_path / "absent"), FACTS)) is None


def test_group_writable_script_is_refused(tmp_path: Path) -> None:
    script = _script(tmp_path, "exit 0\n", mode=0o775)
    with pytest.raises(UnsafeScriptError, match="chmod go-w"):
        check_script_safe(str(script))
    assert asyncio.run(run_hook(str(script), FACTS)) is None


def test_script_not_owned_by_root_is_refused(tmp_path: Path) -> None:
    script = _script(tmp_path, "exit 0\n")
    os.chown(script, 1234, 1234)
    with pytest.raises(UnsafeScriptError, match="uid 1234"):
        check_script_safe(str(script))


def test_directory_is_not_a_script(tmp_path: Path) -> None:
    with pytest.raises(UnsafeScriptError, match="regular file"):
        check_script_safe(str(tmp_path))


def test_non_executable_script_is_refused(tmp_path: Path) -> None:
    script = _script(tmp_path, "exit 0\n", mode=0o644)
    with pytest.raises(UnsafeScriptError, match="not executable"):
        check_script_safe(str(script))


def test_failing_hook_status_is_reported(tmp_path: Path) -> None:
    script = _script(tmp_path, "exit 3\n")
    assert asyncio.run(run_hook(str(script), FACTS)) == 3


def test_hook_that_cannot_be_started_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A script with a missing interpreter passes the safety checks but exec fails.
    script = tmp_path / "ip-up"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    assert asyncio.run(run_hook(str(script), FACTS)) is None
    assert f"could not run {script}" in caplog.text
