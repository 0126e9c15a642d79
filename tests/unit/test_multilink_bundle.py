"""RFC 1990 bundles: which links join which bundle, and traffic over the members.

Two ``Bundle`` objects wired back to back play both ends; time is a number.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, replace

import pytest

from ndiswan.ppp.events import LinkInfoNegotiated
from ndiswan.ppp.multilink import (
    Bundle,
    BundleKey,
    BundleTable,
    EndpointDiscriminator,
    MemberState,
)
from wanminiport.sansio import LocalProtocolError

A, B = "ttyUSB0", "ttyUSB1"
MAC = EndpointDiscriminator(3, bytes.fromhex("021122334455"))
ALICE = BundleKey("alice", MAC)
INFO = LinkInfoNegotiated(
    send_mru=1500,
    recv_mru=1500,
    send_accm=0,
    recv_accm=0,
    send_pfc=False,
    send_acfc=False,
    recv_pfc=False,
    recv_acfc=False,
    local_magic=1,
    peer_magic=2,
    multilink=True,
    peer_mrru=1500,
    local_mrru=1500,
    peer_endpoint=MAC,
)


def pair(
    speeds: tuple[int, int] = (115200, 57600), info: LinkInfoNegotiated = INFO
) -> tuple[Bundle, Bundle]:
    """Our bundle and the peer's, each with members A and B."""
    ours, theirs = BundleTable(), BundleTable()
    for member, speed in zip((A, B), speeds, strict=True):
        mine = ours.join(member, ALICE, info, speed, now=0.0, send_window=4)
        peer = theirs.join(member, BundleKey("bob"), info, speed, now=0.0, send_window=4)
        assert mine.accepted and peer.accepted
    local, remote = ours.bundle_of(A), theirs.bundle_of(A)
    assert local is not None and remote is not None
    return local, remote


def packets(count: int, size: int = 600) -> list[bytes]:
    return [bytes([n % 256]) * size + n.to_bytes(2, "big") for n in range(count)]


def deliver(remote: Bundle, sent: list[tuple[str, bytes]], now: float = 1.0) -> list[bytes]:
    out: list[bytes] = []
    for member, data in sent:
        out += remote.receive(member, data, now)
    return out


# --- which bundle a link joins ------------------------------------------------------


def test_first_member_makes_a_new_bundle_later_ones_join_it() -> None:
    table = BundleTable()
    first = table.join(A, ALICE, INFO, 115200, now=0.0)
    second = table.join(B, ALICE, INFO, 57600, now=1.0)
    assert first.accepted and first.new_bundle
    assert second.accepted and not second.new_bundle
    assert first.bundle is second.bundle
    assert [m.member_id for m in second.bundle.active] == [A, B]  # type: ignore[union-attr]


def test_key_is_name_and_endpoint_and_null_endpoint_is_none() -> None:
    assert BundleKey("alice", EndpointDiscriminator(0)) == BundleKey("alice", None)
    assert BundleKey("alice", MAC) != BundleKey("alice", None)
    assert BundleKey("alice", MAC) != BundleKey("bob", MAC)
    assert BundleKey.for_link("alice", INFO) == ALICE
    assert str(ALICE) == '"alice"/MAC:02:11:22:33:44:55'
    assert str(BundleKey()) == '""'


def test_link_without_multilink_never_joins() -> None:
    table = BundleTable()
    result = table.join(A, ALICE, replace(INFO, multilink=False), 115200, now=0.0)
    assert not result.accepted and result.bundle is None
    assert "multilink was not negotiated" in (result.refused or "")
    assert table.bundles == []


def test_foreign_key_never_joins_another_peers_bundle() -> None:
    table = BundleTable()
    alice = table.join(A, ALICE, INFO, 115200, now=0.0)
    mallory = table.join(B, BundleKey("mallory", MAC), INFO, 57600, now=1.0)
    same_name_other_box = table.join("ttyS0", BundleKey("alice"), INFO, 9600, now=2.0)
    assert mallory.accepted and mallory.new_bundle and mallory.bundle is not alice.bundle
    assert same_name_other_box.new_bundle and same_name_other_box.bundle is not alice.bundle
    assert [m.member_id for m in alice.bundle.active] == [A]  # type: ignore[union-attr]
    assert len(table.bundles) == 3


