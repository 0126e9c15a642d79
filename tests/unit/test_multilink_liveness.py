"""A member gone quiet under traffic: probed, then suspect, then heard again.

The liveness core and the bundle's use of it, on the fake clock (time is a
number): a suspect member gets no fragments and does not hold back M.
"""

from __future__ import annotations

import pytest

from ndiswan.ppp.multilink import Bundle, BundleKey, BundleTable
from ndiswan.ppp.multilink.liveness import (
    DEADLINE,
    MAX_DEADLINE,
    SILENCE,
    Liveness,
    LivenessActions,
)
from tests.unit.test_multilink_bundle import ALICE, INFO, A, B, deliver, packets


def test_quiet_member_is_probed_once_then_suspect_when_the_probe_goes_unanswered() -> None:
    watch = Liveness(silence=0.3, deadline=0.4)
    watch.add(A, 0.0)
    watch.add(B, 0.0)
    watch.activity(0.0)
    watch.heard(A, 0.25)
    assert watch.check(0.2).probe == ()  # nobody quiet for 0.3 s yet
    first = watch.check(0.3)
    assert first.probe == (B,) and first.suspect == ()
    assert watch.check(0.5).probe == ()  # one probe outstanding, not another
    watch.heard(A, 0.6)
    late = watch.check(0.75)
    assert late.suspect == (B,) and watch.is_suspect(B) and not watch.is_suspect(A)
    assert (watch.probes_sent, watch.suspicions) == (2, 1)


def test_answered_probe_clears_the_silence_and_a_suspect_heard_again_is_trusted() -> None:
    watch = Liveness(silence=0.3, deadline=0.4, busy=10.0)
    watch.add(B, 0.0)
    watch.activity(0.0)
    assert watch.check(0.3).probe == (B,)
    assert watch.heard(B, 0.35) is False  # answered in time: was never suspect
    assert watch.check(0.6).probe == ()
    assert watch.check(0.65).probe == (B,)
    assert watch.check(1.05).suspect == (B,)
    assert watch.heard(B, 1.1) is True
    assert not watch.is_suspect(B)


def test_a_suspect_member_is_probed_again_every_silence_period() -> None:
    watch = Liveness(silence=0.3, deadline=0.4, busy=10.0)
    watch.add(B, 0.0)
    watch.activity(0.0)
    watch.check(0.3)
    assert watch.check(0.75) == LivenessActions(probe=(B,), suspect=(B,))
    assert watch.check(0.8).probe == ()
    assert watch.check(1.1).probe == (B,)
    assert watch.check(1.2).probe == ()
    assert watch.check(1.45).probe == (B,)
    watch.remove(B)
    assert watch.check(5.0) == watch.check(6.0)  # forgotten: nothing to do


def suspect_b(bundle: Bundle, start: float = 0.0) -> float:
    """Keep A heard and let B go quiet until the bundle suspects it; returns when."""
    now = start
    while not bundle.is_suspect(B):
        now += 0.05
        bundle.heard(A, now)
        bundle.liveness.activity(now)
        bundle.check_liveness(now)
        assert now < start + SILENCE + DEADLINE + 0.2
    return now


def test_suspect_member_gets_no_fragments_and_is_shown_as_suspect() -> None:
    table = BundleTable()
    for member in (A, B):
        assert table.join(member, ALICE, INFO, 115200, now=0.0, send_window=4).accepted
    bundle = table.bundle_of(A)
    assert bundle is not None
    when = suspect_b(bundle)
    assert SILENCE + DEADLINE <= when <= SILENCE + DEADLINE + 0.1
    pieces = bundle.send(packets(1)[0], now=when)
    assert {member for member, _ in pieces} == {A}
    states = {m.member_id: (m.state, m.probes, m.suspected) for m in bundle.status().members}
    assert states == {A: ("active", 0, 0), B: ("suspect", 2, 1)}  # probed, then again
    bundle.heard(B, when + 0.1)
    assert {member for member, _ in bundle.send(packets(1)[0], now=when + 0.1)} == {A, B}


def test_receiver_stops_waiting_on_a_suspect_member_and_counts_the_loss() -> None:
    # The sender's B line is cut: B's half of the first packet never arrives and
    # later packets (the sender already suspects B) come whole on A.
    ours, theirs = BundleTable(), BundleTable()
    for member in (A, B):
        ours.join(member, ALICE, INFO, 115200, now=0.0, send_window=4)
        theirs.join(member, BundleKey("bob"), INFO, 115200, now=0.0, send_window=4)
    local, remote = ours.bundle_of(A), theirs.bundle_of(A)
    assert local is not None and remote is not None
    first = local.send(packets(1, size=600)[0], now=0.0)
    suspect_b(local)
    later = packets(3, size=100)
    after_cut = [piece for packet in later for piece in local.send(packet, now=1.0)]
    assert {member for member, _ in after_cut} == {A}
    received = deliver(remote, [p for p in first if p[0] == A] + after_cut, now=0.1)
    assert received == []  # M waits on B
    now, released = 0.1, []
    while not remote.is_suspect(B):
        now += 0.05
        remote.heard(A, now)
        remote.liveness.activity(now)
        released += remote.check_liveness(now).packets
    assert released == later
    assert remote.status().lost == 1
    # B's line comes back: a fragment on it makes it a full member at once.
    local.heard(B, now)
    again = local.send(packets(1)[0], now=now)
    assert deliver(remote, again, now=now) == packets(1)
    assert not remote.is_suspect(B)
    fresh = local.send(packets(1)[0], now=now + 0.1)
    assert {member for member, _ in fresh} == {A, B}
    assert deliver(remote, fresh, now=now + 0.1) == packets(1)


