"""pppd's packet dump format: ``sent [LCP ConfReq id=0x1 <asyncmap 0x0> ...]``.

People debugging a link compare our log with pppd's, so this reproduces the
way pppd 2.4.9 prints packets in its debug log (``format_packet`` and each
protocol's ``printpkt``), quirks included: option lists stop at the first
option whose length lies, unknown options print as ``< 0d 03 06>``, LCP
shows at most 32 trailing octets, CCP's Terminate reason has no leading
space.  The one deliberate difference: a PAP password is never printed
(pppd's ``hide-password`` default), and options with a short length are
shown as bytes instead of reading past their end.

Pure functions of bytes; never raises on malformed input.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from ndiswan.ppp.constants import CHAP_MD5, CHAP_MSCHAP, CHAP_MSCHAP_V2, HEADER_LEN, Proto
from ndiswan.ppp.multilink.endpoint import MAX_ADDRESS, endpoint_text

_HEX_LIMIT = 32


def hex_bytes(data: bytes, limit: int | None = _HEX_LIMIT) -> str:
    """pppd's ``%.*B``: `` 01 02 03``, cut to ``limit`` octets followed by `` ...``."""
    if limit is not None and len(data) > limit:
        return "".join(f" {b:02x}" for b in data[:limit]) + " ..."
    return "".join(f" {b:02x}" for b in data)


def quoted(data: bytes) -> str:
    """pppd's ``print_string``: double quotes, C escapes, octal for the rest."""
    out = ['"']
    for b in data:
        if 0x20 <= b <= 0x7E:
            ch = chr(b)
            out.append("\\" + ch if ch in '\\"' else ch)
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x09:
            out.append("\\t")
        else:
            out.append(f"\\{b:03o}")
    out.append('"')
    return "".join(out)


def visible(data: bytes) -> str:
    """pppd's ``%v``: high bit as ``M-``, control characters as ``^X``."""
    out = []
    for b in data:
        if b >= 0x80:
            out.append("M-")
            b -= 0x80
        if b < 0x20 or b == 0x7F:
            out.append("\t" if b == 0x09 else "^" + chr(b ^ 0x40))
        else:
            out.append(chr(b))
    return "".join(out)


def q_text(text: str) -> str:
    """pppd's ``%q`` (no surrounding quotes): backslash before quote and backslash."""
    out = []
    for ch in text:
        c = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif c < 0x20 or 0x7F <= c < 0xA0:
            named = {0x09: "\\t", 0x0A: "\\n", 0x08: "\\b", 0x0C: "\\f"}
            out.append(named.get(c, f"\\x{c:02x}"))
        else:
            out.append(ch)
    return "".join(out)


def _ip(data: bytes) -> str:
    return str(ipaddress.IPv4Address(data[:4]))


# -- option printers: (type, whole option) -> (text, octets consumed) --------

OptionPrinter = Callable[[int, bytes], tuple[str, int]]


def _lcp_option(kind: int, opt: bytes) -> tuple[str, int]:
    n = len(opt)
    if kind in (1, 17) and n == 4:
        return f"{'mru' if kind == 1 else 'mrru'} {int.from_bytes(opt[2:4], 'big')}", 4
    if kind == 2 and n == 6:
        return f"asyncmap 0x{int.from_bytes(opt[2:6], 'big'):x}", 6
    if kind == 5 and n == 6:
        return f"magic 0x{int.from_bytes(opt[2:6], 'big'):x}", 6
    if kind == 3 and n >= 4:
        proto = int.from_bytes(opt[2:4], "big")
        if proto == Proto.PAP:
            return "auth pap", 4
        if proto == Proto.EAP:
            return "auth eap", 4
        if proto != Proto.CHAP:
            return f"auth 0x{proto:x}", 4
        names = {CHAP_MD5: " MD5", CHAP_MSCHAP: " MS", CHAP_MSCHAP_V2: " MS-v2"}
        if n > 4 and opt[4] in names:
            return "auth chap" + names[opt[4]], 5
        return "auth chap", 4
    if kind == 4 and n >= 4:
        proto = int.from_bytes(opt[2:4], "big")
        return ("quality lqr" if proto == Proto.LQR else f"quality 0x{proto:x}"), 4
    if kind == 13 and n >= 3:
        return ("callback CBCP" if opt[2] == 6 else f"callback 0x{opt[2]:x}"), 3
    if kind in (7, 8, 18) and n == 2:
        return {7: "pcomp", 8: "accomp", 18: "ssnhf"}[kind], 2
    if kind == 19 and n >= 3:
        # pppd prints at most MAX_ENDP_LEN octets of the address, the rest in hex.
        address = opt[3 : 3 + MAX_ADDRESS]
        return f"endpoint [{endpoint_text(opt[2], address)}]", 3 + len(address)
    return "", 0


