"""CHAP, RFC 1994, with MD5, MS-CHAP (RFC 2433) or MS-CHAPv2 (RFC 2759): both roles.

With MD5 the Response value is MD5(identifier || secret || challenge); the
Microsoft algorithms are in ``ndiswan.ppp.mschap`` (an 8-octet challenge for
v1, 16 for v2; a 49-octet Response; for v2 a Success carrying the
authenticator response, which the peer checks before it believes it).  The authenticator
draws a fresh challenge (16 to 24 random octets, as pppd) and identifier
for every challenge it sends, retransmissions included, every 3 seconds up to
10 times, accepts
only a Response to the current identifier while that challenge is valid,
compares digests in constant time, and answers a repeated Response to an
answered challenge with the same verdict.  A Response captured from an
earlier challenge therefore never matches a new one.  With an interval set,
it challenges again after each success; a failed re-challenge ends the link.
"""

from __future__ import annotations

import hashlib
import hmac

from ndiswan.ppp import mschap
from ndiswan.ppp.auth import AuthMachine
from ndiswan.ppp.ccp.mppe import master_key, v1_start_key
from ndiswan.ppp.config import AddressLookup, AuthProtocol, RandomBytes, SecretLookup
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
        kind: AuthProtocol = AuthProtocol.CHAP,
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
        self._last_message = b""
        self._peer_name = ""
        self.kind = kind
        if kind is not AuthProtocol.CHAP:
            self.protocol_name = "MS-CHAPv2" if kind is AuthProtocol.MSCHAP_V2 else "MS-CHAP"
        #: MS-CHAP: MPPE's master key (RFC 3079) once the peer proved its password.
        self.mppe_master: bytes | None = None

    def start(self, now: float) -> None:
        self._new_challenge(now)

    def _new_challenge(self, now: float) -> None:
        self._draw_challenge()
        self._challenge_valid = True
        self._last_verdict = None
        self._transmits = 0
        self._send_challenge(now)

    def _draw_challenge(self) -> None:
        # RFC 1994 4.1: identifier and value MUST change with every Challenge
        # sent, retransmissions included (pppd resends the same one).
        if self.kind is AuthProtocol.MSCHAP_V2:
            size = mschap.V2_CHALLENGE_SIZE
        elif self.kind is AuthProtocol.MSCHAP:
            size = mschap.V1_CHALLENGE_SIZE
        else:
            size = MIN_CHALLENGE + self._rng(1)[0] % (MAX_CHALLENGE - MIN_CHALLENGE + 1)
        self._challenge = self._rng(size)
        self._identifier = (self._identifier + 1) & 0xFF

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
            self._draw_challenge()
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
            reply = ControlPacket(self._last_verdict, packet.identifier, self._last_message)
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
            success: bytes | None = None
        else:
            success = self._verify(packet.identifier, name, secret, value)
        ok = success is not None
        self._challenge_valid = False
        self._last_verdict = SUCCESS if ok else FAILURE
        message = success if success is not None else self._failure_message()
        self._last_message = message
        self._transmit(ControlPacket(self._last_verdict, packet.identifier, message).encode())
        self._deadline = None
        if not ok:
            self._log(
                LogLevel.WARNING, f"Peer {q_text(name)} failed {self.protocol_name} authentication"
            )
            self._finish(False, name, "Access denied")
            return
        if not self._authenticated_once:
            # pppd 2.4.9 logs nothing here for CHAP (unlike PAP).
            self._authenticated_once = True
            addresses = self._addresses(name, self._our_name) if self._addresses else None
            self._finish(True, name, "Access granted", addresses)
        if self._interval > 0:
            self._deadline = now + self._interval  # time of the next challenge

    def _verify(self, identifier: int, name: str, secret: str, value: bytes) -> bytes | None:
        """The Success message when ``value`` proves ``secret``; None when it does not."""
        if self.kind is AuthProtocol.CHAP:
            expected = chap_md5(identifier, secret.encode(), self._challenge)
            return b"Access granted" if hmac.compare_digest(expected, value) else None
        if self.kind is AuthProtocol.MSCHAP:
            v1 = mschap.parse_v1_response(value)
            if v1 is None or not v1.use_nt:  # LAN Manager responses are not accepted
                return None
            expected = mschap.v1_nt_response(self._challenge, secret)
            if not hmac.compare_digest(expected, v1.nt_response):
                return None
            self.mppe_master = v1_start_key(mschap.password_hash_hash(secret), self._challenge)
            return b"Access granted"
        v2 = mschap.parse_v2_response(value)
        if v2 is None:
            return None
        expected = mschap.generate_nt_response(self._challenge, v2.peer_challenge, name, secret)
        if not hmac.compare_digest(expected, v2.nt_response):
            return None
        proof = mschap.authenticator_response(
            secret, v2.nt_response, v2.peer_challenge, self._challenge, name
        )
        self.mppe_master = master_key(mschap.password_hash_hash(secret), v2.nt_response)
        return f"{proof} M=Access granted".encode()

    def _failure_message(self) -> bytes:
        if self.kind is AuthProtocol.CHAP:
            return b"Access denied"
        # No retry offered (R=0): as pppd, one failure ends the link.
        version = 3 if self.kind is AuthProtocol.MSCHAP_V2 else None
        return mschap.Failure(
            mschap.ERROR_AUTHENTICATION_FAILURE, False, self._challenge, version, "Access denied"
        ).encode()


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
        kind: AuthProtocol = AuthProtocol.CHAP,
        rng: RandomBytes | None = None,
        restart_time: float = 3.0,
        max_transmits: int = 10,
    ) -> None:
        super().__init__()
        self.kind = kind
        if kind is not AuthProtocol.CHAP:
            self.protocol_name = "MS-CHAPv2" if kind is AuthProtocol.MSCHAP_V2 else "MS-CHAP"
            if rng is None:
                raise ValueError("MS-CHAP needs random octets for its peer challenge")
        self._rng = rng
        # MS-CHAPv2: what the authenticator's proof is computed from, per identifier.
        self._v2_sent: dict[int, tuple[bytes, bytes, bytes, str]] = {}
        #: MS-CHAPv2: MPPE's master key (RFC 3079) once the server proved it knows ours.
        self.mppe_master: bytes | None = None
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

    def _secret_for(self, peer_name: str) -> str:
        if self._password is not None:
            return self._password
        found = self._secrets(self._user, peer_name) if self._secrets is not None else None
        if found is None:
            self._log(
                LogLevel.WARNING,
                f"No CHAP secret found for authenticating us to {q_text(peer_name)}",
            )
            return ""
        return found

    def _response_value(self, identifier: int, challenge: bytes, secret: str) -> bytes | None:
        if self.kind is AuthProtocol.CHAP:
            return chap_md5(identifier, secret.encode(), challenge)
        assert self._rng is not None
        if self.kind is AuthProtocol.MSCHAP:
            if len(challenge) != mschap.V1_CHALLENGE_SIZE:
                return None
            nt = mschap.v1_nt_response(challenge, secret)
            # v1's Success proves nothing: the key is ours once the verdict is.
            self.mppe_master = v1_start_key(mschap.password_hash_hash(secret), challenge)
            return mschap.V1Response(bytes(24), nt, True).encode()
        if len(challenge) != mschap.V2_CHALLENGE_SIZE:
            return None
        peer_challenge = self._rng(16)
        nt = mschap.generate_nt_response(challenge, peer_challenge, self._user, secret)
        self._v2_sent[identifier] = (challenge, peer_challenge, nt, secret)
        return mschap.V2Response(peer_challenge, nt, 0).encode()

    def _proof_checks(self, identifier: int, message: bytes) -> bool:
        """MS-CHAPv2: the Success names the authenticator response our password gives."""
        sent = self._v2_sent.get(identifier)
        parsed = mschap.parse_success(message)
        if sent is None or parsed is None:
            return False
        challenge, peer_challenge, nt, secret = sent
        proof = mschap.authenticator_response(secret, nt, peer_challenge, challenge, self._user)
        if not hmac.compare_digest(proof.encode(), parsed[0].encode()):
            return False
        self.mppe_master = master_key(mschap.password_hash_hash(secret), nt)
        return True

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
            value = self._response_value(packet.identifier, challenge, self._secret_for(peer_name))
            if value is None:
                self.ignored += 1
                self._log(
                    LogLevel.WARNING,
                    f"{self.protocol_name}: challenge of {len(challenge)} octets ignored",
                )
                return
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
            v2 = self.kind is AuthProtocol.MSCHAP_V2
            if ok and v2 and not self._proof_checks(packet.identifier, packet.data):
                # pppd's words: the server did not prove it knows our password.
                self._log(LogLevel.ERROR, "MS-CHAPv2 mutual authentication failed.")
                self._finish(False, self._user, "mutual authentication failed")
                return
            detail = self._verdict_text(packet.data)
            text = "CHAP authentication succeeded" if ok else "CHAP authentication failed"
            self._log(LogLevel.INFO, f"{text}: {detail}" if detail else text)
            if not ok:
                self._log(LogLevel.ERROR, "CHAP authentication failed")
            self._finish(ok, self._user, packet.data.decode(errors="replace"))
        else:
            self.ignored += 1

    def _verdict_text(self, data: bytes) -> str:
        """What the verdict says, as pppd prints it (MS-CHAP's M= part, not its codes)."""
        if self.kind is AuthProtocol.CHAP:
            return visible(data)
        success = mschap.parse_success(data)
        if success is not None:
            return visible(success[1].encode())
        failure = mschap.parse_failure(data)
        if failure is not None:
            return f"E={failure.error} {visible(failure.message.encode())}".strip()
        return visible(data)