def test_a_bundle_of_one_is_never_suspected() -> None:
    table = BundleTable()
    table.join(A, ALICE, INFO, 115200, now=0.0, send_window=4)
    bundle = table.bundle_of(A)
    assert bundle is not None
    for step in range(1, 40):
        bundle.liveness.activity(step * 0.1)
        result = bundle.check_liveness(step * 0.1)
        assert result.probe == () and result.suspect == ()
    assert bundle.send(b"y" * 200, now=4.0)


def test_every_member_suspect_still_sends_on_them() -> None:
    table = BundleTable()
    for member in (A, B):
        table.join(member, ALICE, INFO, 115200, now=0.0, send_window=4)
    bundle = table.bundle_of(A)
    assert bundle is not None
    bundle.liveness.activity(0.0)
    bundle.check_liveness(SILENCE + 0.01)
    bundle.check_liveness(SILENCE + DEADLINE + 0.02)
    assert bundle.is_suspect(A) and bundle.is_suspect(B)
    assert {member for member, _ in bundle.send(packets(1)[0], now=1.0)} == {A, B}


def test_an_idle_bundle_probes_nobody_and_wakes_only_for_deadlines() -> None:
    watch = Liveness(silence=0.3, deadline=0.4, busy=1.0)
    watch.add(A, 0.0)
    watch.add(B, 0.0)
    assert watch.next_check() is None  # never busy: nothing to wake for
    assert watch.check(5.0) == LivenessActions()
    watch.activity(5.0)
    assert (watch.next_check() or 99.0) <= 5.0  # both quiet since 0.0, and busy now: due
    assert watch.check(5.0).probe == (A, B)
    assert watch.next_check() == 5.4  # the probes' deadline
    watch.heard(A, 5.1)
    watch.heard(B, 5.1)
    assert watch.next_check() == 5.1 + 0.3  # quiet again 0.3 s later, while still busy
    watch.heard(A, 5.9)
    watch.heard(B, 5.9)
    assert watch.next_check() is None  # 6.2 is past the busy second: sleep until traffic
    assert watch.check(7.0) == LivenessActions()


def test_a_check_made_in_the_middle_of_input_probes_but_never_suspects() -> None:
    watch = Liveness(silence=0.3, deadline=0.4)
    watch.add(B, 0.0)
    watch.activity(0.0)
    assert watch.check(0.3, decide=False).probe == (B,)
    assert watch.check(2.0, decide=False) == LivenessActions()  # overdue, not decided here
    assert not watch.is_suspect(B)
    watch.activity(2.0)
    assert watch.check(2.0) == LivenessActions(probe=(B,), suspect=(B,))


def test_a_member_that_answers_slowly_gets_a_longer_deadline_up_to_the_cap() -> None:
    watch = Liveness(silence=0.3, deadline=0.4, busy=100.0)
    watch.add(B, 0.0)
    watch.activity(0.0)
    assert watch.deadline_of(B) == 0.4
    assert watch.check(0.3).probe == (B,)
    watch.heard(B, 0.65)  # answered in 0.35 s, close to the deadline
    assert watch.deadline_of(B) == pytest.approx(0.7)
    assert watch.check(1.0).probe == (B,)
    assert watch.check(1.6).suspect == ()  # 0.6 s unanswered: within 0.7
    watch.heard(B, 1.65)  # slower still: the deadline follows at once
    assert watch.deadline_of(B) == pytest.approx(1.3)
    assert watch.check(2.0).probe == (B,)
    assert watch.check(3.31).suspect == (B,)
    # A line down for longer than MAX_DEADLINE teaches nothing about its answer time.
    watch.heard(B, 8.0)
    assert watch.deadline_of(B) == pytest.approx(1.3)
    # Quick answers bring it down slowly, never under the least deadline.
    assert watch.check(8.4).probe == (B,)
    watch.heard(B, 8.5)
    assert watch.deadline_of(B) == pytest.approx(2 * (0.875 * 0.65 + 0.125 * 0.1))
    for step in range(60):
        start = 9.0 + step
        assert watch.check(start).probe == (B,)
        watch.heard(B, start + 0.01)
    assert watch.deadline_of(B) == pytest.approx(DEADLINE)
    assert MAX_DEADLINE == 2.0
