"""The interop VM's qemu command line, and what qemu reports back about it.

Layout of the machine (``qemu-system-x86_64 -accel tcg``, no disk, no display):

* ``ttyS0`` is the kernel console, written to ``console.log`` in the run
  directory; its tail goes into every error message.
* A virtio serial port named ``wanctl.ctl`` carries the command agent
  (``agent.sh``) to a host Unix socket.  It is not a tty, so commands and
  output pass unchanged and kernel messages never interleave with them.
* Serial lines for PPP: ``ttyS1``-``ttyS3`` are ISA UARTs (the PC has four
  ISA slots and the console holds one); more lines come from
  ``pci-serial-4x`` cards and appear as ``ttyS4`` onwards (the kernel is
  booted with ``8250.nr_uarts`` raised to fit).  Each is backed by a host
  pty (``-chardev pty``) that qemu opens in raw mode and names on stderr.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path

from hw.lab.vm.errors import VmUnavailable
from hw.lab.vm.initramfs import Kernel

QEMU_PACKAGE = "qemu-system-x86"
#: qemu accelerator: TCG unless this says otherwise ("kvm"), because TCG works
#: on every host, including those where KVM hangs.
ACCEL_ENV = "WANCTL_VM_ACCEL"
ISA_LINES = 3  # ttyS1..ttyS3; ttyS0 is the console
PCI_PORTS_PER_CARD = 4
MAX_LINES = 31  # CONFIG_SERIAL_8250_NR_UARTS=32 on Debian kernels, minus the console

_PTY_REPORT = re.compile(r"char device redirected to (/dev/pts/\d+) \(label (\w+)\)")


def find_qemu() -> str:
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        raise VmUnavailable("qemu-system-x86_64 is not installed", QEMU_PACKAGE)
    return qemu


def die_with_parent() -> None:
    """``preexec_fn`` for qemu: it must not outlive the test process, even a SIGKILLed one."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def guest_line_names(count: int) -> list[str]:
    """Guest names of ``count`` serial lines: ISA ttyS1-3 first, then PCI ttyS4 onwards."""
    isa = [f"ttyS{index}" for index in range(1, min(count, ISA_LINES) + 1)]
    return isa + [f"ttyS{ISA_LINES + 1 + index}" for index in range(count - len(isa))]


def reported_ptys(qemu_output: str) -> dict[str, str]:
    """Chardev label -> host pty path, from qemu's "char device redirected to" lines."""
    return {label: path for path, label in _PTY_REPORT.findall(qemu_output)}


def qemu_command(
    qemu: str,
    kernel: Kernel,
    initrd: Path,
    run_dir: Path,
    *,
    serial_lines: int,
    memory_mb: int,
    kernel_args: Sequence[str] = (),
) -> list[str]:
    """The full qemu argv; serial line N is chardev ``lineN``."""
    pci_cards = -(-max(0, serial_lines - ISA_LINES) // PCI_PORTS_PER_CARD)
    append = [
        "console=ttyS0,115200",
        "panic=-1",
        f"8250.nr_uarts={4 + pci_cards * PCI_PORTS_PER_CARD}",
        *kernel_args,
    ]
    command = [
        qemu,
        *("-accel", os.environ.get(ACCEL_ENV, "tcg"), "-machine", "pc"),
        *("-m", str(memory_mb), "-smp", "1", "-nodefaults", "-no-user-config"),
        *("-display", "none", "-no-reboot"),
        *("-kernel", str(kernel.image), "-initrd", str(initrd), "-append", " ".join(append)),
        *("-chardev", f"file,id=console,path={run_dir / 'console.log'}"),
        *("-device", "isa-serial,chardev=console,index=0"),
        *("-device", "virtio-serial-pci,id=vser"),
        *("-chardev", f"socket,id=ctl,path={run_dir / 'ctl.sock'},server=on,wait=off"),
        *("-device", "virtserialport,bus=vser.0,chardev=ctl,name=wanctl.ctl"),
    ]
    for number in range(1, serial_lines + 1):
        command += ["-chardev", f"pty,id=line{number}"]
        if number <= ISA_LINES:
            command += ["-device", f"isa-serial,chardev=line{number},index={number}"]
    for card in range(pci_cards):
        first = ISA_LINES + 1 + card * PCI_PORTS_PER_CARD
        numbers = range(first, min(first + PCI_PORTS_PER_CARD, serial_lines + 1))
        ports = ",".join(f"chardev{slot}=line{n}" for slot, n in enumerate(numbers, 1))
        command += ["-device", f"pci-serial-4x,{ports}"]
    return command
