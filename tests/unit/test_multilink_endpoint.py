"""RFC 1990 section 5.1.3: the Endpoint Discriminator, and pppd's ``endpoint`` syntax."""

from __future__ import annotations

import pytest

from ndiswan.ppp.multilink.endpoint import (
    EndpointClass,
    EndpointDiscriminator,
    MalformedEndpoint,
    endpoint_text,
    parse_endpoint,
)

WELL_FORMED = [
    (EndpointClass.NULL, b""),
    (EndpointClass.LOCAL, b""),
    (EndpointClass.LOCAL, bytes(range(20))),
    (EndpointClass.IP, bytes((192, 0, 2, 1))),
    (EndpointClass.MAC, bytes.fromhex("021122334455")),
    (EndpointClass.MAGIC, bytes(4)),
    (EndpointClass.MAGIC, bytes(20)),
    (EndpointClass.PHONE, b"4930123456789"),
    (EndpointClass.PHONE, b"1" * 15),
]

MALFORMED = [
    (EndpointClass.NULL, b"\x01"),
    (EndpointClass.LOCAL, bytes(21)),
    (EndpointClass.IP, bytes(3)),
    (EndpointClass.IP, bytes(5)),
    (EndpointClass.MAC, bytes(5)),
    (EndpointClass.MAC, bytes(7)),
    (EndpointClass.MAGIC, b""),
    (EndpointClass.MAGIC, bytes(6)),
    (EndpointClass.MAGIC, bytes(24)),
    (EndpointClass.PHONE, b"1" * 16),
    (6, b"\x01"),
    (255, b""),
]


@pytest.mark.parametrize("cls,address", WELL_FORMED)
def test_every_class_round_trips_through_option_data(cls: int, address: bytes) -> None:
    endpoint = EndpointDiscriminator(cls, address)
    assert EndpointDiscriminator.from_option_data(endpoint.option_data()) == endpoint


@pytest.mark.parametrize("cls,address", MALFORMED)
def test_length_rules_refuse_a_peers_option(cls: int, address: bytes) -> None:
    assert EndpointDiscriminator.from_option_data(bytes((cls,)) + address) is None


@pytest.mark.parametrize("cls,address", MALFORMED)
def test_length_rules_refuse_construction(cls: int, address: bytes) -> None:
    with pytest.raises(MalformedEndpoint):
        EndpointDiscriminator(cls, address)


def test_option_without_its_class_octet_is_malformed() -> None:
    assert EndpointDiscriminator.from_option_data(b"") is None


@pytest.mark.parametrize(
    "text,cls,address",
    [
        ("null", 0, b""),
        ("local", 1, b""),
        ("local:", 1, b""),
        ("local:01.02.03", 1, b"\x01\x02\x03"),
        ("LOCAL:0102:03", 1, b"\x01\x02\x03"),
        ("1:1a2b3", 1, b"\x01\xa2\xb3"),
        ("local:12:", 1, b"\x12"),
        ("IP:192.0.2.1", 2, bytes((192, 0, 2, 1))),
        ("ip.10.0.0.1", 2, bytes((10, 0, 0, 1))),
        ("MAC:02:11:22:33:44:55", 3, bytes.fromhex("021122334455")),
        ("mac:021122334455", 3, bytes.fromhex("021122334455")),
        ("magic:5f1d2c3a", 4, bytes.fromhex("5f1d2c3a")),
        ("magic:5f1d2c3a.01020304", 4, bytes.fromhex("5f1d2c3a01020304")),
        ("phone:4930123456", 5, bytes.fromhex("4930123456")),
        ("5:12", 5, b"\x12"),
    ],
)
def test_pppd_endpoint_syntax(text: str, cls: int, address: bytes) -> None:
    assert parse_endpoint(text) == EndpointDiscriminator(cls, address)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "bogus",
        "local;01",
        "local:0g",
        "local:01::02",
        "IP:192.0.2",
        "IP:300.1.1.1",
        "MAC:0211223344",
        "MAC:eth0",
        "magic:010203",
        "local:" + "00" * 21,
        "6:01",
        "256",
    ],
)
def test_unparsable_endpoint_names_the_text(text: str) -> None:
    with pytest.raises(MalformedEndpoint, match="as an endpoint discriminator"):
        parse_endpoint(text)


def test_mac_by_interface_name_comes_from_the_caller() -> None:
    interfaces = {"eth0": bytes.fromhex("02aabbccddee")}
    endpoint = parse_endpoint("MAC:eth0", interfaces.get)
    assert endpoint == EndpointDiscriminator(EndpointClass.MAC, interfaces["eth0"])
    # An unknown interface falls back to hex octets, as pppd does.
    assert parse_endpoint("MAC:021122334455", interfaces.get).address == bytes.fromhex(
        "021122334455"
    )


@pytest.mark.parametrize(
    "text",
    [
        "null",
        "local:01.02.03",
        "IP:192.0.2.1",
        "MAC:02:11:22:33:44:55",
        "magic:5f1d2c3a",
        "magic:5f1d2c3a.01020304",
        "phone:49.30.12",
    ],
)
def test_printed_as_pppd_prints_and_reparses(text: str) -> None:
    endpoint = parse_endpoint(text)
    assert str(endpoint) == text
    assert parse_endpoint(str(endpoint)) == endpoint


def test_text_of_odd_forms_as_pppd_prints_them() -> None:
    assert endpoint_text(9, b"\x01\x02") == "9:01.02"
    assert endpoint_text(EndpointClass.IP, b"\x01") == "IP:01"
    assert endpoint_text(EndpointClass.MAGIC, b"\x01\x02") == "magic:01.02"
