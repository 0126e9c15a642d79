"""UsbCdcTransport against a real Linux USB stack, in one qemu VM for the module.

The guest (``hw.lab.vm.usbvm``) runs Debian's kernel with dummy_hcd, the g_serial
CDC-ACM gadget and cdc_acm; the host's Python and this repository run inside
it over a read-only 9p share.  The scenarios (``hw.lab.vm.usb_guest``) drive the
transport from the USB host side and ``/dev/ttyGS0`` as the far end; each
runs once and the tests below judge its report.  The udev tests run the
real systemd-udevd of the host's root inside the guest.

Skips when qemu or the kernel is missing, except under ``CI`` or
``WANCTL_REQUIRE_VM=1``, where it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hw.lab.vm import VmUnavailable, find_kernel, find_qemu
from hw.lab.vm.usb_guest import RESULT_MARK
from hw.lab.vm.usbvm import GADGET_SERIAL, HOST_TTY, REPO_ROOT, UsbGadgetVm

pytestmark = pytest.mark.timeout(900)
UDEV_ENV = "export SYSTEMD_IGNORE_CHROOT=1; "  # udevadm refuses to act in a chroot otherwise
STABLE_LINK = f"/dev/wan/{GADGET_SERIAL}"
UDEVD = "/lib/systemd/systemd-udevd"


def _missing(what: str) -> None:
    """Skip, or fail where the VM tests must run (CI, WANCTL_REQUIRE_VM=1)."""
    if os.environ.get("WANCTL_REQUIRE_VM") or os.environ.get("CI"):
        pytest.fail(f"the USB VM tests are required here but cannot run: {what}")
    pytest.skip(f"USB VM unavailable: {what}")


def _require_vm() -> None:
    try:
        find_qemu()
        find_kernel()
    except VmUnavailable as missing:
        _missing(str(missing))
    try:
        import usb.backend.libusb1  # the guest runs this host's pyusb and libusb
    except ImportError:
        _missing("pyusb is not installed (pip install pyusb)")
    if usb.backend.libusb1.get_backend() is None:
        _missing("libusb is not installed (apt-get install libusb-1.0-0)")


class Guest:
    """The booted VM and the scenario reports, each scenario run at most once."""

    def __init__(self, vm: UsbGadgetVm) -> None:
        self.vm = vm
        self._reports: dict[tuple[str, ...], dict[str, Any]] = {}

    def report(self, scenario: str, *args: str, timeout: float = 300) -> dict[str, Any]:
        key = (scenario, *args)
        if key not in self._reports:
            status, output = self.vm.python(
                ["-m", "hw.lab.vm.usb_guest", scenario, self.vm.spec, *args], timeout
            )
            lines = [line for line in output.splitlines() if line.startswith(RESULT_MARK)]
            if status != 0 or not lines:
                pytest.fail(f"guest scenario {key} failed (status {status}):\n{output}")
            self._reports[key] = json.loads(lines[-1][len(RESULT_MARK) :])
        return self._reports[key]

    def sh(self, code: str, timeout: float = 60) -> str:
        return self.vm.check_output(UDEV_ENV + code, timeout)


@pytest.fixture(scope="module")
def guest() -> Iterator[Guest]:
    _require_vm()
    vm = UsbGadgetVm()
    vm.start()
    print(f"\nUSB VM up: {', '.join(f'{k} {v:.1f} s' for k, v in vm.timings.items())}")
    try:
        yield Guest(vm)
    finally:
        vm.stop()


# -- the rig itself --------------------------------------------------------------


def test_gadget_is_bound_to_the_kernels_cdc_acm_driver(guest: Guest) -> None:
    driver = guest.sh(f"basename $(readlink /sys/class/tty/{HOST_TTY[5:]}/device/driver)")
    assert driver.strip() == "cdc_acm"
    assert guest.sh("cat /sys/bus/usb/devices/1-1/serial").strip() == GADGET_SERIAL


# -- opening, line coding, modem lines, data --------------------------------------


def test_open_detaches_cdc_acm_and_close_reattaches_it(guest: Guest) -> None:
    report = guest.report("exchange")
    assert report["tty_before"] is True
    assert report["tty_detached"] is True
    assert report["tty_reattached"] is True


def test_open_holds_the_uucp_lock_of_the_detached_tty_until_close(guest: Guest) -> None:
    report = guest.report("exchange")
    assert report["lock_held"] is True
    assert report["lock_released"] is True


def test_line_coding_set_is_what_the_device_reports(guest: Guest) -> None:
    codings = guest.report("exchange")["line_codings"]
    assert len(codings) == 5
    for sent, read_back in codings:
        assert sent == read_back


def test_serial_state_notifications_give_carrier_and_dsr(guest: Guest) -> None:
    report = guest.report("exchange")
    assert report["has_modem_lines"] is True
    # g_serial raises DCD and DSR when its tty is opened, drops them on close.
    assert report["lines_on_peer_open"] == {"cd": True, "dsr": True, "cts": True, "ri": False}
    assert report["lines_on_peer_close"] == {"cd": False, "dsr": False, "cts": True, "ri": False}
    assert report["counters"]["notifications"] >= 2


def test_host_to_device_bytes_arrive_intact_with_one_completion_per_write(guest: Guest) -> None:
    sent = guest.report("exchange")["host_to_device"]
    assert sent["arrived"] and sent["intact"]
    assert sent["completions"] == sent["writes"] == sent["completed_true"]


def test_device_to_host_bytes_arrive_intact(guest: Guest) -> None:
    assert guest.report("exchange")["device_to_host"]["intact"] is True


def test_a_transfer_ending_on_a_full_packet_is_followed_by_a_zero_length_packet(
    guest: Guest,
) -> None:
    report = guest.report("exchange")
    assert report["bulk_out_max_packet"] == 512  # dummy_hcd runs at high speed
    probe = {entry["size"]: entry for entry in report["zlp_probe"]}
    assert all(entry["arrived"] for entry in probe.values())
    assert {size: entry["zlps"] for size, entry in probe.items()} == {
        512: 1, 513: 0, 1024: 1, 1: 0, 16384: 1, 2560: 1,
    }  # fmt: skip


def test_ppp_frames_cross_the_usb_link_both_ways(guest: Guest) -> None:
    report = guest.report("exchange")
    for direction in ("ppp_host_to_device", "ppp_device_to_host"):
        frames = report[direction]
        assert frames["equal"], direction
        assert frames["decoded"] == frames["sent"] == 202
        assert frames["crc_errors"] == 0


def test_dtr_and_rts_requests_keep_the_line_up(guest: Guest) -> None:
    report = guest.report("exchange")
    assert report["open_after_control_lines"] is True
    assert report["line_downs"] == []


# -- on the wire, as the host controller's usbmon records it ---------------------------


def test_dtr_and_rts_reach_the_bus_as_set_control_line_state(guest: Guest) -> None:
    states = guest.report("wire")["control_line_states"]
    # Opened with DTR and RTS on, then set_dtr/set_rts to (off, on), (off, off),
    # (on, off), (on, on): one request per call, bit 0 DTR, bit 1 RTS.
    assert states == ["0003", "0002", "0002", "0002", "0000", "0001", "0001", "0001", "0003"]


def test_only_transfers_ending_on_a_full_packet_get_a_zero_length_packet(guest: Guest) -> None:
    assert guest.report("wire")["bulk_out_lengths"] == [512, 0, 100, 1024, 0]


def test_line_coding_goes_out_in_pstn_layout_and_cdc_acm_reprobes_after_close(
    guest: Guest,
) -> None:
    codings = guest.report("wire")["line_codings"]
    assert codings[0] == "00c20100 000008"  # 115200 (LE32), 1 stop bit, no parity, 8 bits
    # close() gave the device back: cdc_acm's probe sets its default 9600 8N1.
    assert codings[-1] == "80250000 000008"


# -- discovery on a real sysfs and libusb ------------------------------------------


def _record(records: list[dict[str, Any]], path: str) -> dict[str, Any]:
    matching = [record for record in records if record["path"] == path]
    assert len(matching) == 1, f"{path} listed {len(matching)} times in {records}"
    return matching[0]


def test_discovery_lists_the_acm_tty_with_its_usb_identity(guest: Guest) -> None:
    record = _record(guest.report("discovery")["free"], HOST_TTY)
    assert record["kind"] == "usb-cdc"
    assert record["driver"] == "cdc_acm"
    assert record["ids"] == "0525:a4a7"
    assert record["serial_number"] == GADGET_SERIAL
    assert record["usb_spec"] == guest.vm.spec
    assert record["locked_by"] is None


def test_discovery_names_the_process_holding_the_uucp_lock(guest: Guest) -> None:
    holder = _record(guest.report("discovery")["locked"], HOST_TTY)["locked_by"]
    assert holder["how"] == "uucp lock"
    assert "hw.lab.vm.usb_guest discovery" in holder["cmdline"]


def test_transport_refuses_a_device_whose_tty_is_locked(guest: Guest) -> None:
    message = guest.report("discovery")["open_while_locked"]
    assert message.startswith(f"port {HOST_TTY} is locked by PID ")


def test_discovery_lists_a_claimed_device_by_usb_spec_with_its_holder(guest: Guest) -> None:
    records = guest.report("discovery")["claimed"]
    assert all(record["path"] != HOST_TTY for record in records)
    record = _record(records, guest.vm.spec)
    assert record["kind"] == "usb"
    assert record["driver"] == "usbfs"
    assert record["locked_by"]["how"] == "usbfs"
    assert "hw.lab.vm.usb_guest discovery" in record["locked_by"]["cmdline"]


def test_a_second_open_of_a_claimed_device_is_refused(guest: Guest) -> None:
    message = guest.report("discovery")["open_while_claimed"]
    assert message == f"{guest.vm.spec} is busy: another program has claimed it"


def test_opening_by_a_serial_number_nobody_has_names_the_ones_present(guest: Guest) -> None:
    errors = guest.report("discovery")["open_errors"]
    assert errors["usb:0525:a4a7:NO-SUCH-SERIAL"] == (
        "no USB device 0525:a4a7 has serial number 'NO-SUCH-SERIAL'; "
        f"found usb:0525:a4a7:{GADGET_SERIAL}"
    )
    assert errors["usb:0525:ffff"].startswith("no USB device 0525:ffff is plugged in")


def test_a_spec_without_serial_number_opens_the_only_match(guest: Guest) -> None:
    described = guest.report("discovery")["opened_without_serial"]
    assert described.startswith("usb:0525:a4a7 (bus 1 device ")
    assert described.endswith(", was ttyACM0)")


# -- throughput ------------------------------------------------------------------


def test_usb_throughput_against_the_line_rate_set_by_set_line_coding(guest: Guest) -> None:
    report = guest.report("throughput")
    for direction in ("host_to_device", "device_to_host"):
        figures = report[direction]
        assert figures["intact"], direction
        print(
            f"\nUSB CDC {direction}: {figures['bytes_per_second'] / 1e6:.2f} MB/s median of "
            f"{len(figures['seconds'])}, {figures['times_line_rate']:.0f}x the "
            f"{report['baud']} baud line rate ({report['line_rate_bytes_per_second']:.0f} B/s)"
        )


# -- unplugging --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["cable", "udc", "rmmod"])
def test_unplug_mid_transfer_is_one_line_down_with_every_pending_write_failed(
    guest: Guest, method: str
) -> None:
    try:
        report = guest.report("unplug", method)
    finally:
        guest.vm.replug()
    assert report["buffered_before"] > 0, "no writes were pending when the device went"
    assert report["line_downs"] == ["unplugged"]
    assert report["completion_counts"] == [1], "a write completed other than exactly once"
    assert report["completed_false"] >= 1
    assert report["true_before_false"] is True
    assert report["buffered_after"] == 0
    assert report["is_open_after"] is False
    assert report["late_write"] == [False]
    assert report["threads_alive_after_close"] == 0
    assert report["seconds_to_line_down"] is not None


# -- udev -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def udev(guest: Guest) -> Guest:
    """systemd-udevd running in the guest, with the rules installed by udev/install.sh."""
    if not Path(UDEVD).exists() or shutil.which("udevadm") is None:
        _missing(f"{UDEVD} and udevadm are not installed (apt-get install udev)")
    status, output = guest.vm.run(
        UDEV_ENV + f"{UDEVD} --daemon && udevadm trigger --action=add"
        " && udevadm settle --timeout=30",
        90,
    )
    if status != 0:
        pytest.skip(f"systemd-udevd cannot run in the guest:\n{output}")
    before = guest.sh(f"udevadm info -q property -n {HOST_TTY}")
    assert "ID_MM_DEVICE_IGNORE" not in before, "something other than our rules set it"
    assert guest.vm.run(f"[ -e {STABLE_LINK} ]")[0] != 0
    guest.sh(f"cd {REPO_ROOT} && sh udev/install.sh", 90)
    return guest


def test_udev_install_makes_the_stable_name_by_serial_number(udev: Guest) -> None:
    assert udev.sh(f"readlink {STABLE_LINK}").strip() == "../ttyACM0"


def test_udev_rules_keep_modemmanager_off_the_tty_and_the_usb_device(udev: Guest) -> None:
    assert "ID_MM_DEVICE_IGNORE=1" in udev.sh(f"udevadm info -q property -n {HOST_TTY}")
    usb_node = udev.sh("udevadm info -q name -p /sys/bus/usb/devices/1-1").strip()
    assert "ID_MM_DEVICE_IGNORE=1" in udev.sh(f"udevadm info -q property -n /dev/{usb_node}")


def test_udev_rules_give_dialout_the_tty_and_the_cdc_usb_node(udev: Guest) -> None:
    usb_node = "/dev/" + udev.sh("udevadm info -q name -p /sys/bus/usb/devices/1-1").strip()
    assert udev.sh(f"stat -c '%G %a' {HOST_TTY} {usb_node}").split("\n")[:2] == [
        "dialout 660", "dialout 660",
    ]  # fmt: skip


def test_udev_stable_name_goes_while_the_transport_holds_the_device(udev: Guest) -> None:
    code = (
        "import os, time; from wanminiport.transports.usb_port import UsbCdcTransport\n"
        f"t = UsbCdcTransport({udev.vm.spec!r}); time.sleep(1.5)\n"
        f"print('while open', os.path.exists({STABLE_LINK!r}))\n"
        "t.close()\n"
        f"for _ in range(100):\n    if os.path.exists({STABLE_LINK!r}): break\n"
        "    time.sleep(0.1)\n"
        f"print('after close', os.path.exists({STABLE_LINK!r}))\n"
    )
    status, output = udev.vm.python(["-c", code], 60)
    assert status == 0, output
    assert "while open False" in output
    assert "after close True" in output


def test_udev_names_a_later_interface_of_a_usb_serial_tty(udev: Guest) -> None:
    # The generic usb-serial driver on the gadget gives a ttyUSB on interface 01.
    output = udev.sh(
        "rmmod cdc_acm && modprobe usbserial vendor=0x0525 product=0xa4a7 && udevadm settle"
        f" && readlink {STABLE_LINK}-if01; udevadm info -q property -n /dev/ttyUSB0"
        " | grep ID_MM_DEVICE_IGNORE; rmmod usbserial; modprobe cdc_acm && udevadm settle"
    )
    assert output.splitlines()[:2] == ["../ttyUSB0", "ID_MM_DEVICE_IGNORE=1"]
    udev.vm.wait_for(f"[ -e {STABLE_LINK} ]", 10, STABLE_LINK)


def test_udev_autostart_rule_asks_systemd_for_the_link_unit(udev: Guest) -> None:
    udev.sh(f"cd {REPO_ROOT} && sh udev/install.sh --autostart 0525:a4a7:{GADGET_SERIAL}")
    properties = udev.sh(f"udevadm info -q property -n {HOST_TTY}")
    assert "SYSTEMD_WANTS=wanctl@ttyACM0.service" in properties
    assert ":systemd:" in properties


def test_autostart_unit_template_loads(udev: Guest) -> None:
    # No systemd runs in the guest to start the unit, but systemd must accept it.
    if shutil.which("systemd-analyze") is None:
        _missing("systemd-analyze is not installed (apt-get install systemd)")
    udev.sh(f"cd {REPO_ROOT} && sh udev/install.sh --autostart 0525:a4a7:{GADGET_SERIAL}")
    udev.sh("systemd-analyze verify /etc/systemd/system/wanctl@ttyACM0.service")


def test_ftdi_latency_rule_is_accepted_by_udev(udev: Guest) -> None:
    log = udev.sh(f"udevadm test /sys/class/tty/{HOST_TTY[5:]} 2>&1")
    assert "90-wanctl.rules" in log
    bad = [line for line in log.splitlines() if "90-wanctl.rules" in line and "nvalid" in line]
    assert bad == []
    # The rule's effect on a real ftdi_sio device: tests/interop/test_usb_ftdi.py.
