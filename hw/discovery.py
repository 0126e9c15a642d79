"""Port discovery: the serial ports and USB serial adapters on this machine.

Two sources, merged into one list of ``PortInfo`` records:

* pyserial's ``list_ports`` for ttys (``/dev/ttyS*`` with a UART behind
  them, ``ttyUSB*`` from vendor chips, ``ttyACM*`` from CDC-ACM devices, ...),
  completed from sysfs with the kernel driver, the ``/dev/serial/by-id``
  name and the ``/dev/wan`` name our udev rules give;
* pyusb for USB devices that are CDC-ACM or made by a known USB-serial chip
  vendor but have no tty right now -- no driver bound, or claimed by a
  program through usbfs (``UsbCdcTransport`` does that) -- listed by their
  ``usb:VID:PID[:SERIAL]`` spec.

A device with a tty appears once, as its tty, with its ``usb_spec`` filled in.
Whether a tty is in use comes from its UUCP lock through
``wanminiport.transports.lockfile.lock_owner`` (the one implementation of the lock
convention); a USB device claimed through usbfs names the process holding
its device node.
"""

from __future__ import annotations

import enum
import glob
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from serial.tools import list_ports as pyserial_list_ports

LockOwnerLookup = Callable[[str], Any]
_lock_owner: LockOwnerLookup | None
try:
    from wanminiport.transports.lockfile import lock_owner as _lock_owner
except ImportError:  # pragma: no cover - the lock module ships with wanminiport
    _lock_owner = None

SYSFS_USB = "/sys/bus/usb/devices"
BY_ID_DIR = "/dev/serial/by-id"
STABLE_DIR = "/dev/wan"

#: USB vendors whose ids mean a USB-serial bridge chip.
USB_SERIAL_VENDORS = {
    0x0403: "FTDI",
    0x067B: "Prolific",
    0x10C4: "Silicon Labs (CP210x)",
    0x1A86: "QinHeng (CH34x)",
    0x04E2: "Exar",
    0x2478: "Tripp-Lite (Keyspan)",
    0x06CD: "Keyspan",
}
#: Drivers that hang sysfs "port" devices between a tty and its hardware.
_GENERIC_DRIVERS = {"port", "ctrl", "serial-base"}


class PortKind(enum.Enum):
    UART = "uart"  # a built-in or PCI serial port (ttyS*, ttyAMA*)
    USB_SERIAL = "usb-serial"  # a vendor USB-serial chip with its own driver (ttyUSB*)
    USB_CDC = "usb-cdc"  # a CDC-ACM device through cdc_acm (ttyACM*)
    USB_DEVICE = "usb"  # a USB adapter without a tty, opened as usb:VID:PID[:SERIAL]
    OTHER = "other"  # Bluetooth RFCOMM, a gadget's own end, ...


class LockHolder(NamedTuple):
    """Who holds a port: a PID and its command line, and how it holds it."""

    pid: int
    cmdline: str | None
    how: str  # "uucp lock" or "usbfs"


@dataclass(frozen=True)
class PortInfo:
    """One port as ``wanctl ports`` shows it."""

    path: str
    kind: PortKind
    driver: str | None = None
    vendor_id: int | None = None
    product_id: int | None = None
    serial_number: str | None = None
    manufacturer: str | None = None
    product: str | None = None
    by_id: str | None = None
    stable_name: str | None = None
    usb_spec: str | None = None
    locked_by: LockHolder | None = None
    description: str = ""

    @property
    def ids(self) -> str | None:
        if self.vendor_id is None or self.product_id is None:
            return None
        return f"{self.vendor_id:04x}:{self.product_id:04x}"

    @property
    def locked(self) -> bool:
        return self.locked_by is not None

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["kind"] = self.kind.value
        record["ids"] = self.ids
        record["locked_by"] = self.locked_by._asdict() if self.locked_by else None
        return record


def uucp_lock_holder(path: str) -> LockHolder | None:
    """The live owner of a tty's UUCP lock, if the lock module is available."""
    if _lock_owner is None:
        return None
    owner = _lock_owner(path)
    return LockHolder(owner.pid, owner.cmdline, "uucp lock") if owner is not None else None


def _links_in(directory: str) -> dict[str, str]:
    """Symlinks in ``directory`` keyed by the real path they point to."""
    links: dict[str, str] = {}
    for link in sorted(glob.glob(os.path.join(directory, "*"))):
        if os.path.islink(link):
            links.setdefault(os.path.realpath(link), link)
    return links


def _readlink_name(path: str) -> str | None:
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def tty_driver(name: str, sysfs: str = "/sys") -> str | None:
    """The kernel driver behind a tty: ``ftdi_sio``, ``cdc_acm``, ``serial8250``..."""
    devices = os.path.join(sysfs, "devices")
    device = os.path.realpath(os.path.join(sysfs, "class", "tty", name, "device"))
    for _ in range(4):  # a few levels up, past serial-core's generic port devices
        driver = _readlink_name(os.path.join(device, "driver"))
        if driver is not None and driver not in _GENERIC_DRIVERS:
            return driver
        parent = os.path.dirname(device)
        if not parent.startswith(devices + os.sep):
            break
        device = parent
    return None


def _kind_of(name: str) -> PortKind:
    if name.startswith("ttyUSB"):
        return PortKind.USB_SERIAL
    if name.startswith("ttyACM"):
        return PortKind.USB_CDC
    if name.startswith(("ttyS", "ttyAMA", "ttyAP", "ttyXR")):
        return PortKind.UART
    return PortKind.OTHER


