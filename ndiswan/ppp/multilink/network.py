"""The network phase of a bundle: IPCP, IPV6CP and CCP once over all members.

RFC 1990 runs LCP and authentication on each member link and the NCPs once
on the bundle.  ``BundleNetwork`` is that once: a sans-I/O core with the
same contract as ``PppSession`` (``drain``, ``get_timer``/``handle_timer``,
``send_datagram``), whose frames go to the bundle (the driver fragments them
over the members) and come from it (``receive_frame``: a reassembled packet,
or a bundle protocol a member received whole).  Its lower layer is the
bundle: ``start`` when the first member joined, ``end`` when the last one
left.  It never ends by itself: when an NCP gives up (IPCP failed, no network
protocol left) it asks the driver to close the members (``CloseRequested``);
their leaving ends it.  LCP is the members': a protocol the bundle does not run
is answered through a member (``BundleProtocolUnsupported``), and a member's
Protocol-Reject of a bundle NCP comes back in by ``protocol_rejected``.
"""

from __future__ import annotations

import secrets as _secrets
from collections import deque

from ndiswan.ppp.automaton import Signal
from ndiswan.ppp.compression import COMPRESSED_PROTOCOLS
from ndiswan.ppp.config import PppConfig, RandomBytes
from ndiswan.ppp.constants import protocol_description
from ndiswan.ppp.events import (
    BundleProtocolUnsupported,
    CloseRequested,
    DatagramReceived,
    Event,
    Ipv6Up,
    LinkTerminated,
    LogLevel,
    LogLine,
    NetworkUp,
    Phase,
    PhaseChanged,
    ProtocolError,
)
from ndiswan.ppp.fsm import Timing
from ndiswan.ppp.log import packet_line, split_protocol
from ndiswan.ppp.network import DATA_NCP, NetworkPhase
from ndiswan.ppp.session import SessionStats
from wanminiport.exitcodes import ExitCode
from wanminiport.sansio import Transmit

BundleOutput = Transmit | Event


