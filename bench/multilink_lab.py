"""The multilink benchmark's lab: two namespaces, paced cables, our daemons on them.

``bundle_lab`` gives one per run; ``bring_up`` starts ``wanctl answer`` and
``wanctl dial`` (``--multilink`` over every cable, or a plain link on the
first) and waits until every member has joined; ``quiescent`` reads the
counters once the lines are idle.  The failover figure's receiver runs here as a
child program: ``python -m bench.multilink_lab sink PORT`` counts and hashes
what one TCP connection brings, and ``source HOST PORT N`` sends N octets.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.measure import TimedProcess, tun_counters
from hw.lab.cable_process import CableProcess
from wanctl.lab import in_netns, namespaces, python_env

HUB_IP, CLIENT_IP = "10.79.0.1", "10.79.0.2"
#: This module's child programs (the failover figure's sender and receiver).
SELF = (sys.executable, "-m", "bench.multilink_lab")


@dataclass
class BundleLab:
    hub_ns: str
    client_ns: str
    tmp: Path
    cables: list[CableProcess]
    processes: list[TimedProcess] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"WANCTL_RUN_DIR": str(self.tmp), "WANCTL_LOCK_DIR": str(self.tmp)}

    def ports(self, end: str, multilink: bool) -> list[str]:
        first, *rest = self.cables
        ports = [getattr(first, end)]
        ports += [f"{getattr(c, end)}@{c.baud}" for c in rest]
        return ["--multilink", *ports] if multilink else ports

    def answer(self, multilink: bool, *extra: str) -> TimedProcess:
        return self._start(
            "answer",
            self.hub_ns,
            *self.ports("b", multilink),
            "--baud",
            str(self.cables[0].baud),
            "--ip",
            f"{HUB_IP}:{CLIENT_IP}",
            "--require-chap",
            "--name",
            "hub",
            "--chap-secrets",
            str(self.tmp / "chap-secrets"),
            "--linkname",
            "hub",
            *(("--endpoint", "magic:1f2e3d4c") if multilink else ()),
            *extra,
        )

    def dial(self, multilink: bool, *extra: str) -> TimedProcess:
        return self._start(
            "dial",
            self.client_ns,
            *self.ports("a", multilink),
            "--baud",
            str(self.cables[0].baud),
            "--user",
            "client",
            "--remotename",
            "hub",
            "--chap-secrets",
            str(self.tmp / "chap-secrets"),
            "--linkname",
            "client",
            *(("--endpoint", "magic:0a0b0c0d") if multilink else ()),
            *extra,
        )

    def _start(self, verb: str, namespace: str, *argv: str) -> TimedProcess:
        process = TimedProcess([verb, *argv], namespace=namespace, env=self.env, name=verb)
        self.processes.append(process)
        return process

    def status(self, link: str) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "wanctl", "status", link, "--json"],
            capture_output=True,
            text=True,
            env=python_env(self.env),
            timeout=30,
            check=True,
        ).stdout
        report: dict[str, Any] = json.loads(out)
        return report

    def wire(self, direction: str = "a_to_b") -> list[int]:
        return [int(c.stats()[direction]["bytes"]) for c in self.cables]


@contextmanager
def bundle_lab(bauds: Sequence[int]) -> Iterator[BundleLab]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-ml-") as tmp,
        namespaces(2, prefix="bml") as (hub_ns, client_ns),
        ExitStack() as stack,
    ):
        secrets = Path(tmp, "chap-secrets")
        secrets.write_text('client hub "bench secret" *\n')
        secrets.chmod(0o600)
        cables = [stack.enter_context(CableProcess(baud)) for baud in bauds]
        the_lab = BundleLab(hub_ns, client_ns, Path(tmp), cables)
        try:
            yield the_lab
        finally:
            for process in the_lab.processes:  # both at once: each answers the other's
                if process.proc.poll() is None:  # Terminate-Request
                    process.proc.terminate()
            for process in the_lab.processes:
                process.stop()


def bring_up(the_lab: BundleLab, multilink: bool, *extra: str) -> tuple[TimedProcess, str]:
    """Both ends with IP up: the hub and its interface's name."""
    hub = the_lab.answer(multilink, *extra)
    client = the_lab.dial(multilink, *extra)
    client.wait_for(r"Link up", 60)
    hub_if = hub.wait_for(r"Link up: (\S+)", 30)[1].group(1)
    if multilink:  # every member has joined, at both ends, before anything is measured
        for process, end in ((client, "a"), (hub, "b")):
            for cable in the_lab.cables:
                port = re.escape(getattr(cable, end))
                process.wait_for(rf"\[{port}\] joined bundle", 30)
    return hub, hub_if


