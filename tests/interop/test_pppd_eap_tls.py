"""EAP-TLS (RFC 5216) against the real pppd 2.4.9 in the VM, in both roles.

One CA signs "server" and "client"; pppd reads its side from the
eaptls-server file (as the authenticator) or from ``ca``/``cert``/``key``
(as the client), we from ``--ca``/``--cert``/``--key``.  pppd's chap-secrets
is emptied, so EAP-TLS is the only method either side can use: pppd picks
TLS when it has no MD5 secret for the peer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hw.lab.vm.process import GuestProcess
from tests.interop.test_pppd_interop import OURS, PPPD, Bench, _up, bench, namespace
from tests.pki import make_ca, make_leaf

__all__ = ["bench", "namespace"]  # fixtures shared with test_pppd_interop


@pytest.fixture
def pki(bench: Bench, tmp_path: Path) -> dict[str, str]:
    """Host paths of our files; the guest gets the CA and pppd's own in /etc/ppp."""
    ca = make_ca(tmp_path, "ca")
    paths = {"ca": str(ca[0])}
    for name in ("server", "client"):
        cert, key = make_leaf(tmp_path, ca, name)
        paths[f"{name}.crt"], paths[f"{name}.key"] = str(cert), str(key)
        bench.vm.write_file(f"/etc/ppp/{name}.crt", cert.read_text())
        bench.vm.write_file(f"/etc/ppp/{name}.key", key.read_text(), mode=0o600)
    bench.vm.write_file("/etc/ppp/ca.crt", ca[0].read_text())
    bench.vm.write_file("/etc/ppp/chap-secrets", "", mode=0o600)
    return paths


def _pppd_client(bench: Bench, cert: str) -> GuestProcess:
    """pppd dialing us as "client", proving itself with /etc/ppp/<cert>.crt."""
    return bench.pppd("noauth", "user", "client", "name", "client", "remotename", "server",
                      "ca", "/etc/ppp/ca.crt", "cert", f"/etc/ppp/{cert}.crt",
                      "key", f"/etc/ppp/{cert}.key")  # fmt: skip


def _ours(pki: dict[str, str], name: str) -> list[str]:
    return ["--ca", pki["ca"], "--cert", pki[f"{name}.crt"], "--key", pki[f"{name}.key"]]


def test_pppd_requires_eap_tls_from_us(bench: Bench, pki: dict[str, str]) -> None:
    bench.vm.write_file(
        "/etc/ppp/eaptls-server",
        "client server - /etc/ppp/server.crt /etc/ppp/ca.crt /etc/ppp/server.key *\n",
        mode=0o600,
    )
    ours = bench.start_ours("dial", "--user", "client", "--remotename", "server",
                            *_ours(pki, "client"))  # fmt: skip
    pppd = bench.pppd("auth", "require-eap", "name", "server", f"{PPPD}:{OURS}")
    _up(ours, pppd)
    log = pppd.read_log()
    print("\n" + "\n".join(line for line in log.splitlines() if "EAP" in line or "TLS" in line))
    assert "<auth eap>" in log and "sent [EAP Success" in log
    assert "Authenticated (EAP, peer: client)" in ours.output()
    bench.ping_both_ways()


def test_we_require_eap_tls_from_pppd(bench: Bench, pki: dict[str, str]) -> None:
    ours = bench.start_ours("answer", "--require-eap", "--name", "server",
                            "--ip", f"{OURS}:{PPPD}", *_ours(pki, "server"))  # fmt: skip
    pppd = _pppd_client(bench, "client")
    _up(ours, pppd)
    log = pppd.read_log()
    print("\n" + "\n".join(line for line in log.splitlines() if "EAP" in line or "TLS" in line))
    assert "<auth eap>" in log and "rcvd [EAP Success" in log
    assert "Authenticated (EAP, authenticator: client)" in ours.output()
    bench.ping_both_ways()


def test_pppd_with_a_certificate_our_ca_did_not_sign_is_refused(
    bench: Bench, pki: dict[str, str], tmp_path: Path
) -> None:
    rogue = make_ca(tmp_path / "..", "rogue")
    cert, key = make_leaf(tmp_path / "..", rogue, "client")
    bench.vm.write_file("/etc/ppp/rogue.crt", cert.read_text())
    bench.vm.write_file("/etc/ppp/rogue.key", key.read_text(), mode=0o600)
    ours = bench.start_ours("answer", "--require-eap", "--name", "server",
                            "--ip", f"{OURS}:{PPPD}", *_ours(pki, "server"))  # fmt: skip
    pppd = _pppd_client(bench, "rogue")
    ours.wait_for(r"EAP-TLS handshake failed", 60)
    assert pppd.wait(60) in (11, 19)
    assert "Link up" not in ours.output()
