"""Multilink PPP (RFC 1990): the sans-I/O core of NDISWAN's bundles.

``header`` reads and writes the 0x003d fragment header, ``endpoint`` the
Endpoint Discriminator of LCP option 19 (and pppd's ``endpoint`` syntax),
``fragmenter`` splits a packet over members by speed and send window, and
``reassembler`` puts fragments back together with RFC 1990's loss detection.

``bundle`` wires them to member links: a ``BundleTable`` puts each link whose
LCP negotiated multilink into the bundle of its peer (authenticated name and
Endpoint Discriminator); a ``Bundle`` owns one fragmenter and one
reassembler, and each member ``PppLink`` (one per VC, LCP and authentication
its own) hands it every 0x003d frame it receives, tagged with the member's
name.  When the bundle sends, the fragmenter splits the packet over the
members whose send windows are open, using each VC's speed and SendWindow
from the miniport's WAN_CO_LINKPARAMS indication.  A member that goes down
leaves both objects, so the reassembler's minimum sequence number M stops
waiting for it and the fragmenter stops choosing it.
"""

from ndiswan.ppp.multilink.bundle import (
    Bundle,
    BundleKey,
    BundleStatus,
    BundleTable,
    HeaderFormat,
    JoinResult,
    LeaveResult,
    Member,
    MemberState,
    MemberStatus,
)
from ndiswan.ppp.multilink.endpoint import (
    EndpointClass,
    EndpointDiscriminator,
    MalformedEndpoint,
    endpoint_text,
    parse_endpoint,
)
from ndiswan.ppp.multilink.fragmenter import MIN_FRAGMENT, Fragmenter, MemberLink
from ndiswan.ppp.multilink.header import (
    PROTOCOL_MULTILINK,
    Fragment,
    parse_fragment,
    sequence_distance,
)
from ndiswan.ppp.multilink.reassembler import Reassembler, ReassemblyCounters

__all__ = [
    "MIN_FRAGMENT",
    "PROTOCOL_MULTILINK",
    "Bundle",
    "BundleKey",
    "BundleStatus",
    "BundleTable",
    "EndpointClass",
    "EndpointDiscriminator",
    "Fragment",
    "Fragmenter",
    "HeaderFormat",
    "JoinResult",
    "LeaveResult",
    "MalformedEndpoint",
    "Member",
    "MemberLink",
    "MemberState",
    "MemberStatus",
    "Reassembler",
    "ReassemblyCounters",
    "endpoint_text",
    "parse_endpoint",
    "parse_fragment",
    "sequence_distance",
]
