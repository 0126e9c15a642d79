"""A lab on one machine: network namespaces, link processes in them, ping, TCP.

``wanctl demo`` and the end-to-end tests use it to run real ``wanctl dial``
and ``wanctl answer`` processes, each in its own network namespace with its
own TUN interface, and to measure what crosses between them.

``python -m wanctl.lab serve PORT`` / ``send HOST PORT SECONDS`` are the two
ends of the TCP throughput measurement (run inside the namespaces).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from wanctl.errors import WanctlError
from wanminiport.exitcodes import ExitCode

_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lab_unavailable() -> str | None:
    """Why namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and a TUN device per side)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (modprobe tun)"
    if shutil.which("ip") is None:
        return "iproute2 is not installed (apt-get install iproute2)"
    return None


@contextmanager
def namespaces(count: int = 2, prefix: str = "wan") -> Iterator[list[str]]:
    """Fresh namespaces with loopback up; removed afterwards whatever happens."""
    names = [f"{prefix}{uuid.uuid4().hex[:6]}" for _ in range(count)]
    made: list[str] = []
    try:
        for name in names:
            subprocess.run(["ip", "netns", "add", name], check=True)
            made.append(name)
            subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield names
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False, stderr=subprocess.DEVNULL)


def in_netns(namespace: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", namespace, *argv]


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child Python that must import this project."""
    env = dict(os.environ)
    env["PYTHONPATH"] = _PROJECT_ROOT + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class LinkProcess:
    """A ``wanctl`` process (usually dial or answer) whose output lines we watch."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        namespace: str | None = None,
        env: dict[str, str] | None = None,
        name: str = "",
    ) -> None:
        command = [sys.executable, "-m", "wanctl", *argv]
        if namespace is not None:
            command = in_netns(namespace, command)
        self.name = name or argv[0]
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=python_env(env),
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first new output line matching ``pattern``; raises with the output so far."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(0.0, remaining))
            except queue.Empty:
                raise WanctlError(
                    f"{self.name}: no line matching {pattern!r} within "
                    f"{timeout:g} s; output so far: {self.output()!r}"
                ) from None
            if line is None:
                self._queue.put(None)
                raise WanctlError(
                    f"{self.name} exited ({self.proc.wait()}) before "
                    f"{pattern!r}; output: {self.output()!r}"
                )
            self.lines.append(line)
            match = regex.search(line)
            if match:
                return match

    def output(self) -> str:
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._queue.put(None)
                break
            self.lines.append(line)
        return "\n".join(self.lines)

    def wait(self, timeout: float = 15.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._reader.join(timeout=2)
            self.output()

    def stop(self) -> int:
        """SIGTERM (a clean hang-up), then SIGKILL if it will not go."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.wait(5)


def ping(
    namespace: str, address: str, count: int = 3, interval: float = 0.2, size: int = 56
) -> tuple[bool, str]:
    """Ping from a namespace; (all answered, the summary lines)."""
    argv = ["ping", "-c", str(count), "-i", str(interval), "-s", str(size), "-W", "3", address]
    result = subprocess.run(
        in_netns(namespace, argv), capture_output=True, text=True, timeout=30 + count * 3
    )
    summary = [
        line
        for line in result.stdout.splitlines()
        if "packets transmitted" in line or line.startswith("rtt")
    ]
    return result.returncode == 0, "; ".join(summary)


def tcp_transfer(
    sender_ns: str,
    receiver_ns: str,
    address: str,
    *,
    seconds: float = 0,
    nbytes: int = 0,
    port: int = 5001,
) -> dict[str, Any]:
    """Bulk TCP from one namespace to the other: bytes, seconds, SHA-256 match."""
    server = subprocess.Popen(
        in_netns(receiver_ns, [sys.executable, "-m", "wanctl.lab", "serve", str(port)]),
        stdout=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "listening":
            raise WanctlError("the TCP receiver did not start")
        sent = subprocess.run(
            in_netns(
                sender_ns,
                [
                    sys.executable,
                    "-m",
                    "wanctl.lab",
                    "send",
                    address,
                    str(port),
                    str(seconds),
                    str(nbytes),
                ],
            ),
            capture_output=True,
            text=True,
            env=python_env(),
            timeout=seconds + SEND_STALL_LIMIT + 60,
        )
        if sent.returncode != 0:
            raise WanctlError(f"the TCP sender failed: {sent.stderr.strip()[-300:]}")
        received: dict[str, Any] = json.loads(server.stdout.readline())
        sender: dict[str, Any] = json.loads(sent.stdout)
    finally:
        server.kill()
        server.wait()
    received["intact"] = received["sha256"] == sender["sha256"]
    received["sent"] = sender["bytes"]
    received["longest_send_wait"] = sender["longest_wait"]
    return received


def _serve(port: int) -> None:
    with socket.create_server(("", port), family=socket.AF_INET) as listener:
        print("listening", flush=True)
        conn, _ = listener.accept()
        digest, total, started = hashlib.sha256(), 0, 0.0
        with conn:
            while chunk := conn.recv(65536):
                if not started:
                    started = time.monotonic()
                total += len(chunk)
                digest.update(chunk)
        elapsed = time.monotonic() - started if started else 0.0
        print(
            json.dumps({"bytes": total, "seconds": elapsed, "sha256": digest.hexdigest()}),
            flush=True,
        )


#: How long one 4 KiB write may wait.  TCP's retransmission timer doubles
#: after every lost retransmission, so on a noisy line a stall of tens of
#: seconds is TCP backing off, not a dead link; the caller's overall deadline
#: still bounds the whole transfer.
SEND_STALL_LIMIT = 240.0


def _send(host: str, port: int, seconds: float, nbytes: int) -> None:
    digest, total, longest_wait = hashlib.sha256(), 0, 0.0
    block = os.urandom(4096)
    with socket.create_connection((host, port), timeout=SEND_STALL_LIMIT) as conn:
        deadline = time.monotonic() + seconds if seconds else None
        while (deadline is None or time.monotonic() < deadline) and (not nbytes or total < nbytes):
            chunk = block if not nbytes else block[: min(len(block), nbytes - total)]
            waited = time.monotonic()
            conn.sendall(chunk)
            longest_wait = max(longest_wait, time.monotonic() - waited)
            digest.update(chunk)
            total += len(chunk)
            block = os.urandom(4096)  # random data: escapes as real traffic would
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)
    print(
        json.dumps(
            {"bytes": total, "sha256": digest.hexdigest(), "longest_wait": round(longest_wait, 3)}
        )
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 2:
        _serve(int(argv[1]))
        return 0
    if argv[:1] == ["send"] and len(argv) == 5:
        _send(argv[1], int(argv[2]), float(argv[3]), int(argv[4]))
        return 0
    print("usage: python -m wanctl.lab serve PORT | send HOST PORT SECONDS NBYTES", file=sys.stderr)
    return int(ExitCode.OPTION_ERROR)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
