"""PAP, RFC 1334 section 2: both roles.

The peer sends Authenticate-Request (user and password) every 3 seconds, a
new identifier each time, until an Ack or Nak naming one of those
identifiers arrives or 10 went unanswered.  The authenticator waits up to
``wait_timeout`` for a request, checks the password against the secrets
lookup in constant time, answers "Login ok" or "Login incorrect", and
answers a repeated request the same way; on success it reports the address
words of the secrets-file entry, when there is one.  Passwords never reach a log.
"""

from __future__ import annotations

import hmac

from ndiswan.ppp.auth import AuthMachine
from ndiswan.ppp.config import AddressLookup, SecretLookup
from ndiswan.ppp.events import AuthRole, LogLevel
from ndiswan.ppp.log import q_text, visible
from ndiswan.ppp.packet import ControlPacket, parse_control_packet

AUTH_REQUEST, AUTH_ACK, AUTH_NAK = 1, 2, 3


def _counted(text: bytes) -> bytes:
    return bytes((len(text),)) + text


class PapPeer(AuthMachine):
    """We authenticate ourselves to the peer."""

    protocol_name = "PAP"
    role = AuthRole.PEER

    def __init__(
        self, user: str, password: str, restart_time: float = 3.0, max_transmits: int = 10
    ) -> None:
        super().__init__()
        self._user = user.encode()[:255]
        self._password = password.encode()[:255]
        self._restart_time = restart_time
        self._max_transmits = max_transmits
        self._transmits = 0
        self._sent_ids: set[int] = set()
        self._next_id = 0
        self._done = False

    def start(self, now: float) -> None:
        self._send(now)

    def _send(self, now: float) -> None:
        self._next_id = (self._next_id + 1) & 0xFF
        self._sent_ids.add(self._next_id)
        body = _counted(self._user) + _counted(self._password)
        self._transmit(ControlPacket(AUTH_REQUEST, self._next_id, body).encode())
        self._transmits += 1
        self._deadline = now + self._restart_time

    def handle_timer(self, now: float) -> None:
        if self._done or self._deadline is None or now < self._deadline:
            return
        if self._transmits >= self._max_transmits:
            self._done = True
            self._log(LogLevel.ERROR, "No response to PAP authenticate-requests")
            self._finish(False, self._user.decode(errors="replace"), "no response")
            return
        self._send(now)

    def receive(self, data: bytes, now: float) -> None:
        packet = parse_control_packet(data)
        if (
            packet is None
            or self._done
            or packet.code not in (AUTH_ACK, AUTH_NAK)
            or packet.identifier not in self._sent_ids
        ):
            self.ignored += 1
            return
        message = b""
        if packet.data:
            size = packet.data[0]
            if len(packet.data) < size + 1:
                self.ignored += 1
                return
            message = packet.data[1 : 1 + size]
            if message:
                self._log(LogLevel.INFO, f"Remote message: {visible(message)}")
        self._done = True
        text = message.decode(errors="replace")
        if packet.code == AUTH_ACK:
            self._finish(True, self._user.decode(errors="replace"), text)
        else:
            self._log(LogLevel.ERROR, "PAP authentication failed")
            self._finish(False, self._user.decode(errors="replace"), text)


class PapAuthenticator(AuthMachine):
    """We check the peer's user name and password."""

    protocol_name = "PAP"
    role = AuthRole.AUTHENTICATOR

    def __init__(
        self,
        our_name: str,
        secrets: SecretLookup | None,
        wait_timeout: float,
        addresses: AddressLookup | None = None,
    ) -> None:
        super().__init__()
        self._our_name = our_name
        self._secrets = secrets
        self._addresses = addresses
        self._wait_timeout = wait_timeout
        self._verdict: int | None = None

    def start(self, now: float) -> None:
        self._deadline = now + self._wait_timeout if self._wait_timeout > 0 else None

    def handle_timer(self, now: float) -> None:
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        if self._verdict is None:
            self._verdict = AUTH_NAK
            self._log(LogLevel.WARNING, "PAP: peer sent no Authenticate-Request")
            self._finish(False, "", "timeout")

    def receive(self, data: bytes, now: float) -> None:
        packet = parse_control_packet(data)
        if packet is None or packet.code != AUTH_REQUEST:
            self.ignored += 1
            return
        if self._verdict is not None:
            # A repeated request gets the same answer as the first (RFC 1334).
            self._transmit(ControlPacket(self._verdict, packet.identifier, b"\0").encode())
            return
        fields = _user_password(packet.data)
        if fields is None:
            self.ignored += 1
            return
        user_bytes, password_bytes = fields
        user = user_bytes.decode(errors="replace")
        secret = self._secrets(user, self._our_name) if self._secrets is not None else None
        if secret is None:
            self._log(LogLevel.WARNING, f"no PAP secret found for {q_text(user)}")
        ok = secret is not None and hmac.compare_digest(secret.encode(), password_bytes)
        self._verdict = AUTH_ACK if ok else AUTH_NAK
        message = b"Login ok" if ok else b"Login incorrect"
        self._transmit(ControlPacket(self._verdict, packet.identifier, _counted(message)).encode())
        if ok:
            self._log(LogLevel.NOTICE, f"PAP peer authentication succeeded for {q_text(user)}")
        else:
            self._log(LogLevel.WARNING, f"PAP peer authentication failed for {q_text(user)}")
        addresses = self._addresses(user, self._our_name) if ok and self._addresses else None
        self._finish(ok, user, message.decode(), addresses)


def _user_password(data: bytes) -> tuple[bytes, bytes] | None:
    if not data:
        return None
    user_len = data[0]
    if len(data) < user_len + 2:
        return None
    password_len = data[user_len + 1]
    if len(data) < user_len + 2 + password_len:
        return None
    return data[1 : 1 + user_len], data[user_len + 2 : user_len + 2 + password_len]
