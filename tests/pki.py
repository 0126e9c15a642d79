"""A throwaway PKI for EAP-TLS tests, made with the openssl command line.

A CA, and leaf certificates signed by it, each named by its CN; ``rogue``
is a second CA whose leaves the first CA's users must refuse.  Elliptic
curve keys: generating them takes milliseconds.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """(certificate, key) of a self-signed CA called ``name``."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl("req", "-x509", *_KEY, "-keyout", str(key), "-out", str(cert),
             "-subj", f"/CN={name}", "-days", "30")  # fmt: skip
    return cert, key


def make_leaf(directory: Path, ca: tuple[Path, Path], name: str) -> tuple[Path, Path]:
    """(certificate, key, mode 600) for CN=``name``, signed by ``ca``."""
    cert, key, request = (directory / f"{name}.{ext}" for ext in ("crt", "key", "csr"))
    _openssl("req", "-new", *_KEY, "-keyout", str(key), "-out", str(request),
             "-subj", f"/CN={name}")  # fmt: skip
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
             "-CAcreateserial", "-out", str(cert), "-days", "30")  # fmt: skip
    os.chmod(key, 0o600)
    return cert, key
