"""Two FTDI USB-serial dongles on the kernel's own ftdi_sio, in one qemu VM for the module.

qemu emulates the chips (``-device usb-serial``, 0403:6001) on an xHCI
controller; the guest's distro kernel binds them with usbserial and
ftdi_sio, so /dev/ttyUSB0 and /dev/ttyUSB1 are vendor-chip ttys.  Their far
sides are the two ends of the project's paced cable, which follows the baud
the guest sets (qemu applies the chip's SET_BAUDRATE to its pty).  The host's
Python and this repository run inside over 9p (``hw.lab.vm.ftdivm``);
scenarios (``hw.lab.vm.ftdi_guest``) report JSON and are judged here.

Skips when qemu or the kernel is missing, except under ``CI`` or
``WANCTL_REQUIRE_VM=1``, where it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hw.lab.cable_process import CableProcess
from hw.lab.vm import VmUnavailable, find_kernel, find_qemu
from hw.lab.vm.ftdi_guest import READY_MARK, RESULT_MARK
from hw.lab.vm.ftdivm import DONGLE_SERIALS, FtdiVm
from hw.lab.vm.usbvm import REPO_ROOT

pytestmark = pytest.mark.timeout(900)
UDEV_ENV = "export SYSTEMD_IGNORE_CHROOT=1; "  # udevadm refuses to act in a chroot otherwise
UDEVD = "/lib/systemd/systemd-udevd"
LINK_BAUD = 921600
MEBIBYTE = 1 << 20


def _missing(what: str) -> None:
    if os.environ.get("WANCTL_REQUIRE_VM") or os.environ.get("CI"):
        pytest.fail(f"the FTDI VM tests are required here but cannot run: {what}")
    pytest.skip(f"FTDI VM unavailable: {what}")


class Guest:
    """The booted VM, its cable, and each scenario's report (run at most once)."""

    def __init__(self, vm: FtdiVm, cable: CableProcess) -> None:
        self.vm, self.cable = vm, cable
        self._reports: dict[tuple[str, ...], dict[str, Any]] = {}
        self._link: tuple[tuple[str, str], dict[str, Any], dict[str, Any]] | None = None

    def link_then_unplug(self) -> tuple[tuple[str, str], dict[str, Any], dict[str, Any]]:
        """One link at LINK_BAUD for two tests: ``link`` with 1 MiB, then dongle 0
        pulled mid-transfer.  The ttys it ran on, its report, and the cable's
        stats read at READY (the link's checks done, the plug not yet pulled)."""
        if self._link is None:
            ttys = self.ttys
            at_ready: dict[str, Any] = {}
            report = self.unplugged_report(
                "link", *ttys, str(LINK_BAUD), str(MEBIBYTE), "unplug",
                at_ready=lambda: at_ready.update(self.cable.stats()),
            )  # fmt: skip
            self._link = ttys, report, at_ready
        return self._link

    @property
    def ttys(self) -> tuple[str, str]:
        return self.vm.tty(0), self.vm.tty(1)

    def report(self, scenario: str, *args: str, timeout: float = 400) -> dict[str, Any]:
        key = (scenario, *args)
        if key not in self._reports:
            status, output = self.vm.python(["-m", "hw.lab.vm.ftdi_guest", *key], timeout)
            self._reports[key] = _result(status, output, key)
        return self._reports[key]

    def unplugged_report(
        self,
        scenario: str,
        *args: str,
        replug_after: float | None = None,
        timeout: float = 400,
        at_ready: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """Run a scenario that waits for dongle 0 to go; pull it (and put it back)."""
        key = (scenario, *args)
        if key in self._reports:
            return self._reports[key]
        process = self.vm.spawn_python(["-m", "hw.lab.vm.ftdi_guest", *key], name=scenario)
        try:
            self.vm.wait_for_output(process, READY_MARK, timeout)
            if at_ready is not None:
                at_ready()
            self.vm.unplug(0)
            if replug_after is not None:
                time.sleep(replug_after)
                self.vm.replug(0)
            status = process.wait(timeout)
        finally:
            if not self.vm.tty(0):
                self.vm.replug(0)
        self._reports[key] = _result(status, process.output(), key)
        return self._reports[key]

    def sh(self, code: str, timeout: float = 60) -> str:
        return self.vm.check_output(UDEV_ENV + code, timeout)


def _result(status: int, output: str, key: tuple[str, ...]) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.startswith(RESULT_MARK)]
    if status != 0 or not lines:
        pytest.fail(f"guest scenario {key} failed (status {status}):\n{output[-4000:]}")
    report: dict[str, Any] = json.loads(lines[-1][len(RESULT_MARK) :])
    return report


