"""LCP's options (RFC 1661 section 6, RFC 1662, RFC 1994): the option handler.

MRU, ACCM, Authentication-Protocol (PAP; CHAP with MD5, MS-CHAP or
MS-CHAPv2; EAP), Magic-Number, PFC and ACFC, and Multilink's MRRU, Short
Sequence Number Header Format and Endpoint Discriminator (RFC 1990 5.1).
Judging follows pppd 2.4.9 so the two converge the same way:

* an MRU below 128 is Nak'd up to 128; any larger one is accepted;
* an ACCM is accepted as it is (we need no characters escaped);
* an Authentication-Protocol we refuse is Nak'd with one we accept, as
  pppd does: a CHAP algorithm with the CHAP we prefer (MD5, MS-CHAPv2,
  MS-CHAP), anything else with EAP, else CHAP, else PAP; rejected when we
  accept none;
* a Magic-Number equal to ours (or zero) is Nak'd with a fresh random one,
  and that Nak is never turned into a Reject by Max-Failure;
* a Nak of our Authentication-Protocol moves us only to another protocol we
  also require: it can drop our request (the link then fails at Up with
  "peer refused to authenticate") but never weakens it;
* several Naks of our Magic-Number in a row mean the line is looped back;
* MRRU and SSNHF are asked for and accepted only with multilink on (SSNHF
  also needs ``short_seq``, pppd's ``mpshortseq``), and rejected otherwise;
  unlike pppd, an MRRU below 128 is rejected too;
* the peer's Endpoint Discriminator is accepted whether or not we do
  multilink, as pppd does, unless it breaks RFC 1990's length rules for its
  class or names a reserved class (rejected; pppd checks only the length);
  ours is sent only with multilink;
* a Reject of our MRRU turns multilink off for the link, which still opens:
  multilink needs both MRRUs (pppd's ``mp_join_bundle``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ndiswan.ppp.config import AuthProtocol, RandomBytes
from ndiswan.ppp.constants import (
    CHAP_MD5,
    CHAP_MSCHAP,
    CHAP_MSCHAP_V2,
    DEFAULT_ACCM,
    DEFAULT_MRU,
    MIN_MRU,
    LcpOpt,
    Proto,
)
from ndiswan.ppp.multilink.endpoint import EndpointDiscriminator
from ndiswan.ppp.options import ACK, REJECT, OptionHandler, OptionVerdict, nak
from ndiswan.ppp.packet import Option, uint_option

LOOPBACK_REASON = "Loopback detected"

_PAP_OPTION = Option(LcpOpt.AUTH_PROTOCOL, Proto.PAP.to_bytes(2, "big"))
_CHAP_OPTION = Option(LcpOpt.AUTH_PROTOCOL, Proto.CHAP.to_bytes(2, "big") + bytes((CHAP_MD5,)))
#: CHAP's algorithm octet for each kind of CHAP.
CHAP_ALGORITHMS = {
    AuthProtocol.CHAP: CHAP_MD5,
    AuthProtocol.MSCHAP: CHAP_MSCHAP,
    AuthProtocol.MSCHAP_V2: CHAP_MSCHAP_V2,
}
_CHAP_BY_ALGORITHM = {algorithm: kind for kind, algorithm in CHAP_ALGORITHMS.items()}
_EAP_OPTION = Option(LcpOpt.AUTH_PROTOCOL, Proto.EAP.to_bytes(2, "big"))
#: pppd's order of preference among CHAP algorithms (its CHAP_DIGEST).
_CHAP_ORDER = (AuthProtocol.CHAP, AuthProtocol.MSCHAP_V2, AuthProtocol.MSCHAP)


def auth_option(protocol: AuthProtocol) -> Option:
    if protocol is AuthProtocol.PAP:
        return _PAP_OPTION
    if protocol is AuthProtocol.EAP:
        return _EAP_OPTION
    return Option(
        LcpOpt.AUTH_PROTOCOL, Proto.CHAP.to_bytes(2, "big") + bytes((CHAP_ALGORITHMS[protocol],))
    )


def auth_protocol_of(data: bytes) -> AuthProtocol | None:
    """The protocol an Authentication-Protocol option's data names; None if not one we speak."""
    if data == _PAP_OPTION.data:
        return AuthProtocol.PAP
    if data == _EAP_OPTION.data:
        return AuthProtocol.EAP
    if len(data) == 3 and int.from_bytes(data[:2], "big") == Proto.CHAP:
        return _CHAP_BY_ALGORITHM.get(data[2])
    return None


