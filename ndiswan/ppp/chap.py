"""CHAP with MD5, RFC 1994: both roles, optional periodic re-challenge.

Response value = MD5(identifier || secret || challenge).  The authenticator
draws a fresh challenge (16 to 24 random octets, as pppd) and identifier
for every challenge, retransmits it every 3 seconds up to 10 times, accepts
only a Response to the current identifier while that challenge is valid,
compares digests in constant time, and answers a repeated Response to an
answered challenge with the same verdict.  A Response captured from an
earlier challenge therefore never matches a new one.  With an interval set,
it challenges again after each success; a failed re-challenge ends the link.
"""

from __future__ import annotations

import hashlib
import hmac

from ndiswan.ppp.auth import AuthMachine
from ndiswan.ppp.config import AddressLookup, RandomBytes, SecretLookup
from ndiswan.ppp.events import AuthRole, LogLevel
from ndiswan.ppp.log import q_text, visible
from ndiswan.ppp.packet import ControlPacket, parse_control_packet

CHALLENGE, RESPONSE, SUCCESS, FAILURE = 1, 2, 3, 4
MIN_CHALLENGE, MAX_CHALLENGE = 16, 24


def chap_md5(identifier: int, secret: bytes, challenge: bytes) -> bytes:
    return hashlib.md5(bytes((identifier,)) + secret + challenge).digest()


def _value_and_name(data: bytes) -> tuple[bytes, bytes] | None:
    """Split ``Value-Size, Value, Name``; None when the size lies."""
    if not data or len(data) < data[0] + 1:
        return None
    return data[1 : 1 + data[0]], data[1 + data[0] :]


class ChapAuthenticator(AuthMachine):
    """We challenge the peer."""

    protocol_name = "CHAP"
    role = AuthRole.AUTHENTICATOR

    def __init__(
        self,
        our_name: str,
        secrets: SecretLookup | None,
        rng: RandomBytes,
        *,
        restart_time: float = 3.0,
        max_transmits: int = 10,
        rechallenge_interval: float = 0.0,
        addresses: AddressLookup | None = None,
    ) -> None:
        super().__init__()
        self._our_name = our_name
        self._secrets = secrets
        self._addresses = addresses
        self._rng = rng
        self._restart_time = restart_time
        self._max_transmits = max_transmits
        self._interval = rechallenge_interval
        self._identifier = rng(1)[0]
        self._challenge = b""
        self._challenge_valid = False
        self._transmits = 0
        self._authenticated_once = False
        self._last_verdict: int | None = None
        self._peer_name = ""

    def start(self, now: float) -> None:
        self._new_challenge(now)

    def _new_challenge(self, now: float) -> None:
        size = MIN_CHALLENGE + self._rng(1)[0] % (MAX_CHALLENGE - MIN_CHALLENGE + 1)
        self._challenge = self._rng(size)
        self._identifier = (self._identifier + 1) & 0xFF
        self._challenge_valid = True
        self._last_verdict = None
        self._transmits = 0
        self._send_challenge(now)

    def _send_challenge(self, now: float) -> None:
        body = bytes((len(self._challenge),)) + self._challenge + self._our_name.encode()
        self._transmit(ControlPacket(CHALLENGE, self._identifier, body).encode())
        self._transmits += 1
        self._deadline = now + self._restart_time

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        if not self._challenge_valid:
            self._new_challenge(now)  # time to re-challenge
        elif self._transmits >= self._max_transmits:
            self._challenge_valid = False
            self._last_verdict = FAILURE
            self._log(LogLevel.WARNING, "CHAP: no response to challenges")
            self._finish(False, self._peer_name, "no response")
        else:
            self._send_challenge(now)

    def receive(self, data: bytes, now: float) -> None:
        packet = parse_control_packet(data)
        if packet is None or packet.code != RESPONSE or packet.identifier != self._identifier:
            self.ignored += 1
            return
        if not self._challenge_valid:
            if self._last_verdict is None:
                self.ignored += 1
                return
            # A repeated Response (our verdict was lost): same verdict again.
            message = b"Access granted" if self._last_verdict == SUCCESS else b"Access denied"
            reply = ControlPacket(self._last_verdict, packet.identifier, message)
            self._transmit(reply.encode())
            return
        fields = _value_and_name(packet.data)
        if fields is None:
            self.ignored += 1
            return
        value, name_bytes = fields
        name = visible(name_bytes)
        self._peer_name = name
        secret = self._secrets(name, self._our_name) if self._secrets is not None else None
        if secret is None:
            self._log(LogLevel.ERROR, f"No CHAP secret found for authenticating {q_text(name)}")
            ok = False
        else:
            expected = chap_md5(packet.identifier, secret.encode(), self._challenge)
            ok = hmac.compare_digest(expected, value)
        self._challenge_valid = False
        self._last_verdict = SUCCESS if ok else FAILURE
        message = b"Access granted" if ok else b"Access denied"
        self._transmit(ControlPacket(self._last_verdict, packet.identifier, message).encode())
        self._deadline = None
        if not ok:
            self._log(LogLevel.WARNING, f"Peer {q_text(name)} failed CHAP authentication")
            self._finish(False, name, message.decode())
            return
        if not self._authenticated_once:
            # pppd 2.4.9 logs nothing here for CHAP (unlike PAP).
            self._authenticated_once = True
            addresses = self._addresses(name, self._our_name) if self._addresses else None
            self._finish(True, name, "Access granted", addresses)
        if self._interval > 0:
            self._deadline = now + self._interval  # time of the next challenge


