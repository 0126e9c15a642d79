"""The TUN upper edge: the operating system routes IP over the link.

A TUN device (``/dev/net/tun``, IFF_TUN|IFF_NO_PI) carries bare IP packets;
it is configured through netlink with pyroute2 as pppd configures ppp0:
a point-to-point address with the peer's address, the MTU from the
negotiated MRU, up and down, an optional default route.  IPv6 gets the
link-local addresses built from the IPV6CP interface identifiers.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING

from wanminiport.exitcodes import ExitCode, WanctlError

if TYPE_CHECKING:
    from pyroute2 import AsyncIPRoute

log = logging.getLogger("wanctl.link")

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000

PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057


class TunError(WanctlError, RuntimeError):
    """The TUN device could not be created or configured (exit code 1 or 3)."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.FATAL_ERROR) -> None:
        super().__init__(message, exit_code=exit_code)


def ppp_protocol_of(packet: bytes) -> int | None:
    """The PPP protocol number for an IP packet from the TUN device."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        return PPP_IPV4
    if version == 6:
        return PPP_IPV6
    return None


def link_local(interface_id: int) -> ipaddress.IPv6Address:
    """fe80::/64 plus a 64-bit IPV6CP interface identifier (RFC 5072 section 5)."""
    return ipaddress.IPv6Address((0xFE80 << 112) | (interface_id & (2**64 - 1)))


class TunDevice:
    """One TUN interface, non-blocking, for the event loop to read."""

    def __init__(self, name_pattern: str = "wan%d") -> None:
        try:
            self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except PermissionError as exc:
            raise TunError(
                "opening /dev/net/tun needs root (or CAP_NET_ADMIN)", ExitCode.NOT_ROOT
            ) from exc
        except FileNotFoundError as exc:
            raise TunError("/dev/net/tun is missing: load the tun module (modprobe tun)") from exc
        try:
            request = struct.pack("16sH", name_pattern.encode(), _IFF_TUN | _IFF_NO_PI)
            answer = fcntl.ioctl(self.fd, _TUNSETIFF, request)
        except OSError as exc:
            os.close(self.fd)
            raise TunError(f"cannot create TUN interface {name_pattern}: {exc.strerror}") from exc
        self.name = answer[:16].rstrip(b"\0").decode()
        self.index = socket.if_nametoindex(self.name)
        # No kernel-made link-local address: IPV6CP chooses ours.
        gen_mode = f"/proc/sys/net/ipv6/conf/{self.name}/addr_gen_mode"
        with contextlib.suppress(OSError), open(gen_mode, "w") as f:
            f.write("1")

    def fileno(self) -> int:
        return self.fd

    def read(self, size: int = 65536) -> bytes | None:
        """One packet, or None when none is waiting."""
        try:
            return os.read(self.fd, size)
        except BlockingIOError:
            return None

    def write(self, packet: bytes) -> bool:
        """Hand one packet to the kernel; False if it refused (counted by the caller)."""
        try:
            os.write(self.fd, packet)
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # -- netlink configuration --

    @contextlib.contextmanager
    def _netlink(self, what: str) -> Iterator[None]:
        """A refused netlink request as one line: what was asked of which interface, and
        the kernel's answer (``TunError``), instead of pyroute2's tuple."""
        from pyroute2 import NetlinkError  # loaded when an interface is configured

        try:
            yield
        except NetlinkError as exc:
            raise TunError(f"cannot {what} on {self.name}: {os.strerror(exc.code)}") from None
        except OSError as exc:
            raise TunError(f"cannot {what} on {self.name}: {exc.strerror or exc}") from None

    async def configure_ipv4(
        self, local: str, remote: str, mtu: int, *, default_route: bool = False
    ) -> None:
        async with _iproute() as ipr:
            with self._netlink(f"add address {local} peer {remote}"):
                await ipr.addr("add", index=self.index, local=local, address=remote, prefixlen=32)
            with self._netlink(f"set mtu {mtu} and bring the interface up"):
                await ipr.link("set", index=self.index, mtu=mtu, state="up")
            if default_route:
                await self._add_default_route(ipr)

    async def _add_default_route(self, ipr: AsyncIPRoute) -> None:
        """defaultroute: as pppd, an existing default route is left alone (and said so)."""
        from pyroute2 import NetlinkError

        with self._netlink("add the default route"):
            try:
                await ipr.route("add", dst="0.0.0.0/0", oif=self.index, family=socket.AF_INET)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
                log.error(
                    "not replacing the existing default route (defaultroute on %s)", self.name
                )

    async def configure_ipv6(self, local_id: int, remote_id: int, mtu: int) -> None:
        local, remote = str(link_local(local_id)), str(link_local(remote_id))
        async with _iproute() as ipr:
            with self._netlink(f"set mtu {mtu} and bring the interface up"):
                await ipr.link("set", index=self.index, mtu=mtu, state="up")
            with self._netlink(f"add address {local} peer {remote}"):
                await ipr.addr("add", index=self.index, local=local, address=remote, prefixlen=128)

    async def remove_addresses(self, ip_version: int) -> None:
        """An NCP went down: its addresses (and so its routes) leave the interface."""
        family = socket.AF_INET if ip_version == 4 else socket.AF_INET6
        async with _iproute() as ipr:
            entries = [
                entry async for entry in await ipr.addr("dump", index=self.index, family=family)
            ]
            for entry in entries:
                # A point-to-point address is named by its local and peer halves.
                await ipr.addr(
                    "del",
                    index=self.index,
                    family=family,
                    local=entry.get_attr("IFA_LOCAL"),
                    address=entry.get_attr("IFA_ADDRESS"),
                    prefixlen=entry["prefixlen"],
                )


def _iproute() -> AsyncIPRoute:
    """pyroute2 takes a quarter of a second to import: only a link that comes up pays it."""
    from pyroute2 import AsyncIPRoute

    return AsyncIPRoute()
