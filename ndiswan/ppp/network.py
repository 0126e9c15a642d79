"""The network phase of one PPP link: IPCP, IPV6CP and CCP, and what they agreed.

``NetworkPhase`` is the part of ``PppSession`` above LCP and authentication:
it owns the NCP automata and their option handlers, the compression state
(CCP's methods, VJ), and answers whether a data protocol may pass.  It does no
I/O and drives nothing itself: the session pumps its automata, hands it their
signals (``on_signal``) and tells it when the link reaches the network phase
(``start``) or leaves it (``lower_down``).  What it decides goes back through
the callbacks it was given: events to report, the link to close, the first
network protocol up.
"""

from __future__ import annotations

from collections.abc import Callable

from ndiswan.ppp import policies
from ndiswan.ppp.automaton import Automaton, CodeReceived, LayerDown, LayerFinished, LayerUp, Signal
from ndiswan.ppp.ccp.negotiation import MppeKeys
from ndiswan.ppp.compression import COMPRESSED_PROTOCOLS, Compression
from ndiswan.ppp.config import PppConfig, RandomBytes
from ndiswan.ppp.constants import Proto
from ndiswan.ppp.events import Event, Ipv6Up, LogLevel, LogLine, NetworkDown, NetworkUp
from ndiswan.ppp.fsm import State, Timing
from ndiswan.ppp.ipcp import IpcpOptions
from ndiswan.ppp.ipv6cp import Ipv6cpOptions

#: Network-layer protocol -> the NCP that must be Opened before it flows.
DATA_NCP: dict[int, int] = {Proto.IP: Proto.IPCP, Proto.IPV6: Proto.IPV6CP}
_IP_VERSION: dict[int, int] = {Proto.IPCP: 4, Proto.IPV6CP: 6}


class NetworkPhase:
    def __init__(
        self,
        config: PppConfig,
        timing: Timing,
        rng: RandomBytes,
        *,
        report: Callable[[Event], None],
        close_link: Callable[[str, float], None],
        first_up: Callable[[float], None],
        link_open: Callable[[], bool],
    ) -> None:
        self.config = config
        self._report = report
        self._close_link = close_link
        self._first_up = first_up
        self._link_open = link_open
        self.ipcp_options = IpcpOptions(policies.ipcp_policy(config))
        self.ipv6cp_options = Ipv6cpOptions(policies.ipv6cp_policy(config), rng)
        #: Every NCP automaton by protocol, CCP included when configured.
        self.ncps: dict[int, Automaton] = {}
        if config.ipv4:
            self.ncps[Proto.IPCP] = Automaton(Proto.IPCP, "IPCP", self.ipcp_options, timing)
        if config.ipv6:
            self.ncps[Proto.IPV6CP] = Automaton(Proto.IPV6CP, "IPV6CP", self.ipv6cp_options, timing)
        self.compression = Compression(config, timing)
        if self.compression.ccp is not None:
            self.ncps[Proto.CCP] = self.compression.ccp.automaton
        #: The NCPs that carry datagrams and have not finished (CCP does not count).
        self.running: set[int] = set()
        self.network: NetworkUp | None = None
        self.ipv6: Ipv6Up | None = None
        #: What we accept from the peer, for CCP's decompression limit.
        self.recv_mru = config.mru

    def start(self, now: float) -> None:
        """The link entered the network phase: every NCP comes up and opens."""
        for proto, ncp in self.ncps.items():
            if proto != Proto.CCP:
                self.running.add(proto)
            ncp.up(now)
            ncp.open(now)
        if not self.running:
            self._close_link("No network protocols running", now)

    def lower_down(self, now: float) -> None:
        """LCP left Opened: every NCP goes down with it."""
        for ncp in self.ncps.values():
            if ncp.state not in (State.INITIAL, State.STARTING):
                ncp.down(now)
        self.running.clear()

    def is_open(self, proto: int) -> bool:
        """Whether a frame of this data protocol may pass, LCP being Opened."""
        if proto == Proto.COMPRESSED_DATAGRAM:
            ncp = self.ncps.get(Proto.CCP)
        elif proto in COMPRESSED_PROTOCOLS:
            ncp = self.ncps.get(Proto.IPCP)  # VJ rides on IPCP
        else:
            ncp = self.ncps.get(DATA_NCP[proto])
        return ncp is not None and ncp.state is State.OPENED

    def on_signal(self, proto: int, signal: Signal, now: float) -> None:
        """What one NCP's automaton signalled: up, down, finished (or CCP's resets)."""
        ncp = self.ncps[proto]
        if proto == Proto.CCP:
            self._on_ccp(signal, now)
            return
        if isinstance(signal, LayerUp):
            handler = self.ipcp_options if proto == Proto.IPCP else self.ipv6cp_options
            result = handler.result()
            for note in result.notes:
                self._report(note)
            if result.up is None:
                self._report(LogLine(result.error or "", LogLevel.ERROR))
                ncp.close(result.close_reason or result.error or "", now)
                return
            self._first_up(now)
            if isinstance(result.up, NetworkUp):
                self.network = result.up
                self.compression.vj_up(*self.ipcp_options.vj_negotiated())
            else:
                self.ipv6 = result.up
            self._report(result.up)
        elif isinstance(signal, LayerDown):
            if proto in _IP_VERSION:
                if proto == Proto.IPCP:
                    self.network = None
                    self.compression.vj_down()
                else:
                    self.ipv6 = None
                self._report(NetworkDown(_IP_VERSION[proto]))
        elif isinstance(signal, LayerFinished) and proto in self.running:
            self.running.discard(proto)
            if not self.running and self._link_open():
                self._close_link("No network protocols running", now)

    def _on_ccp(self, signal: Signal, now: float) -> None:
        ccp = self.compression.ccp
        assert ccp is not None
        if isinstance(signal, LayerUp):
            ccp.mru = self.recv_mru
            self._report(ccp.up())
            if self.config.require_mppe and not ccp.encrypting:
                self._mppe_failed(now)
        elif isinstance(signal, LayerDown):
            ccp.down()
        elif isinstance(signal, LayerFinished) and self.config.require_mppe:
            self._mppe_failed(now)
        elif isinstance(signal, CodeReceived):
            ccp.code_received(signal)

    def _mppe_failed(self, now: float) -> None:
        # pppd's words; the link ends rather than carry anything in the clear.
        self._report(LogLine("MPPE required but peer negotiation failed", LogLevel.ERROR))
        if self._link_open():
            self._close_link("MPPE required but peer negotiation failed", now)

    def set_mppe_keys(self, keys: MppeKeys | None) -> None:
        """MS-CHAP succeeded: CCP may now offer and accept MPPE with these keys."""
        if self.compression.ccp is not None:
            self.compression.ccp.options.mppe_keys = keys
