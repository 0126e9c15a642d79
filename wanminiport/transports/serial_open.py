"""Opening a serial port as pppd does: the original termios kept, errors a user can act on.

``open_serial`` opens a device path or any pyserial URL with the given
settings.  For a device path it first reads the tty's termios through a file
descriptor of its own, because pyserial reconfigures the port as it opens it
and that is the only moment the original settings can be read; holding that
fd across pyserial's open also spares the port a close in between (which,
with HUPCL, would drop DTR).  Failures become ``TransportError`` with pppd's
exit codes and a message that says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import termios
from typing import Any

import serial
from serial import serialposix

from wanminiport.exitcodes import ExitCode
from wanminiport.transports.base import TransportError


def open_error(port: str, exc: OSError) -> TransportError:
    """An actionable message for a failed open, with pppd's exit code."""
    err = exc.errno
    if err == errno.ENOENT:
        return TransportError(
            f"no such device {port} (is the adapter plugged in? `wanctl ports` lists serial ports)",
            ExitCode.OPEN_FAILED,
        )
    if err in (errno.EACCES, errno.EPERM):
        group = "dialout"  # the usual name, unless the device says otherwise
        with contextlib.suppress(OSError, KeyError):
            group = grp.getgrgid(os.stat(port).st_gid).gr_name
        return TransportError(
            f"permission denied opening {port}: add your user to the '{group}' group "
            f"(sudo usermod -aG {group} $USER, then log in again)",
            ExitCode.OPEN_FAILED,
        )
    if err == errno.EBUSY:
        return TransportError(
            f"port {port} is busy: another program has it open exclusively", ExitCode.LOCK_FAILED
        )
    if err in (errno.EAGAIN, errno.EWOULDBLOCK):
        return TransportError(
            f"port {port} is in use: another program holds an exclusive lock on it",
            ExitCode.LOCK_FAILED,
        )
    if err in (errno.ENXIO, errno.ENODEV):
        return TransportError(f"device {port} is not present (unplugged?)", ExitCode.OPEN_FAILED)
    reason = exc.strerror or str(exc)
    return TransportError(f"cannot open {port}: {reason}", ExitCode.OPEN_FAILED)


def uses_fd(port: serial.SerialBase) -> bool:
    """Whether the event loop can drive the port's fd directly."""
    # spy:// subclasses the POSIX port but logs only what passes through
    # pyserial's read/write, so it is driven through those.
    return isinstance(port, serialposix.Serial) and not type(port).__module__.endswith("_spy")


def open_serial(
    port: str, settings: dict[str, Any], *, dtr: bool, rts: bool, read_timeout: float
) -> tuple[serial.SerialBase, list[Any] | None]:
    """The open port and, for a device path, its termios from before the open.

    ``settings`` are pyserial attributes (baudrate, bytesize, ...).  A device
    path is opened exclusively (pyserial's ``flock``); ``read_timeout``
    applies to ports without an fd, whose reads go through pyserial.
    """
    is_url = "://" in port
    probe_fd = -1
    saved: list[Any] | None = None
    try:
        if not is_url:
            try:
                probe_fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            except OSError as exc:
                raise open_error(port, exc) from exc
            try:
                saved = termios.tcgetattr(probe_fd)
            except termios.error as exc:
                raise TransportError(
                    f"{port} is not a serial port (not a tty)", ExitCode.OPEN_FAILED
                ) from exc
        try:
            ser = serial.serial_for_url(port, do_not_open=True)
            for key, value in settings.items():
                setattr(ser, key, value)
            if not is_url:
                ser.exclusive = True
            ser.dtr, ser.rts = dtr, rts
            if not uses_fd(ser):
                ser.timeout = read_timeout
        except ValueError as exc:
            raise TransportError(f"{port}: {exc}", ExitCode.OPTION_ERROR) from exc
        try:
            ser.open()
        except serial.SerialException as exc:
            if isinstance(exc.errno, int):
                raise open_error(port, exc) from exc
            raise TransportError(f"cannot open {port}: {exc}", ExitCode.OPEN_FAILED) from exc
        except OSError as exc:
            raise open_error(port, exc) from exc
        return ser, saved
    finally:
        if probe_fd >= 0:
            os.close(probe_fd)
