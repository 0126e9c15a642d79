"""Each HDLC case passes against our own PPP and fails against its mutant."""

from __future__ import annotations

import pytest

from tests.conformance.harness import run_cases
from tests.conformance.mutants_hdlc import MUTANTS
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
