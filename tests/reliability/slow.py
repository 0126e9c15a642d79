"""Long runs stay out of the default ``python3 -m pytest -q``: ``WANCTL_SLOW=1`` lets them in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SLOW_ENV = "WANCTL_SLOW"


def slow_runs_wanted() -> bool:
    return os.environ.get(SLOW_ENV, "") not in ("", "0")


def skip_slow_unless_asked(items: list[pytest.Item], directory: Path) -> None:
    """Skip the ``slow`` items under ``directory`` unless WANCTL_SLOW=1."""
    if slow_runs_wanted():
        return
    skip = pytest.mark.skip(reason=f"long run: set {SLOW_ENV}=1 to run it")
    for item in items:
        if item.get_closest_marker("slow") and directory in Path(str(item.path)).parents:
            item.add_marker(skip)


def env_count(name: str, default: int) -> int:
    """A positive count from the environment (how long runs are scaled)."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    value = int(raw)
    if value < 1:
        raise ValueError(f"{name} must be a positive number, not {raw!r}")
    return value
