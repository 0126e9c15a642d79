"""One PPP link (RFC 1661 section 3): phases driven by LCP, authentication and NCPs.

``PppSession`` is sans-I/O.  The driver feeds it the lower layer's state
(``lower_up``/``lower_down``), administrative requests (``open``/``close``),
received frames and the time; one ``drain()`` gives the control frames to
transmit (``Transmit``) and then the events, and ``get_timer`` the time it
next wants ``handle_timer`` -- the contract of ``wanminiport.sansio``.
Frames start at the protocol field: the framer has removed flags,
address/control and FCS.

Phases: Dead -> Establish (LCP) -> Authenticate (PAP/CHAP, when negotiated)
-> Network (IPCP, IPV6CP) -> Terminate -> Dead.  No network-layer datagram
crosses in either direction before its NCP is Opened; the ones that arrive
too early are dropped and counted in ``stats``.  Exit codes follow pppd.
"""

from __future__ import annotations

import secrets as _secrets
from collections import deque
from dataclasses import dataclass

from ndiswan.ppp import policies
from ndiswan.ppp.auth import AuthMachine, AuthOutcome
from ndiswan.ppp.automaton import (
    Automaton,
    EchoReplyReceived,
    LayerDown,
    LayerFinished,
    LayerUp,
    NegotiationAborted,
    PeerRejectedProtocol,
    Signal,
)
from ndiswan.ppp.ccp.negotiation import MppeKeys
from ndiswan.ppp.compression import COMPRESSED_PROTOCOLS
from ndiswan.ppp.config import AuthProtocol, PppConfig, RandomBytes, SecretLookup
from ndiswan.ppp.constants import (
    Code,
    Proto,
    protocol_description,
)
from ndiswan.ppp.events import (
    AuthFailed,
    AuthRole,
    AuthSucceeded,
    BundleFrameReceived,
    BundleProtocolRejected,
    DatagramReceived,
    Event,
    Ipv6Up,
    LinkInfoNegotiated,
    LinkTerminated,
    LogLevel,
    LogLine,
    MemberReady,
    NetworkUp,
    Phase,
    PhaseChanged,
    ProtocolError,
)
from ndiswan.ppp.fsm import State, Timing
from ndiswan.ppp.idle import IdleTimer, counts_as_activity
from ndiswan.ppp.keepalive import EchoKeepalive, EchoTick
from ndiswan.ppp.lcp import LOOPBACK_REASON, LcpOptions
from ndiswan.ppp.log import packet_line, split_protocol
from ndiswan.ppp.network import DATA_NCP, NetworkPhase
from wanminiport.exitcodes import ExitCode
from wanminiport.sansio import Transmit

_AUTH_PROTOCOLS = (Proto.PAP, Proto.CHAP, Proto.EAP)
_FINISHED_STATES = (State.INITIAL, State.CLOSED, State.STOPPED)

#: What ``PppSession.drain()`` gives: control frames to send, then events.
SessionOutput = Transmit | Event


@dataclass
class SessionStats:
    frames_received: int = 0
    frames_sent: int = 0
    control_frames_sent: int = 0
    malformed_frames: int = 0
    #: Non-LCP frames while LCP was not Opened.
    dropped_lcp_not_open: int = 0
    #: Non-authentication frames during Establish/Authenticate.
    dropped_before_network: int = 0
    #: Network datagrams whose NCP was not Opened.
    datagrams_dropped: int = 0
    datagrams_received: int = 0
    datagrams_sent: int = 0
    #: send_datagram calls refused (NCP not Opened, unknown protocol, too big).
    sends_refused: int = 0
    protocol_rejects_sent: int = 0
    #: Multilink: Echo-Requests sent out of turn to a member gone quiet.
    probes_sent: int = 0
    #: Compressed datagrams (CCP or VJ) that could not be decompressed.
    decompress_failures: int = 0
    #: Frames that arrived after LinkTerminated.
    dropped_after_termination: int = 0


