"""End-to-end fixtures: real wanctl processes, each in its own network namespace."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from hw.lab.cable_process import CableProcess
from wanctl.lab import LinkProcess, lab_unavailable, namespaces

HUB_IP, CLIENT_IP = "10.77.0.1", "10.77.0.2"


@dataclass
class ProcessLab:
    """Two namespaces, a CHAP secrets file and a run directory for one test's processes."""

    run_dir: Path
    secrets: Path
    ns_hub: str
    ns_client: str

    def __post_init__(self) -> None:
        self.processes: list[LinkProcess] = []

    @property
    def env(self) -> dict[str, str]:
        return {"WANCTL_RUN_DIR": str(self.run_dir), "WANCTL_LOCK_DIR": str(self.run_dir)}

    def start(self, verb: str, namespace: str, *args: str) -> LinkProcess:
        process = LinkProcess([verb, *args], namespace=namespace, env=self.env, name=verb)
        self.processes.append(process)
        return process

    def wanctl(self, *argv: str) -> LinkProcess:
        return LinkProcess(list(argv), env=self.env, name=argv[0])


@dataclass
class Lab(ProcessLab):
    cable: CableProcess

    def answer(self, *extra: str) -> LinkProcess:
        return self.start(
            "answer",
            self.ns_hub,
            self.cable.b,
            "--ip",
            f"{HUB_IP}:{CLIENT_IP}",
            "--ipv6",
            "--require-chap",
            "--name",
            "hub",
            "--chap-secrets",
            str(self.secrets),
            "--linkname",
            "hub",
            "--ms-dns",
            "10.77.0.53",
            *extra,
        )

    def dial(self, *extra: str) -> LinkProcess:
        return self.start(
            "dial",
            self.ns_client,
            self.cable.a,
            "--user",
            "client",
            "--remotename",
            "hub",
            "--chap-secrets",
            str(self.secrets),
            "--ipv6",
            "--linkname",
            "client",
            *extra,
        )


AnyLab = TypeVar("AnyLab", bound=ProcessLab)


def running_lab(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    make: Callable[[Path, Path, str, str, list[CableProcess]], AnyLab],
    cables: int = 1,
) -> Iterator[AnyLab]:
    """A fixture's body: skip without namespaces, else ``make`` a lab over ``cables``
    paced cables (at the test's ``cable_baud`` mark, 115200 without one) and stop
    its processes after the test."""
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    secrets = tmp_path / "chap-secrets"
    secrets.write_text("client hub s3cret *\n")
    secrets.chmod(0o600)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    marker = request.node.get_closest_marker("cable_baud")
    baud = marker.args[0] if marker else 115200
    with namespaces(2) as (ns_hub, ns_client), contextlib.ExitStack() as stack:
        wires = [stack.enter_context(CableProcess(baud)) for _ in range(cables)]
        lab = make(run_dir, secrets, ns_hub, ns_client, wires)
        try:
            yield lab
        finally:
            for process in lab.processes:
                process.stop()
            os.environ.pop("WANCTL_RUN_DIR", None)


@pytest.fixture
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    yield from running_lab(
        tmp_path,
        request,
        lambda run, secrets, hub, client, wires: Lab(run, secrets, hub, client, wires[0]),
    )
