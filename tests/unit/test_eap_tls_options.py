"""pppd's ca/cert/key options: EAP-TLS contexts, and the errors a user gets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.pki import make_ca, make_leaf
from wanctl.config import eap_tls_contexts, ppp_config
from wanctl.errors import UsageError
from wanctl.options import LinkOptions


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory, "ca")
    cert, key = make_leaf(directory, ca, "bob")
    return {"ca": str(ca[0]), "cert": str(cert), "key": str(key)}


def test_no_certificates_no_eap_tls() -> None:
    assert eap_tls_contexts(LinkOptions()) == (None, None)


def test_ca_cert_and_key_give_both_roles_a_context(files: dict[str, str]) -> None:
    config = ppp_config(LinkOptions(**files))  # type: ignore[arg-type]
    assert config.eap_tls_server is not None and config.eap_tls_client is not None
    assert config.eap_tls_server is not config.eap_tls_client


@pytest.mark.parametrize("left_out", ["ca", "cert", "key"])
def test_each_of_the_three_is_needed(files: dict[str, str], left_out: str) -> None:
    given = {name: path for name, path in files.items() if name != left_out}
    with pytest.raises(UsageError, match=f"missing --{left_out}"):
        eap_tls_contexts(LinkOptions(**given))  # type: ignore[arg-type]


def test_a_key_others_can_read_is_refused(files: dict[str, str], tmp_path: Path) -> None:
    key = tmp_path / "open.key"
    key.write_bytes(Path(files["key"]).read_bytes())
    os.chmod(key, 0o644)
    with pytest.raises(UsageError, match="readable by others: chmod 600"):
        eap_tls_contexts(LinkOptions(**{**files, "key": str(key)}))  # type: ignore[arg-type]


def test_a_missing_or_unreadable_certificate_is_a_usage_error(
    files: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="EAP-TLS certificates"):
        eap_tls_contexts(LinkOptions(**{**files, "cert": str(tmp_path / "none.crt")}))  # type: ignore[arg-type]
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("not a certificate\n")
    with pytest.raises(UsageError, match="EAP-TLS certificates"):
        eap_tls_contexts(LinkOptions(**{**files, "cert": str(garbage)}))  # type: ignore[arg-type]


def test_a_key_that_does_not_match_the_certificate_is_refused(
    files: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("other")
    _, other_key = make_leaf(directory, make_ca(directory, "ca2"), "eve")
    with pytest.raises(UsageError, match="EAP-TLS certificates"):
        eap_tls_contexts(LinkOptions(**{**files, "key": str(other_key)}))  # type: ignore[arg-type]
