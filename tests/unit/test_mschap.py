"""MS-CHAP v1/v2 computations against RFC 2759 §9.2's worked example, and their messages."""

from __future__ import annotations

import pytest

from ndiswan.ppp.mschap import (
    Failure,
    V2Response,
    authenticator_response,
    challenge_hash,
    challenge_response,
    generate_nt_response,
    nt_password_hash,
    parse_failure,
    parse_success,
    parse_v1_response,
    parse_v2_response,
    v1_nt_response,
)

# RFC 2759 §9.2.
USER = "User"
PASSWORD = "clientPass"
AUTH_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
CHALLENGE = bytes.fromhex("D02E4386BCE91226")
PASSWORD_HASH = bytes.fromhex("44EBBA8D5312B8D611474411F56989AE")
NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
AUTH_RESPONSE = "S=407A5589115FD0D6209F510FE9C04566932CDA56"


def test_rfc2759_worked_example() -> None:
    assert nt_password_hash(PASSWORD) == PASSWORD_HASH
    assert challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, USER) == CHALLENGE
    assert challenge_response(CHALLENGE, PASSWORD_HASH) == NT_RESPONSE
    assert generate_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD) == NT_RESPONSE
    assert (
        authenticator_response(PASSWORD, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER)
        == AUTH_RESPONSE
    )


def test_a_windows_domain_before_the_user_name_is_not_hashed() -> None:
    assert challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, "CORP\\User") == CHALLENGE


def test_a_wrong_password_gives_another_response_and_authenticator_response() -> None:
    other = generate_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, "clientPasS")
    assert other != NT_RESPONSE
    assert authenticator_response("x", NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER) != (
        AUTH_RESPONSE
    )


def test_v1_nt_response_is_the_challenge_under_the_password_hash() -> None:
    assert v1_nt_response(CHALLENGE, PASSWORD) == NT_RESPONSE


def test_v2_response_value_round_trips_and_malformed_ones_are_refused() -> None:
    value = V2Response(PEER_CHALLENGE, NT_RESPONSE, 0).encode()
    assert len(value) == 49
    assert parse_v2_response(value) == V2Response(PEER_CHALLENGE, NT_RESPONSE, 0)
    assert parse_v2_response(value[:-1]) is None  # 48 octets
    assert parse_v2_response(value + b"\0") is None  # 50 octets
    reserved_set = value[:16] + b"\x01" + value[17:]
    assert parse_v2_response(reserved_set) is None
    assert parse_v1_response(value[:-1]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            b"E=691 R=1 C=00112233445566778899AABBCCDDEEFF V=3 M=Authentication failed",
            Failure(
                691,
                True,
                bytes.fromhex("00112233445566778899AABBCCDDEEFF"),
                3,
                "Authentication failed",
            ),
        ),
        (b"E=691 R=0", Failure(691, False, None, None, "")),
        (b"E=646 R=0 V=3", Failure(646, False, None, 3, "")),
        (
            b"E=691 R=1 C=0011223344556677",
            Failure(691, True, bytes.fromhex("0011223344556677"), None, ""),
        ),
    ],
)
def test_failure_messages_parse(text: bytes, expected: Failure) -> None:
    assert parse_failure(text) == expected


@pytest.mark.parametrize(
    "text",
    [b"", b"691", b"E=", b"E=691 R=2", b"E=691 R=1 C=00112", b"E=691 R=1 C=XYZ", b"garbage",
     b"E=99999999999 R=1"],
)  # fmt: skip
def test_malformed_failure_messages_are_refused(text: bytes) -> None:
    assert parse_failure(text) is None


def test_failure_encodes_as_pppd_writes_it() -> None:
    failure = Failure(691, True, bytes(16), 3, "Access denied")
    assert failure.encode() == b"E=691 R=1 C=" + b"00" * 16 + b" V=3 M=Access denied"
    assert parse_failure(failure.encode()) == failure


def test_success_messages_parse_and_malformed_ones_are_refused() -> None:
    lower = AUTH_RESPONSE[:2] + AUTH_RESPONSE[2:].lower()
    assert parse_success(f"{lower} M=Access granted".encode()) == (AUTH_RESPONSE, "Access granted")
    assert parse_success(AUTH_RESPONSE.encode()) == (AUTH_RESPONSE, "")
    for bad in (b"", b"S=", AUTH_RESPONSE[:-1].encode(), b"S=" + b"G" * 40, b"M=hello"):
        assert parse_success(bad) is None
