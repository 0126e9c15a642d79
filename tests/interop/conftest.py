"""Fixtures for interop tests against the real pppd in a qemu VM.

``pppd_vm`` is one VM for the whole session (booting takes seconds): a
``PppdVm`` with ``SESSION_LINES`` serial lines, ``ttyS1``... in the guest.
Any test that uses it gets, afterwards, every guest process it spawned
killed (processes spawned by wider-scoped fixtures are left alone), and the
VM is rebooted if the test left its command agent unusable.

``module_pppd_vm`` is the same for one module (its tests then run beside the
session VM's, on another worker); ``make_pppd_vm(serial_lines=N)`` boots an
extra VM (stopped at session end) for tests that need more lines.

The tests skip only when qemu or the kernel package is missing; with
``WANCTL_REQUIRE_VM=1`` (or ``CI`` set) they fail instead, so a CI machine
cannot silently skip them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hw.lab.vm import PppdVm, VmUnavailable, find_kernel, find_qemu

#: Serial lines of the shared VM: ttyS1..ttyS3, the ISA ports.
SESSION_LINES = 3

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.interop)


def _vm_missing_reason() -> str | None:
    try:
        find_qemu()
        find_kernel()
    except VmUnavailable as missing:
        return str(missing)
    return None


def _require_vm_parts() -> None:
    reason = _vm_missing_reason()
    if reason is None:
        return
    if os.environ.get("WANCTL_REQUIRE_VM") or os.environ.get("CI"):
        pytest.fail(f"the interop VM is required here but cannot run: {reason}")
    pytest.skip(f"interop VM unavailable: {reason}")


@pytest.fixture(scope="session")
def pppd_vm() -> Iterator[PppdVm]:
    """The session's booted VM (see the module docstring)."""
    _require_vm_parts()
    vm = PppdVm(serial_lines=SESSION_LINES)
    vm.start()
    try:
        yield vm
    finally:
        vm.stop()


@pytest.fixture(scope="module")
def module_pppd_vm() -> Iterator[PppdVm]:
    """A VM of the requesting module's own, laid out as ``pppd_vm``.

    For modules whose tests take minutes: on the session VM they would run in
    series with every other pppd test (the "pppd-vm" group, one worker); on a
    VM of their own the module is a group of its own, which another worker
    runs meanwhile.  It is cleaned after each test as ``pppd_vm`` is.
    """
    _require_vm_parts()
    vm = PppdVm(serial_lines=SESSION_LINES)
    vm.start()
    try:
        yield vm
    finally:
        vm.stop()


@pytest.fixture(scope="session")
def make_pppd_vm() -> Iterator[Callable[..., PppdVm]]:
    """Factory for extra VMs: ``make_pppd_vm(serial_lines=5)`` returns a booted one."""
    _require_vm_parts()
    machines: list[PppdVm] = []

    def make(**options: Any) -> PppdVm:
        vm = PppdVm(**options)
        machines.append(vm)
        vm.start()
        return vm

    try:
        yield make
    finally:
        for vm in machines:
            vm.stop()


@pytest.fixture(autouse=True)
def _clean_guest_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    shared = [name for name in ("pppd_vm", "module_pppd_vm") if name in request.fixturenames]
    if not shared:
        yield
        return
    vm: PppdVm = request.getfixturevalue(shared[0])
    already_running = set(map(id, vm.spawned))
    yield
    if not vm.healthy:
        vm.restart()
        return
    vm.kill_spawned([process for process in vm.spawned if id(process) not in already_running])
