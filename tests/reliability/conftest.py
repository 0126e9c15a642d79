"""Fixtures for the reliability tests, and the rule that keeps long runs out of the default run.

Tests marked ``@pytest.mark.slow`` (the 10-minute noise run, the 1,000-cycle
endurance runs) are skipped unless ``WANCTL_SLOW=1`` is set, so the README's
``python3 -m pytest -q`` stays short.  Run only them with::

    WANCTL_SLOW=1 python3 -m pytest -q -m slow tests/reliability tests/fuzz

``lab`` gives two network namespaces, a temporary run/lock directory and a
CHAP secrets file for real ``wanctl`` processes; the cable (with its
bit-error rate) is chosen per test.  ``peer_vm`` boots the interop VM
(``hw/lab/vm``) once per session for the tests that freeze or kill the real
pppd; like ``tests/interop`` it skips without qemu or a kernel, and fails
instead with ``WANCTL_REQUIRE_VM=1`` or ``CI`` set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hw.lab.vm import PppdVm, VmUnavailable, find_kernel, find_qemu
from tests.reliability.slow import skip_slow_unless_asked
from wanctl.lab import LinkProcess, lab_unavailable, namespaces

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow_unless_asked(items, _HERE)


@dataclass
class Lab:
    """Two namespaces (``hub`` answers, ``client`` dials) and a private run directory."""

    run_dir: Path
    secrets: Path
    ns_hub: str
    ns_client: str
    processes: list[LinkProcess] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"WANCTL_RUN_DIR": str(self.run_dir), "WANCTL_LOCK_DIR": str(self.run_dir)}

    def start(self, verb: str, namespace: str | None, *args: str, name: str = "") -> LinkProcess:
        process = LinkProcess([verb, *args], namespace=namespace, env=self.env, name=name or verb)
        self.processes.append(process)
        return process

    def answer(self, tty: str, *extra: str) -> LinkProcess:
        return self.start(
            "answer",
            self.ns_hub,
            tty,
            "--ip",
            "10.77.0.1:10.77.0.2",
            "--require-chap",
            "--name",
            "hub",
            "--chap-secrets",
            str(self.secrets),
            "--linkname",
            "hub",
            *extra,
            name="hub",
        )

    def dial(self, tty: str, *extra: str) -> LinkProcess:
        return self.start(
            "dial",
            self.ns_client,
            tty,
            "--user",
            "client",
            "--remotename",
            "hub",
            "--chap-secrets",
            str(self.secrets),
            "--linkname",
            "client",
            *extra,
            name="client",
        )

    def wanctl(self, *argv: str) -> LinkProcess:
        return LinkProcess(list(argv), env=self.env, name=argv[0])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    secrets = tmp_path / "chap-secrets"
    secrets.write_text("client hub s3cret-for-tests *\n")
    secrets.chmod(0o600)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with namespaces(2, prefix="rel") as (ns_hub, ns_client):
        lab = Lab(run_dir, secrets, ns_hub, ns_client)
        try:
            yield lab
        finally:
            for process in lab.processes:
                process.stop()
            os.environ.pop("WANCTL_RUN_DIR", None)


@pytest.fixture(scope="session")
def peer_vm() -> Iterator[PppdVm]:
    """A booted VM with one serial line (ttyS1) for a real pppd peer."""
    try:
        find_qemu()
        find_kernel()
    except VmUnavailable as missing:
        if os.environ.get("WANCTL_REQUIRE_VM") or os.environ.get("CI"):
            pytest.fail(f"the VM is required here but cannot run: {missing}")
        pytest.skip(f"VM unavailable: {missing}")
    vm = PppdVm(serial_lines=1)
    vm.start()
    try:
        yield vm
    finally:
        vm.stop()
