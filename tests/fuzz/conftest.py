"""Fuzzing: how long it runs, what it counts, and when it gives up on a hang.

``WANCTL_FUZZ_SCALE`` multiplies the number of examples of every fuzz test
(default 1: about a minute for the whole directory on two cores, the same
inputs every run; 60 runs fresh inputs for about an hour); each test's
pytest-timeout grows with it.  At the end of the session the number of inputs
each target was fed is printed; with ``WANCTL_FUZZ_REPORT=FILE`` it is also
written there as JSON (both in ``tests/fuzz/summary.py``, which adds up the
counts of pytest-xdist workers).  Slow tests here follow ``tests/reliability``'s
rule (``WANCTL_SLOW=1``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.budget import scale
from tests.reliability.slow import skip_slow_unless_asked

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow_unless_asked(items, _HERE)
    # A scaled run lasts longer than pytest-timeout's default allows: scale that too.
    limit = pytest.mark.timeout(round(300 * max(1.0, scale())))
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(limit)
