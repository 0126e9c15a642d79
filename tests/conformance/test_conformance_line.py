"""The tester over a real tty against real ``wanctl answer`` and ``wanctl dial`` processes.

Each peer runs in its own network namespace with its TUN device, under
``persist``, ``holdoff 0``, ``maxfail 0`` and ``lcp-restart 1`` so every case
soon gets a fresh link, on the project's cable (unpaced rate 921600).  One
process per role runs, CHAP required by the answering side: when the peer
answers, the LCP and CHAP groups; when it dials, LCP, HDLC and CHAP.
Every MUST that applies passes: the command's exit status is 0, and the
JUnit report and pcap are whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from hw.lab.cable_process import CableProcess
from wanctl.lab import LinkProcess, lab_unavailable, namespaces

PEER_ARGS = {
    "answer": ("--ip", "10.64.0.2:10.64.0.1", "--ipv6", "--ms-dns", "10.64.0.53"),
    "dial": ("--ipv6", "--usepeerdns"),
}
#: A fresh link soon after each case; Max-Configure 4 ends lcp-max-configure in 4 s, not 10.
RESTARTS = (
    "--persist",
    "--holdoff",
    "0",
    "--maxfail",
    "0",
    "--lcp-restart",
    "1",
    "--lcp-max-configure",
    "4",
)
#: Who proves itself to whom: the answering peer asks the tester, the tester
#: asks the dialling peer.  (peer's name, tester's name, the shared secret.)
ANSWER_NAMES = ("hub", "conformance")
DIAL_NAMES = ("client", "conformance")
SECRET = "s3cret"


@dataclass(frozen=True)
class Run:
    role: str
    #: "none", "chap" or "pap": what the authenticator requires.
    auth: str
    groups: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.role}-{self.auth}"


#: About 100 s in all: a case costs its reset (the peer's restart, two answer
#: timeouts when it answers, since it waits to be called), so the groups are
#: shared out.  Left out here (run by hand, and against the simulated peer in
#: the other tests): PAP, IPCP and IPV6CP.
RUNS = [
    Run("answer", "chap", ("lcp", "chap")),
    Run("dial", "chap", ("lcp", "hdlc", "chap")),
]


def _authentication(run: Run, secrets: Path) -> tuple[list[str], list[str]]:
    """The peer's and the tester's options for ``run``'s authentication."""
    if run.auth == "none":
        return [], []
    if run.role == "answer":
        peer, tester = ANSWER_NAMES
        secrets.write_text(f"{tester} {peer} {SECRET} *\n")
        peer_options = [f"--require-{run.auth}", "--name", peer]
        tester_options = ["--user", tester, "--password", SECRET]
    else:
        peer, tester = DIAL_NAMES
        secrets.write_text(f"{peer} {tester} {SECRET} *\n")
        peer_options = ["--user", peer, "--remotename", tester]
        tester_options = ["--require-auth", run.auth, "--user", peer, "--password", SECRET]
    secrets.chmod(0o600)
    return [*peer_options, f"--{run.auth}-secrets", str(secrets)], tester_options


@pytest.mark.parametrize("run", RUNS, ids=lambda run: run.id)
def test_every_must_passes_against_our_own_processes(run: Run, tmp_path: Path) -> None:
    if reason := lab_unavailable():
        pytest.skip(reason)
    env = {"WANCTL_RUN_DIR": str(tmp_path), "WANCTL_LOCK_DIR": str(tmp_path)}
    junit, pcap = tmp_path / "report.xml", tmp_path / "run.pcap"
    peer_auth, tester_auth = _authentication(run, tmp_path / f"{run.auth}-secrets")
    groups = [option for group in run.groups for option in ("--group", group)]
    with namespaces(1) as [namespace], CableProcess(921600) as cable:
        argv = [run.role, cable.b, *PEER_ARGS[run.role], *peer_auth, *RESTARTS]
        peer = LinkProcess(
            [*argv, "--linkname", "peer"], namespace=namespace, env=env, name=run.role
        )
        try:
            peer.wait_for(r"starting PPP", 30)
            tester = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "wanctl",
                    "conformance",
                    cable.a,
                    "--peer-role",
                    run.role,
                    *groups,
                    *tester_auth,
                    "--timeout",
                    "1",
                    "--junit",
                    str(junit),
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
    assert len(cases) == int(suite.get("tests", "-1")) >= 3
    assert {case.get("classname") for case in cases} == set(run.groups)
    must_failures = [c.get("name") for c in cases if c.find("failure[@type='MUST']") is not None]
    assert must_failures == [] and suite.get("errors") == "0", report
    passed = [c for c in cases if c.find("failure") is None and c.find("skipped") is None]
    assert len(passed) >= len(cases) // 2, report
    if run.auth != "none":
        # The authentication was really spoken: its own cases ran, not all n/a.
        assert any(c.get("classname") == run.auth for c in passed), report
    assert pcap.stat().st_size > 24 + 16 * 4 * len(passed)
