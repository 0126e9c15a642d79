"""``wanctl peer pppd`` argument and environment errors: all come before any VM.

Each runs the real command as a subprocess and checks the one-line message
and the exit code (2 option error, 6 port locked, 7 open failed, 1 fatal).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wanctl.lab import python_env
from wanminiport.transports.lockfile import PortLock


def _peer(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command run to its end (it fails before booting anything)."""
    return subprocess.run(
        [sys.executable, "-m", "wanctl", "peer", *argv],
        capture_output=True,
        text=True,
        env=python_env(env),
        timeout=60,
    )


def test_missing_double_dash_is_an_option_error() -> None:
    result = _peer("pppd", "noauth")
    assert result.returncode == 2
    assert "pppd's options follow '--'" in result.stderr


def test_unknown_peer_is_an_option_error() -> None:
    result = _peer("chatd", "--")
    assert result.returncode == 2
    assert "usage: wanctl peer pppd" in result.stderr


def test_nonexistent_port_is_an_open_error() -> None:
    result = _peer("pppd", "/dev/ttyNOSUCH9", "--", "noauth")
    assert result.returncode == 7
    assert "port /dev/ttyNOSUCH9 does not exist" in result.stderr


def test_locked_port_names_its_owner(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        with PortLock(port, str(tmp_path)):
            result = _peer("pppd", port, "--", env={"WANCTL_LOCK_DIR": str(tmp_path)})
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 6
    assert f"PID {os.getpid()}" in result.stderr


def test_missing_qemu_names_its_package(tmp_path: Path) -> None:
    result = _peer("pppd", "--", "noauth", env={"PATH": str(tmp_path)})
    assert result.returncode == 1
    assert "apt-get install qemu-system-x86" in result.stderr


def test_missing_kernel_names_its_package() -> None:
    result = _peer("pppd", "--", env={"WANCTL_VM_KERNEL": "0.0-no-such-release"})
    assert result.returncode == 1
    assert "apt-get install linux-image-amd64" in result.stderr
