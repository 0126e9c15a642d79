"""``python -m hw.lab.vm``: boot the interop VM and print what it costs.

Prints the initramfs build time, boot times (launch to first answered
command) and the median round trip of a trivial guest command, so the rig's
figures can be compared between machines.  ``--keep`` leaves the VM up and
prints its serial lines until Ctrl-C, for poking at it by hand.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from hw.lab.vm.errors import VmError
from hw.lab.vm.initramfs import build_initramfs, find_kernel
from hw.lab.vm.machine import PppdVm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw.lab.vm", description=__doc__)
    parser.add_argument("--boots", type=int, default=2, help="VMs to boot one after another")
    parser.add_argument("--commands", type=int, default=50, help="round trips to time per VM")
    parser.add_argument("--lines", type=int, default=3, help="serial lines per VM")
    parser.add_argument("--keep", action="store_true", help="keep the last VM up until Ctrl-C")
    options = parser.parse_args(argv)
    try:
        kernel = find_kernel()
        started = time.monotonic()
        image = build_initramfs(kernel)
        print(f"kernel {kernel.release}, initramfs {image} ({image.stat().st_size} bytes)")
        print(f"initramfs ready in {time.monotonic() - started:.2f} s")
        boots: list[float] = []
        round_trips: list[float] = []
        for boot in range(options.boots):
            vm = PppdVm(serial_lines=options.lines, kernel=kernel)
            lines = vm.start()
            assert vm.boot_seconds is not None
            boots.append(vm.boot_seconds)
            for _ in range(options.commands):
                before = time.monotonic()
                vm.run("true")
                round_trips.append(time.monotonic() - before)
            if options.keep and boot == options.boots - 1:
                print(f"serial lines: {lines}; Ctrl-C stops the VM")
                try:
                    while vm.running:
                        time.sleep(1)
                except KeyboardInterrupt:
                    pass
            vm.stop()
    except VmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"boot to first command: median {statistics.median(boots):.2f} s "
        f"(min {min(boots):.2f}, max {max(boots):.2f}, n={len(boots)})"
    )
    print(
        f"guest command round trip: median {statistics.median(round_trips) * 1000:.1f} ms "
        f"(n={len(round_trips)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
