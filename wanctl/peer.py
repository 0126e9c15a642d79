"""``wanctl peer pppd [PORT] -- PPPD_OPTIONS``: the real pppd as a peer for your PPP.

Debian's pppd runs on the distro kernel in a qemu VM (``hw.lab.vm``); its
serial line is bridged by the project's cable (``hw.lab.cable``) to PORT, a
host tty, or to a new pty whose path is printed.  The cable holds qemu's
pty open for the whole run, so nothing pppd sends is dropped while no one
has the line open (qemu discards output on an unopened pty), and the new
pty keeps a slave open, so the user may open, close and reopen it.

pppd's debug log is streamed to stdout as it grows; the command ends with
pppd's exit status.  Ctrl-C sends pppd SIGTERM and stops the VM; pppd then
exits 5 (user request), or 16 when its line had hung up before (the far end
closed the pty) and it was waiting to open it again under ``persist``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

from hw.lab.cable import VirtualCable
from hw.lab.vm import PppdVm, VmError, VmUnavailable, find_kernel, find_qemu
from hw.lab.vm.initramfs import build_initramfs, default_cache_dir, plan_image
from hw.lab.vm.pppd import start_pppd
from hw.lab.vm.process import GuestProcess
from wanminiport.exitcodes import ExitCode, WanctlError
from wanminiport.transports.lockfile import PortLock

USAGE = "wanctl peer pppd [PORT] [--baud N] -- PPPD_OPTIONS..."
GUEST_LINE = "ttyS1"
#: Seconds between two reads of pppd's log (one agent round trip each).
POLL_INTERVAL = 0.2


class PeerError(WanctlError):
    """A ``wanctl peer`` problem the user can fix (arguments, port, packages)."""


def parse_arguments(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our own arguments before ``--`` and pppd's options after it."""
    argv = list(argv)
    if not argv or argv[0] != "pppd":
        raise PeerError(f"which peer? usage: {USAGE}", exit_code=ExitCode.OPTION_ERROR)
    if "--" not in argv:
        raise PeerError(
            f"pppd's options follow '--' (give '--' alone for none); usage: {USAGE}",
            exit_code=ExitCode.OPTION_ERROR,
        )
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="wanctl peer pppd", usage=USAGE)
    parser.add_argument("port", nargs="?", metavar="PORT", help="host tty to bridge pppd to")
    parser.add_argument("--baud", type=int, default=115200, help="line speed (default 115200)")
    try:
        args = parser.parse_args(argv[1:split])
    except SystemExit as exit_request:
        raise PeerError(f"bad arguments; usage: {USAGE}", exit_code=ExitCode.OPTION_ERROR) from (
            exit_request
        )
    if args.baud <= 0:
        raise PeerError(
            f"--baud must be positive, not {args.baud}", exit_code=ExitCode.OPTION_ERROR
        )
    return args, argv[split + 1 :]


def _say(text: str) -> None:
    print(f"wanctl peer: {text}", file=sys.stderr, flush=True)


def _check_port(port: str) -> PortLock:
    """The UUCP lock on an existing PORT, taken; errors name the port."""
    if not os.path.exists(port):
        raise PeerError(f"port {port} does not exist", exit_code=ExitCode.OPEN_FAILED)
    lock = PortLock(port)
    lock.acquire()  # PortLockedError says who holds it (exit code 6)
    return lock


def _prepare_image() -> None:
    """Check qemu and the kernel (naming every missing package at once), and
    build the cached image, with a notice, when it is not there yet."""
    missing: list[str] = []
    for check in (find_qemu, find_kernel):
        try:
            check()
        except VmUnavailable as absent:
            missing.append(str(absent))
    if missing:
        raise PeerError("; ".join(missing), exit_code=ExitCode.FATAL_ERROR)
    kernel = find_kernel()
    plan = plan_image(kernel)
    cached = default_cache_dir() / f"initramfs-{kernel.release}-{plan.digest()}.cpio.gz"
    if not cached.exists():
        _say("building the VM image (first run)...")
    try:
        build_initramfs(kernel)
    except VmUnavailable as absent:  # pppd or chat missing on the host: name the package
        raise PeerError(str(absent), exit_code=ExitCode.FATAL_ERROR) from absent