@pytest.fixture(scope="module")
def guest() -> Iterator[Guest]:
    try:
        find_qemu()
        find_kernel()
    except VmUnavailable as missing:
        _missing(str(missing))
    with CableProcess(LINK_BAUD, follow_termios=True, overrun=True) as cable:
        vm = FtdiVm((cable.a, cable.b))
        vm.start()
        print(f"\nFTDI VM up: {', '.join(f'{k} {v:.1f} s' for k, v in vm.timings.items())}")
        try:
            yield Guest(vm, cable)
        finally:
            vm.stop()


# -- the dongles and their baud ----------------------------------------------------


def test_both_dongles_are_ftdi_chips_bound_by_ftdi_sio(guest: Guest) -> None:
    for number, tty in enumerate(guest.ttys):
        device = f"/sys/class/tty/{tty[5:]}/device"
        assert guest.sh(f"basename $(readlink {device}/driver)").strip() == "ftdi_sio"
        ids = guest.sh(f"cat {device}/../../idVendor {device}/../../idProduct").split()
        assert ids == ["0403", "6001"]
        assert guest.sh(f"cat {device}/../../serial").strip() == DONGLE_SERIALS[number]


def test_the_baud_set_on_ttyusb_is_what_the_cable_carries(guest: Guest) -> None:
    """termios on ttyUSB -> ftdi_sio's SET_BAUDRATE -> qemu's tcsetattr on its pty -> cable."""
    tty_a, tty_b = guest.ttys
    seen = []
    for rate in (9600, 57600, 230400, LINK_BAUD):
        # A byte each way makes the cable look at the senders' speeds.
        guest.sh(
            f"stty -F {tty_a} {rate} raw -echo && stty -F {tty_b} {rate} raw -echo"
            f" && printf x > {tty_a} && printf y > {tty_b}"
        )
        deadline = time.monotonic() + 10
        while True:
            stats = guest.cable.stats()
            if (stats["a_baud"], stats["b_baud"]) == (rate, rate) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        seen.append((stats["a_baud"], stats["b_baud"]))
    assert seen == [(9600, 9600), (57600, 57600), (230400, 230400), (LINK_BAUD, LINK_BAUD)]


def test_a_link_over_two_dongles_carries_chap_ping_and_a_mebibyte_intact(guest: Guest) -> None:
    (tty_a, _), report, stats = guest.link_then_unplug()
    assert report["chap"] == ["Authenticated (CHAP, peer: client)"]
    assert report["ping_to_hub"][0], report["ping_to_hub"]
    assert report["ping_to_client"][0], report["ping_to_client"]
    tcp = report["tcp"]
    assert tcp["bytes"] == MEBIBYTE and tcp["intact"], tcp
    assert report["status"]["device"] == tty_a and report["status"]["speed"] == LINK_BAUD
    assert report["status"]["errors"]["crc"] == 0
    assert report["tty_speed"] == str(LINK_BAUD)
    assert (stats["a_baud"], stats["b_baud"]) == (LINK_BAUD, LINK_BAUD)
    print(
        f"\nFTDI link at {LINK_BAUD}: IP up in {report['seconds_to_ip_up']:.1f} s,"
        f" 1 MiB in {tcp['seconds']:.1f} s by the guest's clock"
    )


# -- discovery and self-test -------------------------------------------------------


def test_wanctl_ports_lists_both_dongles_with_their_usb_identity(guest: Guest) -> None:
    status, output = guest.vm.python(["-m", "wanctl", "ports", "--json"], 120)
    assert status == 0, output
    records = {record["path"]: record for record in json.loads(output)}
    for number, tty in enumerate(guest.ttys):
        record = records[tty]
        assert record["driver"] == "ftdi_sio"
        assert record["ids"] == "0403:6001"
        assert record["serial_number"] == DONGLE_SERIALS[number]
        assert record["locked_by"] is None


