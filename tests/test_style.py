"""The style checks are part of the test command: ruff (lint and format) and mypy.

Each runs on the whole tree exactly as a developer runs it from the checkout's
root, with the versions pinned in pyproject.toml; a failure shows the tool's
own report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECKS = {
    "ruff check": [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
    "ruff format --check": [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
    "mypy": [sys.executable, "-m", "mypy"],
}


@pytest.mark.parametrize("check", list(CHECKS))
def test_tree_passes_the_style_check(check: str) -> None:
    result = subprocess.run(
        CHECKS[check], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    report = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"`{check}` failed:\n{report}"
