"""The README's first command, run as a new user would: a fresh clone, a fresh venv.

The command is read from README.md itself, so the test and the README cannot
drift apart.  The venv sees the machine's site-packages (the runtime
dependencies are installed there by the test set-up), so ``pip install .``
builds and installs the project the way a user's would.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from wanctl.lab import lab_unavailable

REPO = Path(__file__).resolve().parents[2]
#: One fresh install for the module: its tests share a pytest-xdist worker.
pytestmark = pytest.mark.xdist_group("readme-demo")


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


@dataclass
class Installed:
    """A fresh clone with the README's install command run in a fresh venv."""

    venv: Path
    env: dict[str, str]
    demo: str


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    tmp_path = tmp_path_factory.mktemp("fresh")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    install, demo = first_readme_command().split(" && ")
    subprocess.run(
        install, shell=True, cwd=clone, env=env, check=True, timeout=600, capture_output=True
    )
    return Installed(venv, env, demo)


def _check_demo_output(result: subprocess.CompletedProcess[str], elapsed: float) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed < 60, f"demo took {elapsed:.0f} s"
    out = result.stdout
    assert re.search(
        r"Ping client -> hub \(10\.77\.0\.1\): 3 packets transmitted, 3 received", out
    ), out
    assert re.search(r"Ping hub -> client, IPv6 .* 3 received", out), out
    assert re.search(r"% of the line's 11520 bytes/s \(8N1\); data intact", out), out
    assert "all steps passed" in out


def test_demo_from_a_fresh_clone_finishes_within_a_minute(
    installed: Installed, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = subprocess.run(
        installed.demo,
        shell=True,
        cwd=tmp_path,
        env=installed.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    _check_demo_output(result, time.monotonic() - started)
    # The installed command ran from the venv, not from the source tree.
    assert (
        str(installed.venv)
        in subprocess.run(
            ["sh", "-c", "command -v wanctl"], env=installed.env, capture_output=True, text=True
        ).stdout
    )


def _hide(target: str, names: list[str], scratch: Path) -> str:
    """Shell lines that mount an overlay on ``target`` in which ``names`` do not exist
    (whiteouts: a 0/0 character device per name), as on a machine without them."""
    upper, work = scratch / "upper", scratch / "work"
    upper.mkdir(parents=True)
    work.mkdir()
    whiteouts = " && ".join(f"mknod {upper / name} c 0 0" for name in names)
    return (
        f"{whiteouts} && mount -t overlay overlay "
        f"-o lowerdir={target},upperdir={upper},workdir={work} {target}"
    )


def test_demo_passes_on_a_machine_without_etc_ppp_or_the_ppp_package(
    installed: Installed, tmp_path: Path
) -> None:
    """Debian's ppp package gives /etc/ppp, pppd and chat; a bare machine has none of
    them.  The demo writes /etc/ppp/resolv.conf (usepeerdns): the directory is created,
    mode 0755, and the demo passes."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to hide /etc/ppp")
    etc, sbin = tmp_path / "etc", tmp_path / "sbin"
    script = " && ".join(
        [
            _hide("/etc", ["ppp"], etc),
            _hide("/usr/sbin", ["pppd", "chat"], sbin),
            "test ! -e /etc/ppp && test ! -e /usr/sbin/pppd",
            installed.demo,
        ]
    )
    started = time.monotonic()
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        cwd=tmp_path,
        env=installed.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    _check_demo_output(result, elapsed)
    created = etc / "upper" / "ppp"
    assert created.is_dir(), result.stdout
    assert stat.S_IMODE(created.stat().st_mode) == 0o755
    assert "nameserver" in (created / "resolv.conf").read_text()
    print(f"demo without /etc/ppp and the ppp package: {elapsed:.1f} s")
