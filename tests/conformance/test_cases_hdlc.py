"""Each HDLC case passes against our own PPP and fails against its mutant."""

from __future__ import annotations

import pytest

from tests.conformance.harness import run_cases
from tests.conformance.mutants_hdlc import MUTANTS, SOMETIMES_LOSES_AFTER_7D_7D
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


def test_escaped_octets_catches_a_receiver_that_fails_only_now_and_then() -> None:
    # Linux ppp_async keeps the octet after 7D 7D only when the pair ends a
    # read from the tty: the case repeats the pair so one lucky read cannot pass it.
    [result] = run_cases(["hdlc-escaped-octets"], mutant=SOMETIMES_LOSES_AFTER_7D_7D)
    assert result.outcome is Outcome.FAIL, result.evidence
