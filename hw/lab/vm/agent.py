"""The host side of the guest command agent's wire format (see ``agent.sh``).

Sans-I/O: ``encode_request`` makes the bytes to send, ``ReplyParser`` is fed
whatever the control port delivered and yields the reply once it is
complete.  Bytes outside the markers (a banner, a stray background writer)
are discarded, and a reply is recognised only by its request's random id.
"""

from __future__ import annotations

import base64
import math
import re
import secrets
from dataclasses import dataclass

#: The guest agent's greeting, sent each time it (re)opens the port.
READY_BANNER = b"@@READY\n"


def new_request_id() -> str:
    return secrets.token_hex(8)


def encode_request(request_id: str, code: str, timeout: float) -> bytes:
    """One request line: the guest runs ``code`` with ``sh -c`` for at most ``timeout`` s."""
    seconds = max(1, math.ceil(timeout))
    payload = base64.b64encode(code.encode()).decode()
    return f"{request_id} {seconds} {payload}\n".encode()


@dataclass(frozen=True)
class Reply:
    """A finished command: its exit status, combined output and whether the guest killed it."""

    status: int
    output: bytes
    timed_out: bool


class ReplyParser:
    """Finds the reply to one request in the control port's byte stream.

    The agent acknowledges a request as soon as it has read it (``@@A id``),
    and sends ``@@B id``, the output and ``@@E id status timed-out`` once the
    command has ended.  A greeting between the two means the agent died and
    a new one took over: that answer will never come.
    """

    def __init__(self, request_id: str) -> None:
        self._ack = f"@@A {request_id}\n".encode()
        self._begin = f"@@B {request_id}\n".encode()
        self._end = re.compile(rb"\n@@E " + request_id.encode() + rb" (-?\d+) ([01])\n")
        self._buffer = b""
        self._accepted = False
        self._started = False
        self.agent_restarted = False

    def _skip_to(self, marker: bytes) -> bool:
        position = self._buffer.find(marker)
        if position < 0:
            return False
        self._buffer = self._buffer[position + len(marker) :]
        return True

    def feed(self, data: bytes) -> Reply | None:
        self._buffer += data
        if not self._accepted:
            if not self._skip_to(self._ack):
                # Keep only a tail that could still be the start of the marker.
                self._buffer = self._buffer[-len(self._ack) :]
                return None
            self._accepted = True
        if not self._started:
            begin = self._buffer.find(self._begin)
            greeting = self._buffer.find(READY_BANNER)
            if greeting >= 0 and (begin < 0 or greeting < begin):
                self.agent_restarted = True
                return None
            if begin < 0:
                return None
            self._skip_to(self._begin)
            self._started = True
        match = self._end.search(self._buffer)
        if match is None:
            return None
        return Reply(int(match.group(1)), self._buffer[: match.start()], match.group(2) == b"1")

    @property
    def partial_output(self) -> bytes:
        return self._buffer if self._started else b""