def test_selftest_passes_on_the_two_dongles_joined_by_the_cable(guest: Guest) -> None:
    tty_a, tty_b = guest.ttys
    # 115200 and the link's rate: at 9600 qemu's chip would hold the guest for minutes.
    bauds = f"115200,{LINK_BAUD}"
    status, output = guest.vm.python(
        ["-m", "wanctl", "selftest", tty_a, tty_b, "--bauds", bauds], 300
    )
    assert status == 0, output
    assert f"self-test of {tty_a} <-> {tty_b}" in output and ": PASS" in output, output
    print("\n" + output.strip())


# -- unplug ----------------------------------------------------------------------


def test_unplug_under_the_transport_is_one_line_down_and_every_write_completed_once(
    guest: Guest,
) -> None:
    report = guest.unplugged_report("transport_unplug", guest.ttys[0])
    assert report["lock_held"] is True
    assert report["line_downs"] == ["unplugged"]
    assert report["completion_counts"] == [1], "a write completed other than exactly once"
    assert report["true_before_false"] is True
    assert report["completed_false"] > 0, "the plug was pulled after the last write"
    assert report["buffered_after"] == 0
    assert report["late_write"] == [False]
    assert report["lock_after_close"] is False


def test_unplug_mid_transfer_ends_the_link_with_exit_16_and_frees_lock_and_socket(
    guest: Guest,
) -> None:
    # The link of the test above, whose caller's dongle goes mid-transfer.
    _, report, _ = guest.link_then_unplug()
    assert report["lock_held"] and report["control_socket"]
    assert report["exit_status"] == 16, report["client_log"]
    assert any("Modem hangup" in line for line in report["client_log"])
    assert report["lock_after_exit"] is False
    assert report["control_socket_after_exit"] is False


# -- udev: rules on a real ftdi_sio device, and persist by the stable name ----------


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
    for tty in guest.ttys:
        assert guest.sh(f"cat /sys/class/tty/{tty[5:]}/device/latency_timer").strip() != "1"
    guest.sh(f"cd {REPO_ROOT} && sh udev/install.sh", 90)
    return guest


def test_udev_names_each_dongle_by_its_serial_number(udev: Guest) -> None:
    for number, tty in enumerate(udev.ttys):
        link = f"/dev/wan/{DONGLE_SERIALS[number]}"
        assert udev.sh(f"readlink {link}").strip() == f"../{tty[5:]}"


def test_udev_sets_the_ftdi_latency_timer_to_one_millisecond(udev: Guest) -> None:
    for tty in udev.ttys:
        assert udev.sh(f"cat /sys/class/tty/{tty[5:]}/device/latency_timer").strip() == "1"


def test_udev_gives_dialout_the_ttys_and_keeps_modemmanager_off(udev: Guest) -> None:
    for tty in udev.ttys:
        assert udev.sh(f"stat -c '%G %a' {tty}").strip() == "dialout 660"
        assert "ID_MM_DEVICE_IGNORE=1" in udev.sh(f"udevadm info -q property -n {tty}")


def test_wanctl_ports_shows_the_by_id_and_stable_names_udev_made(udev: Guest) -> None:
    status, output = udev.vm.python(["-m", "wanctl", "ports", "--json"], 120)
    assert status == 0, output
    records = {record["path"]: record for record in json.loads(output)}
    for number, tty in enumerate(udev.ttys):
        serial = DONGLE_SERIALS[number]
        record = records[tty]
        assert record["stable_name"] == f"/dev/wan/{serial}"
        assert record["by_id"] is not None and serial in record["by_id"], record
        assert record["by_id"].startswith("/dev/serial/by-id/usb-")


def test_persist_reopens_the_replugged_dongle_by_its_stable_name(udev: Guest) -> None:
    stable_a, stable_b = (f"/dev/wan/{serial}" for serial in DONGLE_SERIALS)
    report = udev.unplugged_report("link_unplug", stable_a, stable_b, "persist", replug_after=2.0)
    log = report["client_log"]
    assert report["exited"] is None, log
    assert any(f"Waiting for {stable_a} to come back" in line for line in log), log
    assert report["stable_name_back"] is True
    assert report["ping_after_rejoin"][0], report["ping_after_rejoin"]
    assert report["lock_held_again"] is True
    # The new ttyUSB has the same stable name, and udev set its latency timer again.
    assert (
        udev.sh(
            f"cat /sys/class/tty/$(basename $(readlink -f {stable_a}))/device/latency_timer"
        ).strip()
        == "1"
    )
    print(f"\nreplug to IP up: {report['seconds_replug_to_ip_up']:.2f} s")
