"""EAP-TLS (RFC 5216): TLS carried in EAP Type 13, driven through memory BIOs.

The TLS engine is the standard library's ``ssl.SSLObject`` over two
``ssl.MemoryBIO``: records go in and come out as bytes, so this core does
no I/O.  The ``ssl.SSLContext`` (certificates, CA, key) is built by the
caller from pppd's ``ca``/``cert``/``key`` files, outside the core.

Each EAP-TLS packet is a Flags octet (L: a 4-octet TLS Message Length
follows; M: more fragments follow; S: start), then TLS data.  A message
longer than a packet goes in fragments, each acknowledged by an empty
packet from the other side (RFC 5216 2.1.5).  Both roles run the same
exchange; the authenticator starts it and gives the verdict.

TLS is capped at 1.2, as pppd 2.4.9 is by default (its TLS 1.3 code is
experimental), which also keeps the message flow RFC 5216 describes.  MPPE
keys cannot be derived here: RFC 5216 2.3 needs the TLS exporter (or the
1.2 master secret and randoms), and Python's ``ssl`` exposes neither;
OpenSSL's ``SSL_export_keying_material`` through a binding such as
pyOpenSSL's ``Connection.export_keying_material`` would be needed.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TYPE_TLS = 13
FLAG_LENGTH, FLAG_MORE, FLAG_START = 0x80, 0x40, 0x20
#: TLS data per EAP packet: fits a default 1500 MRU with room for the headers.
FRAGMENT_SIZE = 1000
#: The longest TLS message we reassemble (a certificate chain fits with room):
#: a peer declaring or sending more fails the exchange.
MAX_MESSAGE = 64 * 1024
ACK = bytes((0,))


def tls_context(*, server: bool, ca_file: str, cert_file: str, key_file: str) -> ssl.SSLContext:
    """A context for EAP-TLS: both sides present a certificate and verify the other's."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # names are checked against the certificate's CN
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=ca_file)
    context.load_cert_chain(cert_file, key_file)
    return context


def fragments(message: bytes, size: int = FRAGMENT_SIZE) -> list[bytes]:
    """The type data of the packets carrying ``message``: L on the first of several."""
    if len(message) <= size:
        return [bytes((0,)) + message]
    pieces = [message[at : at + size] for at in range(0, len(message), size)]
    out = [bytes((FLAG_LENGTH | FLAG_MORE,)) + len(message).to_bytes(4, "big") + pieces[0]]
    out += [bytes((FLAG_MORE,)) + piece for piece in pieces[1:-1]]
    out.append(bytes((0,)) + pieces[-1])
    return out


class EapTlsError(Exception):
    """The exchange cannot go on; the text says why, for the log."""


@dataclass
class _Incoming:
    data: bytearray
    declared: int | None = None


def common_name(certificate: Mapping[str, Any] | None) -> str:
    """The subject's CN from ``getpeercert()``, or "" when there is none."""
    for rdn in (certificate or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


class TlsExchange:
    """One side of an EAP-TLS conversation: type data in, type data of the reply out."""

    def __init__(self, context: ssl.SSLContext, *, server: bool) -> None:
        self._into_tls = ssl.MemoryBIO()
        self._out_of_tls = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._into_tls, self._out_of_tls, server_side=server)
        self._server = server
        self._outgoing: list[bytes] = []
        self._incoming: _Incoming | None = None
        self.handshake_done = False
        self._started = False

    @property
    def peer_name(self) -> str:
        """The CN of the certificate the other side proved it holds."""
        return common_name(self._tls.getpeercert()) if self.handshake_done else ""

    def start(self) -> bytes:
        """The client's answer to Start: its ClientHello (once per exchange)."""
        if self._started:
            raise EapTlsError("EAP-TLS Start in the middle of a handshake")
        self._started = True
        self._run_handshake()
        return self._next_outgoing() if self._outgoing else ACK

    def receive(self, type_data: bytes) -> bytes | None:
        """The reply to one packet, or None when the packet ends the exchange (an
        empty packet after the handshake: the verdict is the caller's)."""
        if not type_data:
            raise EapTlsError("EAP-TLS packet without Flags")
        flags, body = type_data[0], type_data[1:]
        if flags & FLAG_START and not self._server:
            return self.start()
        if flags & FLAG_LENGTH:
            if len(body) < 4:
                raise EapTlsError("EAP-TLS length flag without a length")
            declared, body = int.from_bytes(body[:4], "big"), body[4:]
            if declared > MAX_MESSAGE or declared < len(body):
                raise EapTlsError(f"EAP-TLS message length {declared} refused")
            if self._incoming is None:
                self._incoming = _Incoming(bytearray(), declared)
        if not body and not flags & FLAG_MORE:
            if self._outgoing:
                return self._next_outgoing()  # an acknowledgement of our fragment
            if self._incoming is None:
                return None
        if self._incoming is None:
            self._incoming = _Incoming(bytearray())
        self._incoming.data += body
        if len(self._incoming.data) > (self._incoming.declared or MAX_MESSAGE):
            raise EapTlsError("EAP-TLS message longer than announced")
        if flags & FLAG_MORE:
            return ACK
        incoming, self._incoming = self._incoming, None
        if incoming.declared is not None and incoming.declared != len(incoming.data):
            raise EapTlsError("EAP-TLS message shorter than announced")
        self._into_tls.write(bytes(incoming.data))
        self._run_handshake()
        return self._next_outgoing() if self._outgoing else ACK

    def _run_handshake(self) -> None:
        try:
            self._tls.do_handshake()
            self.handshake_done = True
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as error:
            # An alert may be waiting to go out; the exchange is over anyway.
            raise EapTlsError(f"EAP-TLS handshake failed: {error.reason or error}") from None
        finally:
            pending = self._out_of_tls.read()
            if pending:
                self._outgoing = fragments(pending)

    def _next_outgoing(self) -> bytes:
        return self._outgoing.pop(0)
