"""Seeds for the fuzzers: what real pppd, chat and modems put on a line, and real config files.

* ``wire_streams`` -- the async HDLC bytes real pppd 2.4.9 sent in the
  interop VM: a CHAP link (``tests/interop/data``) and a PAP link with
  echoes, Naks and Rejects (``tests/fuzz/data``).
* ``capture_frames`` -- those streams cut into PPP frames (from the protocol
  field on), for frame-level mutation.
* ``MODEM_OUTPUT`` -- result and information lines as Hayes modems send them.
* ``chat_scripts`` / ``peers_files`` -- the pppd configuration files kept
  as test data (``tests/data/pppd_peers``).
* ``PROFILES`` -- profiles in the documented format.
"""

from __future__ import annotations

import functools
from pathlib import Path

from wanminiport.framing import PppAsyncFramer
from wanminiport.info import LinkInfo

_TESTS = Path(__file__).resolve().parent.parent
CAPTURE_DIRS = (_TESTS / "interop" / "data", _TESTS / "fuzz" / "data")
PPPD_FILES = _TESTS / "data" / "pppd_peers" / "etc"


@functools.cache
def wire_streams() -> dict[str, bytes]:
    """Each recorded direction's bytes, by file name."""
    streams = {
        path.name: path.read_bytes()
        for directory in CAPTURE_DIRS
        for path in sorted(directory.glob("*.bin"))
    }
    if not streams:
        raise FileNotFoundError(f"no pppd captures (*.bin) in {CAPTURE_DIRS}")
    return streams


@functools.cache
def capture_frames() -> tuple[bytes, ...]:
    """Every frame of every capture with a good FCS, protocol field onward."""
    frames: list[bytes] = []
    for stream in wire_streams().values():
        # pppd sends with ACCM 0 once LCP is up: keep control characters.
        frames += PppAsyncFramer(LinkInfo(recv_accm=0)).decode(stream)
    return tuple(frames)


MODEM_OUTPUT: tuple[bytes, ...] = (
    b"\r\nOK\r\n",
    b"ATZ\r\r\nOK\r\n",
    b"AT&F E0 V1 S0=0 &C1 &D2\r\r\nOK\r\n",
    b"\r\nRING\r\n\r\nRING\r\n",
    b"\r\nCONNECT\r\n",
    b"\r\nCONNECT 115200\r\n~\xff}#\xc0!}!}!} }8",
    b"\r\nCONNECT 33600/ARQ/V34/LAPM/V42BIS\r\n",
    b"\r\nCARRIER 28800\r\n\r\nPROTOCOL: LAPM\r\n\r\nCONNECT 57600\r\n",
    b"\r\nNO CARRIER\r\n",
    b"\r\nBUSY\r\n",
    b"\r\nNO DIALTONE\r\n",
    b"\r\nNO DIAL TONE\r\n",
    b"\r\nNO ANSWER\r\n",
    b"\r\nERROR\r\n",
    b"\r\nDELAYED\r\n",
    b"0\r",
    b"1\r",
    b"3\r",
    b"ATI3\r\r\nU.S. Robotics 56K FAX EXT V4.6.8\r\n\r\nOK\r\n",
    b"+++",
    b"\r\nVOICE\r\n",
)


@functools.cache
def chat_scripts() -> tuple[str, ...]:
    return tuple(p.read_text() for p in sorted((PPPD_FILES / "chatscripts").iterdir()))


@functools.cache
def peers_files() -> tuple[str, ...]:
    files = sorted((PPPD_FILES / "ppp" / "peers").iterdir())
    return tuple(p.read_text() for p in [*files, PPPD_FILES / "ppp" / "options.office"])


PROFILES: tuple[str, ...] = (
    'device = "/dev/ttyUSB0"\nbaud = 115200\nflow = "crtscts"\nuser = "jdoe"\n'
    "require-chap = false\nusepeerdns = true\nlcp-echo-interval = 30\n",
    'device = "/dev/ttyS0"\nnumber = "5551234"\ninit = "ATZ"\npersist = true\n'
    "holdoff = 20\nmaxfail = 0\nescape = [0x11, 0x13]\nasyncmap = 0x000a0000\n",
    "connect = '''\nABORT BUSY\n'' ATZ\nOK ATDT\\T\nCONNECT ''\n'''\nmru = 296\n"
    'ip = "10.0.0.1:10.0.0.2"\nms-dns = ["10.0.0.53", "10.0.0.54"]\nipv6 = true\n',
    'device = "socket://localhost:7000"\nbaud = 12345\nframing = "slip"\n'
    'local-ip = "10.1.0.1"\nremote-ip = "10.1.0.2"\n',
)
