"""Each PAP and CHAP case passes against our own PPP, fails against its mutant,
and is not applicable when its authentication is not in use."""

from __future__ import annotations

import pytest

from ndiswan.ppp import AuthRequirement
from ndiswan.ppp.chap import ChapAuthenticator
from tests.conformance.harness import run_cases
from tests.conformance.mutants_auth import MUTANTS, _on_auth
from tests.conformance.simline import Mutant
from wanctl.conformance.case import Outcome, PeerRole

ANSWER, DIAL = PeerRole.ANSWER, PeerRole.DIAL
PAP, CHAP, NONE = AuthRequirement.PAP, AuthRequirement.CHAP, AuthRequirement.NONE

#: Each case: the authentication it exercises and the roles it applies to.
CASES: dict[str, tuple[AuthRequirement, tuple[PeerRole, ...]]] = {
    "pap-nak-wrong-password": (PAP, (ANSWER,)),
    "pap-ack-identifier": (PAP, (ANSWER,)),
    "pap-request-retransmitted": (PAP, (DIAL,)),
    "pap-ncp-before-auth": (PAP, (ANSWER, DIAL)),
    "chap-challenge-retransmitted": (CHAP, (ANSWER,)),
    "chap-challenge-changes": (CHAP, (ANSWER,)),
    "chap-success-identifier": (CHAP, (ANSWER,)),
    "chap-failure-wrong-response": (CHAP, (ANSWER,)),
    "chap-repeated-response": (CHAP, (ANSWER,)),
    "chap-response-value": (CHAP, (DIAL,)),
    "chap-ncp-before-auth": (CHAP, (ANSWER, DIAL)),
}


def _run(case_id: str, role: PeerRole, auth: AuthRequirement, mutant: Mutant | None = None):  # type: ignore[no-untyped-def]
    extra = {"mutant": mutant} if mutant is not None else {}
    if role is ANSWER:
        [result] = run_cases([case_id], role=role, peer_auth=auth, **extra)  # type: ignore[arg-type]
    else:
        [result] = run_cases([case_id], role=role, tester_auth=auth, **extra)  # type: ignore[arg-type]
    return result


def _applicable() -> list[object]:
    return [
        pytest.param(case_id, role, id=f"{case_id}-{role.value}")
        for case_id, (_, roles) in sorted(CASES.items())
        for role in roles
    ]


def test_every_case_has_a_mutant() -> None:
    assert set(CASES) == set(MUTANTS)


@pytest.mark.parametrize(("case_id", "role"), _applicable())
def test_case_passes_against_our_ppp(case_id: str, role: PeerRole) -> None:
    result = _run(case_id, role, CASES[case_id][0])
    assert result.outcome is Outcome.PASS, result.evidence


@pytest.mark.parametrize(("case_id", "role"), _applicable())
def test_case_fails_against_its_mutant(case_id: str, role: PeerRole) -> None:
    result = _run(case_id, role, CASES[case_id][0], MUTANTS[case_id])
    assert result.outcome is Outcome.FAIL, (MUTANTS[case_id].name, result.evidence)


@pytest.mark.parametrize(("case_id", "role"), _applicable())
def test_case_not_applicable_without_auth(case_id: str, role: PeerRole) -> None:
    result = _run(case_id, role, NONE)
    assert result.outcome is Outcome.NOT_APPLICABLE, result.evidence
    assert result.evidence


@pytest.mark.parametrize(("case_id", "role"), _applicable())
def test_case_not_applicable_with_the_other_protocol(case_id: str, role: PeerRole) -> None:
    other = CHAP if CASES[case_id][0] is PAP else PAP
    result = _run(case_id, role, other)
    assert result.outcome is Outcome.NOT_APPLICABLE, result.evidence


def _resends_the_same_challenge(machine: object) -> None:
    assert isinstance(machine, ChapAuthenticator)
    machine._draw_challenge = lambda: None  # type: ignore[method-assign]


def test_challenge_changes_fails_against_a_peer_that_resends_its_challenge() -> None:
    """What pppd 2.4.9 does: the same identifier and Value on every retransmission."""
    same = Mutant(
        "resends its Challenge unchanged",
        patch=_on_auth(ChapAuthenticator, _resends_the_same_challenge),
    )
    result = _run("chap-challenge-changes", ANSWER, CHAP, same)
    assert result.outcome is Outcome.FAIL
    assert "sent twice with identifier" in result.evidence