def test_foreign_key_refused_when_one_bundle_allowed() -> None:
    table = BundleTable(refuse_foreign=True)
    assert table.join(A, ALICE, INFO, 115200, now=0.0).accepted
    result = table.join(B, BundleKey("mallory", MAC), INFO, 57600, now=1.0)
    assert not result.accepted and result.bundle is None
    assert '"mallory"' in (result.refused or "") and '"alice"' in (result.refused or "")
    assert "one bundle" in (result.refused or "")
    assert table.join(B, ALICE, INFO, 57600, now=2.0).accepted  # the right peer still may


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"peer_mrru": 1600}, "MRRU"),
        ({"local_mrru": 1024}, "MRRU"),
        ({"send_short_seq": True}, "header format"),
        ({"recv_short_seq": True}, "header format"),
    ],
)
def test_mismatched_header_format_or_mrru_is_refused(change: dict[str, object], words: str) -> None:
    table = BundleTable()
    bundle = table.join(A, ALICE, INFO, 115200, now=0.0).bundle
    result = table.join(B, ALICE, replace(INFO, **change), 57600, now=1.0)  # type: ignore[arg-type]
    assert not result.accepted
    assert words in (result.refused or "") and B in (result.refused or "")
    assert bundle is not None and [m.member_id for m in bundle.active] == [A]


def test_two_bundles_in_one_table_stay_apart() -> None:
    table = BundleTable()
    bob = BundleKey("bob", EndpointDiscriminator(2, bytes([192, 0, 2, 1])))
    a1 = table.join(A, ALICE, INFO, 115200, now=0.0).bundle
    b1 = table.join("ttyS0", bob, INFO, 115200, now=0.0).bundle
    table.join(B, ALICE, INFO, 57600, now=0.0)
    table.join("ttyS1", bob, INFO, 57600, now=0.0)
    assert a1 is not None and b1 is not None and a1 is not b1
    sent = a1.send(packets(1)[0], now=1.0)
    assert {member for member, _ in sent} == {A, B}
    assert b1.status().packets_sent == 0
    # A fragment of one bundle that arrives on the other's member is not taken.
    assert b1.receive(A, sent[0][1], now=1.0) == []
    assert b1.counters.not_member == 1
    assert not table.leave(A, "carrier lost", now=2.0).ended
    assert table.leave(B, "carrier lost", now=2.0).ended
    assert table.bundles == [b1] and not b1.ended


def test_leave_rejoin_and_bundle_end() -> None:
    table = BundleTable()
    bundle = table.join(A, ALICE, INFO, 115200, now=0.0).bundle
    table.join(B, ALICE, INFO, 57600, now=0.0)
    assert bundle is not None
    left = table.leave(B, "LCP echo failure", now=5.0)
    assert not left.ended and left.reason == "LCP echo failure"
    assert bundle.members[B].state is MemberState.LEFT
    again = table.join(B, ALICE, INFO, 57600, now=9.0)
    assert again.accepted and again.rejoined and not again.new_bundle
    assert again.bundle is bundle and bundle.members[B].state is MemberState.ACTIVE
    assert not table.leave(A, "line cut", now=10.0).ended
    end = table.leave(B, "carrier lost", now=11.0)
    assert end.ended and bundle.ended and table.bundles == []
    fresh = table.join(A, ALICE, INFO, 115200, now=12.0)
    assert fresh.new_bundle and fresh.bundle is not bundle  # an ended bundle is never reused
    assert bundle.send(b"late", now=13.0) == [] and bundle.counters.unsent == 1


def test_misuse_is_a_local_protocol_error() -> None:
    table = BundleTable()
    table.join(A, ALICE, INFO, 115200, now=0.0)
    assert not table.join(A, ALICE, INFO, 115200, now=0.0).accepted  # already a member
    with pytest.raises(LocalProtocolError):
        table.leave(B, "never joined", now=1.0)
    bundle = table.bundle_of(A)
    assert bundle is not None
    with pytest.raises(LocalProtocolError):
        bundle.set_link_params(A, now=1.0, send_window=-1)


