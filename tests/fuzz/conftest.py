"""Fuzzing: how long it runs, what it counts, and when it gives up on a hang.

``WANCTL_FUZZ_SCALE`` multiplies the number of examples of every fuzz test
(default 1: about a minute for the whole directory on two cores; 60 runs it
for about an hour); each test's pytest-timeout grows with it.  At the end of
the session the number of inputs each target was fed is printed; with
``WANCTL_FUZZ_REPORT=FILE`` it is also written there as JSON.  Slow tests
here follow ``tests/reliability``'s rule (``WANCTL_SLOW=1``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fuzz.budget import INPUTS, scale
from tests.reliability.slow import skip_slow_unless_asked

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow_unless_asked(items, _HERE)
    # A scaled run lasts longer than pytest-timeout's default allows: scale that too.
    limit = pytest.mark.timeout(round(300 * max(1.0, scale())))
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(limit)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not INPUTS:
        return
    terminalreporter.section("fuzz inputs tried")
    for target, count in sorted(INPUTS.items()):
        terminalreporter.write_line(f"{count:>9}  {target}")
    terminalreporter.write_line(f"{sum(INPUTS.values()):>9}  in all")
    report = os.environ.get("WANCTL_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(dict(sorted(INPUTS.items())), indent=2) + "\n")
