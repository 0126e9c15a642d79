"""``wanctl peer pppd``: the real pppd in a VM as a peer, run as a real command.

The error tests need no VM.  The two VM tests boot one each: without PORT
(our ``wanctl dial`` in a namespace reaches pppd through the printed pty,
a ping crosses, we hang up and the command returns pppd's status), and
with a host PORT (one end of the project's cable; Ctrl-C stops pppd).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.lab.cable_process import CableProcess
from tests.interop.conftest import _require_vm_parts
from wanctl.lab import LinkProcess, lab_unavailable, namespaces, ping, python_env
from wanminiport.transports.lockfile import PortLock

OURS, PPPD = "10.87.0.2", "10.87.0.1"
PPPD_OPTIONS = ["noauth", f"{PPPD}:{OURS}"]


def _peer(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command run to its end (for the errors that come before any VM)."""
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


# -- with the VM ------------------------------------------------------------------


@pytest.fixture
def namespace() -> Iterator[str]:
    _require_vm_parts()
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    with namespaces(1, prefix="peer") as (name,):
        yield name


def _start_peer(*argv: str) -> LinkProcess:
    return LinkProcess(["peer", "pppd", *argv], name="wanctl peer pppd")


def _dial(namespace: str, tty: str, run_dir: Path) -> LinkProcess:
    env = {"WANCTL_RUN_DIR": str(run_dir), "WANCTL_LOCK_DIR": str(run_dir)}
    return LinkProcess(
        ["dial", tty, "--linkname", "ours", "--debug"], namespace=namespace, env=env
    )


def test_dial_through_the_printed_pty_and_get_pppds_status(
    namespace: str, tmp_path: Path
) -> None:
    peer = _start_peer("--", *PPPD_OPTIONS)
    ours: LinkProcess | None = None
    try:
        tty = peer.wait_for(r"pppd's line is (\S+): point your PPP at it", 300).group(1)
        ours = _dial(namespace, tty, tmp_path)
        ours.wait_for(r"^Link up: ", 60)
        peer.wait_for(r"^local  IP address " + PPPD.replace(".", r"\."), 30)
        ok, summary = ping(namespace, PPPD, count=2)
        assert ok, summary
        assert "rcvd [LCP ConfReq" in peer.output()
        hangup = LinkProcess(["hangup", "ours"], env={"WANCTL_RUN_DIR": str(tmp_path)})
        assert hangup.wait() == 0
        assert ours.wait(20) == 5
        # Our Terminate-Request ends pppd's link: it exits 16 (hangup) or 5.
        status = peer.wait(60)
        assert status in (5, 16), peer.output()[-1500:]
        assert f"pppd exited with status {status}" in peer.output()
    finally:
        if ours is not None:
            ours.stop()
        peer.stop()


def test_host_port_is_bridged_and_ctrl_c_stops_pppd(namespace: str, tmp_path: Path) -> None:
    with CableProcess(115200) as cable:
        peer = _start_peer(cable.a, "--", *PPPD_OPTIONS, "lcp-max-configure", "60")
        ours: LinkProcess | None = None
        try:
            peer.wait_for(rf"pppd's line is bridged to {cable.a}", 300)
            ours = _dial(namespace, cable.b, tmp_path)
            ours.wait_for(r"^Link up: ", 60)
            ok, summary = ping(namespace, PPPD, count=2)
            assert ok, summary
            peer.proc.send_signal(signal.SIGINT)
            assert peer.wait(60) == 5, peer.output()[-1500:]
            assert "Terminating on signal" in peer.output()
        finally:
            if ours is not None:
                ours.stop()
            peer.stop()