def fragments_sent(report: dict[str, Any]) -> int:
    return sum(m["frames_sent"] for m in report.get("bundle", {}).get("members", []))


@dataclass(frozen=True)
class Idle:
    """Counters of an idle line, client -> hub: cables, hub's TUN, client's fragments."""

    wire: int
    ip_octets: int
    packets: int
    fragments: int


def quiescent(the_lab: BundleLab, hub_if: str, multilink: bool, timeout: float = 60.0) -> Idle:
    """The counters once nothing has moved on any cable for half a second."""
    last, still_since = the_lab.wire(), time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() - still_since < 0.5:
        if time.monotonic() > deadline:
            raise RuntimeError("the line never went idle")
        time.sleep(0.1)
        now = the_lab.wire()
        if now != last:
            last, still_since = now, time.monotonic()
    counters = tun_counters(the_lab.hub_ns)[hub_if]
    fragments = fragments_sent(the_lab.status("client")) if multilink else 0
    return Idle(sum(last), counters.rx_bytes, counters.rx_packets, fragments)


def liveness_counts(the_lab: BundleLab) -> tuple[int, int]:
    """Probes sent and suspicions, summed over both ends' members."""
    members = [m for link in ("client", "hub") for m in the_lab.status(link)["bundle"]["members"]]
    return sum(m["probes"] for m in members), sum(m["suspected"] for m in members)


class HashingSink:
    """``python -m bench.bench_multilink sink PORT`` in a namespace: counts and hashes."""

    def __init__(self, namespace: str, port: int) -> None:
        argv = [*SELF, "sink", str(port)]
        self.proc = subprocess.Popen(
            in_netns(namespace, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=python_env(),
        )
        if self._ask("") != "listening":
            raise RuntimeError("the TCP sink did not start")

    def _ask(self, command: str, timeout: float = 30.0) -> str:
        """The answer line; empty when none comes in ``timeout`` seconds."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if command:
            self.proc.stdin.write(command + "\n")
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().strip() if ready else ""

    def received(self) -> int:
        return int(self._ask("count"))

    def result(self) -> dict[str, Any]:
        """After the sender closed: bytes, SHA-256, connections, a clean end.

        Empty when the connection never ended (the link went down under it)."""
        line = self._ask("result")
        answer: dict[str, Any] = json.loads(line) if line else {}
        return answer

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _sink(port: int) -> None:
    listener = socket.create_server(("", port), family=socket.AF_INET)
    print("listening", flush=True)
    digest, total, connections, clean = hashlib.sha256(), 0, 0, False
    conn: socket.socket | None = None
    stdin = sys.stdin.fileno()
    waiting_result = False
    while True:
        watched: list[Any] = [stdin, conn if conn is not None else listener]
        ready, _, _ = select.select(watched, [], [], 0.05)
        if listener in ready:
            conn, _ = listener.accept()
            connections += 1
        if conn is not None and conn in ready:
            try:
                data = conn.recv(1 << 16)
            except ConnectionError:
                data, clean = b"", False
            else:
                clean = not data
            if data:
                digest.update(data)
                total += len(data)
            else:
                conn.close()
                conn = None
        if stdin in ready:
            line = sys.stdin.readline()
            if not line:
                return
            if line.strip() == "count":
                print(total, flush=True)
            else:
                waiting_result = True
        if waiting_result and conn is None and connections:
            summary = {"bytes": total, "sha256": digest.hexdigest()}
            print(json.dumps({**summary, "connections": connections, "clean": clean}), flush=True)
            waiting_result = False


def _source(host: str, port: int, nbytes: int) -> None:
    """``nbytes`` of random data, then a clean close; prints bytes and SHA-256."""
    digest, total = hashlib.sha256(), 0
    block = os.urandom(1 << 16)
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.settimeout(60)  # a connection that stalls this long has dropped
        while total < nbytes:
            sent = conn.send(block[: min(1 << 14, nbytes - total)])
            digest.update(block[:sent])
            total += sent
            block = block[sent:] + block[:sent]
        conn.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            conn.recv(1)  # the receiver closes when it has everything
    print(json.dumps({"bytes": total, "sha256": digest.hexdigest()}), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["sink"]:
        _sink(int(sys.argv[2]))
    elif sys.argv[1:2] == ["source"]:
        _source(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit("usage: python -m bench.multilink_lab sink PORT | source HOST PORT N")
