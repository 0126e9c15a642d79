"""A qemu VM with a real Linux USB stack, for testing the pyusb transport.

The guest runs the distro kernel with ``dummy_hcd`` (a USB host controller
and a device controller joined inside the kernel), the ``g_serial`` gadget
(a CDC-ACM device, 0525:a4a7) on the device side and ``cdc_acm`` on the host
side: ``/dev/ttyGS0`` is the device's end of the line, ``/dev/ttyACM0`` (or
libusb, through ``/dev/bus/usb``) the host's.  Nothing is emulated: the USB
core, usbfs, libusb and the gadget framework are the real ones.

To run the host's own Python and this project inside the guest without
building an image of them, qemu shares the host's root read-only over 9p
(``-virtfs ... mount_tag=hostroot``); ``hostroot.sh`` mounts it under a tmpfs
overlay at ``/newroot``, and every guest command runs chrooted there.  The
machine itself is ``hw.lab.vm.machine.PppdVm`` (qemu command line, command
agent, console capture) with the 9p device added and an initramfs that
carries the 9p and overlay modules.
"""

from __future__ import annotations

import importlib.resources
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from hw.lab.vm.errors import VmError, VmUnavailable
from hw.lab.vm.initramfs import (
    ImagePlan,
    Kernel,
    cached_image,
    find_busybox,
    find_kernel,
    resolve_modules,
)
from hw.lab.vm.machine import PppdVm

#: Bump when the image's contents change.
IMAGE_FORMAT = 1
#: The agent's port and 9p need these before the host's root is mounted.
INITRAMFS_MODULES = ("virtio_pci", "virtio_console", "9pnet_virtio", "9p", "overlay")
#: Loaded from the host's module tree inside the chroot, in this order.
GADGET_MODULES = ("dummy_hcd", "g_serial", "cdc_acm")
GUEST_ROOT = "/newroot"
#: The host's / for the guest: read-only, no ownership mapping (the guest
#: only reads), inode numbers remapped because / spans several filesystems.
HOSTROOT_VIRTFS = "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
#: g_serial in CDC-ACM mode (its default): the NetChip "Gadget Serial" ids.
GADGET_VENDOR_ID = 0x0525
GADGET_PRODUCT_ID = 0xA4A7
GADGET_SERIAL = "WANCTL-VM-0001"
GADGET_TTY = "/dev/ttyGS0"
HOST_TTY = "/dev/ttyACM0"
UDC_NAME = "dummy_udc.0"
UDC_DEVICE = f"/sys/bus/platform/drivers/dummy_udc/{UDC_NAME}"
UDC_BIND = "/sys/bus/platform/drivers/dummy_udc/bind"
REPO_ROOT = Path(__file__).resolve().parents[3]
#: Run by the guest's interpreter on the host: byte-code for each ``.py`` of the
#: packages named, written under OUT where ``__pycache__`` would put it under ROOT.
_COMPILE = """
import importlib.util, pathlib, py_compile, sys
root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for package in sys.argv[3:]:
    for source in sorted((root / package).rglob("*.py")):
        cached = pathlib.Path(importlib.util.cache_from_source(str(source)))
        py_compile.compile(str(source), str(out / cached.relative_to(root)))
"""


def build_usb_initramfs(kernel: Kernel, cache_dir: Path | None = None) -> Path:
    """The cached initramfs: busybox, the agent scripts, virtio, 9p and overlay modules."""
    modules = resolve_modules(kernel.modules_dir, INITRAMFS_MODULES, ())
    plan = ImagePlan(kernel, find_busybox(), (), (), tuple(modules))
    return cached_image(
        plan, cache_dir, "usbvm", f"{IMAGE_FORMAT}-{kernel.release}-{plan.digest()}"
    )


