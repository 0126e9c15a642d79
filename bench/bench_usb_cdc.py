"""Throughput of UsbCdcTransport over a real Linux USB stack, against the line rate.

Run as ``python -m bench.bench_usb_cdc`` (needs qemu and the Debian kernel,
as the interop tests do).  One VM boot (``hw.lab.vm.usbvm``: dummy_hcd, the
g_serial gadget, cdc_acm) for all cases; each case sets the line coding with
SET_LINE_CODING, then moves ``--size`` bytes each way ``--rounds`` times
between the transport and ``/dev/ttyGS0`` and prints the medians.  The
gadget does not pace to its line coding, so the figures are the USB path's
own speed under TCG emulation, and the ratio says how far above a real
UART at that rate it stays.
"""

from __future__ import annotations

import argparse
import json
import time

from hw.lab.vm.usb_guest import RESULT_MARK
from hw.lab.vm.usbvm import UsbGadgetVm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2 * 1024 * 1024, help="bytes per run")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs per direction")
    parser.add_argument("--baud", type=int, action="append", help="line coding (repeatable)")
    args = parser.parse_args()
    bauds = args.baud or [115200, 921600, 4000000]
    started = time.monotonic()
    with UsbGadgetVm() as vm:
        print(f"VM ready in {time.monotonic() - started:.1f} s "
              f"({', '.join(f'{k} {v:.1f} s' for k, v in vm.timings.items())})")  # fmt: skip
        header = ("line coding", "line rate", "direction", "median", "x line rate")
        print("{:>12} {:>11} {:>15} {:>10} {:>12}".format(*header))
        for baud in bauds:
            status, output = vm.python(
                ["-m", "hw.lab.vm.usb_guest", "throughput", vm.spec, str(args.size), str(baud),
                 str(args.rounds)], timeout=600,
            )  # fmt: skip
            lines = [line for line in output.splitlines() if line.startswith(RESULT_MARK)]
            if status != 0 or not lines:
                print(output)
                return 1
            report = json.loads(lines[-1][len(RESULT_MARK) :])
            for direction in ("host_to_device", "device_to_host"):
                figures = report[direction]
                if not figures["intact"]:
                    print(f"{direction} at {baud}: data damaged; no figure")
                    return 1
                print(f"{baud:>12} {report['line_rate_bytes_per_second']:>9.0f}/s "
                      f"{direction:>15} {figures['bytes_per_second'] / 1e6:>6.2f} MB/s "
                      f"{figures['times_line_rate']:>11.1f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
