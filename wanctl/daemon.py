"""Going to the background once the link is up, as pppd does without ``nodetach``.

The parent forks before anything is opened and waits on a pipe: the child
writes one byte when IP is up (the parent then exits 0, like pppd after it
detaches) or exits with its own code if the link never came up (the
parent exits with that code).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def detach_when_up() -> Callable[[], None]:
    """Fork; in the child return the callback that releases the parent."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            signalled = pipe.read(1)
        if signalled:
            print(f"wanctl: link up, running in the background as PID {pid}")
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status))
    os.close(read_end)
    os.setsid()
    released = False

    def link_is_up() -> None:
        nonlocal released
        if released:
            return
        released = True
        os.write(write_end, b"U")
        os.close(write_end)
        sys.stdout.flush()
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)

    return link_is_up