class BundleNetwork:
    """IPCP, IPV6CP and CCP of one bundle; frames start at the protocol field."""

    def __init__(
        self,
        config: PppConfig,
        *,
        mrru: int,
        peer_mrru: int,
        rng: RandomBytes = _secrets.token_bytes,
    ) -> None:
        self.config = cfg = config
        self.stats = SessionStats()
        self.phase = Phase.DEAD
        self.status = ExitCode.NEGOTIATION_FAILED
        #: The largest packet the peer reassembles: what we may send it.
        self.peer_mrru = peer_mrru
        timing = Timing(cfg.restart_time, cfg.max_configure, cfg.max_terminate, cfg.max_failure)
        self._outputs: deque[BundleOutput] = deque()
        self._network = NetworkPhase(
            cfg,
            timing,
            rng,
            report=self._outputs.append,
            close_link=self._close_link,
            first_up=self._first_up,
            link_open=lambda: self.phase is Phase.NETWORK,
        )
        self._network.recv_mru = mrru
        for ncp in self._network.ncps.values():
            ncp.peer_mru = peer_mrru
        self._ncps = self._network.ncps
        self.compression = self._network.compression
        self._closing = False

    @property
    def network(self) -> NetworkUp | None:
        return self._network.network

    @property
    def ipv6(self) -> Ipv6Up | None:
        return self._network.ipv6

    # -- the bundle as lower layer --

    def start(self, now: float) -> None:
        """The bundle's first member joined: the NCPs come up and open."""
        self._set_phase(Phase.NETWORK)
        self._network.start(now)
        self._pump(now)

    def end(self, reason: str, now: float, exit_code: ExitCode | None = None) -> None:
        """The last member left: the NCPs go down and the bundle is Dead."""
        if self.phase is Phase.DEAD:
            return
        self._network.lower_down(now)
        self._pump(now)
        if exit_code is not None:
            self.status = exit_code
        self._set_phase(Phase.DEAD)
        self._outputs.append(LinkTerminated(reason, self.status))

    def lower_down(self, now: float) -> None:
        """Every member is gone at once (the driver's hang-up)."""
        self.end("Modem hangup", now, ExitCode.HANGUP)

    def close(self, reason: str, now: float, *, status: ExitCode = ExitCode.USER_REQUEST) -> None:
        """Administrative close (hang-up): the members are terminated; ``end`` follows."""
        self.status = status
        self._close_link(reason, now)

    # -- sans-I/O contract --

    def drain(self) -> list[BundleOutput]:
        out = list(self._outputs)
        self._outputs.clear()
        return out

    def get_timer(self) -> float | None:
        deadlines = [
            t
            for t in (
                self.compression.get_timer(),
                *(ncp.get_timer() for ncp in self._ncps.values()),
            )
            if t is not None
        ]
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        for ncp in list(self._ncps.values()):
            ncp.handle_timer(now)
        self.compression.handle_timer(now)
        self._pump(now)

    def receive_frame(self, packet: bytes, now: float) -> None:
        """A packet of the bundle: reassembled from fragments or received whole."""
        self.stats.frames_received += 1
        split = split_protocol(packet)
        if split is None:
            self.stats.malformed_frames += 1
            return
        proto, info = split
        if self.phase is not Phase.NETWORK:
            self.stats.dropped_after_termination += 1
            return
        if proto in DATA_NCP or proto in COMPRESSED_PROTOCOLS:
            if self._network.is_open(proto):
                self._receive_datagram(proto, info, now)
            else:
                self.stats.datagrams_dropped += 1
            return
        ncp = self._ncps.get(proto)
        if ncp is None:
            # Protocol-Reject is LCP's, which runs per member: the driver has one send it.
            self.stats.protocol_rejects_sent += 1
            self._log(
                LogLevel.WARNING,
                f"Unsupported protocol {protocol_description(proto)} received on the bundle",
            )
            self._outputs.append(BundleProtocolUnsupported(proto, info))
            return
        self._log(LogLevel.DEBUG, packet_line("rcvd", proto.to_bytes(2, "big") + info))
        ncp.receive(info, now)
        self._pump(now)

    def protocol_rejected(self, proto: int, now: float) -> None:
        """The peer Protocol-Rejected one of our NCPs on a member's LCP (RFC 1661 RXJ-)."""
        ncp = self._ncps.get(proto)
        if ncp is None:
            self._log(
                LogLevel.WARNING,
                f"Protocol-Reject for unsupported protocol {protocol_description(proto)}",
            )
            return
        self._log(LogLevel.DEBUG, f"Protocol-Reject for {protocol_description(proto)} received")
        ncp.protocol_rejected(now)
        self._pump(now)

    def line_error(self) -> None:
        """A fragment was lost (the reassembler said so): VJ must resynchronise."""
        self.compression.line_error()

    def send_datagram(self, proto: int, payload: bytes, now: float | None = None) -> bytes | None:
        """The packet (protocol field onward) for one datagram, or None when it may not go.

        ``now`` is accepted for ``PppSession``'s signature: a bundle keeps no idle
        timer (each member's LCP echo watches its line)."""
        ncp = self._ncps.get(DATA_NCP.get(proto, -1))
        if ncp is None or not ncp.is_opened or len(payload) > self.peer_mrru:
            self.stats.sends_refused += 1
            return None
        sent = self.compression.outbound(proto, payload)
        if sent is None:
            self.stats.sends_refused += 1
            return None
        self.stats.datagrams_sent += 1
        self.stats.frames_sent += 1
        proto, payload = sent
        return proto.to_bytes(2, "big") + payload

    # -- the engine --

    def _receive_datagram(self, proto: int, info: bytes, now: float) -> None:
        if proto in COMPRESSED_PROTOCOLS or self.compression.ccp is not None:
            inbound = self.compression.inbound(proto, info, now)
            if inbound.error:
                self.stats.decompress_failures += 1
                self._log(LogLevel.DEBUG, inbound.error)
                self._pump(now)
                return
            proto, info = inbound.protocol, inbound.payload
            if proto not in DATA_NCP or not self._network.is_open(proto):
                self.stats.datagrams_dropped += 1
                return
        self.stats.datagrams_received += 1
        self._outputs.append(DatagramReceived(proto, info))

    def _pump(self, now: float) -> None:
        busy = True
        while busy:
            busy = False
            for proto, ncp in list(self._ncps.items()):
                signals: list[Signal] = []
                for output in ncp.drain():
                    if isinstance(output, Transmit):
                        frame = proto.to_bytes(2, "big") + output.data
                        self.stats.frames_sent += 1
                        self.stats.control_frames_sent += 1
                        self._log(LogLevel.DEBUG, packet_line("sent", frame))
                        self._outputs.append(Transmit(frame))
                    elif isinstance(output, LogLine | ProtocolError):
                        self._outputs.append(output)
                    else:
                        signals.append(output)
                for signal in signals:
                    busy = True
                    self._network.on_signal(proto, signal, now)

    def _close_link(self, reason: str, now: float) -> None:
        if self._closing or self.phase is Phase.DEAD:
            return
        self._closing = True
        self._set_phase(Phase.TERMINATE)
        self._outputs.append(CloseRequested(reason, self.status))

    def _first_up(self, now: float) -> None:
        if self.status in (ExitCode.NEGOTIATION_FAILED, ExitCode.OK):
            self.status = ExitCode.OK

    def _set_phase(self, phase: Phase) -> None:
        if phase is not self.phase:
            self.phase = phase
            self._outputs.append(PhaseChanged(phase))

    def _log(self, level: LogLevel, text: str) -> None:
        self._outputs.append(LogLine(text, level))
