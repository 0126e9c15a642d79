"""The HIL rig and hw.selftest on virtual hardware, so CI runs them without adapters.

A paced virtual null-modem cable (``hw.lab.cable``, a separate process) stands in
for two adapters, and a pty whose master echoes everything back for a
loopback plug.  Ptys have no modem-control lines, which the self-test must
report rather than trip over.  These tests are not marked ``hardware``.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.lab.cable_process import CableProcess
from hw.lab.ptys import open_pty
from hw.selftest import compare, payload, run_selftest
from wanminiport.transports.lockfile import LOCK_DIR_ENV, PortLock, PortLockedError

BAUD = 115200
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _private_lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path))


@pytest.fixture
def cable() -> Iterator[CableProcess]:
    with CableProcess(BAUD) as process:
        yield process


@pytest.fixture
def loopback_pty() -> Iterator[str]:
    """A pty whose far end sends back whatever it receives: a loopback plug."""
    pair = open_pty()
    stop = threading.Event()

    def echo() -> None:
        while not stop.is_set():
            if not select.select([pair.master_fd], [], [], 0.05)[0]:
                continue
            try:
                data = os.read(pair.master_fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                return
            view = memoryview(data)
            while view and not stop.is_set():
                try:
                    view = view[os.write(pair.master_fd, view) :]
                except BlockingIOError:
                    select.select([], [pair.master_fd], [], 0.05)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    yield pair.slave_path
    stop.set()
    thread.join(2)
    pair.close()


def test_payload_starts_with_every_byte_value() -> None:
    data = payload(1000, seed=5)
    assert data[:256] == bytes(range(256))
    assert len(data) == 1000
    assert payload(1000, seed=5) == data


def test_compare_counts_wrong_missing_and_extra_bytes() -> None:
    assert compare(b"abcdef", b"abcdef") == (0, 0, 0)
    assert compare(b"abcdef", b"abXdeY") == (2, 0, 0)
    assert compare(b"abcdef", b"abc") == (0, 3, 0)
    assert compare(b"abc", b"abcde") == (0, 0, 2)


def test_selftest_passes_on_a_clean_virtual_cable(cable: CableProcess) -> None:
    report = run_selftest(cable.a, cable.b, bauds=(BAUD,), throughput_seconds=0.5)
    assert report.mode == "pair"
    assert report.verdict == "pass", report.render()
    assert report.passed
    assert [r.direction for r in report.integrity] == ["a->b", "b->a"]
    assert report.error_rate == 0.0
    for result in report.throughput:
        assert result.intact
        print(
            f"\nvirtual cable {result.direction}: {result.fraction_of_line_rate:.1%} of line rate"
        )


def test_selftest_reports_that_ptys_have_no_modem_lines(cable: CableProcess) -> None:
    report = run_selftest(cable.a, cable.b, bauds=(BAUD,), throughput_seconds=0.2)
    assert [w.supported for w in report.wiring] == [False, False]
    assert "no modem-control lines" in report.wiring[0].note
    assert "modem lines a->b: none" in report.render()


def test_selftest_counts_bit_errors_on_a_noisy_cable() -> None:
    with CableProcess(BAUD, ber=1e-4, seed=11) as noisy:
        report = run_selftest(noisy.a, noisy.b, bauds=(BAUD,), throughput_seconds=0.2)
    assert report.verdict == "fail"
    assert report.error_rate > 0
    assert sum(r.wrong for r in report.integrity) > 0
    assert any("wrong" in problem for problem in report.problems)


def test_selftest_reports_every_byte_missing_on_a_cut_cable(cable: CableProcess) -> None:
    cable.cut()
    report = run_selftest(cable.a, cable.b, bauds=(BAUD,), max_payload=512, slack_seconds=0.2)
    assert report.verdict == "fail"
    assert all(r.received == 0 and r.missing == r.sent for r in report.integrity)
    assert "nothing came back at any baud rate" in report.render()
    assert report.throughput == []


def test_selftest_passes_on_a_loopback_plug(loopback_pty: str) -> None:
    report = run_selftest(loopback_pty, bauds=(9600, BAUD), throughput_seconds=0.2)
    assert report.mode == "loopback"
    assert report.verdict == "pass", report.render()
    assert [(r.baud, r.direction) for r in report.integrity] == [(9600, "a->a"), (BAUD, "a->a")]


def test_selftest_refuses_a_port_locked_by_a_running_link(cable: CableProcess) -> None:
    with PortLock(cable.a), pytest.raises(PortLockedError, match="is locked by PID"):
        run_selftest(cable.a, cable.b, bauds=(BAUD,))


def test_selftest_command_prints_a_verdict_and_exits_by_it(cable: CableProcess) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hw.selftest", cable.a, cable.b, "--baud", str(BAUD), "--json",
         "--throughput-seconds", "0.2"],
        capture_output=True, text=True, cwd=REPO, check=False,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"verdict": "pass"' in result.stdout


def _run_rig(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "hardware", "-p", "tests.hardware.hil_options",
         "-o", "addopts=", *args],
        capture_output=True, text=True, cwd=REPO, check=False,
        env=os.environ | {"PYTHONPATH": str(REPO)} | env,
    )  # fmt: skip


def test_hil_pair_suite_runs_against_a_virtual_cable(cable: CableProcess) -> None:
    result = _run_rig(
        "tests/hardware/test_pair.py", "--port-a", cable.a, "--port-b", cable.b,
        "--hil-bauds", str(BAUD), "--hil-wiring", "none", "-rs",
        env={"WANCTL_HIL_THROUGHPUT_SECONDS": "0.3"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed, 1 skipped" in result.stdout


def test_hil_loopback_suite_runs_against_a_pty_loopback(loopback_pty: str) -> None:
    result = _run_rig(
        "tests/hardware/test_loopback.py", "-rs",
        env={"WANCTL_HIL_LOOPBACK": loopback_pty, "WANCTL_HIL_BAUDS": f"9600,{BAUD}",
             "WANCTL_HIL_WIRING": "none"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed, 4 skipped" in result.stdout
    assert "not a CDC-ACM device" in result.stdout
    assert "not an FTDI adapter" in result.stdout


def test_hil_suites_skip_with_a_reason_when_no_hardware_is_given() -> None:
    clean = {name: "" for name in ("WANCTL_HIL_LOOPBACK", "WANCTL_HIL_PORT_A", "WANCTL_HIL_PORT_B")}
    result = _run_rig(
        "tests/hardware/test_loopback.py", "tests/hardware/test_pair.py", "-rs", env=clean
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" not in result.stdout
    assert "no loopback port: plug a loopback plug" in result.stdout
    assert "no port pair: join two adapters with a null-modem cable" in result.stdout
