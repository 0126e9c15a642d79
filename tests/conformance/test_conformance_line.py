"""The tester over a real tty against real ``wanctl answer`` and ``wanctl dial`` processes.

Each peer runs in its own network namespace with its TUN device, under
``persist``, ``holdoff 0`` and ``lcp-restart 1`` so every case soon gets a fresh link, on the
project's cable (unpaced rate 921600).  Every MUST that applies passes:
the command's exit status is 0, and the JUnit report and pcap are whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from hw.lab.cable_process import CableProcess
from wanctl.lab import LinkProcess, lab_unavailable, namespaces

PEER_ARGS = {
    "answer": ("--ip", "10.64.0.2:10.64.0.1", "--ipv6", "--ms-dns", "10.64.0.53"),
    "dial": ("--ipv6", "--usepeerdns"),
}


@pytest.mark.parametrize("role", ["answer", "dial"])
def test_every_must_passes_against_our_own_processes(role: str, tmp_path: Path) -> None:
    if reason := lab_unavailable():
        pytest.skip(reason)
    env = {"WANCTL_RUN_DIR": str(tmp_path), "WANCTL_LOCK_DIR": str(tmp_path)}
    junit, pcap = tmp_path / "report.xml", tmp_path / "run.pcap"
    with namespaces(1) as [namespace], CableProcess(921600) as cable:
        argv = [
            role,
            cable.b,
            *PEER_ARGS[role],
            "--persist",
            "--holdoff",
            "0",
            "--lcp-restart",
            "1",
        ]
        peer = LinkProcess([*argv, "--linkname", "peer"], namespace=namespace, env=env, name=role)
        try:
            peer.wait_for(r"starting PPP", 30)
            options = [
                "--peer-role",
                role,
                "--group",
                "lcp",
                "--timeout",
                "1",
                "--junit",
                str(junit),
            ]
            tester = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "wanctl",
                    "conformance",
                    cable.a,
                    *options,
                    "--pcap",
                    str(pcap),
                ],
                capture_output=True,
                text=True,
                timeout=400,
                env={**os.environ, **env},
            )
        finally:
            peer.stop()
    report = tester.stdout
    assert tester.returncode == 0, report + tester.stderr + peer.output()[-3000:]
    assert "every MUST that applies passed" in report
    suite = ET.parse(junit).getroot()
    cases = suite.findall("testcase")
    assert len(cases) == int(suite.get("tests", "-1")) >= 4
    must_failures = [c.get("name") for c in cases if c.find("failure[@type='MUST']") is not None]
    assert must_failures == [] and suite.get("errors") == "0", report
    passed = [c for c in cases if c.find("failure") is None and c.find("skipped") is None]
    assert len(passed) >= len(cases) // 2, report
    assert pcap.stat().st_size > 24 + 16 * 4 * len(cases)