def _ipcp_option(kind: int, opt: bytes) -> tuple[str, int]:
    n = len(opt)
    if kind == 1 and n == 10:
        return f"addrs {_ip(opt[2:6])} {_ip(opt[6:10])}", 10
    if kind == 2 and n >= 4:
        proto = int.from_bytes(opt[2:4], "big")
        name = {0x002D: "VJ", 0x0037: "old-VJ"}.get(proto, f"0x{proto:x}")
        return f"compress {name}", 4
    if kind == 3 and n == 6:
        return f"addr {_ip(opt[2:6])}", 6
    if kind in (129, 131) and n >= 6:
        return f"ms-dns{1 if kind == 129 else 2} {_ip(opt[2:6])}", 6
    if kind in (130, 132) and n >= 6:
        return f"ms-wins {_ip(opt[2:6])}", 6
    return "", 0


def interface_id_text(ifid: bytes) -> str:
    """pppd's ``llv6_ntoa``: ``fe80::0211:22ff:fe33:4455`` (zero-padded groups)."""
    b = ifid[:8].rjust(8, b"\0")
    return "fe80::" + ":".join(f"{b[i]:02x}{b[i + 1]:02x}" for i in range(0, 8, 2))


def _ipv6cp_option(kind: int, opt: bytes) -> tuple[str, int]:
    if kind == 2 and len(opt) >= 4:
        return f"compress 0x{int.from_bytes(opt[2:4], 'big'):x}", 4
    if kind == 1 and len(opt) == 10:
        return f"addr {interface_id_text(opt[2:10])}", 10
    return "", 0


def _ccp_option(kind: int, opt: bytes) -> tuple[str, int]:
    n = len(opt)
    if kind in (24, 26) and n >= 4:
        text = f"deflate{'(old#)' if kind == 24 else ''} {(opt[2] >> 4) + 8}"
        if opt[2] & 0x0F != 8:
            text += f" method {opt[2] & 0x0F}"
        if opt[3] != 0:
            text += f" check {opt[3]}"
        return text, 4
    if kind == 21 and n >= 3:
        return f"bsd v{opt[2] >> 5} {opt[2] & 0x1F}", 3
    if kind in (1, 2) and n >= 2:
        return f"predictor {kind}", 2
    if kind == 18 and n >= 6:  # pppd: <mppe +H -M +S -L -D -C>
        bits = int.from_bytes(opt[2:6], "big")
        flags = (("H", 0x01000000), ("M", 0x80), ("S", 0x40), ("L", 0x20), ("D", 0x10), ("C", 1))
        return "mppe " + " ".join(("+" if bits & bit else "-") + name for name, bit in flags), 6
    return "", 0


# -- packet printers: body -> (text, octets consumed) -----------------------

_CP_NAMES = ("ConfReq", "ConfAck", "ConfNak", "ConfRej", "TermReq", "TermAck", "CodeRej")
_LCP_NAMES = (*_CP_NAMES, "ProtRej", "EchoReq", "EchoRep", "DiscReq", "Ident", "TimeRem")
_CCP_NAMES = {**dict(enumerate(_CP_NAMES, 1)), 14: "ResetReq", 15: "ResetAck"}


