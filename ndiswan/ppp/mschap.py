"""MS-CHAP v1 (RFC 2433) and v2 (RFC 2759): the computations, no I/O.

Both are CHAP (RFC 1994) with a different Response value: an NT-Response
made of three DES encryptions of an 8-octet challenge under the MD4 hash of
the password in UTF-16LE.  Version 2 adds a peer challenge mixed into that
challenge with SHA-1 and an authenticator response (``S=`` and 40 hex
digits) by which the server proves it knows the password too.

MD4, DES and RC4 come from pycryptodome: Python's hashlib loses MD4 with
OpenSSL 3 (``ValueError: unsupported hash type md4``), and the standard
library has no DES at all.  pycryptodome is maintained, self-contained (no
OpenSSL legacy provider needed) and has all three.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from Crypto.Cipher import DES
from Crypto.Hash import MD4

#: Response value sizes: v2 is Peer-Challenge 16, Reserved 8, NT-Response 24,
#: Flags 1; v1 is LM-Response 24, NT-Response 24, Use-NT flag 1.
RESPONSE_SIZE = 49
V2_CHALLENGE_SIZE = 16
V1_CHALLENGE_SIZE = 8
#: RFC 2759 §8.7's magic strings.
_MAGIC1 = b"Magic server to client signing constant"
_MAGIC2 = b"Pad to make it do more than one iteration"
#: Failure codes (RFC 2759 §6): authentication failure is 691.
ERROR_AUTHENTICATION_FAILURE = 691


def nt_password_hash(password: str) -> bytes:
    return MD4.new(password.encode("utf-16-le")).digest()


def password_hash_hash(password: str) -> bytes:
    """MD4 of the NT password hash: what MPPE's master key is made from (RFC 3079)."""
    return MD4.new(nt_password_hash(password)).digest()


def _des_key(seven: bytes) -> bytes:
    """Spread 56 key bits over 8 octets (the low bit of each is parity, ignored by DES)."""
    bits = int.from_bytes(seven, "big")
    return bytes(((bits >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))


def challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    """RFC 2759 §8.5: the 8-octet challenge DES-encrypted under thirds of the zero-padded hash."""
    padded = password_hash.ljust(21, b"\0")
    return b"".join(
        DES.new(_des_key(padded[i : i + 7]), DES.MODE_ECB).encrypt(challenge) for i in (0, 7, 14)
    )


def _user_name(name: str) -> bytes:
    """RFC 2759 §8.2: only the part after a Windows domain's backslash is hashed."""
    return name.rsplit("\\", 1)[-1].encode()


def challenge_hash(peer_challenge: bytes, authenticator_challenge: bytes, name: str) -> bytes:
    return hashlib.sha1(peer_challenge + authenticator_challenge + _user_name(name)).digest()[:8]


def generate_nt_response(
    authenticator_challenge: bytes, peer_challenge: bytes, name: str, password: str
) -> bytes:
    challenge = challenge_hash(peer_challenge, authenticator_challenge, name)
    return challenge_response(challenge, nt_password_hash(password))


def authenticator_response(
    password: str,
    nt_response: bytes,
    peer_challenge: bytes,
    authenticator_challenge: bytes,
    name: str,
) -> str:
    """RFC 2759 §8.7: ``S=`` and 40 upper-case hex digits."""
    hash_hash = password_hash_hash(password)
    digest = hashlib.sha1(hash_hash + nt_response + _MAGIC1).digest()
    challenge = challenge_hash(peer_challenge, authenticator_challenge, name)
    return "S=" + hashlib.sha1(digest + challenge + _MAGIC2).hexdigest().upper()


def v1_nt_response(challenge: bytes, password: str) -> bytes:
    """RFC 2433: the NT-Response is the challenge encrypted under the NT password hash."""
    return challenge_response(challenge, nt_password_hash(password))


@dataclass(frozen=True)
class V2Response:
    peer_challenge: bytes
    nt_response: bytes
    flags: int

    def encode(self) -> bytes:
        return self.peer_challenge + bytes(8) + self.nt_response + bytes((self.flags,))


def parse_v2_response(value: bytes) -> V2Response | None:
    """The 49-octet Response value, or None when it is not one (size, reserved octets)."""
    if len(value) != RESPONSE_SIZE or any(value[16:24]):
        return None
    return V2Response(value[:16], value[24:48], value[48])


@dataclass(frozen=True)
class V1Response:
    lm_response: bytes
    nt_response: bytes
    use_nt: bool

    def encode(self) -> bytes:
        return self.lm_response + self.nt_response + bytes((int(self.use_nt),))


def parse_v1_response(value: bytes) -> V1Response | None:
    if len(value) != RESPONSE_SIZE:
        return None
    return V1Response(value[:24], value[24:48], bool(value[48]))


@dataclass(frozen=True)
class Failure:
    """A Failure packet's message: ``E=691 R=1 C=<32 hex> V=3 M=<text>``."""

    error: int
    retry: bool
    challenge: bytes | None
    version: int | None
    message: str

    def encode(self) -> bytes:
        text = f"E={self.error} R={int(self.retry)}"
        if self.challenge is not None:
            text += f" C={self.challenge.hex().upper()}"
        if self.version is not None:
            text += f" V={self.version}"
        if self.message:
            text += f" M={self.message}"
        return text.encode()


_FAILURE = re.compile(
    r"E=(?P<error>\d{1,10})(?: R=(?P<retry>[01]))?"
    r"(?: C=(?P<challenge>[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32}))?"
    r"(?: V=(?P<version>\d{1,10}))?(?: M=(?P<message>.*))?$",
    re.DOTALL,
)


def parse_failure(data: bytes) -> Failure | None:
    """A Failure message as RFC 2759 §6 writes it; None when it does not parse."""
    match = _FAILURE.match(data.decode("latin-1"))
    if match is None:
        return None
    challenge = bytes.fromhex(match["challenge"]) if match["challenge"] else None
    version = int(match["version"]) if match["version"] else None
    return Failure(
        int(match["error"]), match["retry"] == "1", challenge, version, match["message"] or ""
    )


def parse_success(data: bytes) -> tuple[str, str] | None:
    """``S=<40 hex> M=<msg>`` (the message is optional): (the S= part, the message)."""
    match = re.match(r"(S=[0-9A-Fa-f]{40})(?: M=(.*))?$", data.decode("latin-1"), re.DOTALL)
    if match is None:
        return None
    return "S=" + match[1][2:].upper(), match[2] or ""
