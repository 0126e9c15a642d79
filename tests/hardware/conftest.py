"""Fixtures of the hardware-in-the-loop rig: ports from options or environment.

``pytest -m hardware --loopback-port /dev/ttyUSB0`` tests a loopback plug;
``--port-a /dev/ttyUSB0 --port-b /dev/ttyUSB1`` two adapters joined by a
null-modem cable (or ``WANCTL_HIL_LOOPBACK``, ``WANCTL_HIL_PORT_A``,
``WANCTL_HIL_PORT_B``).  Without them the hardware tests skip and say what
to plug in.  The measuring is ``hw.selftest``, run once per module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hw.selftest import SelftestReport, run_selftest
from tests.hardware.hil_options import hil_option

DEFAULT_BAUDS = (9600, 38400, 115200)


def _bauds(config: pytest.Config) -> tuple[int, ...]:
    text = hil_option(config, "--hil-bauds")
    if not text:
        return DEFAULT_BAUDS
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise pytest.UsageError(
            f"--hil-bauds / WANCTL_HIL_BAUDS: not a list of numbers: {text!r}"
        ) from None


@pytest.fixture(scope="session")
def hil_bauds(request: pytest.FixtureRequest) -> tuple[int, ...]:
    return _bauds(request.config)


@pytest.fixture(scope="session")
def hil_throughput_seconds(request: pytest.FixtureRequest) -> float:
    text = hil_option(request.config, "--hil-throughput-seconds") or "2"
    try:
        return float(text)
    except ValueError:
        raise pytest.UsageError(f"--hil-throughput-seconds: not a number: {text!r}") from None


@pytest.fixture(scope="session")
def hil_wired(request: pytest.FixtureRequest) -> bool:
    """Whether the plug or cable carries the modem-control lines."""
    return (hil_option(request.config, "--hil-wiring") or "full") != "none"


@pytest.fixture(scope="session")
def loopback_port(request: pytest.FixtureRequest) -> str:
    port = hil_option(request.config, "--loopback-port")
    if port is None:
        pytest.skip(
            "no loopback port: plug a loopback plug (TX-RX, DTR-DSR-CD, RTS-CTS) into an "
            "adapter and pass --loopback-port /dev/ttyUSB0 or set WANCTL_HIL_LOOPBACK"
        )
    return port


@pytest.fixture(scope="session")
def port_pair(request: pytest.FixtureRequest) -> tuple[str, str]:
    a = hil_option(request.config, "--port-a")
    b = hil_option(request.config, "--port-b")
    if a is None or b is None:
        pytest.skip(
            "no port pair: join two adapters with a null-modem cable and pass "
            "--port-a /dev/ttyUSB0 --port-b /dev/ttyUSB1 or set WANCTL_HIL_PORT_A/B"
        )
    return a, b


@pytest.fixture(scope="module")
def loopback_report(
    loopback_port: str, hil_bauds: tuple[int, ...], hil_throughput_seconds: float
) -> Iterator[SelftestReport]:
    report = run_selftest(loopback_port, bauds=hil_bauds, throughput_seconds=hil_throughput_seconds)
    print("\n" + report.render())
    yield report


@pytest.fixture(scope="module")
def pair_report(
    port_pair: tuple[str, str], hil_bauds: tuple[int, ...], hil_throughput_seconds: float
) -> Iterator[SelftestReport]:
    report = run_selftest(*port_pair, bauds=hil_bauds, throughput_seconds=hil_throughput_seconds)
    print("\n" + report.render())
    yield report
