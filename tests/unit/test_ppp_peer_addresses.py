"""The address column of pap-secrets / chap-secrets, as pppd's auth.c reads it."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ndiswan.ppp.peer_addresses import AllowedPeerAddresses, never_allowed
from ndiswan.ppp.secrets_format import SecretsTable

ANYWHERE = ("10.0.0.1", "10.0.0.7", "192.0.2.77", "172.16.5.4", "1.2.3.4", "223.255.255.254")


def allowed(*words: str) -> AllowedPeerAddresses:
    return AllowedPeerAddresses.from_words(words)


def may_use(rules: AllowedPeerAddresses, address: str) -> bool:
    return rules.allows(IPv4Address(address))


@pytest.mark.parametrize("address", ANYWHERE)
def test_entry_of_three_words_allows_no_address(address: str) -> None:
    rules = allowed()
    assert not may_use(rules, address)
    assert rules.suggestion is None and rules.warnings == ()


@pytest.mark.parametrize("address", ANYWHERE)
def test_dash_allows_no_address(address: str) -> None:
    assert not may_use(allowed("-"), address)


def test_dash_ends_the_list() -> None:
    rules = allowed("10.0.0.1", "-", "10.0.0.7", "*")
    assert may_use(rules, "10.0.0.1")
    assert not may_use(rules, "10.0.0.7") and not may_use(rules, "192.0.2.77")


@pytest.mark.parametrize("address", ANYWHERE)
def test_star_allows_any_address(address: str) -> None:
    rules = allowed("*")
    assert may_use(rules, address)
    assert rules.suggestion is None


def test_star_ends_the_list() -> None:
    assert may_use(allowed("*", "!10.0.0.7"), "10.0.0.7")


def test_exclusion_before_star_still_excludes() -> None:
    rules = allowed("!10.0.0.7", "*")
    assert not may_use(rules, "10.0.0.7") and may_use(rules, "10.0.0.8")


def test_single_address_allows_only_itself_and_is_suggested() -> None:
    rules = allowed("10.0.0.5")
    assert may_use(rules, "10.0.0.5")
    assert not may_use(rules, "10.0.0.6") and not may_use(rules, "10.0.0.4")
    assert rules.suggestion == IPv4Address("10.0.0.5")


def test_subnet_allows_its_addresses_only() -> None:
    rules = allowed("10.0.0.0/24")
    assert may_use(rules, "10.0.0.1") and may_use(rules, "10.0.0.254")
    assert not may_use(rules, "10.0.1.1") and not may_use(rules, "9.255.255.255")


def test_subnet_is_never_suggested() -> None:
    assert allowed("10.0.0.0/24").suggestion is None
    assert allowed("10.0.0.0/24", "10.0.0.9").suggestion == IPv4Address("10.0.0.9")


def test_host_bits_of_a_subnet_word_are_ignored() -> None:
    rules = allowed("10.0.0.77/24")
    assert may_use(rules, "10.0.0.3") and not may_use(rules, "10.0.1.3")


def test_slash_32_is_a_single_address() -> None:
    rules = allowed("10.0.0.5/32")
    assert may_use(rules, "10.0.0.5") and not may_use(rules, "10.0.0.6")
    assert rules.suggestion == IPv4Address("10.0.0.5")


def test_first_matching_word_decides() -> None:
    excluded_first = allowed("!10.0.0.7", "10.0.0.0/24")
    assert not may_use(excluded_first, "10.0.0.7") and may_use(excluded_first, "10.0.0.8")
    allowed_first = allowed("10.0.0.0/24", "!10.0.0.7")
    assert may_use(allowed_first, "10.0.0.7")


def test_excluded_subnet() -> None:
    rules = allowed("!10.0.0.0/28", "10.0.0.0/24")
    assert not may_use(rules, "10.0.0.15") and may_use(rules, "10.0.0.16")


def test_address_no_word_matches_is_refused() -> None:
    assert not may_use(allowed("!10.0.0.7"), "10.0.0.8")


def test_suggestion_is_the_first_single_address_the_list_allows() -> None:
    assert allowed("10.0.0.5", "10.0.0.6").suggestion == IPv4Address("10.0.0.5")
    assert allowed("!10.0.0.5", "10.0.0.5", "10.0.0.6").suggestion == IPv4Address("10.0.0.6")
    assert allowed("!10.0.0.0/24", "10.0.0.5").suggestion is None
    assert allowed("127.0.0.1", "10.0.0.6").suggestion == IPv4Address("10.0.0.6")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.255.254",
        "224.0.0.1",
        "239.255.255.255",
        "240.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
    ],
)
def test_loopback_multicast_and_class_e_are_never_allowed(address: str) -> None:
    assert never_allowed(IPv4Address(address))
    assert not may_use(allowed("*"), address)
    assert not may_use(allowed(address), address)
    assert allowed(address).suggestion is None


@pytest.mark.parametrize(
    ("word", "warning"),
    [
        ("10.0.0.300", "invalid address 10.0.0.300 in auth. address list"),
        ("1.2.3", "invalid address 1.2.3 in auth. address list"),
        ("010.0.0.1", "invalid address 010.0.0.1 in auth. address list"),
        ("10.0.0.1.", "invalid address 10.0.0.1. in auth. address list"),
        ("10.0.0.0/33", "invalid address length 33 in auth. address list"),
        ("10.0.0.0/0", "invalid address length 0 in auth. address list"),
        ("10.0.0.0/", "invalid address length  in auth. address list"),
        ("10.0.0.0/x", "invalid address length x in auth. address list"),
        ("10.0.0.0/-8", "invalid address length -8 in auth. address list"),
        ("10.0.0.0/24+", "unsupported address length syntax: 24+ (the +unit form)"),
        ("!", 'invalid address word "!" in auth. address list'),
        ("", 'invalid address word "" in auth. address list'),
        ("!/24", 'invalid address word "!/24" in auth. address list'),
        (
            "peer.example",
            "unknown host peer.example in auth. address list (names are not resolved)",
        ),
        ("!*", "unknown host * in auth. address list (names are not resolved)"),
        ("bad\x01name", "unknown host bad^Aname in auth. address list (names are not resolved)"),
    ],
)
def test_malformed_word_is_skipped_with_a_warning(word: str, warning: str) -> None:
    rules = allowed(word, "10.0.0.9")
    assert rules.warnings == (warning,)
    assert may_use(rules, "10.0.0.9") and not may_use(rules, "10.0.0.8")
    assert rules.suggestion == IPv4Address("10.0.0.9")


def test_list_of_only_malformed_words_allows_nothing() -> None:
    rules = allowed("10.0.0.300", "peer.example", "!")
    assert len(rules.warnings) == 3
    assert not any(may_use(rules, a) for a in ANYWHERE)


@given(st.lists(st.text(max_size=24), max_size=8), st.integers(0, 2**32 - 1))
def test_any_words_give_rules_and_never_raise(words: list[str], number: int) -> None:
    rules = AllowedPeerAddresses.from_words(words)
    address = IPv4Address(number)
    assert isinstance(rules.allows(address), bool)
    if never_allowed(address):
        assert not rules.allows(address)
    if rules.suggestion is not None:
        assert rules.allows(rules.suggestion)


def test_secrets_table_gives_the_address_words_of_the_entry_it_uses() -> None:
    table = SecretsTable.from_text(
        "bob * generic 10.0.0.0/24\nbob hub exact 10.0.0.5 -- ms-dns 10.0.0.1\ncarol hub c\n"
    )
    assert table("bob", "hub") == "exact" and table.addresses("bob", "hub") == ("10.0.0.5",)
    assert table.addresses("bob", "other") == ("10.0.0.0/24",)
    assert table.addresses("carol", "hub") == ()
    assert table.addresses("dave", "hub") is None
