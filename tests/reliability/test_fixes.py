"""One test for each fault the reliability and fuzz runs found, at the layer that was fixed.

* ``HayesDialer``: a hang-up whose far end dropped the call during the
  guard time sent ``+++`` to a modem already in command mode and waited
  the whole command timeout (2 s on every such call in the endurance run).
* ``PppLink.detach``: a link torn down before its session ended left its
  timer on the event loop, which kept the link and its call alive.
* ``ControlServer``: a request of nested JSON arrays made ``json`` raise
  RecursionError out of the connection's task (no answer, a traceback).
* profiles: a deeply nested TOML value made ``tomllib`` raise RecursionError
  instead of a one-line error.
* ``import-pppd``: an options file naming a file with a NUL byte raised
  ValueError.
* UUCP locks: a process killed but not yet reaped (a zombie) counted as the
  port's live owner, so the port stayed locked until its parent waited.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

import pytest

from hw.lab.cable import VirtualCable
from tests.reliability.stack import close_end, hub_config, open_pvc_end
from wanctl.control import ControlServer
from wanctl.errors import ProfileError
from wanctl.pppd_import import import_pppd
from wanctl.profiles import parse_profile_text
from wanminiport.mcm import HayesDialer, HayesTimings, HungUp, Stage
from wanminiport.sansio import Transmit
from wanminiport.transports.lockfile import PortLock, format_lock_contents, parse_lock_contents


def test_far_end_dropping_during_the_hangup_guard_time_skips_the_escape() -> None:
    """Expected: NO CARRIER during the guard time means the modem is in command mode
    already: ATH goes out at once, no "+++", and the hang-up ends on its OK."""
    dialer, now = HayesDialer(HayesTimings(guard=1.0, command=2.0)), 0.0
    dialer.dial("5551234", now, init=())
    dialer.receive_data(b"\r\nCONNECT 115200\r\n", now)
    assert dialer.online
    dialer.drain()
    dialer.hangup(now, use_dtr=False)
    guarding = dialer.stage
    dialer.drain()
    dialer.receive_data(b"\r\nNO CARRIER\r\n", now + 0.2)
    assert Transmit(b"ATH0\r") in dialer.drain()
    assert (guarding, dialer.stage) == (Stage.HANGUP_GUARD, Stage.HANGUP_ATH)
    dialer.receive_data(b"\r\nOK\r\n", now + 0.25)
    assert HungUp() in dialer.drain()
    assert dialer.stage is Stage.IDLE


def test_link_torn_down_while_negotiating_is_freed_at_once(tmp_path: Path) -> None:
    """Expected: once its call is torn down the link's timer is cancelled, and
    nothing but the caller holds the link (a weak reference dies with it)."""

    async def run() -> weakref.ref[object]:
        async with VirtualCable(115200) as cable:
            end = await open_pvc_end(cable.a_path, hub_config(), lock_dir=str(tmp_path))
            await asyncio.sleep(0.05)  # LCP is sending Configure-Requests to nobody
            assert end.link.session is not None and end.link.session.get_timer() is not None
            await close_end(end)
            link: weakref.ref[object] = weakref.ref(end.link)
            del end
            gc.collect()
            return link

    assert asyncio.run(run())() is None


def test_deeply_nested_control_request_gets_a_bad_request_answer() -> None:
    """Expected: 3,000 nested arrays (under the 4 KiB request limit) get an answer."""
    server = ControlServer(
        "nested", lambda: {}, lambda: None, directory=Path(tempfile.gettempdir())
    )
    answer = asyncio.run(server.handle_request(b"[" * 3000 + b"\n"))
    assert answer["ok"] is False and answer["code"] == "bad-request"
    assert "nested too deeply" in answer["error"]


def test_deeply_nested_profile_value_is_a_one_line_error() -> None:
    """Expected: a ProfileError naming the file and a fix, not a RecursionError."""
    with pytest.raises(ProfileError, match=r"nest\.toml.*nested too deeply"):
        parse_profile_text("ms-dns = " + "[" * 5000, "nest.toml")


def test_pppd_file_option_naming_a_nul_byte_is_a_warning(tmp_path: Path) -> None:
    """Expected: the import goes on and says which line it could not follow."""
    peers = tmp_path / "isp"
    peers.write_text("/dev/ttyS0\nfile /etc/ppp/opt\0ions\n115200\n")
    result = import_pppd(peers)
    assert result.values["device"] == "/dev/ttyS0" and result.values["baud"] == 115200
    assert any("isp:2: file" in warning and "NUL" in warning for warning in result.warnings)


def test_lock_of_a_killed_process_not_yet_reaped_is_stale(tmp_path: Path) -> None:
    """Expected: a process killed with SIGKILL whose parent has not reaped it yet
    (a zombie) holds no port: its lock is stale and the next open takes it."""
    child = subprocess.Popen(["sleep", "60"])
    try:
        child.kill()
        deadline = time.monotonic() + 5
        while not Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1].startswith("Z"):
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.01)
        lock = PortLock("/dev/ttyS9", str(tmp_path))
        Path(lock.path).write_bytes(format_lock_contents(child.pid))
        lock.acquire()
        assert parse_lock_contents(Path(lock.path).read_bytes()) == os.getpid()
        lock.release()
    finally:
        child.wait()
