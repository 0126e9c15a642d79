"""Deliberately broken copies of our own PPP, one per LCP case, for tests only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ndiswan.ppp import PppSession
from ndiswan.ppp.automaton import Automaton
from ndiswan.ppp.constants import Code, LcpOpt, Proto
from ndiswan.ppp.fsm import Input, State
from ndiswan.ppp.options import ACK
from ndiswan.ppp.packet import ControlPacket, Option, parse_control_packet
from tests.conformance.simline import Mutant
from wanctl.conformance.probe import ALL_CONTROLS, ESCAPE, escape, unescape
from wanminiport.framing import PppAsyncFramer, fcs16_bytes, fcs16_good


def _rewrite_lcp(code: int, change):  # type: ignore[no-untyped-def]
    """A mutant filter: every LCP packet with ``code`` the peer sends goes through ``change``."""

    def outgoing(frames: list[bytes]) -> list[bytes]:
        out = []
        for frame in frames:
            if frame[:2] == Proto.LCP.to_bytes(2, "big") and len(frame) > 2 and frame[2] == code:
                replaced = change(frame)
                if replaced is not None:
                    out.append(replaced)
            else:
                out.append(frame)
        return out

    return outgoing


def _with_length(frame: bytes) -> bytes:
    """``frame`` (LCP) with its length field recomputed."""
    length = len(frame) - 2
    return frame[:4] + length.to_bytes(2, "big") + frame[6:]


def _reject_with_extra(frame: bytes) -> bytes:
    # The reject also lists a Magic-Number the request carried.
    return _with_length(frame + bytes.fromhex("05065a5a1234"))


def _on_lcp(change: Callable[[Automaton], None]) -> Callable[[PppSession, PppAsyncFramer], None]:
    """A mutant patch: ``change`` applied to the peer's LCP automaton."""

    def patch(session: PppSession, framer: PppAsyncFramer) -> None:
        change(session._lcp)

    return patch


def _timing(**changes: float) -> Callable[[PppSession, PppAsyncFramer], None]:
    def change(lcp: Automaton) -> None:
        lcp.timing = replace(lcp.timing, **changes)  # type: ignore[arg-type]

    return _on_lcp(change)


def _ignores_accm_naks(lcp: Automaton) -> None:
    apply_nak = lcp.handler.apply_nak

    def without_accm(options: list[Option], treat_as_reject: bool) -> bool:
        return apply_nak([o for o in options if o.type != LcpOpt.ACCM], treat_as_reject)

    lcp.handler.apply_nak = without_accm  # type: ignore[method-assign]


def _no_renegotiation(lcp: Automaton) -> None:
    send = lcp._send_configure_request

    def only_when_not_opened(prior: State, *, retransmit: bool, reset: bool) -> None:
        if prior is not State.OPENED:
            send(prior, retransmit=retransmit, reset=reset)

    lcp._send_configure_request = only_when_not_opened  # type: ignore[method-assign]


def _echoes_in_any_state(lcp: Automaton) -> None:
    receive = lcp.receive

    def echoing(data: bytes, now: float) -> None:
        packet = parse_control_packet(data)
        if packet is not None and packet.code == Code.ECHO_REQUEST and not lcp.is_opened:
            lcp._queue(Code.ECHO_REPLY, packet.identifier, b"\0\0\0\0" + packet.data[4:])
        receive(data, now)

    lcp.receive = echoing  # type: ignore[method-assign]


def _no_loopback_check(lcp: Automaton) -> None:
    judge = lcp.handler.judge_option

    def trusting(option: Option):  # type: ignore[no-untyped-def]
        return ACK if option.type == LcpOpt.MAGIC_NUMBER else judge(option)

    lcp.handler.judge_option = trusting  # type: ignore[method-assign]


def _any_identifier(lcp: Automaton) -> None:
    def is_reply(packet: ControlPacket) -> bool:
        return lcp._request_id is not None and not lcp._reply_seen

    lcp._is_reply_to_ours = is_reply  # type: ignore[method-assign]


