"""ip-up / ip-down / ipv6-up / ipv6-down hooks, called as pppd calls them.

pppd runs ``/etc/ppp/ip-up interface tty speed local-IP remote-IP ipparam``
with DEVICE, IFNAME, IPLOCAL, IPREMOTE, PEERNAME, SPEED, DNS1, DNS2,
USEPEERDNS, CONNECT_TIME, BYTES_SENT, BYTES_RCVD, PPPD_PID (and LLLOCAL,
LLREMOTE for IPv6) in its environment.  Scripts keep working unchanged.

A hook runs as root, so only a regular file owned by root that nobody else
may write is run; anything else is refused with the reason.  The same rule
(``check_script_stat``) guards chat scripts, which are read rather than run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

HOOK_TIMEOUT = 30.0


class UnsafeScriptError(PermissionError):
    """A hook or connect script that root must not run."""


def check_script_safe(path: str, *, executable: bool = True) -> None:
    """Refuse scripts that are not root-owned regular files or are writable by others."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise UnsafeScriptError(f"{path}: no such file") from exc
    check_script_stat(path, st, executable=executable)


def check_script_stat(
    path: str, st: os.stat_result, *, executable: bool = True, owners: tuple[int, ...] = (0,)
) -> None:
    """The checks of ``check_script_safe`` on a stat already taken (of an open file,
    so what is checked is what is read).  ``executable=False`` for a script that is
    read, not run (a chat script); ``owners`` are the uids trusted to own it."""
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeScriptError(f"{path} is not a regular file")
    if st.st_uid not in owners:
        trusted = sorted(set(owners))
        who = "root" if trusted == [0] else " or ".join(f"uid {uid}" for uid in trusted)
        raise UnsafeScriptError(f"{path} is owned by uid {st.st_uid}, not {who}: not using it")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeScriptError(
            f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}):"
            f" run 'chmod go-w {path}'"
        )
    if executable and not st.st_mode & stat.S_IXUSR:
        raise UnsafeScriptError(f"{path} is not executable: run 'chmod u+x {path}'")


@dataclass
class LinkFacts:
    """What the hooks are told about the link."""

    ifname: str
    device: str
    speed: int
    ipparam: str = ""
    peer_name: str = ""
    local: str = ""
    remote: str = ""
    dns: list[str] = field(default_factory=list)
    usepeerdns: bool = False
    ll_local: str = ""
    ll_remote: str = ""
    connect_time: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin",
            "DEVICE": self.device,
            "IFNAME": self.ifname,
            "SPEED": str(self.speed),
            "PEERNAME": self.peer_name,
            "IPPARAM": self.ipparam,
            "PPPD_PID": str(os.getpid()),
            "ORIG_UID": str(os.getuid()),
            "CONNECT_TIME": str(self.connect_time),
            "BYTES_SENT": str(self.bytes_sent),
            "BYTES_RCVD": str(self.bytes_received),
        }
        if self.local:
            env |= {"IPLOCAL": self.local, "IPREMOTE": self.remote}
        for n, addr in enumerate(self.dns[:2], start=1):
            env[f"DNS{n}"] = addr
        if self.usepeerdns:
            env["USEPEERDNS"] = "1"
        if self.ll_local:
            env |= {"LLLOCAL": self.ll_local, "LLREMOTE": self.ll_remote}
        return env

    def arguments(self, ipv6: bool) -> list[str]:
        local, remote = (self.ll_local, self.ll_remote) if ipv6 else (self.local, self.remote)
        return [self.ifname, self.device, str(self.speed), local, remote, self.ipparam]


async def run_hook(path: str, facts: LinkFacts, *, ipv6: bool = False) -> int | None:
    """Run one hook if it exists; returns its exit status (None: absent or refused)."""
    if not os.path.exists(path):
        return None
    try:
        check_script_safe(path)
    except UnsafeScriptError as exc:
        log.warning("not running %s: %s", path, exc)
        return None
    try:
        proc = await asyncio.create_subprocess_exec(
            path,
            *facts.arguments(ipv6),
            env=facts.environment(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError as exc:
        # As pppd: a script that cannot be run is reported; the link stays up.
        log.warning("could not run %s: %s", path, exc.strerror or exc)
        return None
    try:
        status = await asyncio.wait_for(proc.wait(), HOOK_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        log.warning("%s did not finish within %.0f s and was killed", path, HOOK_TIMEOUT)
        return None
    if status != 0:
        log.info("%s exited with status %d", path, status)
    return status
