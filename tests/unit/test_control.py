"""The control socket: status/hangup over JSON lines, permissions, malformed requests."""

import asyncio
import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wanctl import control
from wanctl.control import ControlServer, PeerCredentials
from wanctl.errors import (
    ControlError,
    ControlPermissionError,
    ControlProtocolError,
    LinkNotRunningError,
)
from wanctl.schemacheck import load_schema, validate

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534
DIALOUT = control.control_group("dialout")


def sample_status() -> dict[str, Any]:
    return {
        "phase": "running",
        "device": "/dev/ttyUSB0",
        "speed": 115200,
        "uptime": 12.5,
        "interface": "wan0",
        "ipv4": {"local": "10.0.0.1", "remote": "10.0.0.2"},
        "ipv6": {"local_id": "0:0:0:1", "remote_id": "a1b2:c3d4:e5f6:789"},
        "bytes": {"sent": 1000, "received": 2000},
        "frames": {"sent": 10, "received": 20},
        "errors": {"crc": 1, "framing": 0, "overruns": 0, "dropped": 2},
        "send_window": {"size": 4, "outstanding": 1},
        "compression": {
            "send": "Deflate (15)",
            "receive": "Deflate (15)",
            "sent": {"before": 3000, "after": 1000},
            "received": {"before": 2800, "after": 1400},
            "failures": 0,
            "resets": 0,
            "vj": {"send": True, "receive": True},
        },
    }


