"""usepeerdns: /etc/ppp/resolv.conf written as pppd writes it, or one clear line why not."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ndiswan.resolv import (
    ResolvConfError,
    prepare_resolv_conf,
    resolv_conf_text,
    write_resolv,
)


def test_missing_directory_is_created_with_mode_0755(tmp_path: Path) -> None:
    path = tmp_path / "ppp" / "resolv.conf"
    old = os.umask(0o077)  # a narrow umask must not narrow /etc/ppp
    try:
        assert prepare_resolv_conf(str(path)) is True
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "ppp").stat().st_mode) == 0o755


def test_existing_directory_is_left_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "ppp").mkdir(mode=0o700)
    assert prepare_resolv_conf(str(tmp_path / "ppp" / "resolv.conf")) is False
    assert stat.S_IMODE((tmp_path / "ppp").stat().st_mode) == 0o700
    assert os.listdir(tmp_path / "ppp") == []  # the write probe leaves nothing behind


def test_a_file_where_the_directory_should_be_is_one_line_naming_path_and_fix(
    tmp_path: Path,
) -> None:
    (tmp_path / "ppp").write_text("not a directory")
    with pytest.raises(ResolvConfError) as err:
        prepare_resolv_conf(str(tmp_path / "ppp" / "resolv.conf"))
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "ppp" / "resolv.conf") in message
    assert "usepeerdns" in message


def test_missing_parent_of_the_directory_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "resolv.conf"
    with pytest.raises(ResolvConfError, match=r"cannot create .*: No such file or directory"):
        prepare_resolv_conf(str(path))


def test_unwritable_directory_is_refused_before_the_link_comes_up(tmp_path: Path) -> None:
    """As a user who may not write /etc/ppp (root may write anywhere, so the check runs
    as nobody)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to run as another user")
    # pytest's tmp_path lies under a 0700 directory: nobody could not even reach it.
    top = Path(tempfile.mkdtemp(prefix="wanctl-resolv-", dir="/tmp"))
    top.chmod(0o755)
    directory = top / "ppp"
    directory.mkdir(mode=0o755)
    code = (
        "from ndiswan.resolv import prepare_resolv_conf\n"
        f"prepare_resolv_conf({str(directory / 'resolv.conf')!r})\n"
    )
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    shutil.rmtree(top)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ndiswan.resolv.ResolvConfError: cannot write "), last
    assert "Permission denied" in last and "usepeerdns" in last


def test_written_file_is_mode_0644_with_one_nameserver_line_each(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    old = os.umask(0o077)
    try:
        write_resolv(str(path), ["10.0.0.53", "", "10.0.0.54", "10.0.0.53"])
    finally:
        os.umask(old)
    assert path.read_text() == "nameserver 10.0.0.53\nnameserver 10.0.0.54\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["resolv.conf"]


def test_resolv_text_drops_empty_servers() -> None:
    assert resolv_conf_text(["", ""]) == ""


def test_write_into_missing_directory_is_resolv_conf_error(tmp_path: Path) -> None:
    with pytest.raises(ResolvConfError, match="cannot write"):
        write_resolv(str(tmp_path / "gone" / "resolv.conf"), ["10.0.0.53"])
