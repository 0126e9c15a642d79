"""UUCP lock files: the convention pppd, minicom and cu share for serial ports.

A port ``/dev/ttyUSB0`` is claimed by creating ``/var/lock/LCK..ttyUSB0``
holding the owner's PID in the HDB format (ten characters, right-aligned
decimal, newline).  The file is created with ``O_CREAT|O_EXCL|O_NOFOLLOW``,
so taking a lock is atomic and a symlink planted in the lock directory is
refused rather than followed.  A lock whose PID is no longer running, or
whose contents cannot be parsed, is stale: it is removed and retaken.

The lock directory is ``/var/lock`` unless the environment variable
``WANCTL_LOCK_DIR`` or the ``lock_dir`` argument names another one.

Lock names follow pppd for ``/dev/ttyX`` (``LCK..ttyX``).  Nested device
paths keep their sub-directory, with ``/`` turned into ``_``:
``/dev/pts/3`` gives ``LCK..pts_3``.  Taking only the basename would make
``/dev/pts/3`` and a hypothetical ``/dev/3`` (or ``/dev/usb/3``) share a
lock, and two ports that merely share a last component would block each
other.  Symlinks to a device (``/dev/serial/by-id/...``) are resolved first
so that every name of one port takes the same lock.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import time
from typing import NamedTuple

from wanminiport.exitcodes import ExitCode
from wanminiport.transports.base import TransportError

log = logging.getLogger(__name__)

DEFAULT_LOCK_DIR = "/var/lock"
LOCK_DIR_ENV = "WANCTL_LOCK_DIR"
#: A lock file longer than this is not a UUCP lock; only the head is parsed.
_MAX_LOCK_READ = 64
#: A lock file found empty may be one its owner has created but not yet
#: written; it gets one more look after this pause before counting as stale.
_EMPTY_LOCK_GRACE = 0.02
_MAX_CMDLINE = 80


class PortLockedError(TransportError):
    """The port's UUCP lock is held by a running process (pppd exit code 6)."""

    def __init__(self, message: str, owner_pid: int | None = None) -> None:
        super().__init__(message, exit_code=ExitCode.LOCK_FAILED)
        self.owner_pid = owner_pid


class LockOwner(NamedTuple):
    """Who holds a port: the PID and its command line (None if unreadable)."""

    pid: int
    cmdline: str | None


def lock_dir_default() -> str:
    return os.environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR


def lock_name(device: str) -> str:
    """The lock file name for a device path: ``/dev/ttyS0`` -> ``LCK..ttyS0``."""
    real = os.path.realpath(device)
    rel = real[len("/dev/") :] if real.startswith("/dev/") else real.lstrip("/")
    return "LCK.." + rel.replace("/", "_")


def format_lock_contents(pid: int) -> bytes:
    """The HDB UUCP lock contents pppd writes: ``%10d\\n``."""
    return f"{pid:>10d}\n".encode("ascii")


def parse_lock_contents(data: bytes) -> int | None:
    """The PID in a lock file, or None if the contents are not a positive PID."""
    text = data.strip()
    if not text.isdigit():
        return None
    pid = int(text)
    return pid if pid > 0 else None


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs.  A zombie does not: its fds, the port's among them, are
    closed; it only waits for a parent to reap it (after a SIGKILL, say)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, it just belongs to someone else
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat_line = f.read(1024)
    except OSError:
        return False
    # "pid (comm) state ...": comm may itself hold ")", so look after the last one.
    end = stat_line.rfind(b")")
    return end >= 0 and stat_line[end + 2 : end + 3] == b"Z"


def process_cmdline(pid: int) -> str | None:
    """A short command line for messages: ``wanctl dial`` (None if unreadable)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        return None
    args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    if not args:
        return None
    args[0] = os.path.basename(args[0])
    text = " ".join(args)
    return text if len(text) <= _MAX_CMDLINE else text[: _MAX_CMDLINE - 3] + "..."


def _read_lock(path: str) -> bytes | None:
    """A lock file's head, or None if it does not exist.  Never follows a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise TransportError(
                f"lock file {path} is a symbolic link; refusing to use it (remove it by hand)",
                exit_code=ExitCode.LOCK_FAILED,
            ) from exc
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise TransportError(
                f"lock file {path} is not a regular file; refusing to use it",
                exit_code=ExitCode.LOCK_FAILED,
            )
        return os.read(fd, _MAX_LOCK_READ)
    finally:
        os.close(fd)


