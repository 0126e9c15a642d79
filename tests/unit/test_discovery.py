"""Port discovery helpers on real ptys, lock files and throw-away sysfs/proc trees.

The USB side runs against a real kernel in tests/interop/test_usb_cdc.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.discovery import (
    LockHolder,
    PortInfo,
    PortKind,
    format_ports,
    list_ports,
    tty_driver,
    usb_spec,
    usbfs_holders,
    uucp_lock_holder,
)
from hw.lab.ptys import PtyPair, open_pty
from wanminiport.transports.lockfile import LOCK_DIR_ENV, PortLock


@pytest.fixture
def pty() -> Iterator[PtyPair]:
    pair = open_pty()
    yield pair
    pair.close()


def test_lock_owner_comes_from_the_uucp_lock(
    pty: PtyPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path))
    assert uucp_lock_holder(pty.slave_path) is None
    with PortLock(pty.slave_path):
        holder = uucp_lock_holder(pty.slave_path)
    assert holder is not None
    assert holder.pid == os.getpid()
    assert holder.how == "uucp lock"
    # Our own command line (a pytest-xdist worker's is not "pytest ...").
    own = Path(f"/proc/{os.getpid()}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    # argv[0] may be spelt as run or as resolved (a pyenv shim): compare the rest,
    # which a long command line (pytest given many paths) has cut short with "...".
    assert holder.cmdline
    shown = holder.cmdline.split(" ", 1)[1] if " " in holder.cmdline else ""
    full = " ".join(own.split()[1:])
    if shown.endswith("..."):
        assert full.startswith(shown[:-3]) and len(shown[:-3]) < len(full)
    else:
        assert shown == full


def test_stale_lock_is_not_reported_as_an_owner(
    pty: PtyPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path))
    lock = PortLock(pty.slave_path)
    Path(lock.path).write_text(f"{2**22 + 12345:>10d}\n")  # above pid_max: never running
    assert uucp_lock_holder(pty.slave_path) is None


def test_tty_driver_skips_generic_port_devices(tmp_path: Path) -> None:
    # class/tty/ttyS0/device is serial-core's "port" device; the real driver
    # is on the controller above it.
    port = tmp_path / "devices" / "pnp0" / "00:00" / "00:00:0" / "00:00:0.0"
    port.mkdir(parents=True)
    for driver in ("port", "ctrl", "serial"):
        (tmp_path / "bus" / driver).mkdir(parents=True)
    (port / "driver").symlink_to(tmp_path / "bus" / "port")
    (port.parent / "driver").symlink_to(tmp_path / "bus" / "ctrl")
    (port.parent.parent / "driver").symlink_to(tmp_path / "bus" / "serial")
    tty_dir = tmp_path / "class" / "tty" / "ttyS0"
    tty_dir.mkdir(parents=True)
    (tty_dir / "device").symlink_to(port)
    assert tty_driver("ttyS0", str(tmp_path)) == "serial"


def test_tty_driver_of_a_tty_without_device_is_none(tmp_path: Path) -> None:
    (tmp_path / "class" / "tty" / "ttyX0").mkdir(parents=True)
    assert tty_driver("ttyX0", str(tmp_path)) is None


def test_usbfs_holder_is_the_process_with_the_device_node_open(tmp_path: Path) -> None:
    for pid, target in (
        (101, "/dev/bus/usb/001/002"),
        (102, "/dev/null"),
        (103, "/dev/bus/usb/001/002"),
    ):
        fd_dir = tmp_path / str(pid) / "fd"
        fd_dir.mkdir(parents=True)
        (fd_dir / "3").symlink_to(target)
    (tmp_path / "self").mkdir()  # not a pid: ignored
    assert usbfs_holders(1, 2, proc=str(tmp_path)) == [101, 103]
    assert usbfs_holders(1, 3, proc=str(tmp_path)) == []


def test_usb_spec_leaves_out_serial_numbers_it_cannot_carry() -> None:
    assert usb_spec(0x0403, 0x6001, "A1B2") == "usb:0403:6001:A1B2"
    assert usb_spec(0x0403, 0x6001, None) == "usb:0403:6001"
    assert usb_spec(0x0403, 0x6001, "bad\nserial") == "usb:0403:6001"


def test_port_record_serialises_for_json() -> None:
    port = PortInfo(
        path="/dev/ttyUSB0", kind=PortKind.USB_SERIAL, driver="ftdi_sio", vendor_id=0x0403,
        product_id=0x6001, serial_number="A1", locked_by=LockHolder(42, "pppd", "uucp lock"),
    )  # fmt: skip
    record = port.as_dict()
    assert record["kind"] == "usb-serial"
    assert record["ids"] == "0403:6001"
    assert record["locked_by"] == {"pid": 42, "cmdline": "pppd", "how": "uucp lock"}
    assert port.locked


def test_port_table_shows_who_holds_a_port() -> None:
    ports = [
        PortInfo(path="/dev/ttyS0", kind=PortKind.UART, driver="serial8250"),
        PortInfo(path="usb:0525:a4a7:X", kind=PortKind.USB_DEVICE, driver="usbfs",
                 vendor_id=0x525, product_id=0xA4A7, serial_number="X",
                 locked_by=LockHolder(7, "wanctl dial", "usbfs")),
    ]  # fmt: skip
    lines = format_ports(ports).splitlines()
    assert lines[0].split()[:3] == ["PORT", "KIND", "ID"]
    assert "7 (wanctl dial)" in lines[2]
    assert lines[1].split()[:2] == ["/dev/ttyS0", "uart"]


def test_list_ports_runs_on_this_machine_and_gives_well_formed_records() -> None:
    for port in list_ports():
        assert port.path.startswith(("/dev/", "usb:"))
        assert isinstance(port.kind, PortKind)
        if port.kind is PortKind.USB_DEVICE:
            assert port.usb_spec == port.path
