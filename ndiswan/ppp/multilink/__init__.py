"""Multilink PPP (RFC 1990): the sans-I/O core of NDISWAN's bundles.

``header`` reads and writes the 0x003d fragment header, ``endpoint`` the
Endpoint Discriminator of LCP option 19 (and pppd's ``endpoint`` syntax),
``fragmenter`` splits a packet over members by speed and send window, and
``reassembler`` puts fragments back together with RFC 1990's loss detection.

How a bundle will wire this to its member links: the bundle object in
``ndiswan/`` will own one fragmenter and one reassembler, and each member
``PppLink`` (one per VC, LCP and authentication its own) will hand the bundle
every 0x003d frame it receives, tagged with the member's name.  When the
bundle sends, it will ask the fragmenter to split the packet over the members
whose send windows are open, using each VC's speed and SendWindow from the
miniport's WAN_CO_LINKPARAMS indication, and pass each fragment down its
member's VC.  A member that goes down will be removed from both objects, so
the reassembler's minimum sequence number M stops waiting for it and the
fragmenter stops choosing it.
"""

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
    "EndpointClass",
    "EndpointDiscriminator",
    "Fragment",
    "Fragmenter",
    "MalformedEndpoint",
    "MemberLink",
    "Reassembler",
    "ReassemblyCounters",
    "endpoint_text",
    "parse_endpoint",
    "parse_fragment",
    "sequence_distance",
]
