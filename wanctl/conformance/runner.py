"""Run the selected cases one after another on one line, each on a fresh link."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ndiswan.ppp.constants import Code, Proto
from wanctl.conformance.case import (
    REGISTRY,
    Case,
    CaseFailed,
    NotApplicable,
    Outcome,
    Result,
)
from wanctl.conformance.context import CaseContext, Settings
from wanctl.conformance.line import LineError
from wanctl.conformance.probe import CaseTimeout, Probe

#: A case may take this many answer timeouts in all before it is cut short.
CASE_BUDGET = 12
#: Answer timeouts to wait for the peer's first Configure-Request.
STARTUP_WAIT = 3


class SelectionError(ValueError):
    """--group or --case names nothing."""


def all_cases() -> list[Case]:
    # The case modules register themselves on import.
    from wanctl.conformance import cases_auth, cases_hdlc, cases_lcp, cases_lcp_states, cases_ncp  # noqa: F401

    return list(REGISTRY)


def select(
    cases: Sequence[Case], groups: Iterable[str] = (), ids: Iterable[str] = ()
) -> list[Case]:
    groups, ids = set(groups), set(ids)
    known_groups = {c.group for c in cases}
    known_ids = {c.id for c in cases}
    if unknown := groups - known_groups:
        raise SelectionError(
            f"no group {', '.join(sorted(unknown))}; groups: {', '.join(sorted(known_groups))}"
        )
    if unknown := ids - known_ids:
        raise SelectionError(f"no case {', '.join(sorted(unknown))}; '--list' shows them")
    if not groups and not ids:
        return list(cases)
    return [c for c in cases if c.group in groups or c.id in ids]


def run_case(case: Case, context: CaseContext) -> Result:
    probe = context.probe
    start = probe.now()
    if context.role not in case.roles:
        return Result(case, Outcome.NOT_APPLICABLE, f"only when the peer {_roles(case)}", 0.0)
    budget = case.budget or CASE_BUDGET
    probe.deadline = start + budget * context.timeout
    try:
        evidence = case.run(context)
        outcome = Outcome.PASS
    except CaseFailed as failed:
        outcome, evidence = Outcome.FAIL, str(failed)
    except NotApplicable as reason:
        outcome, evidence = Outcome.NOT_APPLICABLE, str(reason)
    except CaseTimeout:
        outcome = Outcome.ERROR
        evidence = f"the case did not finish in {budget * context.timeout:.0f} s"
    except LineError as exc:
        outcome, evidence = Outcome.ERROR, str(exc)
    finally:
        probe.deadline = None
    return Result(case, outcome, evidence, probe.now() - start)


def reset_link(context: CaseContext) -> None:
    """Terminate whatever link the case left, and wait for the peer to start again.

    A peer that restarts (pppd's ``persist``, ``wanctl answer --persist``)
    sends a Configure-Request; it is kept for the next case.
    """
    probe = context.probe
    probe.deadline = None
    context.terminate()
    restart = context.expect_control(
        Proto.LCP, (Code.CONFIGURE_REQUEST,), timeout=2 * context.timeout
    )
    probe.discard_pending()
    if restart is not None:
        probe.unread(restart)


def wait_for_peer(context: CaseContext) -> bool:
    """Let a peer that is still starting send its first Configure-Request.

    A passive peer (one that waits to hear from us) sends nothing: after
    ``STARTUP_WAIT`` answer timeouts the run goes ahead anyway.
    """
    first = context.expect_control(
        Proto.LCP, (Code.CONFIGURE_REQUEST,), timeout=STARTUP_WAIT * context.timeout
    )
    if first is not None:
        context.probe.unread(first)
    return first is not None


def run(
    cases: Sequence[Case],
    probe: Probe,
    settings: Settings,
    report: Callable[[Result], None] = lambda result: None,
) -> list[Result]:
    results: list[Result] = []
    try:
        wait_for_peer(CaseContext(probe, settings))
    except LineError as exc:
        return [Result(case, Outcome.ERROR, str(exc)) for case in cases]
    for case in cases:
        context = CaseContext(probe, settings)
        result = run_case(case, context)
        results.append(result)
        report(result)
        if result.outcome is not Outcome.NOT_APPLICABLE or result.seconds > 0:
            try:
                reset_link(context)
            except LineError as exc:
                for rest in cases[len(results) :]:
                    results.append(Result(rest, Outcome.ERROR, str(exc)))
                    report(results[-1])
                break
    return results


def _roles(case: Case) -> str:
    return " or ".join(sorted(f"{role.value}s" for role in case.roles))
