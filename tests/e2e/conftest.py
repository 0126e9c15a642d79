"""End-to-end fixtures: real wanctl processes, each in its own network namespace."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hw.lab.cable_process import CableProcess
from wanctl.lab import LinkProcess, lab_unavailable, namespaces

HUB_IP, CLIENT_IP = "10.77.0.1", "10.77.0.2"


@dataclass
class Lab:
    run_dir: Path
    secrets: Path
    ns_hub: str
    ns_client: str
    cable: CableProcess
    processes: list[LinkProcess] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"WANCTL_RUN_DIR": str(self.run_dir), "WANCTL_LOCK_DIR": str(self.run_dir)}

    def start(self, verb: str, namespace: str, *args: str) -> LinkProcess:
        process = LinkProcess([verb, *args], namespace=namespace, env=self.env, name=verb)
        self.processes.append(process)
        return process

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

    def wanctl(self, *argv: str) -> LinkProcess:
        return LinkProcess(list(argv), env=self.env, name=argv[0])


@pytest.fixture
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
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
    with namespaces(2) as (ns_hub, ns_client), CableProcess(baud) as cable:
        lab = Lab(run_dir, secrets, ns_hub, ns_client, cable)
        try:
            yield lab
        finally:
            for process in lab.processes:
                process.stop()
            os.environ.pop("WANCTL_RUN_DIR", None)