class PppSession:
    def __init__(
        self,
        config: PppConfig | None = None,
        *,
        secrets: SecretLookup | None = None,
        rng: RandomBytes = _secrets.token_bytes,
    ) -> None:
        self.config = cfg = config or PppConfig()
        self._secrets = secrets
        self._rng = rng
        self.stats = SessionStats()
        self.phase = Phase.DEAD
        self.link: LinkInfoNegotiated | None = None
        self.status = ExitCode.OK
        timing = Timing(cfg.restart_time, cfg.max_configure, cfg.max_terminate, cfg.max_failure)
        self._lcp_options = LcpOptions(policies.lcp_policy(cfg, secrets), rng)
        self._lcp = Automaton(
            Proto.LCP,
            "LCP",
            self._lcp_options,
            timing,
            link_control=True,
            echo_magic=lambda: self._lcp_options.local.magic or 0,
        )
        self._events: deque[Event] = deque()
        self._network = NetworkPhase(
            cfg,
            timing,
            rng,
            report=self._events.append,
            close_link=self._close_link,
            first_up=self._first_network_up,
            link_open=lambda: self._lcp.is_opened,
        )
        self._ncps = self._network.ncps
        self.compression = self._network.compression
        self._auth: dict[tuple[int, AuthRole], AuthMachine] = {}
        self._keepalive = EchoKeepalive(cfg.lcp_echo_interval, cfg.lcp_echo_failure)
        self._idle = IdleTimer(cfg.idle)
        self._frames: list[bytes] = []
        self._term_reason = ""
        #: The name the peer authenticated as ("" until it did, or without auth).
        self.peer_name = ""
        #: Multilink: in the network phase this link is a bundle member and
        #: hands every non-LCP, non-authentication frame to the bundle.
        self.bundled = False
        #: Opened or lower-up and not yet terminated: LinkTerminated is owed.
        self._running = False
        #: Terminated: frames are ignored until the next lower_up or open.
        self._finished = False

    @property
    def network(self) -> NetworkUp | None:
        """What IPCP agreed, while it is up."""
        return self._network.network

    @property
    def ipv6(self) -> Ipv6Up | None:
        """What IPV6CP agreed, while it is up."""
        return self._network.ipv6

    # -- outputs -----------------------------------------------------------

    def drain(self) -> list[SessionOutput]:
        """Control frames to send (``Transmit``, protocol field onward), then events.

        Frames first: what the session decided to send goes on the wire before
        the driver acts on what it reports (SET_LINK_INFO after the
        Configure-Ack that agreed to it, as pppd does).
        """
        out: list[SessionOutput] = [Transmit(frame) for frame in self._frames]
        out += self._events
        self._frames = []
        self._events.clear()
        return out

    def get_timer(self) -> float | None:
        deadlines = [
            t
            for t in (
                self._lcp.get_timer(),
                self._keepalive.get_timer(),
                self._idle.get_timer(),
                self.compression.get_timer(),
                *(ncp.get_timer() for ncp in self._ncps.values()),
                *(machine.get_timer() for machine in self._auth.values()),
            )
            if t is not None
        ]
        return min(deadlines, default=None)

    def state_of(self, protocol: int) -> State | None:
        """The automaton state of LCP or an NCP (None when not configured)."""
        if protocol == Proto.LCP:
            return self._lcp.state
        ncp = self._ncps.get(protocol)
        return ncp.state if ncp is not None else None

    # -- driver inputs -------------------------------------------------------

    def lower_up(self, now: float) -> None:
        """The line is up (carrier, or the pty opened): LCP may talk."""
        self._running, self._finished = True, False
        self.status = ExitCode.NEGOTIATION_FAILED
        self._term_reason = ""
        self.peer_name = ""
        self._set_phase(Phase.ESTABLISH)
        self._lcp.up(now)
        self._pump(now)

    def open(self, now: float) -> None:
        """Administrative Open: LCP starts negotiating once the line is up."""
        self._running, self._finished = True, False
        self._lcp.open(now)
        self._pump(now)

    def close(self, reason: str, now: float, *, status: ExitCode = ExitCode.USER_REQUEST) -> None:
        """Administrative Close: Terminate-Request with ``reason``, then Dead; the link
        ends with ``status`` (pppd's exit code)."""
        if self._running:
            self.status = status
        self._close_link(reason, now)
        self._pump(now)

    def lower_down(self, now: float) -> None:
        """The line is gone (hang-up, carrier loss, unplug)."""
        self._idle.stop()
        if self._running:
            self.status = ExitCode.HANGUP
            self._term_reason = "Modem hangup"
            self._log(LogLevel.NOTICE, "Modem hangup")
        if self._lcp.state not in (State.INITIAL, State.STARTING):
            self._lcp.down(now)
        self._pump(now)
        self._link_finished()

    def handle_timer(self, now: float) -> None:
        self._lcp.handle_timer(now)
        for ncp in list(self._ncps.values()):
            ncp.handle_timer(now)
        for machine in list(self._auth.values()):
            machine.handle_timer(now)
        self.compression.handle_timer(now)
        if self._idle.expired(now):
            self._idle.stop()
            self._log(LogLevel.NOTICE, "Terminating connection due to lack of activity.")
            self.status = ExitCode.IDLE_TIMEOUT
            self._close_link("Link inactive", now)
        tick = self._keepalive.handle_timer(now)
        if tick is EchoTick.SEND_REQUEST and self._lcp.is_opened:
            self._send_echo_request()
        elif tick is EchoTick.PEER_DEAD:
            self._log(LogLevel.INFO, f"No response to {self.config.lcp_echo_failure} echo-requests")
            self._log(LogLevel.NOTICE, "Serial link appears to be disconnected.")
            self.status = ExitCode.PEER_DEAD
            self._close_link("Peer not responding", now)
        self._pump(now)

    # -- receive -----------------------------------------------------------

    def receive_frame(self, frame: bytes, now: float) -> None:
        self.stats.frames_received += 1
        if self._finished:
            # The link ended (pppd would have exited): nothing restarts it.
            self.stats.dropped_after_termination += 1
            return
        split = split_protocol(frame)
        if split is None:
            self.stats.malformed_frames += 1
            self._log(LogLevel.DEBUG, f"received short packet:{frame[:32].hex(' ')}")
            return
        proto, info = split
        if self.bundled and proto != Proto.LCP and proto not in _AUTH_PROTOCOLS:
            # The hot path of a bundle member: fragments (and whole NCP or data
            # frames) are the bundle's, logged there, never here.
            self._events.append(BundleFrameReceived(proto, info))
            return
        if proto in DATA_NCP or proto in COMPRESSED_PROTOCOLS:
            if self._network_open(proto):
                # The hot path: a datagram on an open network protocol.
                self._receive_datagram(proto, info, now)
                return
        else:
            self._log(LogLevel.DEBUG, packet_line("rcvd", proto.to_bytes(2, "big") + info))
        self._dispatch(proto, info, now)
        self._pump(now)

    def _dispatch(self, proto: int, info: bytes, now: float) -> None:
        if proto == Proto.LCP:
            self._lcp.receive(info, now)
            return
        if not self._lcp.is_opened:
            self.stats.dropped_lcp_not_open += 1
            self._log(LogLevel.DEBUG, "Discarded non-LCP packet when LCP not open")
            return
        if self.phase in (Phase.ESTABLISH, Phase.AUTHENTICATE) and proto not in _AUTH_PROTOCOLS:
            self.stats.dropped_before_network += 1
            if proto in DATA_NCP:
                self.stats.datagrams_dropped += 1
            self._log(LogLevel.DEBUG, f"discarding proto 0x{proto:x} in phase {self.phase.name}")
            return
        if proto in _AUTH_PROTOCOLS:
            machines = [m for (p, _), m in self._auth.items() if p == proto]
            for machine in machines:
                machine.receive(info, now)
            return
        ncp = self._ncps.get(proto)
        if ncp is not None:
            ncp.receive(info, now)
            return
        if proto in DATA_NCP or proto in COMPRESSED_PROTOCOLS:
            self.stats.datagrams_dropped += 1  # its NCP (or IPCP, CCP) is not Opened
            return
        self._log(LogLevel.WARNING, f"Unsupported protocol {protocol_description(proto)} received")
        self.stats.protocol_rejects_sent += 1
        self._lcp.send_code(Code.PROTOCOL_REJECT, proto.to_bytes(2, "big") + info)

    def probe(self, now: float) -> None:
        """Multilink: an Echo-Request out of turn, to hear whether the link is alive.

        It does not count towards ``lcp-echo-failure``, which stays pppd's.
        """
        if not self._lcp.is_opened:
            return
        self.stats.probes_sent += 1
        self._send_echo_request()
        self._pump(now)

    def _send_echo_request(self) -> None:
        magic = (self._lcp_options.local.magic or 0).to_bytes(4, "big")
        self._lcp.send_code(Code.ECHO_REQUEST, magic, self._keepalive.next_identifier())

    def reject_protocol(self, proto: int, info: bytes, now: float) -> None:
        """Multilink: send the Protocol-Reject for a packet the bundle does not
        run (RFC 1990: LCP, and so Protocol-Reject, is the members')."""
        if not self._lcp.is_opened:
            return
        self.stats.protocol_rejects_sent += 1
        self._lcp.send_code(Code.PROTOCOL_REJECT, proto.to_bytes(2, "big") + info)
        self._pump(now)

    def _network_open(self, proto: int) -> bool:
        """Whether a frame of this data protocol may pass now (LCP and its NCP Opened)."""
        return self._lcp.state is State.OPENED and self._network.is_open(proto)

    def _receive_datagram(self, proto: int, info: bytes, now: float) -> None:
        if proto in COMPRESSED_PROTOCOLS or self.compression.ccp is not None:
            inbound = self.compression.inbound(proto, info, now)
            if inbound.error:
                self.stats.decompress_failures += 1
                self._log(LogLevel.DEBUG, inbound.error)
                self._pump(now)  # CCP may be sending a Reset-Request
                return
            proto, info = inbound.protocol, inbound.payload
            if proto not in DATA_NCP or not self._network_open(proto):
                self.stats.datagrams_dropped += 1
                return
        self.stats.datagrams_received += 1
        self._idle.activity(now)
        self._events.append(DatagramReceived(proto, info))

    def line_error(self) -> None:
        """The framer dropped a frame (bad FCS, overrun): VJ must not guess what it was."""
        self.compression.line_error()

    # -- send --------------------------------------------------------------

    def send_datagram(self, proto: int, payload: bytes, now: float | None = None) -> bytes | None:
        """The frame for one network-layer datagram, or None when it may not go;
        ``now`` (when the driver knows it) counts the send against ``idle``."""
        ncp = self._ncps.get(DATA_NCP.get(proto, -1))
        link = self.link
        if ncp is None or not ncp.is_opened or link is None or len(payload) > link.send_mru:
            self.stats.sends_refused += 1
            return None
        sent = self.compression.outbound(proto, payload)
        if sent is None:  # MPPE is required and not up
            self.stats.sends_refused += 1
            return None
        self.stats.datagrams_sent += 1
        self.stats.frames_sent += 1
        if now is not None and counts_as_activity(proto):
            self._idle.activity(now)
        proto, payload = sent
        if link.send_pfc and proto < 0x100:
            return bytes((proto,)) + payload
        return proto.to_bytes(2, "big") + payload

    # -- the engine --------------------------------------------------------

    def _pump(self, now: float) -> None:
        """Move outputs of every machine out, reacting to their signals."""
        busy = True
        while busy:
            busy = False
            machines: list[tuple[int, Automaton | AuthMachine]] = [(Proto.LCP, self._lcp)]
            machines += [(p, m) for (p, _), m in self._auth.items()]
            machines += list(self._ncps.items())
            for proto, machine in machines:
                # Packets and events in the machine's order; its signals after,
                # since reacting to one (This-Layer-Up) sends the next layer's packets.
                signals: list[Signal | AuthOutcome] = []
                for output in machine.drain():
                    if isinstance(output, Transmit):
                        self._emit_control(proto, output.data)
                    elif isinstance(output, LogLine | ProtocolError):
                        self._events.append(output)
                    else:
                        signals.append(output)
                for signal in signals:
                    busy = True
                    if isinstance(signal, AuthOutcome):
                        self._on_auth(signal, now)
                    elif machine is self._lcp:
                        self._on_lcp(signal, now)
                    else:
                        self._on_ncp(proto, signal, now)

    def _emit_control(self, proto: int, packet: bytes) -> None:
        frame = proto.to_bytes(2, "big") + packet
        self.stats.frames_sent += 1
        self.stats.control_frames_sent += 1
        self._log(LogLevel.DEBUG, packet_line("sent", frame))
        self._frames.append(frame)

    def _on_lcp(self, signal: Signal, now: float) -> None:
        if isinstance(signal, LayerUp):
            self._lcp_up(now)
        elif isinstance(signal, LayerDown):
            self._lcp_down(now)
        elif isinstance(signal, LayerFinished):
            if self._lcp.state in _FINISHED_STATES or self._lcp.state is State.STARTING:
                self._link_finished()
        elif isinstance(signal, PeerRejectedProtocol):
            self._peer_rejected(signal.protocol, now)
        elif isinstance(signal, EchoReplyReceived):
            magic = self._lcp_options.local.magic or 0
            warning = self._keepalive.reply_received(signal.data, magic)
            if warning is not None:
                self._log(LogLevel.WARNING, warning)
        elif isinstance(signal, NegotiationAborted):
            if signal.reason == LOOPBACK_REASON:
                self._log(LogLevel.NOTICE, "Serial line is looped back.")
                self.status = ExitCode.LOOPBACK
            self._close_link(signal.reason, now)

    def _lcp_up(self, now: float) -> None:
        local, peer = self._lcp_options.local, self._lcp_options.peer
        self.link = LinkInfoNegotiated(
            send_mru=peer.effective_mru,
            recv_mru=local.effective_mru,
            send_accm=peer.effective_accm,
            recv_accm=local.effective_accm,
            send_pfc=peer.pfc,
            send_acfc=peer.acfc,
            recv_pfc=local.pfc,
            recv_acfc=local.acfc,
            local_magic=local.magic or 0,
            peer_magic=peer.magic or 0,
            multilink=self._lcp_options.multilink,
            peer_mrru=peer.mrru,
            local_mrru=local.mrru,
            send_short_seq=peer.ssnhf,
            recv_short_seq=local.ssnhf,
            peer_endpoint=peer.endpoint,
        )
        self._events.append(self.link)
        self._network.recv_mru = self.link.recv_mru
        for automaton in (self._lcp, *self._ncps.values()):
            automaton.peer_mru = self.link.send_mru
        self._keepalive.start(now)
        if self.config.require_auth.protocols and local.auth is None:
            self._log(LogLevel.WARNING, "peer refused to authenticate: terminating link")
            self.status = ExitCode.PEER_AUTH_FAILED
            self._close_link("peer refused to authenticate", now)
            return
        self._network.ipcp_options.restrict_peer_to(None)
        self._auth = policies.auth_machines(
            self.config,
            check_peer_with=local.auth,
            prove_ourselves_with=peer.auth,
            secrets=self._secrets,
            rng=self._rng,
        )
        no_secret = policies.our_secret(self.config, self._secrets) is None
        if peer.auth is AuthProtocol.PAP and no_secret:
            self._log(LogLevel.ERROR, "No secret found for PAP login")
        if not self._auth:
            self._network_phase(now)
            return
        self._set_phase(Phase.AUTHENTICATE)
        for machine in self._auth.values():
            machine.start(now)

    def _lcp_down(self, now: float) -> None:
        self.bundled = False
        self._keepalive.stop()
        for machine in self._auth.values():
            machine.stop()
        self._auth.clear()
        self._network.lower_down(now)
        closing = self._lcp.state in (State.CLOSING, State.STOPPING)
        self._set_phase(Phase.TERMINATE if closing else Phase.ESTABLISH)

    def _on_auth(self, outcome: AuthOutcome, now: float) -> None:
        if outcome.success:
            self._events.append(AuthSucceeded(outcome.protocol, outcome.role, outcome.name))
            if outcome.role is AuthRole.PEER:
                self._log(LogLevel.NOTICE, f"{outcome.protocol} authentication succeeded")
            else:  # a secrets-file entry limits the peer's IPv4 addresses
                self.peer_name = outcome.name
                self._events.extend(
                    self._network.ipcp_options.restrict_peer_to(outcome.peer_addresses)
                )
            if self.phase is Phase.AUTHENTICATE and all(m.succeeded for m in self._auth.values()):
                self._network_phase(now)
            return
        self._events.append(AuthFailed(outcome.protocol, outcome.role, outcome.message))
        if outcome.role is AuthRole.AUTHENTICATOR:
            self.status = ExitCode.PEER_AUTH_FAILED
            self._close_link("Authentication failed", now)
        else:
            self.status = ExitCode.AUTH_TOPEER_FAILED
            self._close_link("Failed to authenticate ourselves to peer", now)

    def _peer_rejected(self, proto: int, now: float) -> None:
        auth = [m for (p, _), m in self._auth.items() if p == proto]
        if self.bundled and not auth:
            # A bundle protocol: the NCPs are the bundle's, not this member's.
            self._events.append(BundleProtocolRejected(proto))
            return
        ncp = self._ncps.get(proto)
        if ncp is None and not auth:
            self._log(
                LogLevel.WARNING,
                f"Protocol-Reject for unsupported protocol {protocol_description(proto)}",
            )
            return
        self._log(LogLevel.DEBUG, f"Protocol-Reject for {protocol_description(proto)} received")
        if ncp is not None:
            ncp.protocol_rejected(now)
        for machine in auth:
            machine.stop()
            self._on_auth(
                AuthOutcome(machine.protocol_name, machine.role, False, "", "protocol-reject"), now
            )

    def _network_phase(self, now: float) -> None:
        self._set_phase(Phase.NETWORK)
        if self.link is not None and self.link.multilink:
            # RFC 1990: the NCPs run once per bundle, not on each member.
            self.bundled = True
            self._events.append(MemberReady(self.peer_name, self.link))
            return
        self._network.set_mppe_keys(self._mppe_keys())
        self._network.start(now)

    def _mppe_keys(self) -> MppeKeys | None:
        """MS-CHAP's MPPE keys: as its authenticator we are the server, else the client."""
        for role in (AuthRole.AUTHENTICATOR, AuthRole.PEER):
            machine = self._auth.get((Proto.CHAP, role))
            master = getattr(machine, "mppe_master", None)
            if master is not None:
                v1 = getattr(machine, "kind", None) is AuthProtocol.MSCHAP
                return MppeKeys(master, server=role is AuthRole.AUTHENTICATOR, symmetric=v1)
        return None

    def _on_ncp(self, proto: int, signal: Signal, now: float) -> None:
        self._network.on_signal(proto, signal, now)

    def _first_network_up(self, now: float) -> None:
        if self.status in (ExitCode.NEGOTIATION_FAILED, ExitCode.OK):
            self.status = ExitCode.OK
        self._idle.start(now)  # pppd: the idle check starts with the first NCP

    # -- phases and endings ------------------------------------------------

    def _close_link(self, reason: str, now: float) -> None:
        self._idle.stop()
        if not self._term_reason:
            self._term_reason = reason
        if self.phase is not Phase.DEAD:
            self._set_phase(Phase.TERMINATE)
        self._lcp.close(reason, now)
        if self._lcp.state in _FINISHED_STATES:
            self._link_finished()

    def _link_finished(self) -> None:
        if not self._running:
            return
        self._running, self._finished = False, True
        self.bundled = False
        self._keepalive.stop()
        for machine in self._auth.values():
            machine.stop()
        self._auth.clear()
        self._set_phase(Phase.DEAD)
        self._log(LogLevel.NOTICE, "Connection terminated.")
        reason = self._term_reason or self._lcp.finished_reason or "Link terminated"
        self._events.append(LinkTerminated(reason, self.status))

    def _set_phase(self, phase: Phase) -> None:
        if phase is not self.phase:
            self.phase = phase
            self._events.append(PhaseChanged(phase))

    def _log(self, level: LogLevel, text: str) -> None:
        self._events.append(LogLine(text, level))
