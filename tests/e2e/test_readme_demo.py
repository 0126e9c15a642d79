"""The README's first command, run as a new user would: a fresh clone, a fresh venv.

The command is read from README.md itself, so the test and the README cannot
drift apart.  The venv sees the machine's site-packages (the runtime
dependencies are installed there by the test set-up), so ``pip install .``
builds and installs the project the way a user's would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wanctl.lab import lab_unavailable

REPO = Path(__file__).resolve().parents[2]


def first_readme_command() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Two commands", 1)[1]
    commands = re.findall(r"^    (\S.*)$", section, flags=re.MULTILINE)
    return commands[0]


def test_readme_names_exactly_two_setup_commands() -> None:
    section = (REPO / "README.md").read_text().split("## Two commands", 1)[1].split("\n## ")[0]
    commands = re.findall(r"^    (\S.*)$", section, flags=re.MULTILINE)
    assert commands == [
        "pip install . && wanctl demo",
        "sh tests/install-deps.sh && python3 -m pytest -q",
    ]
    assert (REPO / ".ci" / "run").read_text().strip().endswith(commands[1])


def test_demo_from_a_fresh_clone_finishes_within_a_minute(tmp_path: Path) -> None:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    command = first_readme_command()
    install, demo = command.split(" && ")
    subprocess.run(
        install, shell=True, cwd=clone, env=env, check=True, timeout=600, capture_output=True
    )
    started = time.monotonic()
    result = subprocess.run(
        demo, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed < 60, f"demo took {elapsed:.0f} s"
    out = result.stdout
    assert re.search(
        r"Ping client -> hub \(10\.77\.0\.1\): 3 packets transmitted, 3 received", out
    ), out
    assert re.search(r"Ping hub -> client, IPv6 .* 3 received", out), out
    assert re.search(r"% of the line's 11520 bytes/s \(8N1\); data intact", out), out
    assert "all steps passed" in out
    # The installed command ran from the venv, not from the source tree.
    assert (
        str(venv)
        in subprocess.run(
            ["sh", "-c", "command -v wanctl"], env=env, capture_output=True, text=True
        ).stdout
    )
