"""EAP (RFC 3748) over PPP with the MD5-Challenge and TLS methods: both roles.

A packet is Code, Identifier, Length, then for a Request or Response a Type
and its data.  The authenticator asks the peer's Identity, then sends an
MD5-Challenge (Value-Size, Value, Name, as CHAP's Challenge); the peer
answers with MD5(identifier || secret || challenge), exactly CHAP-MD5's
value; Success or Failure ends it.  A peer that is asked for a method it
does not have answers with a Nak naming MD5-Challenge, the one we speak;
an authenticator whose peer Naks MD5 without offering it fails the peer.
Requests are retransmitted like CHAP Challenges; a Response that does not
answer the current Request is ignored, so replies to old challenges never
count.  Given a TLS context, the authenticator asks for EAP-TLS instead
of MD5-Challenge and a peer answers EAP-TLS Requests (``eap_tls``).
"""

from __future__ import annotations

import hmac
import ssl

from ndiswan.ppp.auth import AuthMachine
from ndiswan.ppp.chap import MAX_CHALLENGE, MIN_CHALLENGE, chap_md5
from ndiswan.ppp.config import AddressLookup, RandomBytes, SecretLookup
from ndiswan.ppp.eap_tls import FLAG_START, TYPE_TLS, EapTlsError, TlsExchange
from ndiswan.ppp.events import AuthRole, LogLevel
from ndiswan.ppp.log import q_text, visible

REQUEST, RESPONSE, SUCCESS, FAILURE = 1, 2, 3, 4
TYPE_IDENTITY, TYPE_NOTIFICATION, TYPE_NAK, TYPE_MD5 = 1, 2, 3, 4
TYPE_NAMES = {TYPE_IDENTITY: "Identity", TYPE_NOTIFICATION: "Notification", TYPE_NAK: "Nak",
              TYPE_MD5: "MD5-Challenge", TYPE_TLS: "TLS", 20: "SRP"}  # fmt: skip
HEADER = 4


def encode(code: int, identifier: int, eap_type: int | None = None, data: bytes = b"") -> bytes:
    body = (bytes((eap_type,)) if eap_type is not None else b"") + data
    return bytes((code, identifier)) + (HEADER + len(body)).to_bytes(2, "big") + body


def parse(packet: bytes) -> tuple[int, int, int | None, bytes] | None:
    """(code, identifier, type or None, type data); None when the length lies."""
    if len(packet) < HEADER:
        return None
    code, identifier, length = packet[0], packet[1], int.from_bytes(packet[2:4], "big")
    if length < HEADER or length > len(packet):
        return None
    body = packet[HEADER:length]  # octets past Length are padding (RFC 3748 4)
    if code in (REQUEST, RESPONSE):
        if not body:
            return None
        return code, identifier, body[0], body[1:]
    if code in (SUCCESS, FAILURE) and not body:
        return code, identifier, None, b""
    return None


def _md5_fields(data: bytes) -> tuple[bytes, bytes] | None:
    """MD5-Challenge data: Value-Size, Value, Name; None when the size lies."""
    if not data or data[0] == 0 or len(data) < data[0] + 1:
        return None
    return data[1 : 1 + data[0]], data[1 + data[0] :]


