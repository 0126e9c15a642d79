"""Pseudo-terminal pairs: real kernel ttys for virtual hardware.

A pty's slave end is what a user opens (``/dev/pts/N``) exactly like a
serial port; the virtual device (cable relay, modem emulator) holds the
master end.  A pty has no modem-control lines: closing the master is the
nearest thing to a carrier loss, the slave then reads EIO/HUP.
"""

from __future__ import annotations

import os
import termios
import tty
from dataclasses import dataclass


@dataclass
class PtyPair:
    """An open pty: the master fd we drive and the slave path users open."""

    master_fd: int
    slave_path: str
    #: A slave fd kept open so the master does not read EIO while no user
    #: has the port open; -1 once released.
    keepalive_fd: int = -1

    def release_keepalive(self) -> None:
        """Let the master see the slave's last close (HUP) from now on."""
        if self.keepalive_fd >= 0:
            os.close(self.keepalive_fd)
            self.keepalive_fd = -1

    def close(self) -> None:
        self.release_keepalive()
        if self.master_fd >= 0:
            os.close(self.master_fd)
            self.master_fd = -1


def open_pty(*, keep_slave_open: bool = True, nonblocking: bool = True) -> PtyPair:
    """Open a raw pty pair (no echo, no line discipline processing)."""
    master_fd, slave_fd = os.openpty()
    # Raw mode on the slave: PPP and AT data must pass byte for byte.
    tty.setraw(slave_fd, termios.TCSANOW)
    attrs = termios.tcgetattr(slave_fd)
    attrs[2] |= termios.CLOCAL  # cflag: no modem control on a virtual line
    termios.tcsetattr(slave_fd, termios.TCSANOW, attrs)
    path = os.ttyname(slave_fd)
    if nonblocking:
        os.set_blocking(master_fd, False)
    if keep_slave_open:
        return PtyPair(master_fd=master_fd, slave_path=path, keepalive_fd=slave_fd)
    os.close(slave_fd)
    return PtyPair(master_fd=master_fd, slave_path=path)
