"""The interop rig: the distro's real pppd in a qemu VM, with serial lines to the host.

``PppdVm`` boots the VM (``machine.py``) from an initramfs built out of the
installed Debian packages (``initramfs.py``); ``parse_pppd_log`` reads the
control packets out of a pppd ``debug`` log (``pppd_log.py``); ``start_pppd``
runs pppd on a guest line with the rig's defaults (``pppd.py``).
"""

from hw.lab.vm.errors import GuestCommandError, GuestTimeout, VmBootError, VmError, VmUnavailable
from hw.lab.vm.initramfs import Kernel, build_initramfs, default_cache_dir, find_kernel
from hw.lab.vm.machine import PppdVm, SerialLine
from hw.lab.vm.pppd import PPPD_DEFAULTS, start_pppd
from hw.lab.vm.pppd_log import (
    IPCP_UP,
    LoggedPacket,
    count_sent,
    packet_numbers,
    parse_pppd_log,
)
from hw.lab.vm.process import STATUS_UNKNOWN, GuestProcess
from hw.lab.vm.qemu import find_qemu

__all__ = [
    "IPCP_UP",
    "PPPD_DEFAULTS",
    "STATUS_UNKNOWN",
    "GuestCommandError",
    "GuestProcess",
    "GuestTimeout",
    "Kernel",
    "LoggedPacket",
    "PppdVm",
    "SerialLine",
    "VmBootError",
    "VmError",
    "VmUnavailable",
    "build_initramfs",
    "count_sent",
    "default_cache_dir",
    "find_kernel",
    "find_qemu",
    "packet_numbers",
    "parse_pppd_log",
    "start_pppd",
]