# --- traffic ------------------------------------------------------------------------


def test_two_members_share_about_two_to_one_and_reassemble_in_order() -> None:
    local, remote = pair()
    stream = packets(20)
    sent = [piece for packet in stream for piece in local.send(packet, now=1.0)]
    assert deliver(remote, sent) == stream
    status = {m.member_id: m for m in local.status().members}
    assert status[A].share == pytest.approx(2 / 3, abs=0.02)
    assert status[B].share == pytest.approx(1 / 3, abs=0.02)
    assert status[A].frames_sent == status[B].frames_sent == 20
    assert remote.status().packets_received == 20
    assert {m.member_id: m.octets_received for m in remote.status().members} == {
        A: status[A].octets_sent,
        B: status[B].octets_sent,
    }


def test_short_sequence_numbers_both_ways_wrap_and_round_trip() -> None:
    short = replace(INFO, send_short_seq=True, recv_short_seq=True)
    local, remote = pair(info=short)
    local.fragmenter.next_sequence = 0xFF0  # 12 bits: wraps after 16 fragments
    stream = packets(20)
    sent = [piece for packet in stream for piece in local.send(packet, now=1.0)]
    assert sum(len(data) for _, data in sent) == 20 * (602 + 2 * 2)  # 2-octet headers
    assert deliver(remote, sent) == stream


def test_status_per_member_is_json_and_keeps_a_leavers_reason() -> None:
    local, _ = pair()
    local.send(packets(1)[0], now=1.0)
    local.leave(B, "carrier lost", now=2.0)
    status = local.status()
    as_json = json.loads(json.dumps(asdict(status)))
    assert as_json["key"] == '"alice"/MAC:02:11:22:33:44:55'
    by_id = {m["member_id"]: m for m in as_json["members"]}
    assert by_id[A]["state"] == "active" and by_id[A]["speed_bps"] == 115200
    assert by_id[B]["state"] == "left" and by_id[B]["leave_reason"] == "carrier lost"
    assert by_id[A]["share"] + by_id[B]["share"] == pytest.approx(1.0)
    assert by_id[B]["errors"] == 0


def test_reordering_across_members_still_delivers_in_order() -> None:
    local, remote = pair()
    stream = packets(20)
    queues: dict[str, list[bytes]] = {A: [], B: []}
    for packet in stream:
        for member, data in local.send(packet, now=1.0):
            queues[member].append(data)
    # Each member keeps its own order; the two interleave at random.
    rng = random.Random(1990)
    received: list[bytes] = []
    while queues[A] or queues[B]:
        member = rng.choice([m for m in (A, B) if queues[m]])
        received += remote.receive(member, queues[member].pop(0), now=2.0)
    assert received == stream
    assert remote.reassembler.buffered() == (0, 0)


def test_all_of_the_slow_member_first_then_the_fast_one() -> None:
    local, remote = pair()
    stream = packets(10)
    sent = [piece for packet in stream for piece in local.send(packet, now=1.0)]
    slow_first = [p for p in sent if p[0] == B] + [p for p in sent if p[0] == A]
    assert deliver(remote, slow_first) == stream


def test_lost_fragment_drops_its_packet_counts_it_and_later_ones_arrive() -> None:
    local, remote = pair()
    stream = packets(10)
    sent: list[tuple[str, bytes]] = []
    for index, packet in enumerate(stream):
        pieces = local.send(packet, now=1.0)
        if index == 4:
            pieces = [p for p in pieces if p[0] != B]  # B's fragment of packet 4 is lost
        sent += pieces
    assert deliver(remote, sent) == stream[:4] + stream[5:]
    assert remote.status().lost == 1
    assert remote.status().packets_received == 9


