"""Fuzzing the receive path: bytes -> framer -> LCP -> PAP/CHAP -> IPCP/IPV6CP.

Three targets, all seeded with what real pppd put on the wire:

* a live negotiation through a hostile line (``line.HostileLine``): every
  scenario, with the peer's chunks dropped, damaged, cut, duplicated, and
  real pppd frames, mutated and re-checksummed, slipped in between;
* real pppd byte streams, mutated at the byte level, into a fresh endpoint;
* the framer's bookkeeping on any byte stream in any chunking: every
  flag-delimited segment is either delivered or counted as an error --
  which is what lets the line-noise test account for every lost frame.

Expected everywhere: no exception escapes, no input runs longer than the
watchdog allows, and the bounds ``HostileLine`` checks hold.
"""

from __future__ import annotations

import random

from hypothesis import example, given
from hypothesis import strategies as st

from ndiswan.ppp import PppSession
from tests.fuzz.budget import fuzz_settings, watchdog
from tests.fuzz.line import SCENARIOS, Damage, Endpoint, HostileLine, Scenario, lookup
from tests.fuzz.seeds import capture_frames, wire_streams
from wanminiport.framing import PppAsyncFramer
from wanminiport.info import FramingBits, LinkInfo

damages = st.one_of(
    st.just(Damage("pass")),
    st.just(Damage("drop")),
    st.just(Damage("duplicate")),
    st.builds(Damage, st.just("flip"), st.integers(0, 1 << 16)),
    st.builds(Damage, st.just("cut"), st.integers(0, 512)),
    st.builds(Damage, st.just("garbage"), st.just(0), st.binary(min_size=1, max_size=80)),
    st.builds(Damage, st.just("seed"), st.integers(0, 1000), st.binary(max_size=6) | st.just(b"")),
)
#: Mostly clean chunks, so negotiation gets deep before damage hits it.
plans = st.lists(st.one_of(st.just(Damage("pass")), damages), max_size=40)


@fuzz_settings(2000)
@given(st.sampled_from(SCENARIOS), plans, st.integers(0, 2**16))
@example(SCENARIOS[0], [], 0)
@example(SCENARIOS[2], [Damage("seed", i) for i in range(40)], 1)
def test_hostile_line_never_breaks_the_endpoint(
    scenario: Scenario, plan: list[Damage], seed: int
) -> None:
    """Expected: whatever the line does, the endpoint raises nothing and stays bounded."""
    with watchdog("receive path: live negotiation on a hostile line"):
        HostileLine(scenario, plan, seed).run()


stream_edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "delete", "insert", "splice"]),
        st.integers(0, 4096),
        st.binary(max_size=16),
    ),
    max_size=12,
)


