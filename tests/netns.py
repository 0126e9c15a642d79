"""Network namespaces for end-to-end tests: real TUN devices, real routing."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def netns_unavailable() -> str | None:
    """Why namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root for network namespaces and /dev/net/tun"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    return None


@contextmanager
def namespaces(count: int = 2) -> Iterator[list[str]]:
    """Create ``count`` fresh namespaces with lo up; always removed afterwards."""
    names = [f"wt{uuid.uuid4().hex[:8]}" for _ in range(count)]
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
            subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield names
    finally:
        for name in names:
            subprocess.run(["ip", "netns", "del", name], check=False, stderr=subprocess.DEVNULL)


def in_netns(name: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", name, *argv]