def random_magic(rng: RandomBytes) -> int:
    """A non-zero 32-bit magic number (zero is illegal, RFC 1661 6.4)."""
    while True:
        value = int.from_bytes(rng(4), "big")
        if value:
            return value


@dataclass(frozen=True)
class LcpPolicy:
    """What we ask for and what we allow, derived from PppConfig."""

    mru: int = DEFAULT_MRU
    asyncmap: int = 0
    magic: bool = True
    pcomp: bool = True
    accomp: bool = True
    #: Protocols the peer must authenticate with, most preferred first.
    require: tuple[AuthProtocol, ...] = ()
    #: Protocols we are willing to authenticate ourselves with.
    allow_pap: bool = True
    allow_chap: bool = True
    allow_mschap: bool = True
    allow_mschap_v2: bool = True
    allow_eap: bool = True

    def allows(self, protocol: AuthProtocol) -> bool:
        return {
            AuthProtocol.PAP: self.allow_pap,
            AuthProtocol.CHAP: self.allow_chap,
            AuthProtocol.MSCHAP: self.allow_mschap,
            AuthProtocol.MSCHAP_V2: self.allow_mschap_v2,
            AuthProtocol.EAP: self.allow_eap,
        }[protocol]

    loopback_fail: int = 10
    #: Multilink (RFC 1990): ask for ``mrru`` and our ``endpoint`` (None:
    #: send none) and accept the peer's MRRU; SSNHF both ways with ``short_seq``.
    multilink: bool = False
    mrru: int = DEFAULT_MRU
    short_seq: bool = False
    endpoint: EndpointDiscriminator | None = None


@dataclass(frozen=True)
class LcpValues:
    """One direction's negotiated LCP values (None: not negotiated)."""

    mru: int | None = None
    accm: int | None = None
    auth: AuthProtocol | None = None
    magic: int | None = None
    pfc: bool = False
    acfc: bool = False
    #: Multilink: the MRRU, the Short Sequence Number Header Format (the
    #: sender of the option receives short sequence numbers), the Endpoint
    #: Discriminator.
    mrru: int | None = None
    ssnhf: bool = False
    endpoint: EndpointDiscriminator | None = None

    @property
    def effective_mru(self) -> int:
        return self.mru if self.mru is not None else DEFAULT_MRU

    @property
    def effective_accm(self) -> int:
        return self.accm if self.accm is not None else DEFAULT_ACCM


