"""UUCP lock files: HDB contents, O_EXCL creation, symlink refusal, stale recovery."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.lab.ptys import open_pty
from wanminiport.exitcodes import ExitCode
from wanminiport.transports.base import TransportError
from wanminiport.transports.lockfile import (
    LOCK_DIR_ENV,
    LockOwner,
    PortLock,
    PortLockedError,
    format_lock_contents,
    lock_name,
    lock_owner,
    parse_lock_contents,
)

DEVICE = "/dev/ttyUSB0"


@pytest.fixture
def sleeper() -> Iterator[int]:
    """A live process other than us, to own locks."""
    proc = subprocess.Popen(["sleep", "30"])
    # Popen returns before exec: wait until /proc shows the new command line.
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    deadline = time.monotonic() + 5.0
    while not cmdline.read_bytes().startswith(b"sleep") and time.monotonic() < deadline:
        time.sleep(0.001)
    yield proc.pid
    proc.kill()
    proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def write_lock(lock_dir: Path, device: str, contents: bytes) -> Path:
    path = lock_dir / lock_name(device)
    path.write_bytes(contents)
    return path


def test_tty_lock_is_named_like_pppd() -> None:
    assert lock_name("/dev/ttyUSB0") == "LCK..ttyUSB0"
    assert lock_name("/dev/ttyS1") == "LCK..ttyS1"


def test_nested_device_path_keeps_its_directory() -> None:
    assert lock_name("/dev/pts/3") == "LCK..pts_3"
    assert lock_name("/dev/pts/3") != lock_name("/dev/usb/3")


def test_symlinked_device_takes_its_targets_lock(tmp_path: Path) -> None:
    pty = open_pty()
    try:
        link = tmp_path / "modem"
        link.symlink_to(pty.slave_path)
        assert lock_name(str(link)) == lock_name(pty.slave_path)
    finally:
        pty.close()


def test_lock_contents_are_ten_char_right_aligned_pid_and_newline() -> None:
    assert format_lock_contents(4242) == b"      4242\n"
    assert parse_lock_contents(b"      4242\n") == 4242


@pytest.mark.parametrize("contents", [b"", b"\n", b"abc\n", b"  -12\n", b"         0\n", b"4x2\n"])
def test_malformed_lock_contents_parse_as_no_pid(contents: bytes) -> None:
    assert parse_lock_contents(contents) is None


def test_acquire_writes_our_pid_with_mode_0644(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        with PortLock(DEVICE, str(tmp_path)) as lock:
            data = Path(lock.path).read_bytes()
            mode = stat.S_IMODE(os.stat(lock.path).st_mode)
    finally:
        os.umask(old_umask)
    assert lock.path == str(tmp_path / "LCK..ttyUSB0")
    assert data == f"{os.getpid():>10d}\n".encode()
    assert len(data) == 11
    assert mode == 0o644


def test_lock_held_by_a_live_process_names_its_owner(tmp_path: Path, sleeper: int) -> None:
    write_lock(tmp_path, DEVICE, format_lock_contents(sleeper))
    with pytest.raises(PortLockedError) as info:
        PortLock(DEVICE, str(tmp_path)).acquire()
    assert str(info.value) == f"port {DEVICE} is locked by PID {sleeper} (sleep 30)"
    assert info.value.exit_code == ExitCode.LOCK_FAILED == 6
    assert info.value.owner_pid == sleeper


def test_second_lock_on_a_held_port_is_refused(tmp_path: Path) -> None:
    first = PortLock(DEVICE, str(tmp_path))
    first.acquire()
    try:
        with pytest.raises(PortLockedError, match=f"locked by PID {os.getpid()}"):
            PortLock(DEVICE, str(tmp_path)).acquire()
    finally:
        first.release()


def test_lock_of_a_dead_pid_is_stale_and_retaken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = dead_pid()
    path = write_lock(tmp_path, DEVICE, format_lock_contents(gone))
    with caplog.at_level(logging.WARNING), PortLock(DEVICE, str(tmp_path)):
        assert parse_lock_contents(path.read_bytes()) == os.getpid()
    assert f"PID {gone} is not running" in caplog.text


@pytest.mark.parametrize("contents", [b"garbage\n", b"", b"\x00\x01\x02\x03", b"         0\n"])
def test_unparsable_lock_is_stale_and_retaken(
    tmp_path: Path, contents: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_lock(tmp_path, DEVICE, contents)
    with caplog.at_level(logging.WARNING), PortLock(DEVICE, str(tmp_path)):
        assert parse_lock_contents(path.read_bytes()) == os.getpid()
    assert "stale lock" in caplog.text


def test_symlink_in_place_of_a_lock_is_refused_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    (tmp_path / lock_name(DEVICE)).symlink_to(target)
    with pytest.raises(TransportError, match="symbolic link") as info:
        PortLock(DEVICE, str(tmp_path)).acquire()
    assert info.value.exit_code == ExitCode.LOCK_FAILED
    assert not target.exists()


def test_symlink_to_an_existing_file_is_refused_and_the_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_bytes(b"precious")
    (tmp_path / lock_name(DEVICE)).symlink_to(target)
    with pytest.raises(TransportError, match="symbolic link"):
        PortLock(DEVICE, str(tmp_path)).acquire()
    assert target.read_bytes() == b"precious"


def test_lock_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / lock_name(DEVICE)).mkdir()
    with pytest.raises(TransportError, match="not a regular file"):
        PortLock(DEVICE, str(tmp_path)).acquire()


def test_release_removes_the_lock(tmp_path: Path) -> None:
    lock = PortLock(DEVICE, str(tmp_path))
    lock.acquire()
    lock.release()
    assert not os.path.exists(lock.path)
    lock.release()  # a second release is harmless
    assert not lock.held


def test_release_leaves_a_lock_that_no_longer_holds_our_pid(tmp_path: Path, sleeper: int) -> None:
    lock = PortLock(DEVICE, str(tmp_path))
    lock.acquire()
    Path(lock.path).write_bytes(format_lock_contents(sleeper))
    lock.release()
    assert parse_lock_contents(Path(lock.path).read_bytes()) == sleeper


def test_lock_owner_reports_pid_and_command_line(tmp_path: Path, sleeper: int) -> None:
    write_lock(tmp_path, DEVICE, format_lock_contents(sleeper))
    assert lock_owner(DEVICE, str(tmp_path)) == LockOwner(sleeper, "sleep 30")


def test_lock_owner_of_a_free_or_stale_port_is_none(tmp_path: Path) -> None:
    assert lock_owner(DEVICE, str(tmp_path)) is None
    write_lock(tmp_path, DEVICE, format_lock_contents(dead_pid()))
    assert lock_owner(DEVICE, str(tmp_path)) is None


def test_lock_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path))
    assert PortLock(DEVICE).path == str(tmp_path / "LCK..ttyUSB0")


def test_missing_lock_dir_is_a_lock_failure_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(TransportError, match=LOCK_DIR_ENV) as info:
        PortLock(DEVICE, str(tmp_path / "absent")).acquire()
    assert info.value.exit_code == ExitCode.LOCK_FAILED