def test_member_leaving_mid_stream_later_packets_use_the_other() -> None:
    local, remote = pair()
    stream = packets(10)
    received: list[bytes] = []
    for index, packet in enumerate(stream):
        if index == 5:
            assert not local.leave(B, "carrier lost", now=5.0).ended
            received += remote.leave(B, "carrier lost", now=5.0).packets
        pieces = local.send(packet, now=float(index))
        if index >= 5:
            assert {member for member, _ in pieces} == {A}
        received += deliver(remote, pieces)
    assert received == stream
    assert local.status().members[0].member_id == A


def test_leaving_member_releases_what_its_m_held_back() -> None:
    local, remote = pair()
    first = local.send(packets(1)[0], now=1.0)  # one fragment on A, one on B
    local.set_link_params(B, now=1.0, send_window=0)
    second = local.send(b"x" * 300, now=1.0)  # only A
    # B's fragment of the first packet never arrives: the line is cut.
    received = deliver(remote, [p for p in first if p[0] == A] + second)
    assert received == []  # M still waits for B, which might yet speak
    result = remote.leave(B, "line cut", now=2.0)
    assert result.packets == (b"x" * 300,)
    assert remote.status().lost == 1


def test_shut_window_gets_nothing_and_reopening_shares_again() -> None:
    local, remote = pair()
    local.set_link_params(B, now=1.0, send_window=0)
    stream = packets(5)
    shut = [piece for packet in stream for piece in local.send(packet, now=1.0)]
    assert {member for member, _ in shut} == {A}
    assert deliver(remote, shut) == stream
    local.set_link_params(B, now=2.0, send_window=2)
    again = local.send(stream[0], now=2.0)
    assert {member for member, _ in again} == {A, B}
    local.set_link_params(A, now=3.0, send_window=0)
    local.set_link_params(B, now=3.0, send_window=0)
    assert local.send(stream[0], now=3.0) == [] and local.counters.unsent == 1


def test_packet_over_the_peers_mrru_is_not_sent() -> None:
    local, _ = pair()
    assert local.send(b"\x00\x21" + b"x" * 1501, now=1.0) == []
    assert local.counters.over_mrru == 1


def test_garbage_on_one_member_costs_bounded_memory_and_is_counted() -> None:
    local, remote = pair()
    stream = packets(30)
    assert (
        deliver(remote, [p for packet in stream[:5] for p in local.send(packet, 1.0)])
        == (stream[:5])
    )
    rng = random.Random(13)
    for n in range(20000):
        remote.receive(B, rng.randbytes(rng.randrange(0, 40)), now=float(n))
    fragments, octets = remote.reassembler.buffered()
    assert fragments <= remote.reassembler.max_fragments + 1
    assert octets <= remote.reassembler.max_octets + 40
    status = remote.status()
    assert not status.ended and [m.state for m in status.members] == ["active", "active"]
    assert {m.member_id: m.errors > 0 for m in status.members} == {A: False, B: True}
    assert status.dropped > 10000
    # The bundle still carries traffic.  A junk fragment that landed on a
    # sequence number the sender later uses may spoil that one packet (only
    # the member's FCS could have told), but the stream goes on.
    later = deliver(remote, [p for packet in stream[5:] for p in local.send(packet, 2.0)])
    genuine = [packet for packet in later if packet in stream]
    assert len(genuine) >= 23 and genuine == sorted(genuine, key=stream.index)


def test_a_bundle_of_one_sends_packets_whole_up_to_the_members_mru() -> None:
    table = BundleTable()
    table.join(A, ALICE, INFO, 115200, now=0.0, send_window=4)
    bundle = table.bundle_of(A)
    assert bundle is not None
    full = b"\x00\x21" + bytes(1500)  # a 1500-octet IP packet: too big for one fragment
    assert bundle.sole_member(full) == A
    bundle.sent_whole(A, len(full))
    status = bundle.status()
    member = status.members[0]
    assert (status.packets_sent, member.frames_sent, member.octets_sent) == (1, 0, 1502)
    assert bundle.sole_member(b"\x00\x21" + bytes(1501)) is None  # over the MRU: fragments
    table.join(B, ALICE, INFO, 115200, now=1.0, send_window=4)
    assert bundle.sole_member(full) is None  # two members: fragments again
