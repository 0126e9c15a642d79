"""pppd's pap-secrets / chap-secrets format: a pure parser of the text.

Each entry is ``client server secret [address ...] [-- option ...]``, one per
line.  Words follow pppd's ``getword``: ``#`` starts a comment, single or
double quotes group (and may span lines), backslash escapes C-style
(``\\n \\t \\s`` for space, octal, ``\\x`` hex) and joins lines.  A ``*``
client or server matches any name.  The best entry wins: an exact client
beats an exact server beats wildcards; among equals, the first.  A line of
fewer than three words is ignored.

Reading the file and checking its permissions is the caller's business;
``@/path`` secrets (read from another file) are left for the caller to
resolve through ``resolve_indirect``.  What the address words allow is
``ndiswan.ppp.peer_addresses``' business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

#: pppd's MAXWORDLEN: longer words are cut to one less.
MAX_WORD = 1024
_SPACE = " \t\n\v\f\r"
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "s": " ", "t": "\t"}
_NONWILD_SERVER, _NONWILD_CLIENT = 1, 2


@dataclass(frozen=True)
class SecretEntry:
    client: str
    server: str
    secret: str
    #: Addresses the client may use ("-" alone means none, "*" any).
    addresses: tuple[str, ...] = ()
    #: Words after a ``--`` among the addresses: extra pppd options.
    options: tuple[str, ...] = ()

    @property
    def indirect_path(self) -> str | None:
        """The file named by an ``@/path`` secret, else None."""
        return self.secret[1:] if self.secret.startswith("@/") else None

    def match_rank(self, client: str, server: str) -> int:
        """-1 when this entry does not apply; higher is a better match."""
        rank = 0
        if self.client != "*":
            if client and self.client != client:
                return -1
            rank |= _NONWILD_CLIENT
        if self.server != "*":
            if server and self.server != server:
                return -1
            rank |= _NONWILD_SERVER
        return rank


def _words(text: str) -> Iterator[tuple[str, bool]]:
    """(word, starts a line) pairs, as pppd's getword reads them."""
    i, n = 0, len(text)
    first = True
    while True:
        escape = comment = newline = False
        while i < n:
            c = text[i]
            if c == "\n":
                if escape:
                    escape = False
                else:
                    newline, comment = True, False
                i += 1
                continue
            if comment:
                i += 1
                continue
            if escape:
                break
            if c == "\\":
                escape = True
            elif c == "#":
                comment = True
            elif c not in _SPACE:
                break
            i += 1
        if i >= n:
            return
        word: list[str] = []
        quote = ""
        while i < n:
            c = text[i]
            if escape:
                escape = False
                i = _escape(text, i, word)
                continue
            if c == "\\":
                escape = True
                i += 1
                continue
            if quote:
                if c == quote:
                    quote = ""
                    i += 1
                    continue
            elif c in "\"'":
                quote = c
                i += 1
                continue
            elif c in _SPACE or c == "#":
                break
            word.append(c)
            i += 1
        yield "".join(word)[: MAX_WORD - 1], newline or first
        first = False


def _escape(text: str, i: int, word: list[str]) -> int:
    """Append the character escaped at ``text[i]``; return the next index."""
    c = text[i]
    if c == "\n":
        return i + 1
    if c in _SIMPLE_ESCAPES:
        word.append(_SIMPLE_ESCAPES[c])
        return i + 1
    if c in "01234567":
        value, j = 0, i
        while j < len(text) and j - i < 3 and text[j] in "01234567":
            value = (value << 3) + int(text[j])
            j += 1
        word.append(chr(value & 0xFF))
        return j
    if c == "x":
        j = i + 1
        digits = ""
        while j < len(text) and len(digits) < 2 and text[j] in "0123456789abcdefABCDEF":
            digits += text[j]
            j += 1
        word.append(chr(int(digits, 16) if digits else 0))
        return j
    word.append(c)
    return i + 1


def parse_secrets(text: str) -> list[SecretEntry]:
    """Every usable entry of a secrets file, in file order."""
    lines: list[list[str]] = []
    for word, starts_line in _words(text):
        if starts_line or not lines:
            lines.append([])
        lines[-1].append(word)
    entries = []
    for words in lines:
        if len(words) < 3:
            continue
        client, server, secret, *rest = words
        addresses, options = rest, []
        if "--" in rest:
            cut = rest.index("--")
            addresses, options = rest[:cut], rest[cut + 1 :]
        entries.append(SecretEntry(client, server, secret, tuple(addresses), tuple(options)))
    return entries


class SecretsTable:
    """Entries of one secrets file; ``lookup`` is a ``SecretLookup``."""

    def __init__(
        self,
        entries: list[SecretEntry],
        resolve_indirect: Callable[[str], str | None] | None = None,
    ) -> None:
        self.entries = list(entries)
        self._resolve_indirect = resolve_indirect

    @classmethod
    def from_text(
        cls, text: str, resolve_indirect: Callable[[str], str | None] | None = None
    ) -> SecretsTable:
        return cls(parse_secrets(text), resolve_indirect)

    def find(self, client: str, server: str) -> SecretEntry | None:
        """The best entry for ``client`` authenticating to ``server`` ("" = any)."""
        best: SecretEntry | None = None
        best_rank = -1
        for entry in self.entries:
            rank = entry.match_rank(client, server)
            if rank > best_rank:
                best, best_rank = entry, rank
        return best

    def lookup(self, client: str, server: str) -> str | None:
        entry = self.find(client, server)
        if entry is None:
            return None
        path = entry.indirect_path
        if path is not None:
            return self._resolve_indirect(path) if self._resolve_indirect else None
        return entry.secret

    __call__ = lookup

    def addresses(self, client: str, server: str) -> tuple[str, ...] | None:
        """The address words of the entry ``lookup`` uses; None when there is none."""
        entry = self.find(client, server)
        return entry.addresses if entry is not None else None
