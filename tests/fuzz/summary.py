"""The fuzz inputs tried, added up over pytest-xdist workers and printed at the end.

A plugin of the whole suite (``tests/conftest.py``), not of ``tests/fuzz``: with
``-n`` the controller collects nothing, so only suite-wide plugins run there.
Each worker hands its counts to the controller in ``workeroutput``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.budget import INPUTS

_KEY = "wanctl_fuzz_inputs"


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_KEY] = dict(INPUTS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    for target, count in getattr(node, "workeroutput", {}).get(_KEY, {}).items():
        INPUTS[target] = INPUTS.get(target, 0) + count


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not INPUTS or hasattr(terminalreporter.config, "workeroutput"):
        return
    terminalreporter.section("fuzz inputs tried")
    for target, count in sorted(INPUTS.items()):
        terminalreporter.write_line(f"{count:>9}  {target}")
    terminalreporter.write_line(f"{sum(INPUTS.values()):>9}  in all")
    report = os.environ.get("WANCTL_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(dict(sorted(INPUTS.items())), indent=2) + "\n")
