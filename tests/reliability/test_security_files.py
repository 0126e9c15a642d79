"""Security of what wanctl reads and writes: scripts, secrets, logs, lock files.

Already covered elsewhere and not repeated here: hook scripts refused unless
root-owned and unwritable by others (``tests/unit/test_hooks.py``), secrets
files readable by others refused by ``load_secrets``
(``tests/unit/test_secrets_file.py``), the control socket refusing users
outside its group (``tests/unit/test_control.py``), lock files that are
symlinks refused and never followed (``tests/unit/test_lockfile.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hw.lab.cable_process import CableProcess
from ndiswan.ppp.log import format_frame
from tests.reliability.conftest import Lab
from wanctl.cli import build_parser
from wanctl.errors import UsageError
from wanctl.lab import python_env
from wanctl.options import LinkOptions, command_line_layer, merge_options
from wanminiport.transports.lockfile import lock_name, parse_lock_contents

PASSWORD = "Pw-9f3c2a71-sekrit"
NOBODY = 65534


def options(*argv: str) -> LinkOptions:
    args = build_parser().parse_args(["dial", "/dev/ttyS0", *argv])
    return merge_options(command_line_layer(args))


# -- connect (chat) scripts ---------------------------------------------------------


def chat_script(tmp_path: Path, mode: int = 0o644, uid: int = 0) -> Path:
    script = tmp_path / "isp"
    script.write_text("'' ATZ\nOK ATDT5551234\nCONNECT ''\n")
    os.chown(script, uid, -1)
    script.chmod(mode)
    return script


def test_connect_script_owned_by_root_and_not_writable_by_others_is_read(
    tmp_path: Path,
) -> None:
    """Expected: the words of a root-owned 0644 (or 0600, 0640) script."""
    for mode in (0o644, 0o600, 0o640):
        script = chat_script(tmp_path, mode)
        assert options("--connect", str(script)).chat_words() == [
            "",
            "ATZ",
            "OK",
            "ATDT5551234",
            "CONNECT",
            "",
        ]


@pytest.mark.parametrize(
    ("mode", "uid", "message"),
    [
        (0o664, 0, r"writable by group or others \(mode 0664\): run 'chmod go-w"),
        (0o646, 0, r"writable by group or others \(mode 0646\)"),
        (0o644, NOBODY, rf"owned by uid {NOBODY}, not root"),
    ],
)
def test_connect_script_others_could_change_is_refused(
    tmp_path: Path, mode: int, uid: int, message: str
) -> None:
    """Expected: a one-line usage error naming the script, what is wrong and the fix;
    the script is not used (a chat script steers a root process and can send files)."""
    script = chat_script(tmp_path, mode, uid)
    if os.geteuid() != 0:
        pytest.skip("needs root to own files as another user")
    with pytest.raises(UsageError, match=rf"connect \(command line\): {script}.*{message}"):
        options("--connect", str(script)).chat_words()


def test_connect_script_that_is_a_directory_or_links_to_an_unsafe_file_is_refused(
    tmp_path: Path,
) -> None:
    """Expected: not a regular file -> refused; a symlink is judged by the file it
    names (the open file's own status), so it cannot smuggle in an unsafe one."""
    unsafe = chat_script(tmp_path, 0o666)
    link = tmp_path / "looks-fine"
    link.symlink_to(unsafe)
    with pytest.raises(UsageError, match="writable by group or others"):
        options("--connect", str(link)).chat_words()
    directory = tmp_path / "dir"
    directory.mkdir()
    with pytest.raises(UsageError, match=r"dir cannot be read \(Is a directory\)"):
        options("--connect", str(directory)).chat_words()


# -- secrets -------------------------------------------------------------------------


def test_dial_refuses_a_secrets_file_others_can_read(lab: Lab, tmp_path: Path) -> None:
    """Expected: ``wanctl dial`` with a chap-secrets file of mode 0644 stops with
    exit code 2 and one line saying which file and ``chmod 600``; no link starts."""
    secrets = tmp_path / "open-secrets"
    secrets.write_text(f"client hub {PASSWORD} *\n")
    secrets.chmod(0o644)
    with CableProcess(115200) as cable:
        dial = lab.start(
            "dial",
            lab.ns_client,
            cable.a,
            "--user",
            "client",
            "--chap-secrets",
            str(secrets),
            "--linkname",
            "client",
        )
        assert dial.wait(20) == 2
    output = dial.output()
    assert f"{secrets} is readable or writable by others" in output
    assert f"chmod 600 {secrets}" in output
    assert "Link up" not in output and PASSWORD not in output


def test_pap_password_never_appears_in_debug_logs(lab: Lab, tmp_path: Path) -> None:
    """Expected: a PAP link, both ends with --debug (every packet logged, pppd style),
    up and then hung up: the PAP requests are logged as ``password=<hidden>`` and
    the password appears in neither process's output -- not as text, not in hex."""
    pap = tmp_path / "pap-secrets"
    pap.write_text(f'client hub "{PASSWORD}" *\n')
    pap.chmod(0o600)
    with CableProcess(115200) as cable:
        hub = lab.start(
            "answer",
            lab.ns_hub,
            cable.b,
            "--ip",
            "10.77.0.1:10.77.0.2",
            "--require-pap",
            "--name",
            "hub",
            "--pap-secrets",
            str(pap),
            "--linkname",
            "hub",
            "--debug",
            name="hub",
        )
        client = lab.start(
            "dial",
            lab.ns_client,
            cable.a,
            "--user",
            "client",
            "--remotename",
            "hub",
            "--pap-secrets",
            str(pap),
            "--linkname",
            "client",
            "--debug",
            name="client",
        )
        client.wait_for(r"Link up", 30)
        hub.wait_for(r"Link up", 30)
        status = lab.wanctl("status", "--json")
        assert status.wait(15) == 0
        assert lab.wanctl("hangup", "client").wait(15) == 0
        client.wait(15)
        logs = client.output() + hub.output() + status.output()
    assert "sent [PAP AuthReq" in logs and "password=<hidden>" in logs
    assert "rcvd [PAP AuthReq" in logs
    secret = PASSWORD.encode()
    for form in (PASSWORD, secret.hex(), secret.hex(" "), secret.hex().upper()):
        assert form not in logs, f"the password appears in the logs as {form!r}"


@pytest.mark.parametrize(
    "body",
    [
        # (user length, user, password length, password) with lengths that lie:
        b"\x06client\x40" + PASSWORD.encode(),  # password longer than its length says
        b"\x60client\x12" + PASSWORD.encode(),  # user length past the end
        b"\x06client",  # length field stops after the user
    ],
)
def test_malformed_pap_request_never_logs_its_password(body: bytes) -> None:
    """Expected: however the lengths lie, and with the password past the packet's
    length field (padding), the debug line shows ``<hidden>``, never the octets."""
    packet = bytes((1, 7, 0, 4 + len(body))) + body
    for frame in (b"\xc0\x23" + packet, b"\xc0\x23" + packet + PASSWORD.encode()):
        line = format_frame(frame)
        secret = PASSWORD.encode()
        assert "<hidden>" in line or "user=" in line, line
        for form in (PASSWORD, secret.hex(" "), secret[:8].hex(" ")):
            assert form not in line, line


# -- UUCP lock files -----------------------------------------------------------------

_RACER = textwrap.dedent("""
    import os, sys, time
    from wanminiport.transports.lockfile import PortLock, PortLockedError
    lock = PortLock(sys.argv[1], sys.argv[2])
    start = float(sys.argv[3])
    while time.time() < start:
        pass
    try:
        lock.acquire()
    except PortLockedError as exc:
        print("refused", exc.owner_pid, flush=True)
    else:
        print("took", os.getpid(), flush=True)
        time.sleep(1.0)
        lock.release()
""")


def test_many_processes_racing_for_a_port_lock_give_it_to_exactly_one(tmp_path: Path) -> None:
    """Expected: 8 processes released at the same instant try to lock one port:
    ``O_CREAT|O_EXCL`` lets exactly one take it and every other is told that
    process's PID; the file holds the winner's PID."""
    import time

    start = time.time() + 1.5
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, "/dev/ttyS7", str(tmp_path), repr(start)],
            stdout=subprocess.PIPE,
            text=True,
            env=python_env(),
        )
        for _ in range(8)
    ]
    time.sleep(max(0.0, start - time.time()) + 0.3)
    lock_file = tmp_path / lock_name("/dev/ttyS7")
    holder = parse_lock_contents(lock_file.read_bytes())
    results = [racer.communicate(timeout=30)[0].split() for racer in racers]
    winners = [int(pid) for verdict, pid in results if verdict == "took"]
    refusals = [int(pid) for verdict, pid in results if verdict == "refused"]
    assert winners == [holder] and len(refusals) == 7
    assert set(refusals) == {holder}
    assert not lock_file.exists()
