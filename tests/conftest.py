"""Suite-wide test configuration: the hardware rig's command-line options, the fuzz
summary, and which tests share a pytest-xdist worker.

The suite runs on pytest-xdist workers (``-n`` in pyproject.toml) with
``--dist loadgroup``: tests that share an expensive fixture are one group, so
the fixture is built once, on one worker.  Every test using the session's qemu
VM with pppd is one group; each module of tests/interop is one group (its module
fixtures boot a VM), and so is the README demo (it installs a fresh clone).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.hardware.hil_options", "tests.fuzz.summary"]

_TESTS = Path(__file__).parent

#: Session fixtures that boot a VM with pppd: their tests share one worker.
_PPPD_VM_FIXTURES = {"pppd_vm", "make_pppd_vm", "peer_vm"}
#: Folders whose modules build costly module fixtures (a VM with a USB gadget...):
#: each such module stays on one worker.
_MODULE_GROUPED = {"interop"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        if _PPPD_VM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("pppd-vm"))
            continue
        relative = Path(str(item.path)).relative_to(_TESTS)
        if len(relative.parts) > 1 and relative.parts[0] in _MODULE_GROUPED:
            item.add_marker(pytest.mark.xdist_group(relative.as_posix()))