class EapAuthenticator(AuthMachine):
    """We authenticate the peer: Identity, then MD5-Challenge (or TLS, given a context)."""

    protocol_name = "EAP"
    role = AuthRole.AUTHENTICATOR

    def __init__(self, our_name: str, secrets: SecretLookup | None, rng: RandomBytes, *,
                 restart_time: float = 3.0, max_transmits: int = 10,
                 addresses: AddressLookup | None = None,
                 tls: ssl.SSLContext | None = None) -> None:  # fmt: skip
        super().__init__()
        self._our_name = our_name
        self._tls_context = tls
        self._tls: TlsExchange | None = None
        self._secrets = secrets
        self._rng = rng
        self._addresses = addresses
        self._restart_time = restart_time
        self._max_transmits = max_transmits
        self._identifier = rng(1)[0]
        self._request = b""
        self._request_type = TYPE_IDENTITY
        self._transmits = 0
        self._challenge = b""
        self._peer_name = ""
        self._done = False

    def start(self, now: float) -> None:
        self._send_request(TYPE_IDENTITY, b"", now)

    def _send_request(self, eap_type: int, data: bytes, now: float) -> None:
        self._identifier = (self._identifier + 1) & 0xFF
        self._request_type = eap_type
        self._request = encode(REQUEST, self._identifier, eap_type, data)
        self._transmits = 0
        self._retransmit(now)

    def _retransmit(self, now: float) -> None:
        self._transmit(self._request)
        self._transmits += 1
        self._deadline = now + self._restart_time

    def handle_timer(self, now: float) -> None:
        if self._done or self._deadline is None or now < self._deadline:
            return
        if self._transmits >= self._max_transmits:
            self._log(LogLevel.WARNING, "EAP: no response to requests")
            self._verdict(False, "no response")
            return
        self._retransmit(now)

    def receive(self, data: bytes, now: float) -> None:
        parsed = parse(data)
        if self._done or parsed is None:
            self.ignored += 1
            return
        code, identifier, eap_type, body = parsed
        if code != RESPONSE or identifier != self._identifier:
            self.ignored += 1
            return
        if eap_type == TYPE_IDENTITY and self._request_type == TYPE_IDENTITY:
            self._peer_name = visible(body)
            if self._tls_context is not None:
                self._tls = TlsExchange(self._tls_context, server=True)
                self._send_request(TYPE_TLS, bytes((FLAG_START,)), now)
                return
            size = MIN_CHALLENGE + self._rng(1)[0] % (MAX_CHALLENGE - MIN_CHALLENGE + 1)
            self._challenge = self._rng(size)
            challenge = bytes((size,)) + self._challenge + self._our_name.encode()
            self._send_request(TYPE_MD5, challenge, now)
        elif eap_type == TYPE_NAK and self._request_type in (TYPE_MD5, TYPE_TLS):
            offered = ", ".join(TYPE_NAMES.get(t, str(t)) for t in body) or "nothing"
            asked = TYPE_NAMES[self._request_type]
            self._log(LogLevel.WARNING, f"EAP: peer Naks {asked}, offers {offered}")
            self._verdict(False, "no common EAP method")
        elif eap_type == TYPE_TLS and self._request_type == TYPE_TLS:
            self._tls_step(body, now)
        elif eap_type == TYPE_MD5 and self._request_type == TYPE_MD5:
            fields = _md5_fields(body)
            if fields is None:
                self.ignored += 1
                return
            value, _name = fields
            name = self._peer_name
            secret = self._secrets(name, self._our_name) if self._secrets is not None else None
            if secret is None:
                self._log(LogLevel.ERROR, f"No EAP secret found for authenticating {q_text(name)}")
                self._verdict(False, "no secret")
                return
            expected = chap_md5(identifier, secret.encode(), self._challenge)
            self._verdict(hmac.compare_digest(expected, value), "")
        else:
            self.ignored += 1

    def _tls_step(self, body: bytes, now: float) -> None:
        assert self._tls is not None
        try:
            reply = self._tls.receive(body)
        except EapTlsError as error:
            self._log(LogLevel.ERROR, str(error))
            self._verdict(False, "EAP-TLS failed")
            return
        if reply is not None:
            self._send_request(TYPE_TLS, reply, now)
        elif not self._tls.handshake_done:
            self._log(LogLevel.ERROR, "EAP-TLS: the peer stopped before the handshake ended")
            self._verdict(False, "EAP-TLS failed")
        elif self._tls.peer_name != self._peer_name:
            cn, name = q_text(self._tls.peer_name), q_text(self._peer_name)
            self._log(LogLevel.ERROR, f"EAP-TLS: certificate is for {cn}, not {name}")
            self._verdict(False, "certificate name mismatch")
        else:
            self._verdict(True, "")

    def _verdict(self, ok: bool, why: str) -> None:
        self._done = True
        self._deadline = None
        self._transmit(encode(SUCCESS if ok else FAILURE, self._identifier))
        name = self._peer_name
        if not ok:
            self._log(LogLevel.WARNING, f"Peer {q_text(name)} failed EAP authentication")
            self._finish(False, name, why or "Access denied")
            return
        addresses = self._addresses(name, self._our_name) if self._addresses else None
        self._finish(True, name, "Access granted", addresses)