def _header(body: bytes) -> tuple[int, int, int] | None:
    if len(body) < HEADER_LEN:
        return None
    length = (body[2] << 8) | body[3]
    if length < HEADER_LEN or length > len(body):
        return None
    return body[0], body[1], length


def _options_text(data: bytes, printer: OptionPrinter) -> tuple[str, int]:
    out = []
    pos = 0
    while len(data) - pos >= 2:
        kind, olen = data[pos], data[pos + 1]
        if olen < 2 or olen > len(data) - pos:
            break
        opt = data[pos : pos + olen]
        text, used = printer(kind, opt)
        out.append(" <" + text + "".join(f" {b:02x}" for b in opt[max(used, 0) :]) + ">")
        pos += olen
    return "".join(out), pos


def _control_printer(
    names: dict[int, str], option_printer: OptionPrinter, *, link: bool, ccp: bool = False
) -> Callable[[bytes], tuple[str, int]]:
    def print_packet(body: bytes) -> tuple[str, int]:
        header = _header(body)
        if header is None:
            return "", 0
        code, ident, length = header
        name = names.get(code)
        out = [f" {name}" if name else f" code=0x{code:x}", f" id=0x{ident:x}"]
        data = body[HEADER_LEN:length]
        if 1 <= code <= 4:
            text, used = _options_text(data, option_printer)
            out.append(text)
            data = data[used:]
        elif code in (5, 6) and data and 0x20 <= data[0] < 0x7F:
            out.append(quoted(data) if ccp else " " + quoted(data))
            data = b""
        elif link and code in (9, 10, 11) and len(data) >= 4:
            out.append(f" magic=0x{int.from_bytes(data[:4], 'big'):x}")
            data = data[4:]
        elif link and code in (12, 13):
            if len(data) >= 4:
                out.append(f" magic=0x{int.from_bytes(data[:4], 'big'):x}")
                data = data[4:]
            if code == 13 and len(data) >= 4:
                out.append(f" seconds={int.from_bytes(data[:4], 'big')}")
                data = data[4:]
                if data:
                    out.append(" " + quoted(data))
                    data = b""
            elif code == 12 and data:
                out.append(" " + quoted(data))
                data = b""
        out.append(hex_bytes(data, _HEX_LIMIT if link else None))
        return "".join(out), length

    return print_packet


def _pap_printer(body: bytes) -> tuple[str, int]:
    header = _header(body)
    if header is None:
        return "", 0
    code, ident, length = header
    names = {1: "AuthReq", 2: "AuthAck", 3: "AuthNak"}
    out = [f" {names[code]}" if code in names else f" code=0x{code:x}", f" id=0x{ident:x}"]
    data = body[HEADER_LEN:length]
    if code == 1:
        # Whatever follows the user name may be a password, however badly the
        # lengths describe it (pppd prints such octets in hex): none is shown.
        ulen = data[0] if data else 0
        if len(data) >= ulen + 1:
            out.append(" user=" + quoted(data[1 : 1 + ulen]))
            data = data[1 + ulen :]
        if data or len(body) > length:
            out.append(" password=<hidden>")
        return "".join(out), len(body)
    if code in (2, 3) and data and len(data) >= data[0] + 1:
        out.append(" " + quoted(data[1 : 1 + data[0]]))
        data = data[1 + data[0] :]
    out.append(hex_bytes(data, None))
    return "".join(out), length


def _chap_printer(body: bytes) -> tuple[str, int]:
    header = _header(body)
    if header is None:
        return "", 0
    code, ident, length = header
    names = {1: "Challenge", 2: "Response", 3: "Success", 4: "Failure"}
    out = [f" {names[code]}" if code in names else f" code=0x{code:x}", f" id=0x{ident:x}"]
    data = body[HEADER_LEN:length]
    if code in (1, 2):
        if data and len(data) >= data[0] + 1:
            value, name = data[1 : 1 + data[0]], data[1 + data[0] :]
            out.append(" <" + value.hex() + ">, name = " + quoted(name))
    elif code in (3, 4):
        out.append(" " + quoted(data))
    else:
        out.append(hex_bytes(data, None))
    return "".join(out), length


