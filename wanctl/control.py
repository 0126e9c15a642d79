"""The control socket: how ``wanctl status`` and ``wanctl hangup`` reach a running link.

Each running link listens on ``RUN_DIR/NAME.sock`` (``/run/wanctl`` unless
``$WANCTL_RUN_DIR`` says otherwise).  The socket is mode 0660 with group
``dialout`` when that group exists -- the group that may use serial ports
may control links -- and mode 0600 (its owner, normally root) otherwise.
The server also checks each caller's credentials (SO_PEERCRED): root, the
link's own user and members of the socket's group are served, anyone else
gets a refusal that says why.

Protocol: one JSON object per line each way, requests at most
``MAX_REQUEST_BYTES`` long::

    -> {"cmd": "status"}
    <- {"ok": true, "status": {...}}          (see status.schema.json)
    -> {"cmd": "hangup"}
    <- {"ok": true, "result": "hanging up"}
    -> {"cmd": "hangup", "member": "/dev/ttyUSB1"}   (a multilink bundle: drop one member)
    <- {"ok": true, "result": "dropping member /dev/ttyUSB1"}
    <- {"ok": false, "code": "bad-request", "error": "unknown command 'x'; ..."}

Error codes: ``bad-request`` (not JSON, not an object, unknown command or
field), ``too-long`` (the connection is then closed), ``permission``,
``busy`` (too many clients), ``internal`` (the link's handler failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import inspect
import json
import logging
import os
import pwd
import socket
import stat
import struct
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wanctl.errors import (
    ControlError,
    ControlPermissionError,
    ControlProtocolError,
    LinkNotRunningError,
)
from wanctl.schemacheck import load_schema, validate

log = logging.getLogger(__name__)

RUN_DIR_ENV = "WANCTL_RUN_DIR"
DEFAULT_RUN_DIR = "/run/wanctl"
SOCKET_SUFFIX = ".sock"
DEFAULT_GROUP = "dialout"
MAX_REQUEST_BYTES = 4096
MAX_RESPONSE_BYTES = 1024 * 1024
COMMANDS = ("status", "hangup", "capture")
_SUN_PATH_MAX = 107
_SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)
_LINK_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")

StatusProvider = Callable[[], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
HangupHandler = Callable[[], Awaitable[None] | None]
#: A frame seen on the link: (timestamp, outbound, PPP frame).
FrameSink = Callable[[float, bool, bytes], None]
#: Subscribes a sink to the link's frames; returns the function that unsubscribes it.
CaptureHandler = Callable[[FrameSink], Callable[[], None]]
#: Drops one member of a bundle; returns why it cannot (no such member), else None.
MemberHandler = Callable[[str], str | None]
#: Frames a slow capture client may have queued before newer ones are dropped.
CAPTURE_BACKLOG_BYTES = 1 << 20


def run_dir() -> Path:
    """The directory holding the control sockets."""
    return Path(os.environ.get(RUN_DIR_ENV) or DEFAULT_RUN_DIR)


def check_link_name(link: str) -> str:
    if not link or len(link) > 64 or link[0] in ".-" or not set(link) <= _LINK_CHARS:
        raise ControlError(f"{link!r} is not a link name; use letters, digits, '.', '_' and '-'")
    return link


def socket_path(link: str, directory: Path | None = None) -> Path:
    """Where link ``link``'s control socket lives."""
    path = (directory or run_dir()) / f"{check_link_name(link)}{SOCKET_SUFFIX}"
    if len(os.fsencode(path)) > _SUN_PATH_MAX - 16:
        raise ControlError(
            f"socket path {path} is too long for a Unix socket;"
            f" use a shorter {RUN_DIR_ENV} or link name"
        )
    return path


def control_group(name: str | None = DEFAULT_GROUP) -> int | None:
    """The gid allowed to control links, or None when only root (the owner) may."""
    if name is None:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


@dataclass(frozen=True)
class PeerCredentials:
    """Who is on the other end of a Unix socket (SO_PEERCRED, SO_PEERGROUPS)."""

    pid: int
    uid: int
    gid: int
    groups: tuple[int, ...] = ()


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", data)
    return PeerCredentials(pid, uid, gid, _peer_groups(sock, pid))