def edited(stream: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    data = bytearray(stream)
    for kind, position, extra in edits:
        at = position % (len(data) + 1)
        if kind == "flip" and data:
            data[at % len(data)] ^= 1 << (position % 8)
        elif kind == "delete":
            del data[at : at + 1 + len(extra)]
        elif kind == "insert":
            data[at:at] = extra
        else:  # splice in a piece of another capture
            other = random.Random(position).choice(list(wire_streams().values()))
            data[at:at] = other[position % len(other) :][: 8 + 4 * len(extra)]
    return bytes(data)


@fuzz_settings(1500)
@given(
    st.sampled_from(sorted(wire_streams())),
    stream_edits,
    st.sampled_from(SCENARIOS),
    st.lists(st.integers(1, 64), max_size=20),
)
@example("chap_client_to_server.bin", [], SCENARIOS[0], [])
@example("pap_client_to_server.bin", [], SCENARIOS[2], [3, 1, 7])
def test_mutated_pppd_streams_never_break_a_fresh_endpoint(
    name: str, edits: list[tuple[str, int, bytes]], scenario: Scenario, chunking: list[int]
) -> None:
    """Expected: a real pppd byte stream, edited anyhow and cut into any chunks, is
    absorbed: no exception, the framer's buffer bounded, timers always move on."""
    stream = edited(wire_streams()[name], edits)
    config = scenario.under_test
    with watchdog("receive path: mutated pppd capture streams"):
        end = Endpoint(PppSession(config, secrets=lookup, rng=random.Random(7).randbytes))
        end.session.open(0.0)
        end.session.lower_up(0.0)
        now, position, sizes = 0.0, 0, chunking or [len(stream) or 1]
        for size in itertools_cycle(sizes, len(stream)):
            end.receive(stream[position : position + size], now)
            end.outgoing(now)
            position += size
            now += 0.05
            timer = end.session.get_timer()
            if timer is not None and timer <= now:
                end.fire_timer(now)
        for _ in range(60):  # then let every timer run out
            timer = end.session.get_timer()
            if timer is None:
                break
            now = max(now, timer)
            end.fire_timer(now)
            end.outgoing(now)
        assert end.framer.buffered <= 2 * (16384 + 8)


def itertools_cycle(sizes: list[int], total: int) -> list[int]:
    """Chunk sizes cycling through ``sizes`` until ``total`` octets are covered."""
    out, covered, index = [], 0, 0
    while covered < total:
        size = sizes[index % len(sizes)]
        out.append(size)
        covered += size
        index += 1
    return out


def segments(stream: bytes, discard: bytes) -> int:
    """Non-empty flag-delimited segments a receiver must account for (a trailing,
    unterminated one is still in progress)."""
    kept = stream.translate(None, discard)
    return sum(1 for piece in kept.split(b"\x7e")[:-1] if piece)


link_infos = st.builds(
    LinkInfo,
    max_send_frame_size=st.sampled_from([296, 1500]),
    max_recv_frame_size=st.sampled_from([128, 296, 1500, 4000]),
    recv_framing_bits=st.sampled_from(
        [FramingBits.PPP_FRAMING, FramingBits.PPP_FRAMING | FramingBits.PPP_FCS32]
    ),
    recv_accm=st.sampled_from([0, 0xFFFFFFFF, 0x000A0000]),
)
frame_bytes = st.one_of(
    st.sampled_from(capture_frames()),
    st.binary(min_size=1, max_size=200),
    st.binary(min_size=1500, max_size=5000),
)


@fuzz_settings(1000)
@given(
    link_infos,
    st.lists(
        st.one_of(
            frame_bytes.map(lambda f: ("frame", f)),
            st.binary(max_size=100).map(lambda b: ("raw", b)),
            st.integers(0, 1 << 14).map(lambda n: ("flip", n.to_bytes(2, "big"))),
        ),
        max_size=30,
    ),
    st.lists(st.integers(1, 300), min_size=1, max_size=10),
)
def test_every_received_segment_is_delivered_or_counted(
    info: LinkInfo, pieces: list[tuple[str, bytes]], chunking: list[int]
) -> None:
    """Expected: frames decoded + CRC errors + runts + aborts + oversize equals the
    number of non-empty segments between flags, whatever the stream and its chunking."""
    sender = PppAsyncFramer(
        LinkInfo(send_accm=info.recv_accm, send_framing_bits=info.recv_framing_bits)
    )
    wire = bytearray()
    for kind, data in pieces:
        if kind == "frame":
            wire += sender.encode(data, 10.0 * len(wire))
        elif kind == "raw":
            wire += data
        elif wire:
            bit = int.from_bytes(data, "big") % (8 * len(wire))
            wire[bit >> 3] ^= 1 << (bit & 7)
    wire += b"\x7e"
    stream = bytes(wire)
    with watchdog("framer: segment accounting"):
        receiver = PppAsyncFramer(info)
        delivered, position = 0, 0
        for size in itertools_cycle(chunking, len(stream)):
            delivered += len(receiver.decode(stream[position : position + size]))
            position += size
        stats = receiver.stats
        counted = stats.crc_errors + stats.runts + stats.aborts + stats.oversize
        discard = bytes(c for c in range(32) if info.recv_accm >> c & 1)
        assert delivered + counted == segments(stream, discard)
        assert receiver.buffered == 0