def _eap_printer(body: bytes) -> tuple[str, int]:
    header = _header(body)
    if header is None:
        return "", 0
    code, ident, length = header
    names = {1: "Request", 2: "Response", 3: "Success", 4: "Failure"}
    out = [f" {names[code]}" if code in names else f" code=0x{code:x}", f" id=0x{ident:x}"]
    data = body[HEADER_LEN:length]
    if code in (1, 2) and data:
        kind, rest = data[0], data[1:]
        types = {1: "Identity", 2: "Notification", 3: "Nak", 4: "MD5-Challenge", 13: "TLS"}
        out.append(" " + types.get(kind, f"type=0x{kind:x}"))
        if kind in (1, 2) and rest:
            out.append(f" <{'Name' if code == 2 and kind == 1 else 'Message'} {quoted(rest)}>")
        elif kind == 3:
            out.extend(f" <Suggested-type {t:02X}>" for t in rest)
        elif kind == 4 and rest and len(rest) >= rest[0] + 1:
            value, name = rest[1 : 1 + rest[0]], rest[1 + rest[0] :]
            out.append(f" <Value {value.hex()}> <Name {quoted(name)}>")
        elif kind == 13 and rest:
            # TLS records would fill the log: their flags and size tell the story.
            flags = "".join(
                f for bit, f in ((0x80, "L"), (0x40, "M"), (0x20, "S")) if rest[0] & bit
            )
            out.append(f" <flags {flags or '-'}> <{len(rest) - 1} octets>")
        elif rest:
            out.append(hex_bytes(rest, None))
    return "".join(out), length


_PRINTERS: dict[int, tuple[str, Callable[[bytes], tuple[str, int]]]] = {
    Proto.LCP: ("LCP", _control_printer(dict(enumerate(_LCP_NAMES, 1)), _lcp_option, link=True)),
    Proto.IPCP: ("IPCP", _control_printer(dict(enumerate(_CP_NAMES, 1)), _ipcp_option, link=False)),
    Proto.IPV6CP: (
        "IPV6CP",
        _control_printer(dict(enumerate(_CP_NAMES, 1)), _ipv6cp_option, link=False),
    ),
    Proto.CCP: ("CCP", _control_printer(_CCP_NAMES, _ccp_option, link=False, ccp=True)),
    Proto.PAP: ("PAP", _pap_printer),
    Proto.CHAP: ("CHAP", _chap_printer),
    Proto.EAP: ("EAP", _eap_printer),
}
_DATA_NAMES: dict[int, str] = {
    Proto.IP: "IP",
    Proto.IPV6: "IPV6",
    Proto.COMPRESSED_DATAGRAM: "Compressed",
}


def split_protocol(frame: bytes) -> tuple[int, bytes] | None:
    """Protocol field and information of a frame (1 octet when PFC compressed)."""
    if not frame:
        return None
    if frame[0] & 1:
        return frame[0], frame[1:]
    if len(frame) < 2 or not frame[1] & 1:
        return None
    return (frame[0] << 8) | frame[1], frame[2:]


def format_frame(frame: bytes) -> str:
    """pppd's ``%P`` of one frame that starts at its protocol field."""
    split = split_protocol(frame)
    if split is None:
        return hex_bytes(frame)
    proto, body = split
    known = _PRINTERS.get(proto)
    if known is not None:
        name, printer = known
        text, used = printer(body)
        return f"[{name}{text}]" + hex_bytes(body[used:])
    data_name = _DATA_NAMES.get(proto)
    if data_name is not None:
        return f"[{data_name} data]" + hex_bytes(body, 8)
    return f"[proto=0x{proto:x}]" + hex_bytes(body)


def packet_line(direction: str, frame: bytes) -> str:
    """``sent [...]`` or ``rcvd [...]``."""
    return f"{direction} {format_frame(frame)}"
