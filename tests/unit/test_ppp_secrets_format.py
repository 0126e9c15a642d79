"""pap-secrets / chap-secrets text, parsed as pppd's getword and scan_authfile do."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ndiswan.ppp.secrets_format import SecretEntry, SecretsTable, parse_secrets


def test_plain_entries_with_addresses_and_comments() -> None:
    text = """# Secrets for authentication using CHAP
# client	server	secret			IP addresses
bob	hub	s3cret	10.7.0.2  # bob's line
"alice smith"	*	'pass word'	-
"""
    assert parse_secrets(text) == [
        SecretEntry("bob", "hub", "s3cret", ("10.7.0.2",)),
        SecretEntry("alice smith", "*", "pass word", ("-",)),
    ]


def test_double_dash_starts_options() -> None:
    (entry,) = parse_secrets("bob hub pw 10.0.0.2 -- ms-dns 10.0.0.1\n")
    assert entry.addresses == ("10.0.0.2",) and entry.options == ("ms-dns", "10.0.0.1")


def test_lines_with_fewer_than_three_words_are_ignored() -> None:
    assert parse_secrets("bob hub\njust\n\ncarol dave pw\n") == [SecretEntry("carol", "dave", "pw")]


def test_empty_quoted_secret_is_a_word() -> None:
    (entry,) = parse_secrets('bob hub "" 10.0.0.2\n')
    assert entry.secret == "" and entry.addresses == ("10.0.0.2",)


def test_backslash_escapes_like_getword() -> None:
    (entry,) = parse_secrets("bob hub a\\sb\\tc\\101\\x41\\#d\n")
    assert entry.secret == "a b\tcAA#d"


def test_backslash_newline_joins_lines() -> None:
    (entry,) = parse_secrets("bob hub \\\n   secret\n")
    assert entry.secret == "secret"


def test_quotes_may_hold_newlines_and_hashes() -> None:
    (entry,) = parse_secrets('bob hub "line one\n# not a comment"\n')
    assert entry.secret == "line one\n# not a comment"


def test_hash_ends_a_word_outside_quotes() -> None:
    first, second = parse_secrets("bob hub pw#comment 10.0.0.2\ncarol dave x\n")
    assert first.secret == "pw" and first.addresses == ()
    assert second == SecretEntry("carol", "dave", "x")


def test_words_are_cut_to_pppd_maxwordlen() -> None:
    (entry,) = parse_secrets("bob hub " + "x" * 2000 + "\n")
    assert len(entry.secret) == 1023


def test_exact_client_beats_exact_server_beats_wildcards() -> None:
    table = SecretsTable.from_text(
        """
*    *    any
*    hub  server-only
bob  *    client-only
bob  hub  both
bob  hub  second-both
"""
    )
    assert table.lookup("bob", "hub") == "both"
    assert table.lookup("bob", "other") == "client-only"
    assert table.lookup("carol", "hub") == "server-only"
    assert table.lookup("carol", "other") == "any"


def test_client_match_outranks_server_match() -> None:
    table = SecretsTable.from_text("*  hub  server-only\nbob  *  client-only\n")
    assert table.lookup("bob", "hub") == "client-only"


def test_no_entry_gives_none() -> None:
    table = SecretsTable.from_text("bob hub pw\n")
    assert table.lookup("carol", "hub") is None
    assert table.lookup("bob", "other") is None


def test_empty_name_matches_any_entry() -> None:
    table = SecretsTable.from_text("bob hub pw\n")
    assert table.lookup("bob", "") == "pw"
    assert table("", "hub") == "pw"


def test_indirect_secret_is_resolved_by_the_caller() -> None:
    seen: list[str] = []

    def resolve(path: str) -> str:
        seen.append(path)
        return "from-file"

    table = SecretsTable.from_text("bob hub @/etc/ppp/bob.secret\n", resolve)
    assert table.lookup("bob", "hub") == "from-file" and seen == ["/etc/ppp/bob.secret"]
    assert SecretsTable.from_text("bob hub @/etc/x\n").lookup("bob", "hub") is None


def test_unterminated_quote_and_trailing_backslash_do_not_raise() -> None:
    assert parse_secrets('bob hub "unterminated') == [SecretEntry("bob", "hub", "unterminated")]
    assert parse_secrets("bob hub pw \\") == [SecretEntry("bob", "hub", "pw")]


@given(st.text(max_size=400))
def test_parser_never_raises(text: str) -> None:
    for entry in parse_secrets(text):
        assert isinstance(entry.secret, str)
