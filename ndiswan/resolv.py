"""usepeerdns: the peer's DNS servers, written where pppd writes them.

pppd writes the servers the peer gave in IPCP to ``/etc/ppp/resolv.conf``
(mode 0644, one ``nameserver`` line each) and leaves it to the ip-up scripts
to use the file.  ``/etc/ppp`` itself belongs to Debian's ``ppp`` package
(owner root, mode 0755): on a machine without that package it does not
exist.  ``prepare_resolv_conf`` runs before the link is brought up; it
creates the missing directory with that mode, then proves the directory
writable by creating and removing a file in it, and otherwise raises
``ResolvConfError`` naming the path and the fix -- so a link never comes up
only to fail half-way through its configuration.

The file is written to a temporary name in the same directory and renamed
over the old one, so a reader never sees half a file, and two links never
share a temporary file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterable

from wanminiport.exitcodes import WanctlError

log = logging.getLogger(__name__)

#: pppd's _PATH_RESOLV.
RESOLV_CONF = "/etc/ppp/resolv.conf"
#: The mode Debian's ppp package gives /etc/ppp.
RESOLV_DIR_MODE = 0o755
RESOLV_FILE_MODE = 0o644
_FIX = "run as root, or leave out usepeerdns"


class ResolvConfError(WanctlError):
    """resolv.conf cannot be written; ``str()`` is one line naming the path and the fix
    (pppd's status for it: a fatal error)."""


def prepare_resolv_conf(path: str = RESOLV_CONF) -> bool:
    """Make sure ``path`` can be written: its directory is created (mode 0755) when it
    is missing.  Returns True when the directory was created."""
    directory = os.path.dirname(os.path.abspath(path))
    created = False
    try:
        os.mkdir(directory, RESOLV_DIR_MODE)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ResolvConfError(
            f"cannot create {directory} for {path}: {exc.strerror}; {_FIX}"
        ) from None
    else:
        os.chmod(directory, RESOLV_DIR_MODE)  # the umask must not narrow it
        created = True
        log.info("created %s (mode %04o) for %s", directory, RESOLV_DIR_MODE, path)
    if not os.path.isdir(directory):
        raise ResolvConfError(
            f"cannot write {path}: {directory} is not a directory; move it away, or {_FIX}"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".resolv.conf.", dir=directory)
    except OSError as exc:
        raise ResolvConfError(f"cannot write {path}: {exc.strerror}; {_FIX}") from None
    os.close(fd)
    os.unlink(probe)
    return created


def resolv_conf_text(dns: Iterable[str]) -> str:
    """One ``nameserver`` line per server, a server given twice written once (as pppd)."""
    return "".join(f"nameserver {addr}\n" for addr in dict.fromkeys(a for a in dns if a))


def write_resolv(path: str, dns: Iterable[str]) -> None:
    """Replace ``path`` with the peer's DNS servers; ``ResolvConfError`` if it cannot."""
    text = resolv_conf_text(dns)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".resolv.conf.", dir=os.path.dirname(path) or ".")
    except OSError as exc:
        raise ResolvConfError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, RESOLV_FILE_MODE)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ResolvConfError(f"cannot write {path}: {exc.strerror}") from None