class RunningServer:
    """A ControlServer on its own event loop in a thread, as a link process would run it."""

    def __init__(
        self,
        link: str,
        directory: Path,
        status: Callable[[], Any] = sample_status,
        hangup: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.hangups = 0
        self.loop = asyncio.new_event_loop()
        self.server = ControlServer(
            link, status, hangup or self._count_hangup, directory=directory, **kwargs
        )
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def _count_hangup(self) -> None:
        self.hangups += 1

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def run_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Under /tmp with mode 0755 so a child running as nobody can reach the socket.
    path = Path(tempfile.mkdtemp(prefix="wanctl-run-", dir="/tmp"))
    path.chmod(0o755)
    monkeypatch.setenv(control.RUN_DIR_ENV, str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def link(run_dir: Path) -> Iterator[RunningServer]:
    server = RunningServer("lab", run_dir)
    yield server
    server.stop()


def _exchange(path: Path, data: bytes, responses: int = 1, timeout: float = 5.0) -> list[Any]:
    """Send raw bytes, read ``responses`` lines (fewer if the server closes)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            # A refused client may find the socket closed; the refusal is still readable.
            sock.sendall(data)
        buf = b""
        while buf.count(b"\n") < responses:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
    return [json.loads(line) for line in buf.splitlines()]


# --- status and hangup ---------------------------------------------------------------


def test_status_round_trip_conforms_to_the_schema(link: RunningServer) -> None:
    result = control.status("lab")
    assert validate(result, load_schema("status.schema.json")) == []
    assert result["link"] == "lab" and result["pid"] == os.getpid()
    assert {k: v for k, v in result.items() if k not in ("link", "pid")} == sample_status()


def test_hangup_runs_the_links_handler(link: RunningServer) -> None:
    control.hangup("lab")
    assert link.hangups == 1


def test_coroutine_handlers_are_awaited(run_dir: Path) -> None:
    calls: list[str] = []

    async def status() -> dict[str, Any]:
        await asyncio.sleep(0)
        return {**sample_status(), "phase": "establish"}

    async def hangup() -> None:
        await asyncio.sleep(0)
        calls.append("hangup")

    server = RunningServer("async", run_dir, status=status, hangup=hangup)
    try:
        assert control.status("async")["phase"] == "establish"
        control.hangup("async")
        assert calls == ["hangup"]
    finally:
        server.stop()


def test_hangup_all_reaches_every_running_link(run_dir: Path) -> None:
    servers = [RunningServer(name, run_dir) for name in ("a", "b", "c")]
    try:
        assert control.list_links() == ["a", "b", "c"]
        assert control.hangup_all() == {"a": None, "b": None, "c": None}
        assert [s.hangups for s in servers] == [1, 1, 1]
    finally:
        for server in servers:
            server.stop()
    assert control.list_links() == [] and list(run_dir.iterdir()) == []


@pytest.mark.skipif(DIALOUT is None, reason="no dialout group on this system")
def test_socket_is_mode_0660_with_group_dialout(link: RunningServer) -> None:
    st = os.stat(control.socket_path("lab"))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_gid == DIALOUT


def test_socket_is_owner_only_without_the_group(run_dir: Path) -> None:
    server = RunningServer("solo", run_dir, group="no-such-group-wanctl")
    try:
        st = os.stat(control.socket_path("solo"))
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.geteuid()
        assert server.server.gid is None
    finally:
        server.stop()


# --- running, stale and missing links ---------------------------------------------------


def _stale_socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # the file stays; nobody listens


def test_list_links_removes_stale_sockets_and_ignores_other_files(
    link: RunningServer, run_dir: Path
) -> None:
    _stale_socket(run_dir / "dead.sock")
    (run_dir / "notes.sock").write_text("a regular file, not ours to delete")
    (run_dir / "readme.txt").write_text("x")
    assert control.list_links() == ["lab"]
    assert not (run_dir / "dead.sock").exists()
    assert (run_dir / "notes.sock").exists()


def test_second_server_for_a_running_link_is_refused(link: RunningServer, run_dir: Path) -> None:
    with pytest.raises(ControlError, match="link 'lab' is already running"):
        asyncio.run(ControlServer("lab", sample_status, lambda: None, directory=run_dir).start())
    assert control.status("lab")["link"] == "lab"


def test_stale_socket_is_replaced_when_a_link_starts(run_dir: Path) -> None:
    _stale_socket(run_dir / "lab.sock")
    server = RunningServer("lab", run_dir)
    try:
        assert control.status("lab")["phase"] == "running"
    finally:
        server.stop()


def test_file_in_the_sockets_place_is_not_removed(run_dir: Path) -> None:
    (run_dir / "lab.sock").write_text("keep me")
    with pytest.raises(ControlError, match="exists and is not a socket; remove it"):
        asyncio.run(ControlServer("lab", sample_status, lambda: None, directory=run_dir).start())
    assert (run_dir / "lab.sock").read_text() == "keep me"


def test_run_directory_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    server = ControlServer("lab", sample_status, lambda: None, directory=blocker / "run")
    with pytest.raises(ControlError, match=r"cannot create .*/file/run .*WANCTL_RUN_DIR"):
        asyncio.run(server.start())


def test_status_of_a_link_that_is_not_running(run_dir: Path) -> None:
    with pytest.raises(LinkNotRunningError, match=r"link 'isp' is not running \(no "):
        control.status("isp")
    _stale_socket(run_dir / "isp.sock")
    with pytest.raises(LinkNotRunningError, match=r"stale socket .* removed"):
        control.hangup("isp")
    assert not (run_dir / "isp.sock").exists()


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "-x", "sp ace", "x" * 65])
def test_bad_link_names_are_refused(name: str) -> None:
    with pytest.raises(ControlError, match="is not a link name"):
        control.socket_path(name)


def test_socket_path_too_long_for_unix_sockets_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="too long for a Unix socket"):
        control.socket_path("lab", tmp_path / ("d" * 100))


# --- malformed requests ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"status\n", "request is not JSON (Expecting value at column 1)"),
        (b'{"cmd": "status"\n', "request is not JSON"),
        (b"[1, 2]\n", "request must be a JSON object"),
        (b'"status"\n', "request must be a JSON object"),
        (b"{}\n", 'no "cmd"; known commands: status, hangup'),
        (b'{"cmd": "reboot"}\n', "unknown command 'reboot'; known commands: status, hangup"),
        (b'{"cmd": 1}\n', "unknown command 1"),
        (b'{"cmd": "status", "verbose": true}\n', "unexpected field 'verbose'"),
        (b'{"cmd": "st\xffatus"}\n', "request is not UTF-8"),
    ],
)
def test_malformed_request_gets_an_error_and_the_connection_stays_usable(
    link: RunningServer, line: bytes, expected: str
) -> None:
    bad, good = _exchange(control.socket_path("lab"), line + b'{"cmd": "status"}\n', 2)
    assert bad == {"ok": False, "code": "bad-request", "error": bad["error"]}
    assert expected in bad["error"]
    assert good["ok"] and good["status"]["link"] == "lab"
    assert link.hangups == 0


def test_oversize_request_is_refused_and_the_connection_closed(link: RunningServer) -> None:
    line = b'{"cmd": "status", "pad": "' + b"x" * control.MAX_REQUEST_BYTES + b'"}\n'
    responses = _exchange(control.socket_path("lab"), line + b'{"cmd": "hangup"}\n', 2)
    assert responses == [
        {
            "ok": False,
            "code": "too-long",
            "error": f"request longer than {control.MAX_REQUEST_BYTES} bytes",
        }
    ]
    assert link.hangups == 0


def test_blank_lines_are_ignored_and_requests_answered_in_order(link: RunningServer) -> None:
    replies = _exchange(
        control.socket_path("lab"), b'\n{"cmd": "status"}\n  \n{"cmd": "hangup"}\n', 2
    )
    assert replies[0]["status"]["link"] == "lab"
    assert replies[1] == {"ok": True, "result": "hanging up"}


def test_status_that_breaks_the_schema_is_reported_not_sent(run_dir: Path) -> None:
    broken = {**sample_status(), "speed": "fast"}
    server = RunningServer("bad", run_dir, status=lambda: broken)
    try:
        with pytest.raises(ControlError, match=r"status does not match its schema: \$.speed"):
            control.status("bad")
    finally:
        server.stop()


def test_failing_handler_is_reported_and_the_server_survives(run_dir: Path) -> None:
    def hangup() -> None:
        raise RuntimeError("modem not answering")

    server = RunningServer("flaky", run_dir, hangup=hangup)
    try:
        with pytest.raises(ControlError, match="hangup failed: RuntimeError: modem not answering"):
            control.hangup("flaky")
        assert control.status("flaky")["phase"] == "running"
    finally:
        server.stop()


def test_clients_beyond_the_limit_are_told_busy(run_dir: Path) -> None:
    server = RunningServer("one", run_dir, max_clients=1)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as first:
            first.connect(str(control.socket_path("one")))
            first.sendall(b'{"cmd": "status"}\n')
            first.recv(65536)  # served, and still connected
            second = _exchange(control.socket_path("one"), b'{"cmd": "status"}\n')
            assert second == [
                {"ok": False, "code": "busy", "error": "too many clients (at most 1)"}
            ]
    finally:
        server.stop()


def test_idle_client_is_disconnected(run_dir: Path) -> None:
    server = RunningServer("idle", run_dir, idle_timeout=0.2)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(control.socket_path("idle")))
            started = time.monotonic()
            assert sock.recv(1) == b""
            assert time.monotonic() - started < 4
    finally:
        server.stop()


# --- client side of bad responses ---------------------------------------------------------


@contextlib.contextmanager
def _fake_link(run_dir: Path, answer: bytes) -> Iterator[None]:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(run_dir / "fake.sock"))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(5)
        listener.close()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"hello\n", "answered something that is not JSON"),
        (b'{"status": {}}\n', 'answered without an "ok" member'),
        (b"", "closed the connection without answering"),
        (b'{"ok": true}\n', "answered status without a status object"),
    ],
)
def test_malformed_response_is_a_protocol_error(
    run_dir: Path, answer: bytes, expected: str
) -> None:
    with _fake_link(run_dir, answer), pytest.raises(ControlProtocolError, match=expected):
        control.status("fake")


def test_permission_refusal_from_the_server_raises_permission_error(run_dir: Path) -> None:
    refusal = b'{"ok": false, "code": "permission", "error": "permission denied: nope"}\n'
    with _fake_link(run_dir, refusal), pytest.raises(ControlPermissionError) as info:
        control.hangup("fake")
    assert str(info.value) == "permission denied: nope" and info.value.exit_code == 3


# --- who may control a link ----------------------------------------------------------------


def test_peer_credentials_are_the_connecting_process() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        creds = control.peer_credentials(left)
    assert (creds.pid, creds.uid, creds.gid) == (os.getpid(), os.getuid(), os.getgid())
    assert set(os.getgroups()) <= set(creds.groups)


@pytest.mark.skipif(DIALOUT is None, reason="no dialout group on this system")
def test_authorize_allows_root_owner_and_group_members_only(run_dir: Path) -> None:
    server = ControlServer("x", sample_status, lambda: None, directory=run_dir)
    assert server.authorize(PeerCredentials(1, 0, 0)) is None
    assert server.authorize(PeerCredentials(1, os.geteuid(), 1)) is None
    assert server.authorize(PeerCredentials(1, 4321, DIALOUT or 0)) is None
    assert server.authorize(PeerCredentials(1, 4321, 4321, (100, DIALOUT or 0))) is None
    refusal = server.authorize(PeerCredentials(1, 4321, 4321, (100,)))
    assert refusal is not None and refusal.startswith("permission denied: 4321 (uid 4321)")
    assert "usermod -aG dialout 4321" in refusal
    owner_only = ControlServer(
        "y", sample_status, lambda: None, directory=run_dir, group="no-such-group-wanctl"
    )
    refusal = owner_only.authorize(PeerCredentials(1, 4321, DIALOUT or 0, (DIALOUT or 0,)))
    assert refusal is not None and "for root only" in refusal


CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from wanctl import control
from wanctl.errors import WanctlError
try:
    print(json.dumps({"status": control.status(sys.argv[2])}))
except WanctlError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc),
                      "exit": int(exc.exit_code)}))
"""


def _as_nobody(run_dir: Path, link: str, groups: str) -> dict[str, Any]:
    """Run ``control.status(link)`` in a child process as user nobody."""
    group_args = ["--clear-groups"] if not groups else [f"--groups={groups}"]
    result = subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            *group_args,
            sys.executable,
            "-c",
            CHILD,
            str(REPO),
            link,
        ],
        env={
            control.RUN_DIR_ENV: str(run_dir),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


needs_root_and_dialout = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None or DIALOUT is None,
    reason="needs root, setpriv and a dialout group",
)


@needs_root_and_dialout
def test_user_outside_the_group_cannot_reach_the_socket(link: RunningServer, run_dir: Path) -> None:
    answer = _as_nobody(run_dir, "lab", groups="")
    assert answer["error"] == "ControlPermissionError" and answer["exit"] == 3
    assert answer["message"].startswith(
        f"permission denied on {run_dir}/lab.sock: run as root or join group 'dialout'"
    )


@needs_root_and_dialout
def test_group_member_is_served(link: RunningServer, run_dir: Path) -> None:
    answer = _as_nobody(run_dir, "lab", groups=str(DIALOUT))
    assert answer["status"]["link"] == "lab"


@needs_root_and_dialout
def test_server_refuses_peer_outside_the_group_even_when_the_socket_is_open(
    link: RunningServer, run_dir: Path
) -> None:
    # A socket whose mode was loosened by mistake: the credential check still holds.
    os.chmod(control.socket_path("lab"), 0o666)
    answer = _as_nobody(run_dir, "lab", groups="")
    assert answer["error"] == "ControlPermissionError" and answer["exit"] == 3
    assert answer["message"] == (
        "permission denied: nobody (uid 65534) is neither root nor in group 'dialout'; run as"
        " root or join the group (usermod -aG dialout nobody, then log in again)"
    )
    assert link.hangups == 0 and control.status("lab")["link"] == "lab"


@needs_root_and_dialout
def test_owner_only_link_refuses_group_members(run_dir: Path) -> None:
    server = RunningServer("solo", run_dir, group="no-such-group-wanctl")
    try:
        os.chmod(control.socket_path("solo"), 0o666)
        answer = _as_nobody(run_dir, "solo", groups=str(DIALOUT))
        assert answer["error"] == "ControlPermissionError"
        assert "socket is for root only" in answer["message"]
    finally:
        server.stop()


def test_control_client_does_not_load_the_link_stack() -> None:
    probe = (
        "import sys, wanctl.control; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('wanminiport', 'ndiswan', 'hw')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Only the exit-code table, which lives at the bottom layer and is pure data.
    assert result.stdout.strip() == "['wanminiport', 'wanminiport.exitcodes']"


def test_package_exports_resolve() -> None:
    import wanctl

    for name in wanctl.__all__:
        assert getattr(wanctl, name) is not None, name
    with pytest.raises(AttributeError):
        _ = wanctl.no_such_name
    assert sorted(wanctl.__all__) == sorted(wanctl._EXPORTS)


def test_hangup_of_one_member_reaches_the_bundles_handler(run_dir: Path) -> None:
    dropped: list[str] = []

    def drop(member: str) -> str | None:
        if member != "/dev/ttyUSB1":
            return f"no member {member!r}"
        dropped.append(member)
        return None

    server = RunningServer("bundle", run_dir, drop_member=drop)
    try:
        control.hangup("bundle", member="/dev/ttyUSB1")
        assert dropped == ["/dev/ttyUSB1"] and server.hangups == 0
        with pytest.raises(ControlError, match="no member '/dev/ttyUSB9'"):
            control.hangup("bundle", member="/dev/ttyUSB9")
        bad, good = _exchange(
            control.socket_path("bundle"),
            b'{"cmd": "hangup", "member": 3}\n{"cmd": "status", "member": "x"}\n',
            2,
        )
        assert '"member" must be a port name' in bad["error"]
        assert "unexpected field 'member'" in good["error"]
    finally:
        server.stop()


def test_member_hangup_on_a_single_link_is_refused(link: RunningServer) -> None:
    with pytest.raises(ControlError, match="is not a multilink bundle"):
        control.hangup("lab", member="/dev/ttyUSB1")
    assert link.hangups == 0
