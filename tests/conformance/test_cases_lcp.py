"""Each LCP case passes against our own PPP and fails against its mutant."""

from __future__ import annotations

import pytest

from ndiswan.ppp import AuthRequirement
from tests.conformance.harness import run_cases
from tests.conformance.mutants_lcp import MUTANTS, _timing
from tests.conformance.simline import Mutant
from wanctl.conformance.case import Outcome, PeerRole


@pytest.mark.parametrize("role", list(PeerRole), ids=lambda role: role.value)
@pytest.mark.parametrize("case_id", sorted(MUTANTS))
def test_case_passes_against_our_ppp(case_id: str, role: PeerRole) -> None:
    [result] = run_cases([case_id], role=role)
    assert result.outcome is Outcome.PASS, result.evidence


@pytest.mark.parametrize("case_id", sorted(MUTANTS))
def test_case_fails_against_its_mutant(case_id: str) -> None:
    [result] = run_cases([case_id], mutant=MUTANTS[case_id])
    assert result.outcome is Outcome.FAIL, (MUTANTS[case_id].name, result.evidence)


@pytest.mark.parametrize("auth", [AuthRequirement.PAP, AuthRequirement.CHAP], ids=["pap", "chap"])
@pytest.mark.parametrize("role", list(PeerRole), ids=lambda role: role.value)
def test_protocol_reject_waits_for_authentication_to_end(
    role: PeerRole, auth: AuthRequirement
) -> None:
    # RFC 1661 3.5: in the Authentication phase a packet of any other protocol
    # MUST be silently discarded, so the Protocol-Reject is looked for after it.
    if role is PeerRole.ANSWER:
        [result] = run_cases(["lcp-protocol-reject"], role=role, peer_auth=auth)
    else:
        [result] = run_cases(["lcp-protocol-reject"], role=role, tester_auth=auth)
    assert result.outcome is Outcome.PASS, result.evidence


@pytest.mark.parametrize("role", list(PeerRole), ids=lambda role: role.value)
def test_restart_timer_starts_a_fresh_series_after_the_runners_reset(role: PeerRole) -> None:
    # A Terminate-Request in Ack-Sent leaves the Restart counter running
    # (RFC 1661 4.1): a peer with a small Max-Configure is late in its series
    # by then, which is no reason to fail it.
    few = Mutant("a legal peer with Max-Configure 4", patch=_timing(max_configure=4))
    results = run_cases(["lcp-ack-wrong-options", "lcp-restart-timer"], role=role, mutant=few)
    assert [r.outcome for r in results] == [Outcome.PASS] * 2, results[-1].evidence
