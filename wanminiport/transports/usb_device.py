"""One CDC-ACM function of a USB device, found, claimed and released through pyusb.

``AcmDevice`` does the synchronous part of ``UsbCdcTransport``: find the
device by ``usb:VID:PID[:SERIAL]``, take the UUCP lock of the tty cdc_acm
gave it (so a pppd on ``/dev/ttyACM0`` and the transport exclude each
other), detach cdc_acm from the communication and data interfaces, claim
both, and answer the class requests (line coding, control lines, break).
``release`` gives everything back and re-attaches the kernel driver, so the
tty reappears as it was.

Serial numbers and bound ttys are read from sysfs, which needs no access
to the device node; the string descriptor is the fallback.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import usb.core
import usb.util

from wanminiport.exitcodes import ExitCode
from wanminiport.transports.base import TransportError
from wanminiport.transports.lockfile import PortLock
from wanminiport.transports.usb_cdc import (
    CDC_SUBCLASS_ACM,
    GET_LINE_CODING,
    LINE_CODING_SIZE,
    REQUEST_IN,
    REQUEST_OUT,
    SEND_BREAK,
    SET_CONTROL_LINE_STATE,
    SET_LINE_CODING,
    USB_CLASS_CDC_DATA,
    USB_CLASS_COMM,
    LineCoding,
    UsbPortSpec,
    control_line_state,
    parse_functional_descriptors,
    union_interfaces,
)

log = logging.getLogger(__name__)

CONTROL_TIMEOUT_MS = 1000
SYSFS_USB = "/sys/bus/usb/devices"
_LIBUSB_ERROR_NO_DEVICE = -4
_LIBUSB_ERROR_PIPE = -9
_LIBUSB_ERROR_INTERRUPTED = -10


class UsbIoError(TransportError):
    """A USB request failed; ``unplugged`` says the device is gone."""

    def __init__(self, message: str, unplugged: bool) -> None:
        super().__init__(message, ExitCode.OPEN_FAILED)
        self.unplugged = unplugged


def is_no_device(exc: usb.core.USBError) -> bool:
    return bool(exc.errno == errno.ENODEV or exc.backend_error_code == _LIBUSB_ERROR_NO_DEVICE)


def is_stall(exc: usb.core.USBError) -> bool:
    return bool(exc.errno == errno.EPIPE or exc.backend_error_code == _LIBUSB_ERROR_PIPE)


def is_interrupted(exc: usb.core.USBError) -> bool:
    return bool(exc.errno == errno.EINTR or exc.backend_error_code == _LIBUSB_ERROR_INTERRUPTED)


def usb_error(spec: str, what: str, exc: usb.core.USBError, device: Any = None) -> UsbIoError:
    """An actionable message for a failed request."""
    node = f" (/dev/bus/usb/{device.bus:03d}/{device.address:03d})" if device is not None else ""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return UsbIoError(
            f"permission denied {what} {spec}{node}: install the udev rules "
            f"(sudo sh udev/install.sh) and log in again as a member of 'dialout', or run as root",
            unplugged=False,
        )
    if exc.errno == errno.EBUSY:
        return UsbIoError(f"{spec} is busy: another program has claimed it", unplugged=False)
    if is_no_device(exc):
        return UsbIoError(f"{spec} went away while {what} it (unplugged?)", unplugged=True)
    return UsbIoError(f"USB error {what} {spec}{node}: {exc}", unplugged=False)


@dataclass(frozen=True)
class AcmFunction:
    """The interfaces and endpoints of one CDC-ACM function on a device."""

    comm_interface: int
    data_interface: int
    data_alternate: int
    bulk_in: int
    bulk_out: int
    bulk_in_max_packet: int
    bulk_out_max_packet: int
    notify_in: int | None
    notify_max_packet: int


def sysfs_name(device: Any) -> str | None:
    """``1-1.4`` for a device on bus 1, port 1 of the root hub, port 4 of a hub."""
    ports = getattr(device, "port_numbers", None)
    if not ports:
        return None  # a root hub
    return f"{device.bus}-{'.'.join(map(str, ports))}"


def sysfs_attribute(name: str, attribute: str) -> str | None:
    try:
        with open(os.path.join(SYSFS_USB, name, attribute)) as f:
            return f.read().strip()
    except OSError:
        return None


def device_serial_number(device: Any) -> str | None:
    """The serial number from sysfs (no device access needed), else the descriptor."""
    name = sysfs_name(device)
    if name is not None:
        serial = sysfs_attribute(name, "serial")
        if serial is not None:
            return serial
    if not device.iSerialNumber:
        return None
    try:
        return str(device.serial_number)
    except (usb.core.USBError, ValueError, NotImplementedError):
        return None


def bound_tty(device: Any, configuration: int, interface: int) -> str | None:
    """The tty the kernel bound to an interface (``ttyACM0``), if any."""
    name = sysfs_name(device)
    if name is None:
        return None
    try:
        ttys = os.listdir(os.path.join(SYSFS_USB, f"{name}:{configuration}.{interface}", "tty"))
    except OSError:
        return None
    return sorted(ttys)[0] if ttys else None


def _endpoint(interface: Any, kind: int, direction: int) -> Any:
    for ep in interface:
        if (usb.util.endpoint_type(ep.bmAttributes) == kind
                and usb.util.endpoint_direction(ep.bEndpointAddress) == direction):  # fmt: skip
            return ep
    return None


def find_acm_function(configuration: Any, index: int = 0) -> AcmFunction | None:
    """The ``index``-th CDC-ACM function of a configuration, or None."""
    interfaces = list(configuration)
    comms = [i for i in interfaces
             if i.bInterfaceClass == USB_CLASS_COMM and i.bInterfaceSubClass == CDC_SUBCLASS_ACM
             and i.bAlternateSetting == 0]  # fmt: skip
    if index >= len(comms):
        return None
    comm = comms[index]
    try:
        union = union_interfaces(parse_functional_descriptors(bytes(comm.extra_descriptors)))
    except ValueError as exc:
        log.debug("interface %d: bad functional descriptors (%s)", comm.bInterfaceNumber, exc)
        union = None
    if union is not None:
        wanted_data = union[1]
    else:
        # No usable Union descriptor: the next data-class interface is the usual layout.
        wanted_data = tuple(i.bInterfaceNumber for i in interfaces
                            if i.bInterfaceClass == USB_CLASS_CDC_DATA
                            and i.bInterfaceNumber > comm.bInterfaceNumber)[:1]  # fmt: skip
    notify = _endpoint(comm, usb.util.ENDPOINT_TYPE_INTR, usb.util.ENDPOINT_IN)
    for number in wanted_data:
        for alt in interfaces:
            if alt.bInterfaceNumber != number:
                continue
            bulk_in = _endpoint(alt, usb.util.ENDPOINT_TYPE_BULK, usb.util.ENDPOINT_IN)
            bulk_out = _endpoint(alt, usb.util.ENDPOINT_TYPE_BULK, usb.util.ENDPOINT_OUT)
            if bulk_in is None or bulk_out is None:
                continue  # e.g. an alternate setting 0 without endpoints
            return AcmFunction(
                comm_interface=comm.bInterfaceNumber,
                data_interface=number,
                data_alternate=alt.bAlternateSetting,
                bulk_in=bulk_in.bEndpointAddress,
                bulk_out=bulk_out.bEndpointAddress,
                bulk_in_max_packet=bulk_in.wMaxPacketSize & 0x7FF,
                bulk_out_max_packet=bulk_out.wMaxPacketSize & 0x7FF,
                notify_in=notify.bEndpointAddress if notify is not None else None,
                notify_max_packet=(notify.wMaxPacketSize & 0x7FF) if notify is not None else 0,
            )
    return None


def _all_devices(backend: Any, **match: int) -> list[Any]:
    try:
        return list(usb.core.find(find_all=True, backend=backend, **match))
    except usb.core.NoBackendError as exc:
        raise TransportError(
            "libusb is not installed, so USB devices cannot be opened directly "
            "(apt-get install libusb-1.0-0)",
            ExitCode.OPEN_FAILED,
        ) from exc


def find_device(spec: UsbPortSpec, backend: Any = None) -> Any:
    """The one device matching ``spec``; TransportError naming the choices otherwise."""
    candidates = _all_devices(backend, idVendor=spec.vendor_id, idProduct=spec.product_id)
    serials = [device_serial_number(device) for device in candidates]
    if spec.serial_number is not None:
        matching = [d for d, s in zip(candidates, serials, strict=True) if s == spec.serial_number]
    else:
        matching = candidates
    if len(matching) == 1:
        return matching[0]
    if not candidates:
        raise TransportError(
            f"no USB device {spec.ids} is plugged in (`wanctl ports` lists USB adapters)",
            ExitCode.OPEN_FAILED,
        )
    found = ", ".join(f"usb:{spec.ids}:{s}" if s else f"usb:{spec.ids} (no serial number)"
                      for s in serials)  # fmt: skip
    if not matching:
        raise TransportError(
            f"no USB device {spec.ids} has serial number {spec.serial_number!r}; found {found}",
            ExitCode.OPEN_FAILED,
        )
    raise TransportError(
        f"{len(matching)} USB devices match {spec}; name one by serial number: {found}",
        ExitCode.OPEN_FAILED,
    )


def active_configuration(device: Any) -> Any | None:
    """The active configuration; None when the device is unconfigured or unreadable."""
    try:
        return device.get_active_configuration()
    except (usb.core.USBError, NotImplementedError):
        return None


def described_configuration(device: Any) -> Any | None:
    """The active configuration, else the first one described (no device access needed)."""
    configuration = active_configuration(device)
    if configuration is not None:
        return configuration
    try:
        return device[0]
    except (usb.core.USBError, IndexError):
        return None


def iter_acm_devices(backend: Any = None) -> Iterator[tuple[Any, AcmFunction]]:
    """Every attached device with a CDC-ACM function, with its first function."""
    try:
        devices = _all_devices(backend)
    except TransportError:
        return
    for device in devices:
        configuration = described_configuration(device)
        if configuration is None:
            continue
        function = find_acm_function(configuration)
        if function is not None:
            yield device, function


class AcmDevice:
    """A claimed CDC-ACM function; ``release`` gives it back to the kernel."""

    def __init__(self, spec: UsbPortSpec, *, acm_function: int = 0, lock: bool = True,
                 lock_dir: str | None = None, backend: Any = None) -> None:  # fmt: skip
        self.spec = spec
        self.name = str(spec)
        self.device = find_device(spec, backend)
        self._detached: list[int] = []
        self._claimed: list[int] = []
        self._lock: PortLock | None = None
        try:
            self._claim(acm_function, lock, lock_dir)
        except BaseException:
            self.release()
            raise

    def _claim(self, index: int, lock: bool, lock_dir: str | None) -> None:
        device = self.device
        try:
            configuration = active_configuration(device)
            if configuration is None:
                device.set_configuration()
                configuration = device.get_active_configuration()
        except usb.core.USBError as exc:
            raise usb_error(self.name, "configuring", exc, device) from exc
        function = find_acm_function(configuration, index)
        if function is None:
            raise TransportError(
                f"{self.name} ({device.idVendor:04x}:{device.idProduct:04x}) has no CDC-ACM "
                f"function{f' number {index}' if index else ''}: it is not a USB modem or "
                f"CDC serial device (a vendor USB-serial chip? open its /dev/ttyUSB* instead)",
                ExitCode.OPEN_FAILED,
            )
        self.function = function
        self.tty = bound_tty(device, configuration.bConfigurationValue, function.comm_interface)
        if lock and self.tty is not None:
            self._lock = PortLock(f"/dev/{self.tty}", lock_dir)
            self._lock.acquire()
        try:
            for number in (function.comm_interface, function.data_interface):
                with contextlib.suppress(NotImplementedError):
                    if device.is_kernel_driver_active(number):
                        device.detach_kernel_driver(number)
                        self._detached.append(number)
                usb.util.claim_interface(device, number)
                self._claimed.append(number)
            if function.data_alternate:
                device.set_interface_altsetting(function.data_interface, function.data_alternate)
        except usb.core.USBError as exc:
            raise usb_error(self.name, "claiming", exc, device) from exc

    def release(self) -> None:
        """Release the interfaces, re-attach the kernel driver, drop the lock; idempotent."""
        device = self.device
        for number in self._claimed:
            with contextlib.suppress(usb.core.USBError):
                usb.util.release_interface(device, number)
        self._claimed.clear()
        for number in self._detached:
            # Re-attaching the communication interface lets cdc_acm take both.
            with contextlib.suppress(usb.core.USBError, NotImplementedError):
                device.attach_kernel_driver(number)
        self._detached.clear()
        with contextlib.suppress(usb.core.USBError):
            usb.util.dispose_resources(device)
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def describe(self) -> str:
        """``usb:0525:a4a7:SERIAL (bus 1 device 2, was ttyACM0)`` for logs."""
        extra = f", was {self.tty}" if self.tty else ""
        return f"{self.name} (bus {self.device.bus} device {self.device.address}{extra})"

    # -- class requests (short, bounded, on the caller's thread) ---------------

    def _control(self, what: str, request: int, value: int,
                 data: bytes | int | None = None) -> Any:  # fmt: skip
        try:
            return self.device.ctrl_transfer(
                REQUEST_IN if isinstance(data, int) else REQUEST_OUT,
                request, value, self.function.comm_interface, data, CONTROL_TIMEOUT_MS,
            )  # fmt: skip
        except usb.core.USBError as exc:
            raise usb_error(self.name, what, exc) from exc

    def set_line_coding(self, coding: LineCoding) -> None:
        self._control("setting the line coding of", SET_LINE_CODING, 0, coding.to_bytes())

    def get_line_coding(self) -> LineCoding:
        answer = self._control("reading the line coding of", GET_LINE_CODING, 0, LINE_CODING_SIZE)
        try:
            return LineCoding.from_bytes(bytes(answer))
        except ValueError as exc:
            raise UsbIoError(f"{self.name} answered a bad line coding: {exc}", False) from exc

    def set_control_lines(self, dtr: bool, rts: bool) -> None:
        self._control("setting DTR/RTS on", SET_CONTROL_LINE_STATE, control_line_state(dtr, rts))

    def send_break(self, milliseconds: int) -> None:
        self._control("sending a break on", SEND_BREAK, max(0, min(milliseconds, 0xFFFE)))

    # -- endpoints (called from the transport's threads) -----------------------

    def read(self, endpoint: int, buffer: Any, timeout_ms: int) -> int:
        return int(self.device.read(endpoint, buffer, timeout_ms))

    def write(self, endpoint: int, data: bytes | bytearray, timeout_ms: int) -> int:
        return int(self.device.write(endpoint, data, timeout_ms))

    def clear_halt(self, endpoint: int) -> None:
        self.device.clear_halt(endpoint)