class EapPeer(AuthMachine):
    """We answer the authenticator's Requests: Identity, Notification, MD5-Challenge, TLS."""

    protocol_name = "EAP"
    role = AuthRole.PEER

    def __init__(self, user: str, password: str | None, secrets: SecretLookup | None,
                 remote_name: str = "", wait_timeout: float = 60.0,
                 tls: ssl.SSLContext | None = None) -> None:  # fmt: skip
        super().__init__()
        self._tls_context = tls
        self._tls: TlsExchange | None = None
        self._last_reply = b""
        self._user = user
        self._password = password
        self._secrets = secrets
        self._remote_name = remote_name
        self._wait_timeout = wait_timeout
        self._answered: int | None = None  # the identifier of our last Response
        self._done = False

    def start(self, now: float) -> None:
        self._deadline = now + self._wait_timeout if self._wait_timeout > 0 else None

    def handle_timer(self, now: float) -> None:
        if not self._done and self._deadline is not None and now >= self._deadline:
            self._done = True
            self._log(LogLevel.ERROR, "EAP authentication timed out")
            self._finish(False, self._user, "timeout")

    def _secret_for(self, peer_name: str) -> str:
        if self._password is not None:
            return self._password
        found = self._secrets(self._user, peer_name) if self._secrets is not None else None
        if found is None:
            who = q_text(peer_name)
            self._log(LogLevel.WARNING, f"No EAP secret found for authenticating us to {who}")
            return ""
        return found

    def receive(self, data: bytes, now: float) -> None:
        parsed = parse(data)
        if self._done or parsed is None:
            self.ignored += 1
            return
        code, identifier, eap_type, body = parsed
        if code == REQUEST and identifier == self._answered and self._last_reply:
            self._transmit(self._last_reply)  # a retransmission: the same answer (RFC 3748 4.1)
        elif code == REQUEST:
            self._answer(identifier, eap_type, body)
        elif code in (SUCCESS, FAILURE) and self._answers_ours(identifier):
            self._done = True
            self._deadline = None
            ok = code == SUCCESS
            if ok and self._tls is not None and not self._tls.handshake_done:
                # Success must not short-cut the server's proof of its certificate.
                self._log(LogLevel.ERROR, "EAP-TLS: Success before the TLS handshake ended")
                self._fail("EAP-TLS incomplete")
                return
            text = "EAP authentication succeeded" if ok else "EAP authentication failed"
            self._log(LogLevel.INFO if ok else LogLevel.ERROR, text)
            self._finish(ok, self._user, "" if ok else "Access denied")
        else:
            self.ignored += 1

    def _answers_ours(self, identifier: int) -> bool:
        """RFC 3748 wants the identifier of our Response; pppd numbers its verdict one past it."""
        if self._answered is None:
            return False
        return identifier in (self._answered, (self._answered + 1) & 0xFF)

    def _answer(self, identifier: int, eap_type: int | None, body: bytes) -> None:
        if eap_type == TYPE_IDENTITY:
            reply = encode(RESPONSE, identifier, TYPE_IDENTITY, self._user.encode())
        elif eap_type == TYPE_NOTIFICATION:
            self._log(LogLevel.NOTICE, f"EAP notification: {visible(body)}")
            reply = encode(RESPONSE, identifier, TYPE_NOTIFICATION)
        elif eap_type == TYPE_MD5:
            fields = _md5_fields(body)
            if fields is None:
                self.ignored += 1
                return
            challenge, name = fields
            peer_name = visible(name) or self._remote_name
            value = chap_md5(identifier, self._secret_for(peer_name).encode(), challenge)
            reply = encode(RESPONSE, identifier, TYPE_MD5,
                           bytes((len(value),)) + value + self._user.encode())  # fmt: skip
        elif eap_type == TYPE_TLS and self._tls_context is not None:
            tls_reply = self._tls_answer(identifier, body)
            if tls_reply is None:
                return
            reply = tls_reply
        elif eap_type == TYPE_NAK:
            self.ignored += 1  # a Nak is never a Request
            return
        else:
            # A method we do not have (TLS, SRP...): say which one we do.
            asked = TYPE_NAMES.get(eap_type or 0, str(eap_type))
            ours = TYPE_TLS if self._tls_context is not None else TYPE_MD5
            self._log(LogLevel.NOTICE, f"EAP: Nak of {asked}, asking for {TYPE_NAMES[ours]}")
            reply = encode(RESPONSE, identifier, TYPE_NAK, bytes((ours,)))
        self._answered = identifier
        self._last_reply = reply
        self._transmit(reply)

    def _fail(self, why: str) -> None:
        self._done = True
        self._deadline = None
        self._finish(False, self._user, why)

    def _tls_answer(self, identifier: int, body: bytes) -> bytes | None:
        """Our Response to an EAP-TLS Request; None when the exchange failed."""
        assert self._tls_context is not None
        if self._tls is None or (body[:1] and body[0] & FLAG_START):
            self._tls = TlsExchange(self._tls_context, server=False)
        was_done = self._tls.handshake_done
        try:
            data = self._tls.receive(body)
        except EapTlsError as error:
            self._log(LogLevel.ERROR, str(error))
            self._fail("EAP-TLS failed")
            return None
        just_done = self._tls.handshake_done and not was_done
        if just_done and self._remote_name and self._tls.peer_name != self._remote_name:
            cn, name = q_text(self._tls.peer_name), q_text(self._remote_name)
            self._log(LogLevel.ERROR, f"EAP-TLS: server certificate is for {cn}, not {name}")
            self._fail("certificate name mismatch")
            return None
        return encode(RESPONSE, identifier, TYPE_TLS, data if data is not None else b"\x00")
