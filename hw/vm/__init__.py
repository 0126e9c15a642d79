"""The interop rig: the distro's real pppd in a qemu VM, with serial lines to the host.

``PppdVm`` boots the VM (``machine.py``) from an initramfs built out of the
installed Debian packages (``initramfs.py``); ``parse_pppd_log`` reads the
control packets out of a pppd ``debug`` log (``pppd_log.py``); ``start_pppd``
runs pppd on a guest line with the rig's defaults (``pppd.py``).
"""

from hw.vm.errors import GuestCommandError, GuestTimeout, VmBootError, VmError, VmUnavailable
from hw.vm.initramfs import Kernel, build_initramfs, default_cache_dir, find_kernel
from hw.vm.machine import PppdVm, SerialLine
from hw.vm.pppd import PPPD_DEFAULTS, start_pppd
from hw.vm.pppd_log import (
    IPCP_UP,
    LoggedPacket,
    count_sent,
    packet_numbers,
    parse_pppd_log,
)
from hw.vm.process import STATUS_UNKNOWN, GuestProcess
from hw.vm.qemu import find_qemu

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
