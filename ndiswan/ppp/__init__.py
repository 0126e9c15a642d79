"""PPP as a sans-I/O protocol core: LCP, PAP, CHAP, IPCP, IPV6CP (RFC 1661 and friends).

``PppSession`` is the whole link; everything else is its parts, public so
they can be tested and reused one by one.  Nothing here does I/O: bytes,
events and the time go in, frames and events come out.
"""

from ndiswan.ppp.automaton import Automaton
from ndiswan.ppp.config import (
    AuthProtocol,
    AuthRequirement,
    PppConfig,
    RandomBytes,
    SecretLookup,
)
from ndiswan.ppp.constants import Code, Proto
from ndiswan.ppp.events import (
    AuthFailed,
    AuthRole,
    AuthSucceeded,
    DatagramReceived,
    Event,
    Ipv6Up,
    LinkInfoNegotiated,
    LinkTerminated,
    LogLevel,
    LogLine,
    NetworkDown,
    NetworkUp,
    Phase,
    PhaseChanged,
    ProtocolError,
)
from ndiswan.ppp.fsm import TRANSITIONS, Action, Input, State, Timing
from ndiswan.ppp.log import format_frame, packet_line
from ndiswan.ppp.options import OptionHandler, RequestReply, Verdict
from ndiswan.ppp.packet import ControlPacket, Option, parse_control_packet, parse_options
from ndiswan.ppp.peer_addresses import AllowedPeerAddresses
from ndiswan.ppp.secrets_format import SecretEntry, SecretsTable, parse_secrets
from ndiswan.ppp.session import PppSession, SessionStats
from ndiswan.ppp.wire import Wire

__all__ = [
    "TRANSITIONS",
    "Action",
    "AllowedPeerAddresses",
    "AuthFailed",
    "AuthProtocol",
    "AuthRequirement",
    "AuthRole",
    "AuthSucceeded",
    "Automaton",
    "Code",
    "ControlPacket",
    "DatagramReceived",
    "Event",
    "Input",
    "Ipv6Up",
    "LinkInfoNegotiated",
    "LinkTerminated",
    "LogLevel",
    "LogLine",
    "NetworkDown",
    "NetworkUp",
    "Option",
    "OptionHandler",
    "Phase",
    "PhaseChanged",
    "PppConfig",
    "PppSession",
    "Proto",
    "ProtocolError",
    "RandomBytes",
    "RequestReply",
    "SecretEntry",
    "SecretLookup",
    "SecretsTable",
    "SessionStats",
    "State",
    "Timing",
    "Verdict",
    "Wire",
    "format_frame",
    "packet_line",
    "parse_control_packet",
    "parse_options",
    "parse_secrets",
]