class _HostRootMachine(PppdVm):
    """PppdVm booted from the USB initramfs, with the host's root shared over 9p."""

    def __init__(self, initrd: Path, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._usb_initrd = initrd

    def _qemu_command(self, qemu: str, kernel: Kernel, initrd: Path) -> list[str]:
        command = super()._qemu_command(qemu, kernel, self._usb_initrd)
        return [*command, "-virtfs", HOSTROOT_VIRTFS]


class UsbGadgetVm:
    """One booted guest with a CDC-ACM gadget plugged into its own USB host.

    ``start`` boots, mounts the host's root and loads the gadget; ``run``
    executes shell code chrooted into the host's root; ``python`` runs the
    host's interpreter there with this repository importable; ``replug`` puts
    the gadget back after a scenario pulled it.  ``timings``
    holds the seconds each step of ``start`` took.
    """

    def __init__(self, *, memory_mb: int = 512, kernel: Kernel | None = None,
                 cache_dir: Path | None = None, boot_timeout: float = 120.0,
                 gadget_serial: str = GADGET_SERIAL,
                 python: str = sys.executable) -> None:  # fmt: skip
        self.memory_mb = memory_mb
        self.kernel = kernel
        self.cache_dir = cache_dir
        self.boot_timeout = boot_timeout
        self.gadget_serial = gadget_serial
        self.python_executable = python
        self.timings: dict[str, float] = {}
        self.machine: PppdVm | None = None

    def __enter__(self) -> UsbGadgetVm:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def spec(self) -> str:
        """The ``usb:`` port spec of the gadget, serial number included."""
        return f"usb:{GADGET_VENDOR_ID:04x}:{GADGET_PRODUCT_ID:04x}:{self.gadget_serial}"

    def start(self) -> None:
        if self.machine is not None:
            raise VmError("this VM is already started")
        if not os.access(self.python_executable, os.X_OK):
            raise VmUnavailable(f"{self.python_executable} cannot be run", "python3")
        kernel = self.kernel or find_kernel()
        started = time.monotonic()
        initrd = build_usb_initramfs(kernel, self.cache_dir)
        self.timings["initramfs"] = time.monotonic() - started
        self.machine = self._make_machine(initrd, kernel)
        bytecode = tempfile.mkdtemp(prefix="wanctl-guest-pyc-")
        compiling = self._compile_repository(Path(bytecode))  # on the host, during boot
        try:
            self.machine.start()
            self.timings["boot"] = self.machine.boot_seconds or 0.0
            step = time.monotonic()
            script = importlib.resources.files("hw.lab.vm").joinpath("hostroot.sh").read_text()
            self.machine.check_output(f"sh -c {shlex.quote(script)} hostroot {GUEST_ROOT}", 60)
            self.timings["hostroot"] = time.monotonic() - step
            step = time.monotonic()
            if compiling.wait(120) == 0:
                # Into the guest's tmpfs layer: the host's tree keeps no __pycache__.
                self.check_output(
                    f"cp -R {shlex.quote(bytecode)}/. {shlex.quote(str(REPO_ROOT))}/", 60
                )
            self.timings["bytecode"] = time.monotonic() - step
            step = time.monotonic()
            self.load_gadget()
            self.timings["gadget"] = time.monotonic() - step
        except BaseException:
            self.stop()
            raise
        finally:
            if compiling.poll() is None:
                compiling.kill()
            compiling.wait()
            shutil.rmtree(bytecode, ignore_errors=True)
        self.timings["total"] = time.monotonic() - started

    def _compile_repository(self, out: Path) -> subprocess.Popen[bytes]:
        """Compile this repository's packages for the guest, in the background.

        The host's tree has no ``__pycache__`` (PYTHONDONTWRITEBYTECODE), so
        every guest boot would otherwise compile each module on first import,
        which under TCG costs seconds per program.  The guest's interpreter
        does it here in a second; timestamps in the byte-code are the sources'
        (the guest reads the same files over 9p), so an edit made since
        simply makes the guest compile that module again.
        """
        packages = sorted(
            path.name
            for path in REPO_ROOT.iterdir()
            if (path / "__init__.py").is_file() and path.name != "tests"
        )
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPYCACHEPREFIX"}
        return subprocess.Popen(
            [self.python_executable, "-c", _COMPILE, str(REPO_ROOT), str(out), *packages],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env,
        )  # fmt: skip

    def _make_machine(self, initrd: Path, kernel: Kernel) -> _HostRootMachine:
        return _HostRootMachine(
            initrd, serial_lines=0, memory_mb=self.memory_mb, kernel=kernel,
            cache_dir=self.cache_dir, boot_timeout=self.boot_timeout,
        )  # fmt: skip

    def stop(self) -> None:
        if self.machine is not None:
            self.machine.stop()
            self.machine = None

    def _machine(self) -> PppdVm:
        if self.machine is None:
            raise VmError("the VM is not running; call start() first")
        return self.machine

    def console_tail(self, lines: int = 40) -> str:
        return self.machine.console_tail(lines) if self.machine is not None else ""

    # -- commands ----------------------------------------------------------

    def run_outside(
        self, code: str, timeout: float = 30.0, *, check: bool = False
    ) -> tuple[int, str]:
        """Shell code in the initramfs (busybox), outside the chroot."""
        return self._machine().run(code, timeout, check=check)

    def run(self, code: str, timeout: float = 30.0, *, check: bool = False) -> tuple[int, str]:
        """Shell code chrooted into the host's root (the host's /bin/sh and tools)."""
        wrapped = f"exec chroot {GUEST_ROOT} /bin/sh -c {shlex.quote(code)}"
        return self._machine().run(wrapped, timeout, check=check)

    def check_output(self, code: str, timeout: float = 30.0) -> str:
        return self.run(code, timeout, check=True)[1]

    def python(self, args: Sequence[str], timeout: float = 60.0) -> tuple[int, str]:
        """The host's Python in the guest, in this repository, with ``args``."""
        repo = shlex.quote(str(REPO_ROOT))
        command = shlex.join([self.python_executable, *args])
        return self.run(f"cd {repo} && PYTHONPATH={repo} exec {command}", timeout)

    # -- the gadget ----------------------------------------------------------

    def load_gadget(self, timeout: float = 30.0) -> None:
        """Load dummy_hcd, g_serial and cdc_acm; wait for both ttys."""
        dummy, gadget, acm = GADGET_MODULES
        self.check_output(
            f"modprobe {dummy} && modprobe {gadget} iSerialNumber={shlex.quote(self.gadget_serial)}"
            f" && modprobe {acm}",
            timeout,
        )
        self.wait_for(f"[ -e {GADGET_TTY} ] && [ -e {HOST_TTY} ]", timeout, "the gadget's ttys")

    def wait_for(self, condition: str, timeout: float, what: str) -> None:
        """Poll a shell condition inside the guest (one agent round trip in all)."""
        tries = max(1, int(timeout / 0.1))
        status, output = self.run(
            f"i=0; until {condition}; do i=$((i+1)); [ $i -ge {tries} ] && exit 1; sleep 0.1; done",
            timeout + 10,
        )
        if status != 0:
            _, dmesg = self.run("dmesg | tail -20")
            raise VmError(f"{what} did not appear within {timeout} s\n{output}{dmesg}")

    def replug(self, timeout: float = 30.0) -> None:
        """Put the gadget back after any unplug: UDC bound, g_serial loaded afresh.

        Reloading g_serial also recovers from a soft disconnect, after which
        dummy_hcd on this kernel does not re-enumerate on "connect".
        """
        self.check_output(
            f"rmmod g_serial 2>/dev/null; [ -e {UDC_DEVICE} ] || echo {UDC_NAME} > {UDC_BIND};"
            f" modprobe g_serial iSerialNumber={shlex.quote(self.gadget_serial)}",
            timeout,
        )
        self.wait_for(f"[ -e {GADGET_TTY} ] && [ -e {HOST_TTY} ]", timeout, "the replugged gadget")