def _live_owner(path: str) -> tuple[int | None, bytes | None]:
    """(pid, raw contents): pid is None when the lock is absent or stale."""
    data = _read_lock(path)
    if data == b"":
        time.sleep(_EMPTY_LOCK_GRACE)
        data = _read_lock(path)
    if data is None:
        return None, None
    pid = parse_lock_contents(data)
    if pid is not None and process_alive(pid):
        return pid, data
    return None, data


def lock_owner(device: str, lock_dir: str | None = None) -> LockOwner | None:
    """Who holds ``device`` (for a ``ports`` listing); None if free or stale."""
    path = os.path.join(lock_dir or lock_dir_default(), lock_name(device))
    try:
        pid, _ = _live_owner(path)
    except (OSError, TransportError):
        return None
    if pid is None:
        return None
    return LockOwner(pid, process_cmdline(pid))


def _locked_message(device: str, pid: int) -> str:
    who = process_cmdline(pid)
    suffix = f" ({who})" if who else ""
    return f"port {device} is locked by PID {pid}{suffix}"


class PortLock:
    """One UUCP lock on one device; a context manager.

    ``acquire`` raises ``PortLockedError`` when a running process holds the
    port and ``TransportError`` (exit code 6) when the lock cannot be made.
    """

    def __init__(self, device: str, lock_dir: str | None = None) -> None:
        self.device = device
        self.lock_dir = lock_dir or lock_dir_default()
        self.path = os.path.join(self.lock_dir, lock_name(device))
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self) -> None:
        # Two attempts: the first may find a stale lock and remove it.
        for _ in range(2):
            if self._try_create():
                self._held = True
                return
            pid, data = _live_owner(self.path)
            if pid is not None:
                raise PortLockedError(_locked_message(self.device, pid), owner_pid=pid)
            if data is not None:
                self._remove_stale(data)
        raise TransportError(
            f"could not take lock {self.path} for {self.device}: it keeps reappearing",
            exit_code=ExitCode.LOCK_FAILED,
        )

    def _try_create(self) -> bool:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            fd = os.open(self.path, flags, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise TransportError(
                f"cannot create lock file {self.path}: {exc.strerror} "
                f"(set {LOCK_DIR_ENV} to a writable directory)",
                exit_code=ExitCode.LOCK_FAILED,
            ) from exc
        try:
            os.fchmod(fd, 0o644)  # the umask must not hide the owner from others
            os.write(fd, format_lock_contents(os.getpid()))
        except OSError as exc:
            os.close(fd)
            os.unlink(self.path)
            raise TransportError(
                f"cannot write lock file {self.path}: {exc.strerror}",
                exit_code=ExitCode.LOCK_FAILED,
            ) from exc
        os.close(fd)
        return True

    def _remove_stale(self, data: bytes) -> None:
        pid = parse_lock_contents(data)
        why = f"PID {pid} is not running" if pid is not None else f"unparsable contents {data!r}"
        # Look once more just before unlinking: if another process has
        # meanwhile replaced the stale lock with its own, leave that one be.
        # (The window left is the one every UUCP-lock user shares.)
        if _read_lock(self.path) != data:
            return
        log.warning("removing stale lock %s for %s (%s)", self.path, self.device, why)
        with contextlib.suppress(FileNotFoundError):  # someone else cleaned it up first
            os.unlink(self.path)

    def release(self) -> None:
        """Remove the lock file, but only while it still holds our PID."""
        if not self._held:
            return
        self._held = False
        try:
            data = _read_lock(self.path)
        except (OSError, TransportError):
            return
        if data is not None and parse_lock_contents(data) == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        else:
            log.warning("lock %s no longer holds our PID; leaving it in place", self.path)

    def __enter__(self) -> PortLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