def usb_spec(vendor_id: int, product_id: int, serial_number: str | None) -> str:
    tail = f":{serial_number}" if serial_number and serial_number.isprintable() else ""
    return f"usb:{vendor_id:04x}:{product_id:04x}{tail}"


def list_serial_ports() -> list[PortInfo]:
    """The ttys pyserial finds, with driver, stable names and lock owner."""
    by_id = _links_in(BY_ID_DIR)
    stable = _links_in(STABLE_DIR)
    ports = []
    for info in sorted(pyserial_list_ports.comports(), key=lambda p: p.device):
        real = os.path.realpath(info.device)
        vid, pid = info.vid, info.pid
        description = info.description if info.description not in (None, "n/a") else ""
        ports.append(
            PortInfo(
                path=info.device,
                kind=_kind_of(info.name),
                driver=tty_driver(info.name),
                vendor_id=vid,
                product_id=pid,
                serial_number=info.serial_number,
                manufacturer=info.manufacturer,
                product=info.product,
                by_id=by_id.get(real),
                stable_name=stable.get(real),
                usb_spec=usb_spec(vid, pid, info.serial_number)
                if vid is not None and pid is not None
                else None,
                locked_by=uucp_lock_holder(info.device),
                description=description,
            )
        )
    return ports


def _sysfs_text(path: str) -> str | None:
    try:
        with open(path, errors="replace") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _interface_dirs(device_name: str) -> list[str]:
    return sorted(glob.glob(os.path.join(SYSFS_USB, f"{device_name}:*")))


def _has_tty(interface_dir: str) -> bool:
    return os.path.isdir(os.path.join(interface_dir, "tty")) or bool(
        glob.glob(os.path.join(interface_dir, "ttyUSB*"))
    )


def usbfs_holders(bus: int, address: int, proc: str = "/proc") -> list[int]:
    """PIDs with ``/dev/bus/usb/BBB/DDD`` open (those that may have claimed it)."""
    node = f"/dev/bus/usb/{bus:03d}/{address:03d}"
    holders = []
    for fd_dir in glob.glob(os.path.join(proc, "[0-9]*", "fd")):
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue  # gone, or not ours to look at
        for fd in names:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == node:
                    holders.append(int(fd_dir.split("/")[-2]))
                    break
            except OSError:
                continue
    return sorted(holders)


def _cmdline(pid: int) -> str | None:
    raw = _sysfs_text(f"/proc/{pid}/cmdline")
    return raw.replace("\0", " ").strip() if raw else None


def list_usb_adapters(backend: Any = None) -> list[PortInfo]:
    """USB CDC-ACM devices and known USB-serial chips that have no tty now."""
    try:
        import usb.core

        from wanminiport.transports.usb_device import (
            described_configuration,
            find_acm_function,
            sysfs_name,
        )
    except ImportError:
        return []
    try:
        devices = list(usb.core.find(find_all=True, backend=backend))
    except (usb.core.NoBackendError, usb.core.USBError):
        return []
    adapters = []
    for device in devices:
        name = sysfs_name(device)
        if name is None:
            continue  # a root hub
        # Reading the active configuration needs the device node; the
        # descriptors do not, so an unprivileged user still sees CDC devices.
        configuration = described_configuration(device)
        is_cdc = configuration is not None and find_acm_function(configuration) is not None
        vendor = USB_SERIAL_VENDORS.get(device.idVendor)
        if not is_cdc and vendor is None:
            continue
        interfaces = _interface_dirs(name)
        if any(_has_tty(directory) for directory in interfaces):
            continue  # listed as its tty
        drivers = sorted({d for d in (_readlink_name(os.path.join(i, "driver"))
                                      for i in interfaces) if d})  # fmt: skip
        serial = _sysfs_text(os.path.join(SYSFS_USB, name, "serial"))
        holder = None
        if "usbfs" in drivers:
            pids = usbfs_holders(device.bus, device.address)
            if pids:
                holder = LockHolder(pids[0], _cmdline(pids[0]), "usbfs")
        why = "claimed by a program" if "usbfs" in drivers else "no driver bound"
        kind_text = "CDC-ACM" if is_cdc else f"{vendor} USB-serial"
        spec = usb_spec(device.idVendor, device.idProduct, serial)
        adapters.append(
            PortInfo(
                path=spec,
                kind=PortKind.USB_DEVICE,
                driver=",".join(drivers) or None,
                vendor_id=device.idVendor,
                product_id=device.idProduct,
                serial_number=serial,
                manufacturer=_sysfs_text(os.path.join(SYSFS_USB, name, "manufacturer")),
                product=_sysfs_text(os.path.join(SYSFS_USB, name, "product")),
                usb_spec=spec,
                locked_by=holder,
                description=f"{kind_text}, {why} (bus {device.bus} device {device.address})",
            )
        )
    return adapters


def list_ports(backend: Any = None) -> list[PortInfo]:
    """Every serial port and USB serial adapter, ttys first."""
    return list_serial_ports() + list_usb_adapters(backend)


def format_ports(ports: Iterable[PortInfo]) -> str:
    """A table for ``wanctl ports``."""
    rows = [("PORT", "KIND", "ID", "SERIAL", "DRIVER", "IN USE BY", "NAME / DESCRIPTION")]
    for port in ports:
        holder = port.locked_by
        in_use = f"{holder.pid} ({holder.cmdline or '?'})" if holder else "-"
        name = port.stable_name or port.by_id or port.description or port.product or ""
        rows.append((port.path, port.kind.value, port.ids or "-", port.serial_number or "-",
                     port.driver or "-", in_use, name))  # fmt: skip
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    )
