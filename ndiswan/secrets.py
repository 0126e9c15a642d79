"""Reading pppd's pap-secrets / chap-secrets files, refusing ones others may read.

The format (client, server, secret, addresses...) is parsed by the pure
``ndiswan.ppp.secrets_format``; this module does the file part: a secrets
file that group or others can read is refused with the reason and the fix,
as the secrets would already be exposed.
"""

from __future__ import annotations

import os
import stat

from ndiswan.ppp.secrets_format import SecretsTable


class SecretsFileError(PermissionError):
    """A secrets file that cannot be used; the message says why and how to fix it."""


def check_private(path: str) -> None:
    """Refuse a secrets file that is not a regular file readable only by its owner."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise SecretsFileError(f"secrets file {path} does not exist") from exc
    if not stat.S_ISREG(st.st_mode):
        raise SecretsFileError(f"secrets file {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SecretsFileError(
            f"secrets file {path} is readable or writable by others (mode {mode:04o}):"
            f" run 'chmod 600 {path}'"
        )


def _read_indirect(path: str) -> str | None:
    """pppd's ``@/path`` secret: the first line of another private file."""
    try:
        check_private(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\n")
    except (OSError, SecretsFileError):
        return None


def load_secrets(*paths: str) -> SecretsTable:
    """One table from several secrets files (pap-secrets, chap-secrets), in order."""
    entries = []
    for path in paths:
        check_private(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            entries.extend(SecretsTable.from_text(f.read()).entries)
    return SecretsTable(entries, resolve_indirect=_read_indirect)
