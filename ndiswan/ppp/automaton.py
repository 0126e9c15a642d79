"""Runs the RFC 1661 table of ``fsm.py`` for one control protocol.

LCP, IPCP, IPV6CP and CCP are each one ``Automaton`` with a different
``OptionHandler``.  It classifies received packets into the RFC's inputs
(RCR+, RCA, RTR, ...), looks the transition up in ``fsm.TRANSITIONS`` and
performs its actions: counters, the Restart timer, the packets to send.

Sans-I/O, in ``wanminiport.sansio``'s contract: one ``drain()`` gives, in the
order they were decided, the packets to send (``Transmit``, after the
protocol field), upward signals (This-Layer-Up and friends) and public
events (``LogLine``, ``ProtocolError``); time is the ``now`` argument and
``get_timer()`` says when the Restart timer next wants ``handle_timer``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from ndiswan.ppp.constants import DEFAULT_MRU, HEADER_LEN, Code, Proto
from ndiswan.ppp.events import LogLevel, LogLine, ProtocolError
from ndiswan.ppp.fsm import (
    NEGOTIATING_STATES,
    TIMER_STATES,
    TRANSITIONS,
    Action,
    Input,
    State,
    Timing,
)
from ndiswan.ppp.log import hex_bytes, visible
from ndiswan.ppp.options import OptionHandler, RequestReply
from ndiswan.ppp.packet import (
    ControlPacket,
    Option,
    encode_options,
    parse_control_packet,
    parse_options,
)
from wanminiport.sansio import Transmit

#: Codes whose Code-Reject means the peer cannot run this protocol at all.
_CATASTROPHIC_CODES: Final = frozenset(range(Code.CONFIGURE_REQUEST, Code.CODE_REJECT + 1))
#: LCP-only codes (RFC 1661 5.7-5.9, RFC 1570) that the automaton sees as RXR.
_LINK_RXR_CODES: Final = frozenset(
    {
        Code.ECHO_REQUEST,
        Code.ECHO_REPLY,
        Code.DISCARD_REQUEST,
        Code.IDENTIFICATION,
        Code.TIME_REMAINING,
    }
)


#: The packet code behind each receive input, for blank stand-in packets.
_INPUT_CODES: Final[Mapping[Input, int]] = {
    Input.RCR_PLUS: Code.CONFIGURE_REQUEST,
    Input.RCR_MINUS: Code.CONFIGURE_REQUEST,
    Input.RCA: Code.CONFIGURE_ACK,
    Input.RCN: Code.CONFIGURE_NAK,
    Input.RTR: Code.TERMINATE_REQUEST,
    Input.RTA: Code.TERMINATE_ACK,
    Input.RUC: 0,
    Input.RXJ_PLUS: Code.CODE_REJECT,
    Input.RXJ_MINUS: Code.CODE_REJECT,
    Input.RXR: Code.ECHO_REQUEST,
}


# Upward signals (the RFC's this-layer actions and a few LCP indications).


@dataclass(frozen=True)
class LayerUp:
    pass


@dataclass(frozen=True)
class LayerDown:
    pass


@dataclass(frozen=True)
class LayerStarted:
    pass


@dataclass(frozen=True)
class LayerFinished:
    pass


@dataclass(frozen=True)
class PeerRejectedProtocol:
    """A valid Protocol-Reject of ``protocol`` (not LCP) arrived in Opened."""

    protocol: int


@dataclass(frozen=True)
class EchoReplyReceived:
    data: bytes


@dataclass(frozen=True)
class CodeReceived:
    """A packet of one of the protocol's own codes (CCP's Reset-Request/Ack) in Opened."""

    code: int
    identifier: int
    data: bytes


@dataclass(frozen=True)
class NegotiationAborted:
    """The option handler gave up (e.g. looped-back line); the owner closes."""

    reason: str


Signal = (
    LayerUp
    | LayerDown
    | LayerStarted
    | LayerFinished
    | PeerRejectedProtocol
    | EchoReplyReceived
    | NegotiationAborted
    | CodeReceived
)

#: What ``Automaton.drain()`` gives: packets to send, signals upward, events.
AutomatonOutput = Transmit | Signal | LogLine | ProtocolError


@dataclass
class AutomatonStats:
    malformed: int = 0
    stale_replies: int = 0
    bad_replies: int = 0
    unexpected: int = 0


class Automaton:
    """One control protocol's RFC 1661 automaton around an option handler."""

    def __init__(
        self,
        protocol: int,
        name: str,
        handler: OptionHandler,
        timing: Timing | None = None,
        *,
        link_control: bool = False,
        echo_magic: Callable[[], int] | None = None,
        extra_codes: tuple[int, ...] = (),
    ) -> None:
        self.protocol = protocol
        self.name = name
        self.handler = handler
        self.timing = timing or Timing()
        #: LCP: also understands Protocol-Reject, Echo, Discard, Identification.
        self.link_control = link_control
        self._echo_magic = echo_magic
        #: Codes beyond RFC 1661's that this protocol defines (CCP: 14, 15).
        self.extra_codes = frozenset(extra_codes)
        #: The peer's MRU: Code-Reject and Protocol-Reject are cut to fit it.
        self.peer_mru = DEFAULT_MRU
        self.state = State.INITIAL
        self.stats = AutomatonStats()
        self._restart_count = 0
        self._deadline: float | None = None
        self._last_id = 0
        self._request_id: int | None = None
        self._request_options: list[Option] = []
        self._reply_seen = False
        self._naks_sent = 0
        self._naks_received = 0
        self._term_reason = b""
        #: Why the layer last finished on its own (shown in LinkTerminated).
        self.finished_reason = ""
        self._outputs: list[AutomatonOutput] = []

    # -- outputs ----------------------------------------------------------

    def drain(self) -> list[AutomatonOutput]:
        """Packets, signals and events since the last call, oldest first."""
        out, self._outputs = self._outputs, []
        return out

    def get_timer(self) -> float | None:
        return self._deadline

    @property
    def is_opened(self) -> bool:
        return self.state is State.OPENED

    # -- administrative and lower-layer inputs -----------------------------

    def up(self, now: float) -> None:
        self.finished_reason = ""
        self.process_input(Input.UP, now, by_peer=False)

    def down(self, now: float) -> None:
        self.process_input(Input.DOWN, now, by_peer=False)

    def open(self, now: float) -> None:
        self.process_input(Input.OPEN, now, by_peer=False)

    def close(self, reason: str, now: float) -> None:
        self._term_reason = reason.encode("utf-8", "replace")[: self.peer_mru - HEADER_LEN]
        self.process_input(Input.CLOSE, now, by_peer=False)

    def protocol_rejected(self, now: float) -> None:
        """The peer Protocol-Rejected us: RFC 1661's catastrophic RXJ-."""
        self.finished_reason = f"{self.name} rejected by peer"
        self.process_input(Input.RXJ_MINUS, now)

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        if self._restart_count > 0:
            self.process_input(Input.TO_PLUS, now, by_peer=False)
            return
        if self.state in NEGOTIATING_STATES:
            self.finished_reason = f"{self.name}: timeout sending Config-Requests"
            self._log(LogLevel.WARNING, self.finished_reason)
        self.process_input(Input.TO_MINUS, now, by_peer=False)

    # -- packets from the peer --------------------------------------------

    def receive(self, data: bytes, now: float) -> None:
        """One received packet of this protocol (after the protocol field)."""
        packet = parse_control_packet(data)
        if packet is None:
            self.stats.malformed += 1
            self._log(LogLevel.DEBUG, f"{self.name}: discarded malformed packet")
            return
        if self.state in (State.INITIAL, State.STARTING):
            # The lower layer is not up for this protocol: no rule exists.
            self.stats.unexpected += 1
            self._error(f"packet code {packet.code}", by_peer=True)
            return
        code = packet.code
        if code == Code.CONFIGURE_REQUEST:
            self._receive_configure_request(packet, now)
        elif code == Code.CONFIGURE_ACK:
            self._receive_configure_ack(packet, now)
        elif code in (Code.CONFIGURE_NAK, Code.CONFIGURE_REJECT):
            self._receive_nak_or_reject(packet, now)
        elif code == Code.TERMINATE_REQUEST:
            if self.state is State.OPENED:
                self._log_terminated_by_peer(packet.data)
            self.process_input(Input.RTR, now, packet=packet)
        elif code == Code.TERMINATE_ACK:
            self.process_input(Input.RTA, now, packet=packet)
        elif code == Code.CODE_REJECT:
            self._receive_code_reject(packet, now)
        elif self.link_control and code == Code.PROTOCOL_REJECT:
            self._receive_protocol_reject(packet, now)
        elif self.link_control and code in _LINK_RXR_CODES:
            if code == Code.ECHO_REPLY and self.state is State.OPENED:
                self._outputs.append(EchoReplyReceived(packet.data))
            self.process_input(Input.RXR, now, packet=packet)
        elif code in self.extra_codes:
            if self.state is State.OPENED:
                self._outputs.append(CodeReceived(code, packet.identifier, packet.data))
            else:
                self.stats.unexpected += 1  # pppd ignores them outside Opened
        else:
            self.process_input(Input.RUC, now, packet=packet)

    def _receive_configure_request(self, packet: ControlPacket, now: float) -> None:
        if self.state in (State.STOPPED, State.OPENED):
            # A fresh negotiation starts with this request (scr follows).
            self._reset_negotiation()
        reject_if_disagree = self._naks_sent >= self.timing.max_failure
        reply = self.handler.judge_request(packet.data, reject_if_disagree)
        rcr = Input.RCR_PLUS if reply.acceptable else Input.RCR_MINUS
        self.process_input(rcr, now, packet=packet, reply=reply, fresh=True)

    def _is_reply_to_ours(self, packet: ControlPacket) -> bool:
        if self._request_id is None or packet.identifier != self._request_id:
            self.stats.stale_replies += 1
            return False
        if self._reply_seen:
            # A second reply to the same request (e.g. to a retransmission).
            self.stats.stale_replies += 1
            return False
        return True

    def _receive_configure_ack(self, packet: ControlPacket, now: float) -> None:
        if not self._is_reply_to_ours(packet):
            return
        if packet.data != encode_options(self._request_options):
            self.stats.bad_replies += 1
            self._log(LogLevel.ERROR, f"Received bad configure-ack: {hex_bytes(packet.data)}")
            return
        self._reply_seen = True
        self._naks_received = 0
        self.handler.apply_ack(list(self._request_options))
        self.process_input(Input.RCA, now, packet=packet)

    def _receive_nak_or_reject(self, packet: ControlPacket, now: float) -> None:
        if not self._is_reply_to_ours(packet):
            return
        options, tail = parse_options(packet.data)
        if packet.code == Code.CONFIGURE_NAK:
            self._naks_received += 1
            treat_as_reject = self._naks_received >= self.timing.max_failure
            good = not tail and self.handler.apply_nak(options, treat_as_reject)
            kind = "nak"
        else:
            self._naks_received = 0
            good = (
                not tail
                and _is_subsequence(options, self._request_options)
                and self.handler.apply_reject(options)
            )
            kind = "rej"
        if not good:
            self.stats.bad_replies += 1
            self._log(LogLevel.ERROR, f"Received bad configure-{kind}: {hex_bytes(packet.data)}")
            return
        self._reply_seen = True
        reason = self.handler.abort_reason
        if reason is not None:
            self.handler.abort_reason = None
            self._outputs.append(NegotiationAborted(reason))
            return
        self.process_input(Input.RCN, now, packet=packet)

    def _receive_code_reject(self, packet: ControlPacket, now: float) -> None:
        if len(packet.data) < HEADER_LEN:
            self.stats.malformed += 1
            return
        rejected_code, rejected_id = packet.data[0], packet.data[1]
        self._log(
            LogLevel.WARNING,
            f"{self.name}: Rcvd Code-Reject for code {rejected_code}, id {rejected_id}",
        )
        rxj = Input.RXJ_MINUS if rejected_code in _CATASTROPHIC_CODES else Input.RXJ_PLUS
        self.process_input(rxj, now, packet=packet)

    def _receive_protocol_reject(self, packet: ControlPacket, now: float) -> None:
        if len(packet.data) < 2 or self.state is not State.OPENED:
            # RFC 1661 5.7: only meaningful in Opened; silently discarded.
            self.stats.unexpected += 1
            return
        rejected = int.from_bytes(packet.data[:2], "big")
        if rejected == Proto.LCP:
            self._log(LogLevel.ERROR, "Received Protocol-Reject for LCP!")
            self.process_input(Input.RXJ_MINUS, now, packet=packet)
            return
        self.process_input(Input.RXJ_PLUS, now, packet=packet)
        self._outputs.append(PeerRejectedProtocol(rejected))

    # -- sends the owner asks for (LCP) -----------------------------------

    def next_identifier(self) -> int:
        self._last_id = (self._last_id + 1) & 0xFF
        return self._last_id

    def send_code(self, code: int, data: bytes, identifier: int | None = None) -> int:
        """Queue one packet of ``code`` (Protocol-Reject, Echo, Discard); returns its id."""
        if identifier is None:
            identifier = self.next_identifier()
        room = max(0, self.peer_mru - HEADER_LEN)
        self._outputs.append(Transmit(ControlPacket(code, identifier, data[:room]).encode()))
        return identifier

    # -- the table and its actions ----------------------------------------

    def process_input(
        self,
        inp: Input,
        now: float,
        *,
        packet: ControlPacket | None = None,
        reply: RequestReply | None = None,
        fresh: bool = False,
        by_peer: bool = True,
    ) -> None:
        """Apply one RFC 1661 input through the table.

        The methods above classify what happened into inputs and call this;
        it is public so the table can be exercised pair by pair.  ``packet``
        is the received packet behind a receive input (a blank one stands in
        when absent), ``reply`` our judgement of a Configure-Request.
        """
        if packet is None:
            packet = ControlPacket(_INPUT_CODES.get(inp, Code.CONFIGURE_REQUEST), 0)
        if reply is None:
            reply = RequestReply(Code.CONFIGURE_NAK, b"")
        transition = TRANSITIONS.get((self.state, inp))
        if transition is None:
            self.stats.unexpected += 1
            self._error(inp.value, by_peer=by_peer)
            return
        actions, next_state = transition
        prior = self.state
        restarted = False
        for action in actions:
            if action is Action.TLU:
                self._outputs.append(LayerUp())
            elif action is Action.TLD:
                self._outputs.append(LayerDown())
            elif action is Action.TLS:
                self._outputs.append(LayerStarted())
            elif action is Action.TLF:
                self._outputs.append(LayerFinished())
            elif action is Action.IRC:
                closing = next_state in (State.CLOSING, State.STOPPING)
                t = self.timing
                self._restart_count = t.max_terminate if closing else t.max_configure
            elif action is Action.ZRC:
                self._restart_count = 0
                restarted = True
            elif action is Action.SCR:
                retransmit = inp is Input.TO_PLUS
                self._send_configure_request(prior, retransmit=retransmit, reset=not fresh)
                restarted = True
            elif action is Action.SCA:
                self._naks_sent = 0
                self._queue(Code.CONFIGURE_ACK, packet.identifier, packet.data)
            elif action is Action.SCN:
                if reply.code == Code.CONFIGURE_NAK:
                    self._naks_sent += 1
                self._queue(reply.code, packet.identifier, reply.data)
            elif action is Action.STR:
                self._restart_count -= 1
                self._queue(Code.TERMINATE_REQUEST, self.next_identifier(), self._term_reason)
                restarted = True
            elif action is Action.STA:
                self._queue(Code.TERMINATE_ACK, packet.identifier, b"")
            elif action is Action.SCJ:
                room = max(0, self.peer_mru - HEADER_LEN)
                self._queue(Code.CODE_REJECT, self.next_identifier(), packet.encode()[:room])
            elif action is Action.SER and packet.code == Code.ECHO_REQUEST:
                # RXR also stands for Echo-Reply and Discard-Request: no answer.
                magic = self._echo_magic() if self._echo_magic is not None else 0
                body = magic.to_bytes(4, "big") + packet.data[4:]
                self._queue(Code.ECHO_REPLY, packet.identifier, body)
        self.state = next_state
        if next_state not in TIMER_STATES:
            self._deadline = None
        elif restarted or self._deadline is None:
            self._deadline = now + self.timing.restart_time

    def _send_configure_request(self, prior: State, *, retransmit: bool, reset: bool) -> None:
        if not retransmit or self._request_id is None:
            if reset and prior not in NEGOTIATING_STATES:
                self._reset_negotiation()
            self._request_options = list(self.handler.build_request())
            self._request_id = self.next_identifier()
        self._restart_count -= 1
        self._reply_seen = False
        self._queue(Code.CONFIGURE_REQUEST, self._request_id, encode_options(self._request_options))

    def _reset_negotiation(self) -> None:
        self.handler.reset()
        self._naks_sent = 0
        self._naks_received = 0

    def _queue(self, code: int, identifier: int, data: bytes) -> None:
        self._outputs.append(Transmit(ControlPacket(code, identifier, data).encode()))

    def _log(self, level: LogLevel, text: str) -> None:
        self._outputs.append(LogLine(text, level))

    def _error(self, what: str, *, by_peer: bool) -> None:
        self._outputs.append(ProtocolError(self.name, self.state.name, what, by_peer))

    def _log_terminated_by_peer(self, reason: bytes) -> None:
        text = f"{self.name} terminated by peer"
        self.finished_reason = f"{text} ({visible(reason)})" if reason else text
        self._log(LogLevel.INFO, self.finished_reason)


def _is_subsequence(part: list[Option], whole: list[Option]) -> bool:
    """True when ``part`` is ``whole`` with some options left out, order kept."""
    remaining = iter(whole)
    return all(any(option == candidate for candidate in remaining) for option in part)
