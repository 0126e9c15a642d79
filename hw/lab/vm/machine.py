"""A qemu VM running the distro kernel's PPP and the real pppd, driven from the host.

The machine's layout (console, control port, serial lines) is described in
``qemu.py``.  Commands reach the guest through the agent on the control port
(``agent.sh``, ``agent.py``); background processes are ``GuestProcess``
handles (``spawn.sh``, ``process.py``).

qemu's pty backend drops what the guest sends while no host process has the
pty open, and notices a new opener within a second: open the host side
before starting the guest program that talks on the line.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hw.lab.vm.agent import ReplyParser, encode_request, new_request_id
from hw.lab.vm.errors import (
    GuestCommandError,
    GuestTimeout,
    VmBootError,
    VmError,
    shorten,
)
from hw.lab.vm.initramfs import Kernel, build_initramfs, find_kernel
from hw.lab.vm.process import GuestProcess
from hw.lab.vm.qemu import (
    MAX_LINES,
    die_with_parent,
    find_qemu,
    guest_line_names,
    qemu_command,
    reported_ptys,
)

RUN_DIR_PREFIX = "wanctl-vm-"
#: Extra seconds the host waits beyond a command's own timeout before it
#: declares the agent dead (the guest's watchdog should have answered by then).
AGENT_GRACE = 15.0


@dataclass(frozen=True)
class SerialLine:
    """One null-modem line: the guest UART and the host pty wired to it."""

    guest: str  # "ttyS1"
    host: str  # "/dev/pts/7"

    @property
    def guest_path(self) -> str:
        return f"/dev/{self.guest}"


def _remove_orphaned_run_dirs() -> None:
    """Run directories whose owner died without ``stop`` (killed with SIGKILL)."""
    for directory in Path(tempfile.gettempdir()).glob(f"{RUN_DIR_PREFIX}*"):
        try:
            owner = int((directory / "owner").read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(directory, ignore_errors=True)
        except (OSError, ValueError):
            continue  # not ours to judge: unreadable, or another user's process


class PppdVm:
    """One booted guest with N serial lines; use as a context manager.

    ``start`` boots and returns ``{"ttyS1": "/dev/pts/N", ...}``; ``run``
    executes shell code in the guest; ``spawn`` starts a background process;
    ``stop`` always ends qemu (it is also registered with ``atexit`` and qemu
    dies with this process through PR_SET_PDEATHSIG, so call ``start`` from a
    thread that lives as long as the VM).
    """

    def __init__(
        self,
        *,
        serial_lines: int = 3,
        memory_mb: int = 256,
        kernel: Kernel | None = None,
        cache_dir: Path | None = None,
        boot_timeout: float = 120.0,
        kernel_args: Sequence[str] = (),
    ) -> None:
        self.serial_lines = serial_lines
        self.memory_mb = memory_mb
        self.kernel = kernel
        self.cache_dir = cache_dir
        self.boot_timeout = boot_timeout
        self.kernel_args = tuple(kernel_args)
        self.lines: list[SerialLine] = []
        #: Seconds from launching qemu to the first answered command.
        self.boot_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._run_dir: Path | None = None
        self._socket: socket.socket | None = None
        self._lock = threading.RLock()
        self._spawned: list[GuestProcess] = []
        self._spawn_count = 0
        self._final_console = ""
        self._broken: str | None = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> PppdVm:
        if self._process is None:
            self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, serial_lines: int | None = None) -> dict[str, str]:
        """Boot the guest; returns each guest line name mapped to its host pty path."""
        if self._process is not None:
            raise VmError("this VM is already started; stop() it first")
        if serial_lines is not None:
            self.serial_lines = serial_lines
        if not 0 <= self.serial_lines <= MAX_LINES:
            raise VmError(f"serial_lines must be 0..{MAX_LINES}, not {self.serial_lines}")
        qemu = find_qemu()
        kernel = self.kernel or find_kernel()
        initrd = build_initramfs(kernel, self.cache_dir)
        _remove_orphaned_run_dirs()
        self._run_dir = Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))
        (self._run_dir / "owner").write_text(str(os.getpid()))
        self._broken = None
        self._final_console = ""
        started = time.monotonic()
        command = self._qemu_command(qemu, kernel, initrd)
        with open(self._run_dir / "qemu.log", "wb") as qemu_log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=qemu_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        atexit.register(self.stop)
        try:
            deadline = started + self.boot_timeout
            self.lines = self._wait_for_ptys(deadline)
            self._socket = self._connect_control(deadline)
            # The first answer proves the agent is up; booting takes most of the wait.
            _, output = self._request("cat /proc/tty/driver/serial", 30, deadline)
            self._check_uarts(output)
        except VmBootError:
            self.stop()
            raise
        except VmError as error:
            message = str(error)
            if "--- guest console ---" not in message:
                message = self._diagnosis(message)
            self.stop()
            raise VmBootError(f"the VM did not boot: {message}") from error
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - started
        return {line.guest: line.host for line in self.lines}

    def _qemu_command(self, qemu: str, kernel: Kernel, initrd: Path) -> list[str]:
        assert self._run_dir is not None
        return qemu_command(
            qemu,
            kernel,
            initrd,
            self._run_dir,
            serial_lines=self.serial_lines,
            memory_mb=self.memory_mb,
            kernel_args=self.kernel_args,
        )

    def _check_alive(self, doing: str) -> None:
        assert self._process is not None
        if self._process.poll() is not None:
            raise VmError(self._diagnosis(f"qemu exited while {doing}"))

    def _diagnosis(self, what: str) -> str:
        """``what``, qemu's exit status and log, and the guest console tail."""
        status = "running" if self._process is None else self._process.poll()
        return (
            f"{what} (qemu status: {status})\n--- qemu ---\n{self._qemu_log().strip()}\n"
            f"--- guest console ---\n{self.console_tail()}"
        )

    def _agent_lost(self, reason: str, code: str) -> VmError:
        self._broken = reason
        if self._process is not None:
            # The socket usually closes because qemu is exiting: let it finish.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=2)
        return VmError(self._diagnosis(f"{reason} while running {shorten(code)}"))

    def _wait_for_ptys(self, deadline: float) -> list[SerialLine]:
        assert self._run_dir is not None
        names = guest_line_names(self.serial_lines)
        while True:
            found = reported_ptys(self._qemu_log())
            if all(f"line{n}" in found for n in range(1, self.serial_lines + 1)):
                return [SerialLine(name, found[f"line{n}"]) for n, name in enumerate(names, 1)]
            self._check_alive("creating its ptys")
            if time.monotonic() > deadline:
                raise VmBootError(f"qemu did not report its ptys:\n{self._qemu_log()}")
            time.sleep(0.02)

    def _connect_control(self, deadline: float) -> socket.socket:
        assert self._run_dir is not None
        path = str(self._run_dir / "ctl.sock")
        while True:
            control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                control.connect(path)
                return control
            except OSError:
                control.close()
            self._check_alive("opening its control socket")
            if time.monotonic() > deadline:
                raise VmBootError(f"qemu never opened its control socket {path}")
            time.sleep(0.02)

    def _check_uarts(self, serial_info: str) -> None:
        kinds = dict(re.findall(r"^(\d+): uart:(\S+)", serial_info, re.MULTILINE))
        for line in self.lines:
            if kinds.get(line.guest.removeprefix("ttyS"), "unknown") == "unknown":
                raise VmBootError(f"guest has no UART behind {line.guest}:\n{serial_info}")

    def stop(self) -> None:
        """Kill qemu (SIGTERM, then SIGKILL) and remove the run directory; idempotent."""
        atexit.unregister(self.stop)
        with contextlib.suppress(OSError):
            if self._socket is not None:
                self._socket.close()
        self._socket = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._run_dir is not None:
            self._final_console = self._read_run_file("console.log")
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None
        self._spawned.clear()

    # -- diagnostics -------------------------------------------------------

    def _read_run_file(self, name: str) -> str:
        if self._run_dir is None:
            return ""
        try:
            return (self._run_dir / name).read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _qemu_log(self) -> str:
        return self._read_run_file("qemu.log")

    def console_tail(self, lines: int = 40) -> str:
        """The last lines the guest kernel and init wrote on ttyS0."""
        text = self._read_run_file("console.log") if self._run_dir else self._final_console
        return "\n".join(text.splitlines()[-lines:])

    # -- commands ----------------------------------------------------------

    def run(self, code: str, timeout: float = 30.0, *, check: bool = False) -> tuple[int, str]:
        """Run shell code in the guest (``sh -c``, stdin /dev/null); returns (status, output).

        stdout and stderr come back together.  The guest kills the command
        after ``timeout`` seconds and GuestTimeout is raised with what it
        printed; ``check=True`` raises GuestCommandError on a non-zero status.
        """
        status, output = self._request(code, timeout, time.monotonic() + timeout + AGENT_GRACE)
        if check and status != 0:
            raise GuestCommandError(code, status, output)
        return status, output

    def _request(self, code: str, timeout: float, deadline: float) -> tuple[int, str]:
        with self._lock:
            if self._broken:
                raise VmError(f"the VM's command agent is unusable: {self._broken}")
            if self._socket is None:
                raise VmError("the VM is not running; call start() first")
            request_id = new_request_id()
            parser = ReplyParser(request_id)
            try:
                self._socket.sendall(encode_request(request_id, code, timeout))
            except OSError as error:
                raise self._agent_lost(f"control socket failed ({error})", code) from error
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._agent_lost("the guest agent stopped answering", code)
                self._socket.settimeout(min(remaining, 1.0))
                try:
                    data = self._socket.recv(65536)
                except TimeoutError:
                    if self._process is not None and self._process.poll() is not None:
                        raise self._agent_lost("qemu exited", code) from None
                    continue
                except OSError as error:
                    raise self._agent_lost(f"control socket failed ({error})", code) from error
                if not data:
                    raise self._agent_lost("qemu closed the control socket", code)
                reply = parser.feed(data)
                if reply is not None:
                    break
                if parser.agent_restarted:
                    # The new agent answers the next request; only this one is lost.
                    raise VmError(
                        self._diagnosis(f"the guest agent was restarted while running {code!r}")
                    )
        output = reply.output.decode(errors="replace")
        if reply.timed_out:
            raise GuestTimeout(
                f"guest command timed out after {timeout} s: {shorten(code)}", output
            )
        return reply.status, output

    def check_output(self, code: str, timeout: float = 30.0) -> str:
        """``run`` with ``check=True``, returning the output only."""
        return self.run(code, timeout, check=True)[1]

    def read_file(self, path: str, timeout: float = 30.0) -> bytes:
        """A guest file's bytes (binary-safe, through base64)."""
        output = self.check_output(f"base64 {shlex.quote(path)}", timeout)
        return base64.b64decode("".join(output.split()))

    def write_file(
        self, path: str, data: bytes | str, mode: int = 0o644, timeout: float = 30.0
    ) -> None:
        """Create or replace a guest file with ``mode`` (e.g. 0o600 for pppd secrets)."""
        raw = data.encode() if isinstance(data, str) else data
        encoded = base64.b64encode(raw).decode()
        quoted = shlex.quote(path)
        self.check_output(
            f"umask 077 && printf '%s' {encoded} | base64 -d > {quoted}.new"
            f" && chmod {mode:o} {quoted}.new && mv {quoted}.new {quoted}",
            timeout,
        )

    # -- background processes ----------------------------------------------

    def spawn(self, command: str | Sequence[str], *, name: str = "proc") -> GuestProcess:
        """Start a background guest process; returns its handle at once.

        ``command`` is either shell code or an argv list; an argv list (or
        code starting with ``exec``) makes ``handle.pid`` the program's own
        pid, so ``handle.freeze()`` stops exactly that program.  Output goes
        to ``handle.output_path``.
        """
        code = command if isinstance(command, str) else "exec " + shlex.join(command)
        with self._lock:
            self._spawn_count += 1
            number = self._spawn_count
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        directory = f"/run/wanctl/spawn/{number}-{safe_name}"
        output = self.check_output(
            f"/etc/wanctl-vm/spawn.sh {directory} {shlex.quote(code)}", timeout=15
        )
        fields = output.split()
        if len(fields) != 2 or not all(field.isdigit() for field in fields):
            raise VmError(f"spawn of {shorten(code)} did not report its pids: {shorten(output)}")
        process = GuestProcess(self, directory, int(fields[0]), int(fields[1]), code)
        self._spawned.append(process)
        return process

    def kill_spawned(self, processes: Sequence[GuestProcess] | None = None) -> None:
        """SIGKILL the sessions of ``processes`` (default: every process ``spawn`` started)."""
        targets = list(self._spawned if processes is None else processes)
        if not targets:
            return
        leaders = " ".join(f"-{process.leader}" for process in targets)
        self.run(f"kill -KILL -- {leaders} 2>/dev/null; true", timeout=10)
        self._spawned = [process for process in self._spawned if process not in targets]

    @property
    def spawned(self) -> list[GuestProcess]:
        """Processes started by ``spawn`` and not yet killed by ``kill_spawned``, oldest first."""
        return list(self._spawned)

    @property
    def healthy(self) -> bool:
        """qemu runs and the command agent has not stopped answering."""
        return self.running and self._broken is None and self._socket is not None

    def restart(self) -> dict[str, str]:
        """Stop and boot again with the same settings (the host pty paths change)."""
        self.stop()
        return self.start()

    def line(self, guest: str) -> SerialLine:
        """The line with guest name ``guest`` (``"ttyS1"`` or ``"/dev/ttyS1"``)."""
        wanted = guest.removeprefix("/dev/")
        for line in self.lines:
            if line.guest == wanted:
                return line
        raise KeyError(f"no serial line {wanted}; this VM has {[x.guest for x in self.lines]}")
