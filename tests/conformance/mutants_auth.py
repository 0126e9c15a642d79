"""Deliberately broken copies of our own PPP, one per PAP and CHAP case, for tests only."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ndiswan.ppp import PppSession
from ndiswan.ppp.auth import AuthMachine
from ndiswan.ppp.chap import ChapAuthenticator, ChapPeer
from ndiswan.ppp.constants import Proto
from ndiswan.ppp.events import Phase
from tests.conformance.simline import Mutant
from wanminiport.framing import PppAsyncFramer


def _rewrite(
    protocol: int, code: int, change: Callable[[bytes], bytes]
) -> Callable[[list[bytes]], list[bytes]]:
    """A mutant filter: the peer's ``protocol`` packets with ``code`` go through ``change``."""

    def outgoing(frames: list[bytes]) -> list[bytes]:
        head = protocol.to_bytes(2, "big")
        return [
            change(frame) if frame[:2] == head and len(frame) > 2 and frame[2] == code else frame
            for frame in frames
        ]

    return outgoing


def _identifier(change: Callable[[int], int]) -> Callable[[bytes], bytes]:
    return lambda frame: frame[:3] + bytes((change(frame[3]) & 0xFF,)) + frame[4:]


def _on_auth(
    kind: type[AuthMachine], change: Callable[[AuthMachine], None]
) -> Callable[[PppSession, PppAsyncFramer], None]:
    """A mutant patch: ``change`` applied to the peer's ``kind`` machine once LCP is up."""

    def patch(session: PppSession, framer: PppAsyncFramer) -> None:
        lcp_up = session._lcp_up

        def patched(now: float) -> None:
            lcp_up(now)
            for machine in session._auth.values():
                if isinstance(machine, kind):
                    change(machine)

        session._lcp_up = patched  # type: ignore[method-assign]

    return patch


def _no_retransmit(machine: AuthMachine) -> None:
    assert isinstance(machine, ChapAuthenticator)
    machine._max_transmits = 1


def _md5_without_identifier(machine: AuthMachine) -> None:
    assert isinstance(machine, ChapPeer)

    def value(identifier: int, challenge: bytes, secret: str) -> bytes:
        return hashlib.md5(secret.encode() + challenge).digest()

    machine._response_value = value  # type: ignore[method-assign]


def _forgets_verdict(machine: AuthMachine) -> None:
    assert isinstance(machine, ChapAuthenticator)
    receive = machine.receive

    def answer_once(data: bytes, now: float) -> None:
        receive(data, now)
        machine._last_verdict = None  # a repeated Response is then ignored

    machine.receive = answer_once  # type: ignore[method-assign]


def _same_value_new_identifier(machine: AuthMachine) -> None:
    """Every retransmitted Challenge gets the next identifier, its Value kept."""
    assert isinstance(machine, ChapAuthenticator)

    def next_identifier_only() -> None:
        machine._identifier = (machine._identifier + 1) & 0xFF

    machine._draw_challenge = next_identifier_only  # type: ignore[method-assign]


def _network_with_auth(session: PppSession, framer: PppAsyncFramer) -> None:
    """Starts IPCP and IPV6CP the moment LCP is up, while authentication runs."""
    lcp_up = session._lcp_up

    def patched(now: float) -> None:
        lcp_up(now)
        if session.phase is Phase.AUTHENTICATE:
            session._network.start(now)

    session._lcp_up = patched  # type: ignore[method-assign]


#: Each case's mutant.
MUTANTS: dict[str, Mutant] = {
    "pap-nak-wrong-password": Mutant(
        "Authenticate-Ack for any password",
        outgoing=_rewrite(Proto.PAP, 3, lambda f: f[:2] + b"\x02" + f[3:]),
    ),
    "pap-ack-identifier": Mutant(
        "Authenticate-Ack with the next identifier",
        outgoing=_rewrite(Proto.PAP, 2, _identifier(lambda i: i + 1)),
    ),
    "pap-request-retransmitted": Mutant(
        "repeats its Authenticate-Request with the same identifier",
        outgoing=_rewrite(Proto.PAP, 1, _identifier(lambda i: 1)),
    ),
    "chap-challenge-retransmitted": Mutant(
        "sends one Challenge only", patch=_on_auth(ChapAuthenticator, _no_retransmit)
    ),
    "chap-challenge-changes": Mutant(
        "retransmits its Challenge with a new identifier, the same Value",
        patch=_on_auth(ChapAuthenticator, _same_value_new_identifier),
    ),
    "chap-success-identifier": Mutant(
        "Success with identifier 0", outgoing=_rewrite(Proto.CHAP, 3, _identifier(lambda i: 0))
    ),
    "chap-failure-wrong-response": Mutant(
        "Success for any Response",
        outgoing=_rewrite(Proto.CHAP, 4, lambda f: f[:2] + b"\x03" + f[3:]),
    ),
    "chap-repeated-response": Mutant(
        "ignores a Response once it answered", patch=_on_auth(ChapAuthenticator, _forgets_verdict)
    ),
    "chap-response-value": Mutant(
        "leaves the identifier out of the MD5", patch=_on_auth(ChapPeer, _md5_without_identifier)
    ),
    "pap-ncp-before-auth": Mutant("starts IPCP while authenticating", patch=_network_with_auth),
    "chap-ncp-before-auth": Mutant("starts IPCP while authenticating", patch=_network_with_auth),
}
