"""Command-line options of the hardware-in-the-loop rig (a pytest plugin).

``pytest_addoption`` only works in the rootdir's conftest or in a plugin, so
these live here and ``tests/conftest.py`` loads them with
``pytest_plugins = ["tests.hardware.hil_options"]``.  Each option has an
environment variable as its fallback, so the rig also runs where the options
are not registered.
"""

from __future__ import annotations

import os

import pytest

#: option -> environment variable
OPTIONS = {
    "--loopback-port": "WANCTL_HIL_LOOPBACK",
    "--port-a": "WANCTL_HIL_PORT_A",
    "--port-b": "WANCTL_HIL_PORT_B",
    "--hil-bauds": "WANCTL_HIL_BAUDS",
    "--hil-wiring": "WANCTL_HIL_WIRING",
    "--hil-throughput-seconds": "WANCTL_HIL_THROUGHPUT_SECONDS",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hardware", "hardware-in-the-loop rig (pytest -m hardware)")
    group.addoption(
        "--loopback-port",
        metavar="PORT",
        help="a tty with a loopback plug: /dev/ttyUSB0, /dev/wan/SERIAL "
        "(env WANCTL_HIL_LOOPBACK); a CDC-ACM one is also tested through usb:VID:PID",
    )
    group.addoption(
        "--port-a", metavar="PORT", help="end A of a null-modem cable (env WANCTL_HIL_PORT_A)"
    )
    group.addoption(
        "--port-b", metavar="PORT", help="end B of a null-modem cable (env WANCTL_HIL_PORT_B)"
    )
    group.addoption(
        "--hil-bauds",
        metavar="LIST",
        help="baud rates to test, comma-separated (env WANCTL_HIL_BAUDS; "
        "default 9600,38400,115200)",
    )
    group.addoption("--hil-wiring", choices=("full", "none"),
                    help="'none' for a 3-wire plug or cable: skip the modem-line checks "
                         "(env WANCTL_HIL_WIRING; default full)")  # fmt: skip
    group.addoption(
        "--hil-throughput-seconds",
        metavar="SECONDS",
        help="line time of each throughput run (env WANCTL_HIL_THROUGHPUT_SECONDS; default 2)",
    )


def hil_option(config: pytest.Config, option: str) -> str | None:
    """An option's value, else its environment variable, else None."""
    value = config.getoption(option, default=None)
    if value:
        return str(value)
    return os.environ.get(OPTIONS[option]) or None