class ChapPeer(AuthMachine):
    """We answer the peer's challenges.

    Until the verdict arrives the last Response is repeated every
    ``restart_time`` (at most ``max_transmits`` times): a lost Success would
    otherwise leave us in the Authenticate phase, discarding the peer's NCP
    packets, until ``wait_timeout``.  RFC 1994 makes the authenticator
    answer a repeated Response with the same verdict.
    """

    protocol_name = "CHAP"
    role = AuthRole.PEER

    def __init__(
        self,
        user: str,
        password: str | None,
        secrets: SecretLookup | None,
        remote_name: str = "",
        wait_timeout: float = 60.0,
        *,
        restart_time: float = 3.0,
        max_transmits: int = 10,
    ) -> None:
        super().__init__()
        self._user = user
        self._password = password
        self._secrets = secrets
        self._remote_name = remote_name
        self._wait_timeout = wait_timeout
        self._restart_time = restart_time
        self._max_transmits = max_transmits
        self._responded_ids: set[int] = set()
        self._done = False
        self._last_response: bytes | None = None
        self._transmits = 0
        self._repeat_at: float | None = None

    def start(self, now: float) -> None:
        self._deadline = now + self._wait_timeout if self._wait_timeout > 0 else None

    def get_timer(self) -> float | None:
        timers = [t for t in (self._deadline, self._repeat_at) if t is not None]
        return min(timers, default=None)

    def handle_timer(self, now: float) -> None:
        if self._done:
            return
        if self._deadline is not None and now >= self._deadline:
            self._done = True
            self._repeat_at = None
            self._log(LogLevel.ERROR, "CHAP authentication timed out")
            self._finish(False, self._user, "timeout")
            return
        if self._repeat_at is not None and now >= self._repeat_at and self._last_response:
            self._send_response(self._last_response, now)

    def _send_response(self, packet: bytes, now: float) -> None:
        self._transmit(packet)
        self._transmits += 1
        more = self._transmits < self._max_transmits
        self._repeat_at = now + self._restart_time if more else None

    def _secret_for(self, peer_name: str) -> bytes:
        if self._password is not None:
            return self._password.encode()
        found = self._secrets(self._user, peer_name) if self._secrets is not None else None
        if found is None:
            self._log(
                LogLevel.WARNING,
                f"No CHAP secret found for authenticating us to {q_text(peer_name)}",
            )
            return b""
        return found.encode()

    def receive(self, data: bytes, now: float) -> None:
        packet = parse_control_packet(data)
        if packet is None:
            self.ignored += 1
            return
        if packet.code == CHALLENGE:
            fields = _value_and_name(packet.data)
            if fields is None:
                self.ignored += 1
                return
            challenge, name_bytes = fields
            peer_name = visible(name_bytes) or self._remote_name
            value = chap_md5(packet.identifier, self._secret_for(peer_name), challenge)
            body = bytes((len(value),)) + value + self._user.encode()
            response = ControlPacket(RESPONSE, packet.identifier, body).encode()
            self._responded_ids.add(packet.identifier)
            if response != self._last_response:
                self._last_response, self._transmits = response, 0
            if self._done:
                self._transmit(response)  # a re-challenge: answer, no repeats
            else:
                self._send_response(response, now)
        elif packet.code in (SUCCESS, FAILURE):
            if self._done or packet.identifier not in self._responded_ids:
                self.ignored += 1
                return
            self._done = True
            self._repeat_at = None
            ok = packet.code == SUCCESS
            text = "CHAP authentication succeeded" if ok else "CHAP authentication failed"
            self._log(LogLevel.INFO, f"{text}: {visible(packet.data)}" if packet.data else text)
            if not ok:
                self._log(LogLevel.ERROR, "CHAP authentication failed")
            self._finish(ok, self._user, packet.data.decode(errors="replace"))
        else:
            self.ignored += 1