def _any_options(lcp: Automaton) -> None:
    def take_ack(packet: ControlPacket, now: float) -> None:
        if lcp._is_reply_to_ours(packet):
            lcp._reply_seen = True
            lcp._naks_received = 0
            lcp.handler.apply_ack(list(lcp._request_options))
            lcp.process_input(Input.RCA, now, packet=packet)

    lcp._receive_configure_ack = take_ack  # type: ignore[method-assign]


def _rejects_discard(lcp: Automaton) -> None:
    receive = lcp.receive

    def unknown_discard(data: bytes, now: float) -> None:
        packet = parse_control_packet(data)
        if packet is not None and packet.code == Code.DISCARD_REQUEST:
            lcp.process_input(Input.RUC, now, packet=packet)
            return
        receive(data, now)

    lcp.receive = unknown_discard  # type: ignore[method-assign]


def _length_from_frame(data: bytes) -> bytes:
    """What reaches the peer, every LCP packet's Length made the frame's: it trusts no Length."""
    out = []
    for piece in data.split(b"\x7e"):
        body = unescape(piece)
        if not piece or piece.endswith(bytes((ESCAPE,))) or not fcs16_good(body):
            out.append(piece)
            continue
        body = body[:-2]
        if body[2:4] == Proto.LCP.to_bytes(2, "big") and len(body) >= 8:
            body = body[:6] + (len(body) - 4).to_bytes(2, "big") + body[8:]
        out.append(escape(body + fcs16_bytes(body), ALL_CONTROLS))
    return b"\x7e".join(out)


MUTANTS: dict[str, Mutant] = {
    "lcp-unknown-option": Mutant(
        "rejects more than the unknown option",
        outgoing=_rewrite_lcp(Code.CONFIGURE_REJECT, _reject_with_extra),
    ),
    "lcp-unknown-code": Mutant(
        "ignores unknown codes", outgoing=_rewrite_lcp(Code.CODE_REJECT, lambda frame: None)
    ),
    "lcp-protocol-reject": Mutant(
        "Protocol-Reject always with identifier 1",
        outgoing=_rewrite_lcp(Code.PROTOCOL_REJECT, lambda frame: frame[:3] + b"\x01" + frame[4:]),
    ),
    "lcp-echo-reply": Mutant(
        "Echo-Reply with a zero magic number",
        outgoing=_rewrite_lcp(Code.ECHO_REPLY, lambda frame: frame[:6] + b"\0\0\0\0" + frame[10:]),
    ),
    "lcp-nak-adopted": Mutant("ignores a Nak of its ACCM", patch=_on_lcp(_ignores_accm_naks)),
    "lcp-max-failure": Mutant("never turns Naks into Rejects", patch=_timing(max_failure=1000)),
    "lcp-terminate-ack": Mutant(
        "Terminate-Ack with the next identifier",
        outgoing=_rewrite_lcp(
            Code.TERMINATE_ACK,
            lambda frame: frame[:3] + bytes(((frame[3] + 1) & 0xFF,)) + frame[4:],
        ),
    ),
    "lcp-renegotiate": Mutant(
        "answers a Configure-Request in Opened but never sends its own",
        patch=_on_lcp(_no_renegotiation),
    ),
    "lcp-echo-before-opened": Mutant(
        "answers Echo-Requests in any state", patch=_on_lcp(_echoes_in_any_state)
    ),
    "lcp-magic-loopback": Mutant(
        "acknowledges any Magic-Number, its own too", patch=_on_lcp(_no_loopback_check)
    ),
    "lcp-ack-wrong-id": Mutant(
        "takes a Configure-Ack whatever its identifier", patch=_on_lcp(_any_identifier)
    ),
    "lcp-ack-wrong-options": Mutant(
        "takes a Configure-Ack whatever its options", patch=_on_lcp(_any_options)
    ),
    "lcp-restart-timer": Mutant("retransmits every 100 ms", patch=_timing(restart_time=0.1)),
    "lcp-max-configure": Mutant("never gives up", patch=_timing(max_configure=1000)),
    "lcp-discard-request": Mutant("Code-Rejects Discard-Request", patch=_on_lcp(_rejects_discard)),
    "lcp-length-padding": Mutant(
        "reads a packet to the end of its frame", incoming=_length_from_frame
    ),
    "lcp-length-too-long": Mutant(
        "reads a packet to the end of its frame", incoming=_length_from_frame
    ),
}
