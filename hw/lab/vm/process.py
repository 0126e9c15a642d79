"""A background process in the guest, started by ``PppdVm.spawn``.

The guest's ``spawn.sh`` runs the code in a session of its own behind a
small wrapper shell that records the exit status, so a handle can signal
the program alone (``pid``) or its whole session (``leader``, used as the
process-group id), and read its output after it has ended.
"""

from __future__ import annotations

import shlex
import signal
import time
from typing import Protocol

from hw.lab.vm.errors import GuestTimeout, VmError, shorten


class GuestShell(Protocol):
    """What a guest process needs of its VM (``PppdVm`` is one)."""

    def run(self, code: str, timeout: float = 30.0, *, check: bool = False) -> tuple[int, str]: ...

    def read_file(self, path: str, timeout: float = 30.0) -> bytes: ...


#: Reported by ``poll``/``wait`` when the process is gone but left no status
#: (its wrapper was killed too, e.g. by a group-wide SIGKILL).
STATUS_UNKNOWN = -1


class GuestProcess:
    """Handle on a guest background process; every call is one agent round trip."""

    def __init__(
        self,
        vm: GuestShell,
        directory: str,
        leader: int,
        pid: int,
        code: str,
        log_path: str | None = None,
    ) -> None:
        self.vm = vm
        #: Guest directory holding ``out``, ``pid``, ``leader`` and ``status``.
        self.directory = directory
        #: Session leader and process-group id (the wrapper shell).
        self.leader = leader
        #: The process running the code (the program itself for argv spawns).
        self.pid = pid
        self.code = code
        #: A log file the program writes itself (pppd's ``logfile``), if any.
        self.log_path = log_path

    def __repr__(self) -> str:
        return f"GuestProcess(pid={self.pid}, leader={self.leader}, code={self.code!r})"

    @property
    def output_path(self) -> str:
        """Guest path of the file collecting the process's stdout and stderr."""
        return f"{self.directory}/out"

    def signal(self, sig: int, *, group: bool = False) -> bool:
        """Send ``sig`` to the process (or its whole session); False if it is gone."""
        target = f"-- -{self.leader}" if group else str(self.pid)
        status, _ = self.vm.run(f"kill -{int(sig)} {target}", timeout=10)
        return status == 0

    def terminate(self) -> bool:
        return self.signal(signal.SIGTERM)

    def kill(self) -> bool:
        return self.signal(signal.SIGKILL)

    def freeze(self) -> bool:
        """SIGSTOP: the process stops reading and writing its line until ``thaw``."""
        return self.signal(signal.SIGSTOP)

    def thaw(self) -> bool:
        return self.signal(signal.SIGCONT)

    def poll(self) -> int | None:
        """Exit status once ended, None while running, STATUS_UNKNOWN if killed with its wrapper."""
        status_file = f"{self.directory}/status"
        # The wrapper (leader) writes the status just after the program ends:
        # while it lives, the process still counts as running.
        _, output = self.vm.run(
            f"if [ -e {status_file} ]; then cat {status_file};"
            f" elif kill -0 {self.pid} 2>/dev/null || kill -0 {self.leader} 2>/dev/null;"
            f" then echo running; elif [ -e {status_file} ]; then cat {status_file};"
            f" else echo gone; fi",
            timeout=10,
        )
        answer = output.strip()
        if answer == "running":
            return None
        if answer == "gone":
            return STATUS_UNKNOWN
        return int(answer)

    def running(self) -> bool:
        return self.poll() is None

    def wait(self, timeout: float = 30.0, interval: float = 0.2) -> int:
        """Block until the process ends; raises GuestTimeout with its output if it does not."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.poll()
            if status is not None:
                return status
            if time.monotonic() >= deadline:
                raise GuestTimeout(
                    f"guest process {self.pid} ({shorten(self.code)}) still runs after {timeout} s",
                    self.output(),
                )
            time.sleep(interval)

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.vm.read_file(self.output_path).decode(errors="replace")

    def read_log(self) -> str:
        """The program's own log file (``log_path``); empty while it does not exist."""
        if self.log_path is None:
            raise VmError(f"{self!r} has no log file")
        _, text = self.vm.run(f"cat {shlex.quote(self.log_path)} 2>/dev/null", timeout=10)
        return text

    def wait_for_log(self, text: str, timeout: float = 30.0) -> str:
        """Wait until the log contains ``text``; returns the log.

        Raises GuestTimeout if it does not appear in time, and VmError at
        once if the process ends without logging it (e.g. pppd failing
        authentication), both with the log in the message.
        """
        if self.log_path is None:
            raise VmError(f"{self!r} has no log file")
        log = shlex.quote(self.log_path)
        ticks = max(1, int(timeout * 10))
        status, _ = self.vm.run(
            f"for i in $(seq {ticks}); do grep -qF -- {shlex.quote(text)} {log} 2>/dev/null"
            f" && exit 0; kill -0 {self.pid} 2>/dev/null || exit 3; usleep 100000; done; exit 1",
            timeout=timeout + 10,
        )
        log_text = self.read_log()
        if status == 0:
            return log_text
        if status == 3 and text not in log_text:
            raise VmError(
                f"{self!r} ended with status {self.poll()} without logging {text!r}:\n{log_text}"
            )
        if status == 3:
            return log_text
        raise GuestTimeout(f"{self!r} did not log {text!r} within {timeout} s", log_text)