def _peer_groups(sock: socket.socket, pid: int) -> tuple[int, ...]:
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERGROUPS, 1024)
        return struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4])
    except OSError:
        pass
    # More groups than fit, or an old kernel: read them from /proc (pid from SO_PEERCRED).
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Groups:"):
                    return tuple(int(g) for g in line.split()[1:])
    except OSError:
        pass
    return ()


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _socket_answers(path: Path, timeout: float = 1.0) -> bool:
    """Whether a process listens on ``path`` (refused: a stale socket)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(os.fspath(path))
        except ConnectionRefusedError:
            return False
        except FileNotFoundError:
            return False
    return True


def _remove_stale(path: Path) -> bool:
    """Unlink ``path`` if it is a socket nobody listens on; True if removed."""
    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode) or _socket_answers(path):
            return False
        path.unlink()
    except (FileNotFoundError, PermissionError):
        return False
    log.info("removed stale control socket %s", path)
    return True


class ControlServer:
    """Serves one link's control socket on the running event loop.

    ``status`` returns the status dict (``link`` and ``pid`` are filled in
    if missing) and ``hangup`` starts the hang-up; either may be a plain
    function or a coroutine function, so the link code plugs in as it is.
    """

    def __init__(
        self,
        link: str,
        status: StatusProvider,
        hangup: HangupHandler,
        *,
        directory: Path | None = None,
        group: str | None = DEFAULT_GROUP,
        max_clients: int = 8,
        idle_timeout: float = 10.0,
        capture: CaptureHandler | None = None,
        drop_member: MemberHandler | None = None,
    ) -> None:
        self.link = check_link_name(link)
        self.directory = directory or run_dir()
        self.path = socket_path(link, self.directory)
        self.group_name = group
        self.gid = control_group(group)
        self.max_clients = max_clients
        self.idle_timeout = idle_timeout
        self._status = status
        self._hangup = hangup
        self._capture = capture
        self._drop_member = drop_member
        self._schema = load_schema("status.schema.json")
        self._server: asyncio.AbstractServer | None = None
        self._inode: int | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        try:
            self.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as exc:
            raise ControlError(
                f"cannot create {self.directory} ({exc.strerror}); run as root"
                f" or point {RUN_DIR_ENV} at a directory you own"
            ) from None
        if os.path.exists(self.path):
            if not stat.S_ISSOCK(os.lstat(self.path).st_mode):
                raise ControlError(f"{self.path} exists and is not a socket; remove it")
            if not _remove_stale(self.path):
                raise ControlError(f"link {self.link!r} is already running ({self.path} answers)")
        # Bind under a temporary name, set mode and group, then rename: the
        # socket never exists under its real name with looser permissions.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(os.fspath(tmp))
            os.chmod(tmp, 0o660 if self.gid is not None else 0o600)
            if self.gid is not None:
                os.chown(tmp, -1, self.gid)
            sock.listen(self.max_clients)
            os.rename(tmp, self.path)
        except OSError as exc:
            sock.close()
            tmp.unlink(missing_ok=True)
            raise ControlError(
                f"cannot create control socket {self.path} ({exc.strerror});"
                f" run as root or point {RUN_DIR_ENV} at a directory you own"
            ) from None
        except BaseException:
            sock.close()
            tmp.unlink(missing_ok=True)
            raise
        self._inode = os.lstat(self.path).st_ino
        self._server = await asyncio.start_unix_server(
            self._serve_client, sock=sock, limit=MAX_REQUEST_BYTES
        )
        log.info("control socket %s ready", self.path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            await asyncio.gather(*self._clients, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            if self._inode is not None and os.lstat(self.path).st_ino == self._inode:
                self.path.unlink()
        self._inode = None

    def authorize(self, creds: PeerCredentials) -> str | None:
        """None if ``creds`` may control the link, else the reason they may not."""
        if creds.uid in (0, os.geteuid()):
            return None
        if self.gid is not None and (creds.gid == self.gid or self.gid in creds.groups):
            return None
        user = _user_name(creds.uid)
        if self.gid is None:
            return (
                f"permission denied: {user} (uid {creds.uid}) is not root and this link's"
                f" socket is for root only (no group {self.group_name!r} here); run as root"
            )
        group = _group_name(self.gid)
        return (
            f"permission denied: {user} (uid {creds.uid}) is neither root nor in group"
            f" {group!r}; run as root or join the group (usermod -aG {group} {user},"
            " then log in again)"
        )

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            await self._conversation(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _conversation(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        async def send(response: Mapping[str, Any]) -> None:
            writer.write(json.dumps(response).encode() + b"\n")
            await writer.drain()

        if len(self._clients) > self.max_clients:
            await send(_error("busy", f"too many clients (at most {self.max_clients})"))
            return
        refusal = self.authorize(peer_credentials(writer.get_extra_info("socket")))
        if refusal is not None:
            log.warning("control socket %s: %s", self.path, refusal)
            await send(_error("permission", refusal))
            return
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), self.idle_timeout)
            except TimeoutError:
                return
            except ValueError:
                await send(_error("too-long", f"request longer than {MAX_REQUEST_BYTES} bytes"))
                return
            if not line:
                return
            if line.strip():
                response = await self.handle_request(line)
                await send(response)
                if response.get("result") == "capturing":
                    await self._stream_frames(reader, writer)
                    return

    async def _stream_frames(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """One JSON line per frame until the client goes away; slow clients lose frames."""
        assert self._capture is not None
        dropped = 0

        def sink(timestamp: float, outbound: bool, frame: bytes) -> None:
            nonlocal dropped
            if writer.transport.get_write_buffer_size() > CAPTURE_BACKLOG_BYTES:
                dropped += 1
                return
            record = {"t": timestamp, "dir": 1 if outbound else 0, "frame": frame.hex()}
            writer.write(json.dumps(record).encode() + b"\n")

        unsubscribe = self._capture(sink)
        try:
            while await reader.read(4096):
                pass
        finally:
            unsubscribe()
            if dropped:
                log.info("capture client too slow: %d frames not sent", dropped)

    async def handle_request(self, line: bytes) -> dict[str, Any]:
        """The response to one request line (exposed for tests)."""
        try:
            request = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            return _error("bad-request", "request is not UTF-8")
        except json.JSONDecodeError as exc:
            return _error(
                "bad-request",
                f'request is not JSON ({exc.msg} at column {exc.colno}); send {{"cmd": "status"}}',
            )
        except RecursionError:
            # json's decoder recurses per nesting level; a request fits 4096 of them.
            return _error("bad-request", 'request is nested too deeply; send {"cmd": "status"}')
        if not isinstance(request, dict):
            return _error("bad-request", 'request must be a JSON object like {"cmd": "status"}')
        cmd = request.get("cmd")
        allowed = {"cmd", "member"} if cmd == "hangup" else {"cmd"}
        extra = sorted(set(request) - allowed)
        if extra:
            return _error("bad-request", f'unexpected field {extra[0]!r}; send only "cmd"')
        if cmd not in COMMANDS:
            what = 'no "cmd"' if cmd is None else f"unknown command {cmd!r}"
            return _error("bad-request", f"{what}; known commands: {', '.join(COMMANDS)}")
        try:
            if cmd == "status":
                return await self._status_response()
            if cmd == "capture":
                if self._capture is None:
                    return _error("bad-request", "this link does not offer capture")
                return {"ok": True, "result": "capturing"}
            if "member" in request:
                return self._member_hangup(request["member"])
            outcome = self._hangup()
            if inspect.isawaitable(outcome):
                await outcome
            return {"ok": True, "result": "hanging up"}
        except Exception as exc:
            log.exception("control socket %s: %s failed", self.path, cmd)
            return _error("internal", f"{cmd} failed: {type(exc).__name__}: {exc}")

    def _member_hangup(self, member: object) -> dict[str, Any]:
        if not isinstance(member, str) or not member:
            return _error("bad-request", '"member" must be a port name such as "/dev/ttyUSB1"')
        if self._drop_member is None:
            return _error("bad-request", f"link {self.link!r} is not a multilink bundle")
        refused = self._drop_member(member)
        if refused is not None:
            return _error("bad-request", refused)
        return {"ok": True, "result": f"dropping member {member}"}

    async def _status_response(self) -> dict[str, Any]:
        result = self._status()
        if inspect.isawaitable(result):
            result = await result
        status = dict(result)
        status.setdefault("link", self.link)
        status.setdefault("pid", os.getpid())
        problems = validate(status, self._schema)
        if problems:
            log.error("status does not match status.schema.json: %s", "; ".join(problems))
            return _error("internal", "status does not match its schema: " + problems[0])
        return {"ok": True, "status": status}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "error": message}


# --- client -----------------------------------------------------------------------------


def list_links(directory: Path | None = None) -> list[str]:
    """Names of the running links; stale sockets (nobody listening) are removed."""
    directory = directory or run_dir()
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return []
    names = []
    for path in entries:
        name = path.name.removesuffix(SOCKET_SUFFIX)
        if not path.name.endswith(SOCKET_SUFFIX) or name.startswith("."):
            continue
        try:
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                continue
        except FileNotFoundError:
            continue
        if _remove_stale(path):
            continue
        names.append(name)
    return names


def request(
    link: str, message: Mapping[str, Any], directory: Path | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """Send one request to a link and return its response object (``ok`` true or false)."""
    path = socket_path(link, directory)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(os.fspath(path))
        except FileNotFoundError:
            raise LinkNotRunningError(f"link {link!r} is not running (no {path})") from None
        except ConnectionRefusedError:
            _remove_stale(path)
            raise LinkNotRunningError(
                f"link {link!r} is not running (stale socket {path} removed)"
            ) from None
        except PermissionError:
            raise ControlPermissionError(_no_access(path)) from None
        except TimeoutError:
            raise ControlError(f"link {link!r} did not accept within {timeout:g} s") from None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            # A refused client may find the socket closed; the refusal is still readable.
            sock.sendall(json.dumps(message).encode() + b"\n")
        return _read_response(sock, link, timeout)


def _no_access(path: Path) -> str:
    try:
        group = _group_name(os.stat(path).st_gid)
    except OSError:
        group = DEFAULT_GROUP
    user = _user_name(os.getuid())
    return (
        f"permission denied on {path}: run as root or join group {group!r}"
        f" (usermod -aG {group} {user}, then log in again)"
    )


def _read_response(sock: socket.socket, link: str, timeout: float) -> dict[str, Any]:
    data = bytearray()
    while b"\n" not in data:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise ControlError(f"link {link!r} did not answer within {timeout:g} s") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_RESPONSE_BYTES:
            raise ControlProtocolError(f"link {link!r} sent more than {MAX_RESPONSE_BYTES} bytes")
    line = bytes(data).split(b"\n", 1)[0]
    if not line:
        raise ControlProtocolError(f"link {link!r} closed the connection without answering")
    try:
        response = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ControlProtocolError(f"link {link!r} answered something that is not JSON") from None
    if not isinstance(response, dict) or not isinstance(response.get("ok"), bool):
        raise ControlProtocolError(f'link {link!r} answered without an "ok" member')
    if not response["ok"] and response.get("code") == "permission":
        raise ControlPermissionError(str(response.get("error", "permission denied")))
    return response


def _checked(response: dict[str, Any], link: str) -> dict[str, Any]:
    if not response["ok"]:
        raise ControlError(f"link {link!r}: {response.get('error', 'request failed')}")
    return response


def status(link: str, directory: Path | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """The status of a running link (the schema of status.schema.json)."""
    response = _checked(request(link, {"cmd": "status"}, directory, timeout), link)
    result = response.get("status")
    if not isinstance(result, dict):
        raise ControlProtocolError(f"link {link!r} answered status without a status object")
    return result


def hangup(
    link: str, directory: Path | None = None, timeout: float = 5.0, *, member: str | None = None
) -> None:
    """Ask a running link to hang up (or, for a bundle, to drop ``member``); returns
    once the link has accepted the request."""
    message: dict[str, Any] = {"cmd": "hangup"}
    if member is not None:
        message["member"] = member
    _checked(request(link, message, directory, timeout), link)


def hangup_all(directory: Path | None = None, timeout: float = 5.0) -> dict[str, str | None]:
    """Hang up every running link: name -> None when accepted, else the error message."""
    results: dict[str, str | None] = {}
    for link in list_links(directory):
        try:
            hangup(link, directory, timeout)
            results[link] = None
        except ControlError as exc:
            results[link] = str(exc)
    return results


__all__ = [
    "COMMANDS",
    "DEFAULT_GROUP",
    "DEFAULT_RUN_DIR",
    "MAX_REQUEST_BYTES",
    "RUN_DIR_ENV",
    "ControlServer",
    "PeerCredentials",
    "control_group",
    "hangup",
    "hangup_all",
    "list_links",
    "peer_credentials",
    "request",
    "run_dir",
    "socket_path",
    "status",
]


def capture_frames(
    link: str, directory: Path | None = None, timeout: float = 5.0
) -> Iterator[tuple[float, bool, bytes]]:
    """Frames of a running link as they pass: (timestamp, outbound, PPP frame)."""
    path = socket_path(link, directory)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(os.fspath(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise LinkNotRunningError(f"link {link!r} is not running (no {path})") from None
        except PermissionError:
            raise ControlPermissionError(_no_access(path)) from None
        sock.sendall(b'{"cmd": "capture"}\n')
        stream = sock.makefile("rb")
        first = json.loads(stream.readline() or b"{}")
        if not first.get("ok"):
            raise ControlError(first.get("error", f"link {link!r} refused the capture"))
        sock.settimeout(None)
        for line in stream:
            record = json.loads(line)
            yield float(record["t"]), record["dir"] == 1, bytes.fromhex(record["frame"])
