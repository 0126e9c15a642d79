"""A PPP link's configuration, with pppd's defaults.

Field names follow pppd's options where one exists (``asyncmap``, ``mru``,
``usepeerdns``, ``ms_dns``, ``lcp_echo_interval``...), so a profile written
for pppd maps onto it directly.  Defaults are pppd's: ``asyncmap 0``, magic
number, protocol and address/control field compression, MRU 1500, our own
IPv4 address asked of the peer (0.0.0.0) unless configured, no
authentication required.  Unlike pppd, compression (CCP, VJ) is off until
asked for.  Multilink (RFC 1990) is off unless ``multilink`` is set, as
pppd's ``multilink``/``mp``.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from ndiswan.ppp.constants import DEFAULT_MRU, MIN_MRU
from ndiswan.ppp.multilink.endpoint import MAX_ADDRESS, EndpointClass, EndpointDiscriminator

#: Secrets lookup: (client, server) -> secret, or None when there is none.
#: An empty name matches any entry, as a missing name does in pppd.
SecretLookup = Callable[[str, str], "str | None"]
#: The address words of the secrets-file entry a lookup uses: (client,
#: server) -> words, or None when there is no entry.
AddressLookup = Callable[[str, str], "tuple[str, ...] | None"]
#: Random octets (the default is ``secrets.token_bytes``).
RandomBytes = Callable[[int], bytes]

#: pppd refuses an MRU above this (MAXMRU).
MAX_MRU = 16384


class AuthProtocol(enum.Enum):
    PAP = "pap"
    #: CHAP with MD5 (RFC 1994).
    CHAP = "chap"
    #: CHAP with Microsoft's algorithms: MS-CHAP (RFC 2433) and MS-CHAPv2 (RFC 2759).
    MSCHAP = "mschap"
    MSCHAP_V2 = "mschap-v2"
    #: EAP (RFC 3748) with MD5-Challenge.
    EAP = "eap"

    @property
    def is_chap(self) -> bool:
        """Spoken as PPP protocol 0xc223, whatever the algorithm."""
        return self not in (AuthProtocol.PAP, AuthProtocol.EAP)


class AuthRequirement(enum.Enum):
    """What the peer must authenticate itself with (pppd's auth/require-*)."""

    NONE = "none"
    PAP = "pap"
    CHAP = "chap"
    #: CHAP preferred, PAP accepted when the peer Naks CHAP (pppd's plain ``auth``).
    PAP_OR_CHAP = "pap-or-chap"
    MSCHAP = "mschap"
    MSCHAP_V2 = "mschap-v2"
    EAP = "eap"

    @property
    def protocols(self) -> tuple[AuthProtocol, ...]:
        """Acceptable protocols, most preferred first."""
        return {
            AuthRequirement.NONE: (),
            AuthRequirement.PAP: (AuthProtocol.PAP,),
            AuthRequirement.CHAP: (AuthProtocol.CHAP,),
            AuthRequirement.PAP_OR_CHAP: (AuthProtocol.CHAP, AuthProtocol.PAP),
            AuthRequirement.MSCHAP: (AuthProtocol.MSCHAP,),
            AuthRequirement.MSCHAP_V2: (AuthProtocol.MSCHAP_V2,),
            AuthRequirement.EAP: (AuthProtocol.EAP,),
        }[self]


@dataclass(frozen=True)
class PppConfig:
    # -- LCP --
    mru: int = DEFAULT_MRU
    #: Our receive ACCM: control characters we need the peer to escape.
    asyncmap: int = 0
    magic: bool = True
    pcomp: bool = True
    accomp: bool = True
    #: Seconds between LCP Echo-Requests once LCP is open; 0 disables them.
    lcp_echo_interval: float = 0.0
    #: Unanswered Echo-Requests before the peer is declared dead; 0 never.
    lcp_echo_failure: int = 0
    #: pppd's lcp-max-* family, applied to every control protocol.
    restart_time: float = 3.0
    max_configure: int = 10
    max_terminate: int = 2
    max_failure: int = 5
    #: Rounds of our magic number coming back before the line counts as looped.
    loopback_fail: int = 10

    # -- multilink (RFC 1990): LCP options 17, 18 and 19 --
    #: Without ``multilink`` the other three are ignored, as pppd ignores them.
    #: pppd's ``multilink`` (``mp``): ask for an MRRU and accept the peer's.
    multilink: bool = False
    #: pppd's ``mrru N``: the largest reassembled packet we receive
    #: (``MIN_MRU``..``MAX_MRU``); None: our MRU, 1500 by default (pppd's rule).
    mrru: int | None = None
    #: pppd's ``mpshortseq``: ask for and accept 12-bit sequence numbers.
    mpshortseq: bool = False
    #: pppd's ``endpoint``: our Endpoint Discriminator (``parse_endpoint``
    #: reads pppd's syntax); None: ``our_endpoint`` picks one.
    endpoint: EndpointDiscriminator | None = None

    # -- authentication --
    require_auth: AuthRequirement = AuthRequirement.NONE
    refuse_pap: bool = False
    refuse_chap: bool = False
    refuse_mschap: bool = False
    refuse_mschap_v2: bool = False
    refuse_eap: bool = False
    #: Our name: sent in CHAP Challenges, the server name in secrets lookups.
    name: str = ""
    #: The name we authenticate as (defaults to ``name``).
    user: str = ""
    #: Our secret for PAP and CHAP; when None it comes from the secrets lookup.
    password: str | None = None
    #: The peer's name for secrets lookups (pppd's ``remotename``).
    remote_name: str = ""
    #: CHAP re-challenge interval in seconds once authenticated; 0 disables.
    chap_interval: float = 0.0
    #: How long an authenticator waits for a PAP Authenticate-Request.
    pap_wait_timeout: float = 30.0
    #: How long we wait for the peer's CHAP Challenge and verdict.
    chap_wait_timeout: float = 60.0
    #: EAP-TLS (RFC 5216) contexts, built by the caller from pppd's ca/cert/key:
    #: with one, the authenticator asks for TLS instead of MD5-Challenge, and the
    #: peer answers TLS Requests.  None: no EAP-TLS in that role.
    eap_tls_server: ssl.SSLContext | None = field(default=None, compare=False, repr=False)
    eap_tls_client: ssl.SSLContext | None = field(default=None, compare=False, repr=False)

    # -- IPCP --
    ipv4: bool = True
    local_ip: ipaddress.IPv4Address | None = None
    remote_ip: ipaddress.IPv4Address | None = None
    #: Take the peer's idea of our address (default: when we have none).
    ipcp_accept_local: bool | None = None
    #: Take the peer's idea of its address (default: when we have none for it).
    ipcp_accept_remote: bool | None = None
    #: DNS servers we give a peer that asks (at most two: primary, secondary).
    ms_dns: tuple[ipaddress.IPv4Address, ...] = ()
    #: Ask the peer for DNS servers.
    usepeerdns: bool = False

    # -- IPV6CP --
    ipv6: bool = False
    ipv6_local_id: bytes | None = None
    ipv6_remote_id: bytes | None = None

    # -- the link's life --
    #: pppd's ``idle``: seconds without a data packet before the link ends (0: never).
    idle: float = 0.0

    # -- compression --
    #: True: answer CCP with LCP Protocol-Reject; False: run CCP (RFC 1962).
    noccp: bool = True
    #: pppd's ``deflate R,T``: largest window we decompress with, largest we
    #: compress with (9..15; 0 turns that direction off).
    deflate: tuple[int, int] = (0, 0)
    #: Also offer and accept pppd's old Deflate option number (24).
    deflate_draft: bool = True
    #: pppd's ``bsdcomp R,T``: code sizes, as for ``deflate``.
    bsdcomp: tuple[int, int] = (0, 0)
    #: MPPE (RFC 3078, CCP option 18) key strengths we accept, strongest first
    #: (128 and/or 40); empty: no MPPE.  Keys come from MS-CHAPv2.
    mppe: tuple[int, ...] = ()
    #: Allow stateful MPPE (pppd's ``mppe-stateful``); stateless otherwise.
    mppe_stateful: bool = False
    #: pppd's ``require-mppe``: no datagram passes unencrypted, and the link ends
    #: when MPPE does not come up.
    require_mppe: bool = False
    #: Van Jacobson TCP/IP header compression (IPCP option 2).
    vj: bool = False
    #: Slots we offer and accept (pppd's ``vj-max-slots``, 2..16).
    vj_max_slots: int = 16
    #: Let the slot id be left out when it repeats (pppd's ``novjccomp`` turns it off).
    vjccomp: bool = True

    def __post_init__(self) -> None:
        if not MIN_MRU <= self.mru <= MAX_MRU:
            raise ValueError(f"mru must be between {MIN_MRU} and {MAX_MRU}")
        if not 0 <= self.asyncmap <= 0xFFFFFFFF:
            raise ValueError("asyncmap is a 32-bit map")
        if len(self.ms_dns) > 2:
            raise ValueError("at most two ms-dns addresses")
        for ifid in (self.ipv6_local_id, self.ipv6_remote_id):
            if ifid is not None and (len(ifid) != 8 or not any(ifid)):
                raise ValueError("an IPv6 interface identifier is 8 octets, not all zero")
        if self.restart_time <= 0 or min(self.max_configure, self.max_terminate) < 1:
            raise ValueError("restart time and max-configure/terminate must be positive")
        if self.max_failure < 1 or self.loopback_fail < 1:
            raise ValueError("max-failure and loopback-fail must be positive")
        if self.lcp_echo_interval < 0 or self.lcp_echo_failure < 0 or self.chap_interval < 0:
            raise ValueError("echo and re-challenge settings cannot be negative")
        if self.idle < 0:
            raise ValueError("idle cannot be negative")
        for sizes in (self.deflate, self.bsdcomp):
            if len(sizes) != 2 or any(size != 0 and not 9 <= size <= 15 for size in sizes):
                raise ValueError("deflate and bsdcomp sizes are 0 (off) or 9..15")
        if any(bits not in (40, 128) for bits in self.mppe) or len(set(self.mppe)) != len(
            self.mppe
        ):
            raise ValueError("mppe strengths are 40 and/or 128")
        if self.require_mppe and (not self.mppe or self.noccp):
            raise ValueError("require-mppe needs an MPPE strength and CCP")
        if not 2 <= self.vj_max_slots <= 16:
            raise ValueError("vj-max-slots is between 2 and 16")
        if len(self.name.encode()) > 255 or len(self.user.encode()) > 255:
            raise ValueError("names are at most 255 octets")
        if self.mrru is not None and not MIN_MRU <= self.mrru <= MAX_MRU:
            raise ValueError(f"mrru must be between {MIN_MRU} and {MAX_MRU}")
        if self.endpoint is not None and not isinstance(self.endpoint, EndpointDiscriminator):
            raise ValueError("endpoint must be an EndpointDiscriminator (see parse_endpoint)")

    @property
    def auth_user(self) -> str:
        return self.user or self.name

    @property
    def our_mrru(self) -> int:
        """The MRRU we ask for with multilink: ``mrru``, else our MRU (pppd's default)."""
        return self.mrru if self.mrru is not None else self.mru

    @property
    def our_endpoint(self) -> EndpointDiscriminator | None:
        """The Endpoint Discriminator we send with multilink.

        ``endpoint`` when set.  Otherwise pppd looks at the host (the MAC
        address of its first Ethernet interface, else the host name's public
        IPv4 address); a sans-I/O core cannot, so the default here is class 1
        (locally assigned) made from our ``name``: its UTF-8 octets when they
        are 20 or fewer, else the 20 octets of their SHA-1 digest.  The same
        name gives every link of this system the same discriminator, as
        bundling needs.  With no ``name`` there is none (no option is sent),
        as pppd sends none when it finds no default.  A driver that can read
        the host's MAC address sets ``endpoint`` to ``MAC:...`` instead.
        """
        if self.endpoint is not None:
            return self.endpoint
        if not self.name:
            return None
        octets = self.name.encode()
        if len(octets) > MAX_ADDRESS:
            octets = hashlib.sha1(octets).digest()
        return EndpointDiscriminator(EndpointClass.LOCAL, octets)