class _CableThread:
    """The cable between qemu's pty and the user's line, on an event loop of its own."""

    def __init__(self, qemu_pty: str, port: str | None, baud: int) -> None:
        self.cable = VirtualCable(baud, join_a=qemu_pty, join_b=port)
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peer-cable", daemon=True)

    @property
    def user_path(self) -> str:
        return self.cable.b_path

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self.cable.start)
        self._loop.call_soon(self._started.set)
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.cable.stop)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        else:
            self.cable.stop()


def _log_reader(vm: PppdVm, pppd: GuestProcess) -> Callable[[], tuple[str, int | None]]:
    """A function returning (new log text, exit status or None) in one round trip."""
    assert pppd.log_path is not None
    log, status_file = shlex.quote(pppd.log_path), f"{pppd.directory}/status"
    offset = 0

    def read() -> tuple[str, int | None]:
        nonlocal offset
        # The status is read before the log, so the last lines are never missed.
        _, output = vm.run(
            f"s=running; [ -e {status_file} ] && s=$(cat {status_file});"
            f" kill -0 {pppd.leader} 2>/dev/null || [ -e {status_file} ] || s=gone;"
            f" echo $s; tail -c +{offset + 1} {log} 2>/dev/null",
            timeout=10,
        )
        state, _, text = output.partition("\n")
        offset += len(text.encode())
        if state == "running":
            return text, None
        return text, int(state) if state.lstrip("-").isdigit() else int(ExitCode.FATAL_ERROR)

    return read


def _stream_until_exit(vm: PppdVm, pppd: GuestProcess) -> int:
    """Stream pppd's log until it exits; the first Ctrl-C asks pppd to stop.

    Ctrl-C only sets a flag: raised in the middle of an agent round trip it
    would leave the agent's reply unread and the next command waiting on it.
    A second Ctrl-C while pppd is stopping raises KeyboardInterrupt.
    """
    read = _log_reader(vm, pppd)
    interrupted = threading.Event()

    def on_interrupt(signum: int, frame: object) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    stop_sent = False
    try:
        while True:
            if interrupted.is_set() and not stop_sent:
                stop_sent = True
                _say("stopping pppd...")
                pppd.terminate()
            text, status = read()
            if text:
                sys.stdout.write(text)
                sys.stdout.flush()
            if status is not None:
                return status
            time.sleep(POLL_INTERVAL)
    finally:
        signal.signal(signal.SIGINT, previous)


def run_peer_pppd(argv: Sequence[str]) -> int:
    args, pppd_options = parse_arguments(argv)
    lock = _check_port(args.port) if args.port else None
    try:
        _prepare_image()
        _say("booting the VM...")
        vm = PppdVm(serial_lines=1)
        cable: _CableThread | None = None
        try:
            lines = vm.start()
            cable = _CableThread(lines[GUEST_LINE], args.port, args.baud)
            cable.start()
            pppd = start_pppd(vm, GUEST_LINE, pppd_options, speed=args.baud)
            _say(f"pppd started (booted in {vm.boot_seconds:.1f} s): {shlex.join(pppd_options)}")
            if args.port:
                _say(f"pppd's line is bridged to {args.port}")
            else:
                _say(f"pppd is on {cable.user_path}: point your PPP at it")
            status = _stream_until_exit(vm, pppd)
            _say(f"pppd exited with status {status}")
            return status
        except VmError as error:
            raise PeerError(f"the pppd VM failed: {error}") from error
        finally:
            with contextlib.suppress(Exception):
                if cable is not None:
                    cable.stop()
            vm.stop()
    finally:
        if lock is not None:
            lock.release()


def main(argv: Sequence[str]) -> int:
    """Entry point for ``wanctl peer``; errors become one line and their exit code."""
    # A second Ctrl-C while stopping must not leave qemu behind: stop() runs in finally.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return run_peer_pppd(argv)
    except WanctlError as error:
        print(f"wanctl: {error}", file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.USER_REQUEST)
