"""Secrets files: pppd's format, refused when others may read them."""

from pathlib import Path

import pytest

from ndiswan.secrets import SecretsFileError, check_private, load_secrets


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_world_readable_secrets_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = _write(tmp_path / "chap-secrets", 'bob hub "s3cret" *\n', mode=0o644)
    with pytest.raises(SecretsFileError, match=r"mode 0644.*chmod 600"):
        load_secrets(str(path))


def test_group_readable_secrets_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "pap-secrets", "bob * pw\n", mode=0o640)
    with pytest.raises(SecretsFileError, match="readable or writable by others"):
        check_private(str(path))


def test_missing_secrets_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SecretsFileError, match="does not exist"):
        load_secrets(str(tmp_path / "absent"))


def test_directory_is_not_a_secrets_file(tmp_path: Path) -> None:
    with pytest.raises(SecretsFileError, match="not a regular file"):
        check_private(str(tmp_path))


def test_private_files_are_merged_in_order(tmp_path: Path) -> None:
    pap = _write(tmp_path / "pap-secrets", "# comment\nalice * alicepw\n")
    chap = _write(tmp_path / "chap-secrets", 'bob hub "two words" 10.0.0.2\n')
    table = load_secrets(str(pap), str(chap))
    assert table.lookup("alice", "anything") == "alicepw"
    assert table.lookup("bob", "hub") == "two words"
    assert table.lookup("mallory", "hub") is None


def test_indirect_secret_is_read_only_from_a_private_file(tmp_path: Path) -> None:
    private = _write(tmp_path / "pw", "from-file\n")
    public = _write(tmp_path / "pw-public", "leaked\n", mode=0o644)
    chap = _write(tmp_path / "chap-secrets", f"bob hub @{private}\neve hub @{public}\n")
    table = load_secrets(str(chap))
    assert table.lookup("bob", "hub") == "from-file"
    assert table.lookup("eve", "hub") is None
