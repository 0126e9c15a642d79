"""What a conformance case is, what it may conclude, and the registry of cases.

A case is a function of a ``CaseContext``.  It returns one line of evidence
when the peer did what the rule asks, raises ``CaseFailed`` with the
evidence when it did not, and ``NotApplicable`` when the rule cannot be
exercised (the peer does not negotiate the option, the role does not fit).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Strength(enum.Enum):
    """RFC 2119 strength of the rule a case checks."""

    MUST = "MUST"
    SHOULD = "SHOULD"


class Outcome(enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "n/a"
    #: The case could not run to a verdict (the line went down, the case's
    #: own deadline passed): reported, and counted as a failure.
    ERROR = "error"


class PeerRole(enum.Enum):
    """What the implementation under test does: it dials, or it answers a call."""

    DIAL = "dial"
    ANSWER = "answer"


class CaseFailed(Exception):
    """The peer broke the rule; the message is the evidence."""


class NotApplicable(Exception):
    """The rule cannot be exercised against this peer; the message says why."""


@dataclass(frozen=True)
class Case:
    id: str
    group: str
    #: "RFC 1661 5.7" (section of the rule).
    rfc: str
    strength: Strength
    title: str
    run: Callable[..., str]
    #: The roles of the peer it applies to.
    roles: frozenset[PeerRole] = frozenset(PeerRole)
    #: Answer timeouts the case may take in all (None: the runner's default).
    budget: int | None = None


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: Outcome
    evidence: str
    seconds: float = 0.0

    @property
    def breaks_a_must(self) -> bool:
        return self.case.strength is Strength.MUST and self.outcome in (
            Outcome.FAIL,
            Outcome.ERROR,
        )


def hex_text(data: bytes, limit: int = 24) -> str:
    """Octets for a line of evidence: hex, cut after ``limit``."""
    text = data[:limit].hex(" ")
    return text + (" …" if len(data) > limit else "")


#: Every case, in the order they run.  Filled by the ``cases_*`` modules.
REGISTRY: list[Case] = []


def case(
    id: str,
    *,
    group: str,
    rfc: str,
    strength: Strength,
    title: str,
    roles: tuple[PeerRole, ...] = tuple(PeerRole),
    budget: int | None = None,
) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register the decorated function as a case."""

    def register(run: Callable[..., str]) -> Callable[..., str]:
        if any(existing.id == id for existing in REGISTRY):
            raise ValueError(f"two conformance cases named {id}")
        REGISTRY.append(Case(id, group, rfc, strength, title, run, frozenset(roles), budget))
        return run

    return register
