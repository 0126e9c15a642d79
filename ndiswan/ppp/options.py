"""The option-handler interface: what one control protocol negotiates.

The RFC 1661 automaton (``fsm.py``) is the same for LCP, IPCP, IPV6CP and
CCP; what differs is how each builds its Configure-Request, judges the
peer's, and learns from a Configure-Nak or Configure-Reject of its own.
That is an ``OptionHandler``.

Judging follows RFC 1661 section 5 and pppd's ``reqci`` habits:

* any option rejected (unknown, bad length, repeated, or refused) makes the
  reply a Configure-Reject carrying just those options, unmodified;
* otherwise any option we disagree with makes it a Configure-Nak carrying
  our suggestions (plus options we want the peer to add);
* otherwise the request is acknowledged as received;
* once Max-Failure Configure-Naks went unanswered by an acceptable request,
  disagreements become rejections so negotiation converges
  (``reject_if_disagree``), except for suggestions a handler insists on.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass

from ndiswan.ppp.constants import Code
from ndiswan.ppp.events import Ipv6Up, LogLine, NetworkUp
from ndiswan.ppp.packet import Option, encode_options, parse_options


class Verdict(enum.Enum):
    """What we think of one option in the peer's Configure-Request."""

    ACK = "ack"
    NAK = "nak"
    REJECT = "reject"


@dataclass(frozen=True)
class OptionVerdict:
    verdict: Verdict
    #: For NAK: the value we would accept instead.
    suggestion: Option | None = None
    #: A NAK that must stay a NAK after Max-Failure (pppd: the magic number).
    insist: bool = False


ACK = OptionVerdict(Verdict.ACK)
REJECT = OptionVerdict(Verdict.REJECT)


def nak(suggestion: Option, *, insist: bool = False) -> OptionVerdict:
    return OptionVerdict(Verdict.NAK, suggestion, insist)


@dataclass(frozen=True)
class RequestReply:
    """Our answer to a Configure-Request: Ack, Nak or Reject and its options."""

    code: Code
    data: bytes

    @property
    def acceptable(self) -> bool:
        return self.code is Code.CONFIGURE_ACK


@dataclass(frozen=True)
class NcpResult:
    """What an NCP handler concludes at This-Layer-Up: an event, or why to close."""

    up: NetworkUp | Ipv6Up | None
    #: Why the NCP must close, for the log.
    error: str | None
    notes: tuple[LogLine, ...] = ()
    #: The Terminate-Request's reason when it differs from ``error``.
    close_reason: str | None = None


class OptionHandler(abc.ABC):
    """One control protocol's options; subclasses hold the protocol's values.

    The automaton calls ``reset`` before a fresh negotiation, ``build_request``
    for each new Configure-Request, ``judge_request`` for each received one,
    and ``apply_ack`` / ``apply_nak`` / ``apply_reject`` for valid replies to
    ours.  ``apply_nak`` and ``apply_reject`` return False for a reply that
    makes no sense; the automaton then discards it as the RFC requires.
    """

    #: Set by a handler when negotiation must stop (e.g. a looped-back line);
    #: the automaton reports it and clears it.
    abort_reason: str | None = None

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget what was negotiated and start from the configured wishes."""

    @abc.abstractmethod
    def build_request(self) -> list[Option]:
        """The options of our next Configure-Request."""

    @abc.abstractmethod
    def begin_peer_request(self) -> None:
        """Clear what we learnt from the peer's previous Configure-Request."""

    @abc.abstractmethod
    def judge_option(self, option: Option) -> OptionVerdict:
        """Judge one option of the peer's request (and remember its value)."""

    def options_to_add(self, naking: bool) -> list[Option]:
        """Options the peer left out but must include, appended to our Nak.

        ``naking`` says whether the reply is a Nak anyway; when it is not,
        adding something turns an Ack into a Nak.
        """
        return []

    @abc.abstractmethod
    def apply_ack(self, options: list[Option]) -> None:
        """The peer acknowledged exactly ``options``: they are now in force."""

    @abc.abstractmethod
    def apply_nak(self, options: list[Option], treat_as_reject: bool) -> bool:
        """Learn from a Configure-Nak; False when it is not a sensible Nak."""

    @abc.abstractmethod
    def apply_reject(self, options: list[Option]) -> bool:
        """Stop asking for ``options``; False when that is not possible."""

    def judge_request(self, data: bytes, reject_if_disagree: bool) -> RequestReply:
        """Our Ack, Nak or Reject for a Configure-Request's option list."""
        options, tail = parse_options(data)
        self.begin_peer_request()
        rejected: list[Option] = []
        suggested: list[Option] = []
        seen: set[int] = set()
        for option in options:
            if option.type in seen:
                rejected.append(option)
                continue
            seen.add(option.type)
            verdict = self.judge_option(option)
            if verdict.verdict is Verdict.NAK and reject_if_disagree and not verdict.insist:
                verdict = REJECT
            if verdict.verdict is Verdict.NAK and verdict.suggestion is not None:
                suggested.append(verdict.suggestion)
            elif verdict.verdict is not Verdict.ACK:
                rejected.append(option)
        if rejected or tail:
            return RequestReply(Code.CONFIGURE_REJECT, encode_options(rejected) + tail)
        if not reject_if_disagree:
            suggested.extend(self.options_to_add(bool(suggested)))
        if suggested:
            return RequestReply(Code.CONFIGURE_NAK, encode_options(suggested))
        return RequestReply(Code.CONFIGURE_ACK, bytes(data))


class RejectAllHandler(OptionHandler):
    """A control protocol we run but negotiate nothing in (e.g. CCP with no method)."""

    def reset(self) -> None:
        pass

    def build_request(self) -> list[Option]:
        return []

    def begin_peer_request(self) -> None:
        pass

    def judge_option(self, option: Option) -> OptionVerdict:
        return REJECT

    def apply_ack(self, options: list[Option]) -> None:
        pass

    def apply_nak(self, options: list[Option], treat_as_reject: bool) -> bool:
        # We asked for nothing, so a Nak can only suggest additions we ignore.
        return True

    def apply_reject(self, options: list[Option]) -> bool:
        return not options
