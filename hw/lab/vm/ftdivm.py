"""A qemu VM with two emulated FTDI USB-serial dongles, bound by the guest's ftdi_sio.

qemu's ``-device usb-serial`` is an FT232-class chip (0403:6001) on an
emulated xHCI controller; the guest's distro kernel binds it with its own
``usbserial`` and ``ftdi_sio`` drivers, so ``/dev/ttyUSB0`` and
``/dev/ttyUSB1`` are real vendor-chip ttys: termios, the latency timer and
hot-unplug go through the same driver code as with a dongle on a desk.

The far side of each chip is a host chardev.  Here it is one end of the
project's paced virtual cable (``hw.lab.cable``): qemu opens the cable's pty
as a ``serial`` chardev, so the baud the guest sets on ttyUSB travels as the
chip's SET_BAUDRATE request to qemu, which applies it with tcsetattr to that
pty; the cable reads it back and paces each direction at its sender's rate.
Two dongles, one null-modem cable.

The guest runs the host's Python and this repository over 9p, as
``hw.lab.vm.usbvm`` does.  qemu's QMP socket unplugs and replugs a dongle
(``device_del`` / ``device_add``), which the guest sees as a real USB
disconnect and a new enumeration.
"""

from __future__ import annotations

import json
import shlex
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from hw.lab.vm.errors import VmError
from hw.lab.vm.initramfs import Kernel
from hw.lab.vm.process import GuestProcess
from hw.lab.vm.usbvm import GUEST_ROOT, REPO_ROOT, UsbGadgetVm, _HostRootMachine

#: xHCI, then the USB-serial core and the FTDI driver; tun for the links' interfaces.
FTDI_MODULES = ("xhci_pci", "usbserial", "ftdi_sio", "tun")
FTDI_VENDOR_ID = 0x0403
FTDI_PRODUCT_ID = 0x6001
DONGLE_SERIALS = ("WANFTDIA", "WANFTDIB")


