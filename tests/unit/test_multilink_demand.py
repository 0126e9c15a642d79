"""Bandwidth on demand on the fake clock: members added under load, dropped when idle."""

from __future__ import annotations

import pytest

from ndiswan.ppp.multilink.demand import Decision, DemandPolicy, DemandSettings

LINE = 115200  # bps; 11520 octets/s in 8N1
SETTINGS = DemandSettings(add_percent=75, add_seconds=5, drop_percent=25, drop_seconds=10)


def run(policy: DemandPolicy, rates: list[float], active: int = 1, standby: int = 1) -> list:
    """One sample a second; ``rates`` are octets/s sent in each second."""
    decisions, sent = [], 0
    policy.sample(0.0, 0, 0, LINE * active, active=active, standby=standby)
    for second, rate in enumerate(rates, start=1):
        sent += int(rate)
        decision = policy.sample(float(second), sent, 0, LINE * active, active=active,
                                 standby=standby)  # fmt: skip
        decisions.append(decision)
        if decision is Decision.ADD:
            active, standby = active + 1, standby - 1
        elif decision is Decision.DROP:
            active, standby = active - 1, standby + 1
    return decisions


def test_sustained_load_adds_a_member_after_the_set_time() -> None:
    decisions = run(DemandPolicy(SETTINGS), [11000.0] * 8)
    assert decisions.index(Decision.ADD) == 5  # above 75 % since second 1: due at second 6
    assert decisions.count(Decision.ADD) == 1  # nothing left in standby


def test_a_burst_shorter_than_the_time_adds_nothing() -> None:
    decisions = run(DemandPolicy(SETTINGS), [11000.0] * 3 + [100.0] + [11000.0] * 3)
    assert Decision.ADD not in decisions


def test_idle_bundle_drops_back_to_its_minimum_and_no_further() -> None:
    policy = DemandPolicy(SETTINGS)
    decisions = run(policy, [100.0] * 40, active=3, standby=0)
    drops = [n for n, d in enumerate(decisions) if d is Decision.DROP]
    assert len(drops) == 2  # 3 -> 2 -> 1, the minimum
    assert drops[1] - drops[0] >= SETTINGS.drop_seconds


def test_the_busier_direction_counts() -> None:
    policy = DemandPolicy(SETTINGS)
    policy.sample(0.0, 0, 0, LINE, active=1, standby=1)
    policy.sample(1.0, 100, 11000, LINE, active=1, standby=1)
    assert policy.utilisation == pytest.approx(11000 / 11520)


def test_no_capacity_or_a_clock_that_stands_still_decides_nothing() -> None:
    policy = DemandPolicy(SETTINGS)
    assert policy.sample(0.0, 0, 0, 0, active=0, standby=2) is None
    assert policy.sample(0.0, 10**6, 0, LINE, active=1, standby=1) is None


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"add_percent": 20, "drop_percent": 30}, "must be below the add threshold"),
        ({"add_percent": 0}, "percentages"),
        ({"drop_percent": 100}, "percentages"),
        ({"add_seconds": 0}, "positive"),
        ({"min_members": 0}, "at least one"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        DemandSettings(**kwargs)
