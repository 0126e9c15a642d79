"""Each NCP case passes against our own PPP (in the roles it applies to) and fails its mutant."""

from __future__ import annotations

import pytest

from tests.conformance.harness import run_cases
from tests.conformance.mutants_ncp import MUTANT_ROLES, MUTANTS
from wanctl.conformance.case import Outcome, PeerRole
from wanctl.conformance.runner import all_cases

ROLES = {c.id: c.roles for c in all_cases() if c.group in ("ipcp", "ipv6cp")}


def test_every_ncp_case_has_a_mutant() -> None:
    assert sorted(ROLES) == sorted(MUTANTS)


@pytest.mark.parametrize(
    ("case_id", "role"),
    [(case_id, role) for case_id in sorted(ROLES) for role in PeerRole if role in ROLES[case_id]],
    ids=lambda value: value.value if isinstance(value, PeerRole) else value,
)
def test_case_passes_against_our_ppp(case_id: str, role: PeerRole) -> None:
    [result] = run_cases([case_id], role=role)
    assert result.outcome is Outcome.PASS, result.evidence


@pytest.mark.parametrize("case_id", sorted(MUTANTS))
def test_case_fails_against_its_mutant(case_id: str) -> None:
    role = MUTANT_ROLES.get(case_id, PeerRole.ANSWER)
    [result] = run_cases([case_id], mutant=MUTANTS[case_id], role=role)
    assert result.outcome is Outcome.FAIL, (MUTANTS[case_id].name, result.evidence)