class Qmp:
    """A minimal QMP client: one command at a time, events kept for ``wait_event``."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.connect(str(path))
                break
            except OSError:
                self._sock.close()
                if time.monotonic() > deadline:
                    raise VmError(f"qemu's QMP socket {path} did not open") from None
                time.sleep(0.1)
        self._sock.settimeout(timeout)
        self._file = self._sock.makefile("rwb")
        self.events: list[dict[str, Any]] = []
        self._read()  # the greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        line = self._file.readline()
        if not line:
            raise VmError("qemu closed its QMP socket")
        message: dict[str, Any] = json.loads(line)
        return message

    def execute(self, command: str, **arguments: Any) -> Any:
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self._file.write(json.dumps(request).encode() + b"\n")
        self._file.flush()
        while True:
            message = self._read()
            if "event" in message:
                self.events.append(message)
                continue
            if "error" in message:
                raise VmError(f"QMP {command}: {message['error'].get('desc', message)}")
            return message.get("return")

    def wait_event(self, name: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["event"] == name:
                    self.events.remove(event)
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise VmError(f"no QMP event {name} within {timeout} s")
            self._sock.settimeout(remaining)
            try:
                self.events.append(self._read())
            except TimeoutError:
                continue

    def close(self) -> None:
        self._file.close()
        self._sock.close()


class _FtdiMachine(_HostRootMachine):
    """The host-root machine with an xHCI controller, two dongles and QMP."""

    def __init__(self, initrd: Path, extra: list[str], **kwargs: object) -> None:
        super().__init__(initrd, **kwargs)
        self._extra = extra

    def _qemu_command(self, qemu: str, kernel: Kernel, initrd: Path) -> list[str]:
        return [*super()._qemu_command(qemu, kernel, initrd), *self._extra]


class FtdiVm(UsbGadgetVm):
    """One booted guest with two FTDI dongles whose far sides are ``lines`` (host ttys).

    ``lines`` are opened by qemu as serial chardevs: normally the two ends of
    a ``hw.lab.cable`` cable.  ``unplug(n)`` and ``replug(n)`` pull and put back
    dongle ``n``; ``tty(n)`` is its guest tty now.
    """

    def __init__(self, lines: tuple[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines = lines
        self._qmp_dir = Path(tempfile.mkdtemp(prefix="wanctl-ftdi-"))
        self.qmp: Qmp | None = None

    @property
    def spec(self) -> str:
        return f"usb:{FTDI_VENDOR_ID:04x}:{FTDI_PRODUCT_ID:04x}"

    def _device(self, number: int) -> dict[str, str]:
        return {
            "driver": "usb-serial",
            "id": f"dongle{number}",
            "bus": "xhci.0",
            "chardev": f"dongle{number}",
            "serial": DONGLE_SERIALS[number],
        }

    def _make_machine(self, initrd: Path, kernel: Kernel) -> _HostRootMachine:
        extra = ["-device", "qemu-xhci,id=xhci"]
        for number, line in enumerate(self.lines):
            extra += ["-chardev", f"serial,id=dongle{number},path={line}"]
            extra += ["-device", ",".join(f"{k}={v}" for k, v in self._device(number).items())]
        extra += ["-qmp", f"unix:{self._qmp_dir / 'qmp.sock'},server=on,wait=off"]
        return _FtdiMachine(
            initrd, extra, serial_lines=0, memory_mb=self.memory_mb, kernel=kernel,
            cache_dir=self.cache_dir, boot_timeout=self.boot_timeout,
        )  # fmt: skip

    def load_gadget(self, timeout: float = 60.0) -> None:
        """Load the host controller and ftdi_sio; wait for both dongles' ttys."""
        self.check_output(" && ".join(f"modprobe {m}" for m in FTDI_MODULES), timeout)
        for number in range(len(self.lines)):
            self.wait_for(f'[ -n "$({self._tty_code(number)})" ]', timeout, f"dongle{number}")
        self.qmp = Qmp(self._qmp_dir / "qmp.sock")

    def stop(self) -> None:
        if self.qmp is not None:
            self.qmp.close()
            self.qmp = None
        super().stop()

    def spawn_python(self, args: list[str], name: str = "python") -> GuestProcess:
        """The host's Python in the guest's chroot, in the background (``python`` waits)."""
        repo = shlex.quote(str(REPO_ROOT))
        command = shlex.join([self.python_executable, *args])
        code = f"cd {repo} && PYTHONPATH={repo} exec {command}"
        return self._machine().spawn(
            f"exec chroot {GUEST_ROOT} /bin/sh -c {shlex.quote(code)}", name=name
        )

    def wait_for_output(self, process: GuestProcess, mark: str, timeout: float) -> str:
        """Poll a spawned process's output until ``mark`` shows; the output so far."""
        deadline = time.monotonic() + timeout
        while True:
            output = process.output()
            if mark in output:
                return output
            if not process.running() or time.monotonic() > deadline:
                raise VmError(f"{mark} did not come from the guest scenario:\n{output[-2000:]}")
            time.sleep(0.2)

    @staticmethod
    def _tty_code(number: int) -> str:
        serial = shlex.quote(DONGLE_SERIALS[number])
        return (
            "for t in /sys/class/tty/ttyUSB*; do [ -e $t ] &&"
            f' [ "$(cat $t/device/../../serial 2>/dev/null)" = {serial} ] && echo /dev/${{t##*/}};'
            " done; true"
        )

    def tty(self, number: int) -> str:
        """The guest tty of dongle ``number`` now ('' while it is unplugged)."""
        return self.check_output(self._tty_code(number)).strip()

    def unplug(self, number: int, timeout: float = 30.0) -> None:
        assert self.qmp is not None
        self.qmp.execute("device_del", id=f"dongle{number}")
        self.qmp.wait_event("DEVICE_DELETED", timeout)

    def replug(self, number: int = 0, timeout: float = 30.0) -> None:  # type: ignore[override]
        assert self.qmp is not None
        self.qmp.execute("device_add", **self._device(number))
        self.wait_for(f'[ -n "$({self._tty_code(number)})" ]', timeout, f"dongle{number}")
