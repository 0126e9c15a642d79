"""``wanctl peer pppd``: the real pppd in a VM as a peer, run as a real command.

The error tests, which need no VM, are in tests/unit/test_peer_pppd.py.
The two VM tests boot one each: without PORT
(our ``wanctl dial`` in a namespace reaches pppd through the printed pty,
a ping crosses, we hang up and the command returns pppd's status), and
with a host PORT (one end of the project's cable; Ctrl-C stops pppd).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.lab.cable_process import CableProcess
from tests.interop.conftest import _require_vm_parts
from wanctl.lab import LinkProcess, lab_unavailable, namespaces, ping

OURS, PPPD = "10.87.0.2", "10.87.0.1"
PPPD_OPTIONS = ["noauth", f"{PPPD}:{OURS}"]


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
    return LinkProcess(["dial", tty, "--linkname", "ours", "--debug"], namespace=namespace, env=env)


def test_dial_through_the_printed_pty_and_get_pppds_status(namespace: str, tmp_path: Path) -> None:
    peer = _start_peer("--", *PPPD_OPTIONS)
    ours: LinkProcess | None = None
    try:
        tty = peer.wait_for(r"pppd is on (\S+): point your PPP at it", 300).group(1)
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
