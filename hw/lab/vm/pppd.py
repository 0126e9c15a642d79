"""Starting the guest's pppd the way interop tests need it.

``start_pppd`` runs ``pppd /dev/ttySn`` in the foreground of its own
session (``nodetach``), ignoring modem-control lines (``local``: the VM's
lines are null-modem ptys), logging every packet (``debug``) to a file of
its own, with no LCP echo unless the options ask for it.  The options come
after these defaults, so a test may override any of them.  With
``own_netns`` pppd runs in a fresh network namespace: two pppds in one
guest then really route their traffic over the serial line instead of
through the guest's loopback.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hw.lab.vm.machine import PppdVm
    from hw.lab.vm.process import GuestProcess

#: Options every rig pppd gets before the test's own.
PPPD_DEFAULTS = ("nodetach", "local", "debug", "lcp-echo-interval", "0")


def start_pppd(
    vm: PppdVm,
    tty: str,
    options: Sequence[str] = (),
    *,
    log: str | None = None,
    own_netns: bool = False,
    speed: int = 115200,
) -> GuestProcess:
    """Spawn pppd on guest line ``tty`` ("ttyS1"); ``handle.log_path`` is its debug log.

    The log defaults to ``/run/pppd-<tty>.log`` and is emptied first.
    ``handle.pid`` is pppd's own pid, so ``freeze``/``thaw`` stop pppd itself.
    """
    device = tty if tty.startswith("/dev/") else f"/dev/{tty}"
    log_path = log or f"/run/pppd-{device.removeprefix('/dev/')}.log"
    vm.check_output(f"rm -f {shlex.quote(log_path)}")
    argv = ["pppd", device, str(speed), *PPPD_DEFAULTS, "logfile", log_path, *options]
    if own_netns:
        argv = ["unshare", "-n", *argv]
    process = vm.spawn(argv, name=f"pppd-{device.removeprefix('/dev/')}")
    process.log_path = log_path
    return process