class LcpOptions(OptionHandler):
    """The LCP option handler; ``local`` and ``peer`` hold the results."""

    def __init__(self, policy: LcpPolicy, rng: RandomBytes) -> None:
        self.policy = policy
        self._rng = rng
        #: What the peer acknowledged of ours: how it must send to us.
        self.local = LcpValues()
        #: What we acknowledged of the peer's: how we must send to it.
        self.peer = LcpValues()
        self._loops = 0
        self._auth_candidates: list[AuthProtocol] = []
        self._want = LcpValues()

    # -- our request ------------------------------------------------------

    def reset(self) -> None:
        p = self.policy
        self._auth_candidates = list(p.require)
        self._want = LcpValues(
            mru=p.mru if p.mru != DEFAULT_MRU else None,
            accm=p.asyncmap if p.asyncmap != DEFAULT_ACCM else None,
            magic=random_magic(self._rng) if p.magic else None,
            pfc=p.pcomp,
            acfc=p.accomp,
            mrru=p.mrru if p.multilink else None,
            ssnhf=p.multilink and p.short_seq,
            endpoint=p.endpoint if p.multilink else None,
        )
        self._loops = 0

    @property
    def requested_auth(self) -> AuthProtocol | None:
        return self._auth_candidates[0] if self._auth_candidates else None

    @property
    def our_magic(self) -> int:
        return self._want.magic or 0

    @property
    def multilink(self) -> bool:
        """Multilink is on for this link: both MRRUs were acknowledged."""
        return self.local.mrru is not None and self.peer.mrru is not None

    def build_request(self) -> list[Option]:
        w = self._want
        options: list[Option] = []
        if w.mru is not None:
            options.append(uint_option(LcpOpt.MRU, w.mru, 2))
        if w.accm is not None:
            options.append(uint_option(LcpOpt.ACCM, w.accm, 4))
        if self.requested_auth is not None:
            options.append(auth_option(self.requested_auth))
        if w.magic is not None:
            options.append(uint_option(LcpOpt.MAGIC_NUMBER, w.magic, 4))
        if w.pfc:
            options.append(Option(LcpOpt.PFC))
        if w.acfc:
            options.append(Option(LcpOpt.ACFC))
        if w.mrru is not None:
            options.append(uint_option(LcpOpt.MRRU, w.mrru, 2))
        if w.ssnhf:
            options.append(Option(LcpOpt.SSNHF))
        if w.endpoint is not None:
            options.append(Option(LcpOpt.ENDPOINT_DISCRIMINATOR, w.endpoint.option_data()))
        return options

    def apply_ack(self, options: list[Option]) -> None:
        self.local = replace(self._want, auth=self.requested_auth)

    def apply_nak(self, options: list[Option], treat_as_reject: bool) -> bool:
        sent = {option.type for option in self.build_request()}
        w = self._want
        looped = False
        for option in options:
            kind, n = option.type, len(option.data)
            if kind == LcpOpt.MRU:
                if n != 2:
                    return False
                value = option.uint
                if treat_as_reject and kind in sent:
                    w = replace(w, mru=None)
                elif value <= self.policy.mru or value <= DEFAULT_MRU:
                    w = replace(w, mru=value if value != DEFAULT_MRU else None)
            elif kind == LcpOpt.ACCM:
                if n != 4:
                    return False
                if treat_as_reject and kind in sent:
                    w = replace(w, accm=None)
                else:
                    w = replace(w, accm=(w.accm or 0) | option.uint | self.policy.asyncmap)
            elif kind == LcpOpt.AUTH_PROTOCOL:
                if n < 2:
                    return False
                if kind in sent and not self._auth_nak(option, treat_as_reject):
                    return False
            elif kind == LcpOpt.MAGIC_NUMBER:
                if n != 4:
                    return False
                if kind in sent:
                    w = replace(w, magic=self._fresh_magic(avoid=option.uint))
                    looped = True
            elif kind in (LcpOpt.PFC, LcpOpt.ACFC):
                # These should be rejected, not Nak'd; treat the Nak as a Reject.
                w = replace(w, pfc=False) if kind == LcpOpt.PFC else replace(w, acfc=False)
            elif kind == LcpOpt.MRRU:
                if n != 2:
                    return False
                if kind in sent and treat_as_reject:
                    w = replace(w, mrru=None)
                elif kind in sent and MIN_MRU <= option.uint <= self.policy.mrru:
                    w = replace(w, mrru=option.uint)  # pppd: a smaller MRRU, never larger
            elif kind == LcpOpt.SSNHF:
                if n != 0:
                    return False
                w = replace(w, ssnhf=False)
            elif kind == LcpOpt.ENDPOINT_DISCRIMINATOR:
                if n < 1:
                    return False
                w = replace(w, endpoint=None)  # pppd stops sending a Nak'd one
        self._want = w
        if looped:
            self._loops += 1
            if self._loops >= self.policy.loopback_fail:
                self.abort_reason = LOOPBACK_REASON
        else:
            self._loops = 0
        return True

    def _auth_nak(self, option: Option, treat_as_reject: bool) -> bool:
        current = self._auth_candidates[0]
        if treat_as_reject:
            self._auth_candidates.pop(0)
            return True
        suggested = auth_protocol_of(option.data)
        if suggested is current:
            return False  # Nak'd our choice and suggested it back
        # Stop asking for what was refused; a suggestion we also require comes
        # next, anything else leaves only what we still require.
        self._auth_candidates.pop(0)
        if suggested in self._auth_candidates:
            self._auth_candidates.remove(suggested)
            self._auth_candidates.insert(0, suggested)
        return True

    def apply_reject(self, options: list[Option]) -> bool:
        w = self._want
        for option in options:
            kind = option.type
            if kind == LcpOpt.MRU:
                w = replace(w, mru=None)
            elif kind == LcpOpt.ACCM:
                w = replace(w, accm=None)
            elif kind == LcpOpt.AUTH_PROTOCOL and self._auth_candidates:
                self._auth_candidates.pop(0)
            elif kind == LcpOpt.MAGIC_NUMBER:
                w = replace(w, magic=None)
            elif kind == LcpOpt.PFC:
                w = replace(w, pfc=False)
            elif kind == LcpOpt.ACFC:
                w = replace(w, acfc=False)
            elif kind == LcpOpt.MRRU:
                w = replace(w, mrru=None)  # no multilink on this link
            elif kind == LcpOpt.SSNHF:
                w = replace(w, ssnhf=False)
            elif kind == LcpOpt.ENDPOINT_DISCRIMINATOR:
                w = replace(w, endpoint=None)
            else:
                return False
        self._want = w
        return True

    def _fresh_magic(self, avoid: int) -> int:
        while True:
            value = random_magic(self._rng)
            if value != avoid:
                return value

    # -- the peer's request -----------------------------------------------

    def begin_peer_request(self) -> None:
        self.peer = LcpValues()

    def judge_option(self, option: Option) -> OptionVerdict:
        kind, n, p = option.type, len(option.data), self.policy
        if kind == LcpOpt.MRU and n == 2:
            if option.uint < MIN_MRU:
                return nak(uint_option(LcpOpt.MRU, MIN_MRU, 2))
            self.peer = replace(self.peer, mru=option.uint)
            return ACK
        if kind == LcpOpt.ACCM and n == 4:
            self.peer = replace(self.peer, accm=option.uint)
            return ACK
        if kind == LcpOpt.AUTH_PROTOCOL:
            return self._judge_auth(option)
        if kind == LcpOpt.MAGIC_NUMBER and n == 4 and p.magic:
            ours = self._want.magic
            if option.uint == 0 or (ours is not None and option.uint == ours):
                suggestion = uint_option(LcpOpt.MAGIC_NUMBER, self._fresh_magic(ours or 0), 4)
                return nak(suggestion, insist=True)
            self.peer = replace(self.peer, magic=option.uint)
            return ACK
        if kind == LcpOpt.PFC and n == 0 and p.pcomp:
            self.peer = replace(self.peer, pfc=True)
            return ACK
        if kind == LcpOpt.ACFC and n == 0 and p.accomp:
            self.peer = replace(self.peer, acfc=True)
            return ACK
        if kind == LcpOpt.MRRU and n == 2 and p.multilink and option.uint >= MIN_MRU:
            self.peer = replace(self.peer, mrru=option.uint)
            return ACK
        if kind == LcpOpt.SSNHF and n == 0 and p.multilink and p.short_seq:
            self.peer = replace(self.peer, ssnhf=True)
            return ACK
        if kind == LcpOpt.ENDPOINT_DISCRIMINATOR:
            endpoint = EndpointDiscriminator.from_option_data(option.data)
            if endpoint is None:
                return REJECT
            self.peer = replace(self.peer, endpoint=endpoint)
            return ACK
        return REJECT

    def _judge_auth(self, option: Option) -> OptionVerdict:
        p = self.policy
        chaps = [kind for kind in _CHAP_ORDER if p.allows(kind)]
        # As pppd: a CHAP we cannot do is Nak'd with the CHAP we prefer; any
        # other protocol with EAP, else CHAP, else PAP.
        others = [AuthProtocol.EAP, *chaps[:1], AuthProtocol.PAP]
        allowed = [kind for kind in others if p.allows(kind)]
        if len(option.data) < 2 or not allowed:
            return REJECT
        proto = int.from_bytes(option.data[:2], "big")
        if proto in (Proto.PAP, Proto.EAP) and len(option.data) != 2:
            return REJECT
        if proto == Proto.CHAP and len(option.data) != 3:
            return REJECT
        asked = auth_protocol_of(option.data)
        if asked is not None and p.allows(asked):
            self.peer = replace(self.peer, auth=asked)
            return ACK
        if proto == Proto.CHAP and chaps:
            return nak(auth_option(chaps[0]))
        return nak(auth_option(next(kind for kind in allowed if kind is not asked)))
