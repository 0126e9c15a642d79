"""``wanctl conformance`` against the real pppd 2.4.9 in the VM, pppd answering.

pppd runs on the session VM's ttyS1 (``start_pppd``: ``nodetach local
debug``) with ``persist holdoff 0 maxfail 0``, so every case gets a fresh
link; the tester opens the host pty of that line.  Two runs: the whole
battery with pppd asking no authentication (the auth cases are then not
applicable), and the CHAP group with ``auth require-chap``.

The set of failing cases must be exactly ``PPPD_DEVIATIONS``, each an RFC
sentence pppd (or Linux's ppp_async, which frames for it) does not follow;
every other MUST that applies passes.  The verdicts behind each entry are
in the dict; a case is never tuned to make pppd pass.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Sequence

import pytest

from hw.lab.vm import PppdVm, start_pppd
from wanctl.conformance.case import Outcome, Result
from wanctl.conformance.cli import add_arguments, run_on
from wanctl.conformance.line import SerialLine

SECRET = "s3cret-for-conformance"
#: pppd restarts at once after each case's Terminate, and resends its
#: Configure-Request every second (the tester's first wait is 9 s).
RESTARTING = ["persist", "holdoff", "0", "maxfail", "0", "lcp-restart", "1"]
NO_AUTH = ["noauth", *RESTARTING, "10.87.0.1:10.87.0.2", "ms-dns", "10.87.0.53", "+ipv6"]
CHAP = ["auth", "require-chap", "name", "server", *RESTARTING, "10.87.0.1:10.87.0.2"]

#: Case id -> the sentence broken, and by what.
PPPD_DEVIATIONS: dict[str, str] = {
    "hdlc-lcp-uncompressed": (
        "RFC 1661 6.6: 'The Address and Control fields MUST NOT be compressed when sending "
        "any LCP packet.' Linux ppp_async, which frames pppd's packets, keeps FF 03 only "
        "for codes 1 to 7 (ppp_async_encode: islcp), so with ACFC its Echo-Reply has none."
    ),
    "hdlc-escaped-octets": (
        "RFC 1662 4.2: 'Each Control Escape octet is also removed, and the following octet "
        "is exclusive-or'd with hexadecimal 0x20, unless it is the Flag Sequence'. "
        "ppp_async_input decodes 7D 7D (an escaped 0x5D), then takes the octet after it "
        "for a special character and drops it (unless the pair ends one read from the "
        "tty, hence the case's 8 pairs): the FCS fails and the Echo-Request goes "
        "unanswered. A SHOULD case: the sender's escaping of 0x40-0xFF is optional."
    ),
    "chap-challenge-changes": (
        "RFC 1994 4.1: 'The Identifier field MUST be changed each time a Challenge is "
        "sent.' pppd's chap_timeout (chap-new.c) sends the same challenge packet again, "
        "identifier and Value unchanged, until chap-max-challenge."
    ),
}


def _arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["unused", *argv])


def _conformance(vm: PppdVm, pppd_options: Sequence[str], *argv: str) -> list[Result]:
    """Run the tester on ttyS1 against pppd with ``pppd_options``; its table is printed."""
    line = SerialLine(vm.line("ttyS1").host)
    try:
        # qemu drops what the guest sends until it has noticed our open.
        time.sleep(1.2)
        pppd = start_pppd(vm, "ttyS1", list(pppd_options))
        table = io.StringIO()
        try:
            results = run_on(line, _arguments(*argv), table)
        finally:
            print(table.getvalue())
            log = pppd.read_log()
        assert "rcvd [LCP ConfReq" in log, log[-1500:]
        return results
    finally:
        line.close()


def _judge(results: list[Result], groups: set[str]) -> None:
    broken = {r.case.id for r in results if r.outcome in (Outcome.FAIL, Outcome.ERROR)}
    expected = {case for case in PPPD_DEVIATIONS if case.split("-")[0] in groups}
    assert broken <= expected, {r.case.id: r.evidence for r in results if r.case.id in broken}
    assert expected <= broken, f"pppd now follows {expected - broken}"


@pytest.fixture
def vm(module_pppd_vm: PppdVm) -> PppdVm:
    module_pppd_vm.write_file("/etc/ppp/chap-secrets", f"client server {SECRET} *\n", mode=0o600)
    return module_pppd_vm


def test_whole_battery_against_pppd_without_authentication(vm: PppdVm) -> None:
    results = _conformance(vm, NO_AUTH)
    applicable = [r for r in results if r.outcome is not Outcome.NOT_APPLICABLE]
    # Everything but the auth cases (pppd asks none) and the peer-dials cases.
    assert {r.case.group for r in applicable} == {"lcp", "hdlc", "ipcp", "ipv6cp"}
    assert len(applicable) >= 37, [r.case.id for r in results if r not in applicable]
    _judge(results, {"lcp", "hdlc", "ipcp", "ipv6cp"})


def test_chap_group_against_pppd_requiring_chap(vm: PppdVm) -> None:
    results = _conformance(vm, CHAP, "--group", "chap", "--user", "client", "--password", SECRET)
    assert {r.case.id for r in results if r.outcome is Outcome.PASS} >= {
        "chap-challenge-retransmitted",
        "chap-success-identifier",
        "chap-failure-wrong-response",
        "chap-repeated-response",
        "chap-ncp-before-auth",
    }
    _judge(results, {"chap"})
