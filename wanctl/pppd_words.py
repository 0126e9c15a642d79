"""pppd options-file words: the tokenizer, and the arity and meaning of pppd options.

An options file (``/etc/ppp/peers/NAME``, ``/etc/ppp/options``) is a stream
of whitespace-separated words: an option takes its argument from the next
word, wherever that is, so several options may share a line and an
argument may sit on the next one.  ``#`` at the start of a word comments
out the rest of the line; ``"..."`` and ``'...'`` quote, and may be part of
a word; a backslash escapes the next character (``\\n``, ``\\t``, ``\\s`` for
space, octal ``\\123``, hex ``\\x41``, backslash-newline joins lines).
"""

from __future__ import annotations

from dataclasses import dataclass

from wanctl.errors import PppdImportError

#: pppd's limit on one word (MAXWORDLEN).
MAX_WORD = 1024
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "s": " ", "t": "\t"}


@dataclass(frozen=True)
class Word:
    """One word of an options file and the line it starts on."""

    text: str
    line: int


def split_words(text: str, path: str) -> list[Word]:
    """Split options-file text into words; raises ``PppdImportError`` on bad quoting."""
    words: list[Word] = []
    i, n, line = 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
            continue
        if ch.isspace():
            i += 1
            continue
        if ch == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        start_line = line
        out: list[str] = []
        quote = ""
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n:
                consumed, produced = _escape(text, i + 1)
                if text[i + 1] == "\n":
                    line += 1
                out.append(produced)
                i += 1 + consumed
            elif quote:
                if ch == quote:
                    quote = ""
                else:
                    if ch == "\n":
                        line += 1
                    out.append(ch)
                i += 1
            elif ch in "\"'":
                quote = ch
                i += 1
            elif ch.isspace():
                break
            else:
                out.append(ch)
                i += 1
            if len(out) > MAX_WORD:
                raise PppdImportError(
                    path,
                    "",
                    f"a word is longer than {MAX_WORD} characters",
                    "split it or shorten it",
                    start_line,
                )
        if quote:
            raise PppdImportError(
                path,
                "",
                f"the {quote} quote opened here is never closed",
                f"add the closing {quote}",
                start_line,
            )
        words.append(Word("".join(out), start_line))
    return words


def _escape(text: str, i: int) -> tuple[int, str]:
    """(characters consumed after the backslash, what they stand for)."""
    ch = text[i]
    if ch == "\n":
        return 1, ""
    if ch in _SIMPLE_ESCAPES:
        return 1, _SIMPLE_ESCAPES[ch]
    if ch in "01234567":
        j = i
        while j < len(text) and j < i + 3 and text[j] in "01234567":
            j += 1
        return j - i, chr(int(text[i:j], 8) & 0xFF)
    if ch == "x" and i + 1 < len(text) and text[i + 1] in "0123456789abcdefABCDEF":
        j = i + 1
        while j < len(text) and j < i + 3 and text[j] in "0123456789abcdefABCDEF":
            j += 1
        return j - i, chr(int(text[i + 1 : j], 16))
    return 1, ch


# --- what pppd options mean here ---------------------------------------------------------
#
# Each pppd option maps to (number of arguments, action).  Actions:
#   ("set", "profile-key", value)  -- value None means "the argument"
#   ("note", why)    -- what wanctl does anyway; kept as a comment in the profile
#   ("warn", why)    -- not translated; reported on a warning line
#   ("connect",) ("init",) ("file",) ("call",) -- handled by the importer

Action = tuple[str, ...] | tuple[str, str, object]

_NO_PREDICTOR = "Predictor-1 is not supported (CCP rejects it); deflate and bsdcomp are"
_HOOKS6 = "no wanctl option; the hooks are /etc/ppp/ipv6-up and ipv6-down"


def _set(key: str, value: object = None) -> Action:
    return ("set", key, value)


def _warn(why: str) -> Action:
    return ("warn", why)


PPPD_OPTIONS: dict[str, tuple[int, Action]] = {
    # serial line
    "crtscts": (0, _set("flow", "crtscts")),
    "nocrtscts": (0, _set("flow", "none")),
    "-crtscts": (0, _set("flow", "none")),
    "xonxoff": (0, _set("flow", "xonxoff")),
    "cdtrcts": (0, _warn("no wanctl option for DTR/CTS flow control; use crtscts or xonxoff")),
    "nocdtrcts": (0, _set("flow", "none")),
    "local": (0, _set("modem", False)),
    "modem": (0, _set("modem", True)),
    "lock": (0, _set("lock", True)),
    "nolock": (0, _set("lock", False)),
    "sync": (0, _warn("no wanctl option for synchronous HDLC; framing is ppp (async) or slip")),
    # scripts and includes
    "connect": (1, ("connect",)),
    "init": (1, ("init",)),
    "file": (1, ("file",)),
    "call": (1, ("call",)),
    "disconnect": (1, _warn("no wanctl option for a disconnect script")),
    "welcome": (1, _warn("no wanctl option for a welcome script")),
    "pty": (1, _warn("no wanctl option for pty commands; give a device or pyserial URL")),
    "connect-delay": (1, _warn("no wanctl option for a connect delay")),
    # authentication
    "user": (1, _set("user")),
    "password": (1, _set("password")),
    "name": (1, _set("name")),
    "remotename": (1, _set("remotename")),
    "ca": (1, _set("ca")),
    "cert": (1, _set("cert")),
    "key": (1, _set("key")),
    "noauth": (0, _set("noauth", True)),
    "auth": (
        0,
        _warn(
            "say which protocol the peer must use: require-pap, require-chap,"
            " require-mschap or require-mschap-v2"
        ),
    ),
    "require-pap": (0, _set("require-pap", True)),
    "+pap": (0, _set("require-pap", True)),
    "require-chap": (0, _set("require-chap", True)),
    "+chap": (0, _set("require-chap", True)),
    "refuse-pap": (0, _set("refuse-pap", True)),
    "-pap": (0, _set("refuse-pap", True)),
    "refuse-chap": (0, _set("refuse-chap", True)),
    "-chap": (0, _set("refuse-chap", True)),
    "refuse-mschap": (0, _set("refuse-mschap", True)),
    "-mschap": (0, _set("refuse-mschap", True)),
    "refuse-mschap-v2": (0, _set("refuse-mschap-v2", True)),
    "-mschap-v2": (0, _set("refuse-mschap-v2", True)),
    "refuse-eap": (0, _set("refuse-eap", True)),
    "-eap": (0, _set("refuse-eap", True)),
    "require-eap": (0, _set("require-eap", True)),
    "require-mschap": (0, _set("require-mschap", True)),
    "+mschap": (0, _set("require-mschap", True)),
    "require-mschap-v2": (0, _set("require-mschap-v2", True)),
    "+mschap-v2": (0, _set("require-mschap-v2", True)),
    "hide-password": (0, ("note", "pppd's default; no wanctl option")),
    "show-password": (0, _warn("no wanctl option to log passwords")),
    "pap-restart": (1, _warn("no wanctl option for PAP timers")),
    "pap-max-authreq": (1, _warn("no wanctl option for PAP timers")),
    "pap-timeout": (1, _warn("no wanctl option for PAP timers")),
    "chap-restart": (1, _warn("no wanctl option for CHAP timers")),
    "chap-max-challenge": (1, _warn("no wanctl option for CHAP timers")),
    "chap-interval": (1, _warn("no wanctl option for CHAP rechallenges")),
    "usehostname": (0, _warn("set name explicitly")),
    "domain": (1, _warn("append the domain to name yourself")),
    # IP
    "defaultroute": (0, _set("defaultroute", True)),
    "nodefaultroute": (0, _set("defaultroute", False)),
    "-defaultroute": (0, _set("defaultroute", False)),
    "replacedefaultroute": (0, _warn("no wanctl option to replace an existing default route")),
    "defaultroute-metric": (1, _warn("no wanctl option for the default route's metric")),
    "usepeerdns": (0, _set("usepeerdns", True)),
    "ms-dns": (1, _set("ms-dns")),
    "ms-wins": (1, _warn("no wanctl option for WINS servers")),
    "noipdefault": (0, ("note", "no wanctl option takes the address from the hostname")),
    "-ip": (0, ("note", "no wanctl option takes the address from the hostname")),
    "ipcp-accept-local": (
        0,
        _warn("no wanctl option; leave local-ip out to take the address the peer assigns"),
    ),
    "ipcp-accept-remote": (
        0,
        _warn("no wanctl option; leave remote-ip out to take the peer's own address"),
    ),
    "ipcp-no-addresses": (0, _warn("no wanctl option to skip address negotiation")),
    "noip": (0, _warn("no wanctl option to turn IPv4 off")),
    "proxyarp": (0, _warn("no wanctl option for proxy ARP")),
    "noproxyarp": (0, ("note", "no wanctl option adds proxy ARP entries")),
    "netmask": (1, _warn("no wanctl option for a netmask on a point-to-point link")),
    "ipparam": (1, _set("ipparam")),
    "+ipv6": (0, _set("ipv6", True)),
    "noipv6": (0, _set("ipv6", False)),
    "-ipv6": (0, _set("ipv6", False)),
    "ipv6": (1, _warn("no wanctl option for IPv6 interface identifiers")),
    "ipv6cp-use-ipaddr": (0, _warn("no wanctl option for IPv6 interface identifiers")),
    "ipv6cp-use-persistent": (0, _warn("no wanctl option for IPv6 interface identifiers")),
    "ipcp-restart": (1, _warn("no wanctl option for IPCP timers")),
    "ipcp-max-configure": (1, _warn("no wanctl option for IPCP timers")),
    "ipcp-max-failure": (1, _warn("no wanctl option for IPCP timers")),
    "ipcp-max-terminate": (1, _warn("no wanctl option for IPCP timers")),
    # LCP
    "mru": (1, _set("mru")),
    "mtu": (1, _set("mtu")),
    "asyncmap": (1, _set("asyncmap")),
    "escape": (1, _set("escape")),
    "default-asyncmap": (
        0,
        _warn(
            "no wanctl option; asyncmap 0xffffffff asks the peer to escape every control character"
        ),
    ),
    "-am": (0, _warn("no wanctl option; see asyncmap")),
    "default-mru": (0, _warn("no wanctl option; see mru")),
    "noaccomp": (0, _warn("no wanctl option for address/control field compression")),
    "-ac": (0, _warn("no wanctl option for address/control field compression")),
    "nopcomp": (0, _warn("no wanctl option for protocol field compression")),
    "-pc": (0, _warn("no wanctl option for protocol field compression")),
    "nomagic": (0, _warn("no wanctl option to skip the magic number")),
    "-mn": (0, _warn("no wanctl option to skip the magic number")),
    "lcp-echo-interval": (1, _set("lcp-echo-interval")),
    "lcp-echo-failure": (1, _set("lcp-echo-failure")),
    "lcp-echo-adaptive": (0, _warn("no wanctl option for adaptive echoes")),
    "lcp-restart": (1, _set("lcp-restart")),
    "lcp-max-configure": (1, _set("lcp-max-configure")),
    "lcp-max-failure": (1, _set("lcp-max-failure")),
    "lcp-max-terminate": (1, _set("lcp-max-terminate")),
    "passive": (0, _warn("use 'wanctl answer' to wait for the peer")),
    "-p": (0, _warn("use 'wanctl answer' to wait for the peer")),
    "silent": (0, _warn("use 'wanctl answer' to wait for the peer")),
    # compression
    "novj": (0, _set("vj", False)),
    "-vj": (0, _set("vj", False)),
    "novjccomp": (0, _set("vjccomp", False)),
    "-vjccomp": (0, _set("vjccomp", False)),
    "vj-max-slots": (1, _set("vj-max-slots")),
    "noccp": (0, _set("ccp", False)),
    "-ccp": (0, _set("ccp", False)),
    "deflate": (1, _set("deflate")),
    "nodeflate": (0, _set("deflate", "0")),
    "bsdcomp": (1, _set("bsdcomp")),
    "nobsdcomp": (0, _set("bsdcomp", "0")),
    "nodeflatedraft": (0, _warn("wanctl always offers and accepts Deflate's old number 24")),
    "predictor1": (0, _warn(_NO_PREDICTOR)),
    "nopredictor1": (0, ("note", "wanctl has no Predictor-1 to turn off")),
    "nomppe": (0, ("note", "wanctl offers MPPE only with require-mppe")),
    "require-mppe": (0, _set("require-mppe", True)),
    "+mppe": (0, _set("require-mppe", True)),
    "require-mppe-128": (0, _set("require-mppe-128", True)),
    "require-mppe-40": (0, _set("require-mppe-40", True)),
    "nomppe-40": (0, _set("nomppe-40", True)),
    "-mppe-40": (0, _set("nomppe-40", True)),
    "nomppe-128": (0, _set("nomppe-128", True)),
    "-mppe-128": (0, _set("nomppe-128", True)),
    "mppe-stateful": (0, _set("mppe-stateful", True)),
    "nomppe-stateful": (0, _set("mppe-stateful", False)),
    "mppe": (1, _warn("write pppd's require-mppe, require-mppe-128, nomppe-40 words instead")),
    # link lifetime
    "persist": (0, _set("persist", True)),
    "nopersist": (0, _set("persist", False)),
    "demand": (0, _warn("no wanctl option for dial-on-demand; persist keeps a link up")),
    "maxfail": (1, _set("maxfail")),
    "holdoff": (1, _set("holdoff")),
    "idle": (1, _set("idle")),
    "active-filter": (1, _warn("no wanctl option for packet filters")),
    "pass-filter": (1, _warn("no wanctl option for packet filters")),
    "maxconnect": (1, _warn("no connect-time limit")),
    "maxoctets": (1, _warn("no traffic limit")),
    "mo-timeout": (1, _warn("no traffic limit")),
    # multilink
    "mp": (0, _set("multilink", True)),
    "multilink": (0, _set("multilink", True)),
    "nomp": (0, _set("multilink", False)),
    "nomultilink": (0, _set("multilink", False)),
    "mrru": (1, _set("mrru")),
    "mpshortseq": (0, _set("mpshortseq", True)),
    "nompshortseq": (0, _set("mpshortseq", False)),
    "endpoint": (1, _set("endpoint")),
    "bundle": (1, _warn("no wanctl option for a bundle name; 'wanctl status' shows the key")),
    # process and logging
    "debug": (0, _set("debug", True)),
    "-d": (0, _set("debug", True)),
    "kdebug": (1, _warn("there is no kernel driver to debug")),
    "nodetach": (0, _warn("detaching is up to how you start wanctl (shell, systemd)")),
    "-detach": (0, _warn("detaching is up to how you start wanctl (shell, systemd)")),
    "updetach": (0, _warn("detaching is up to how you start wanctl (shell, systemd)")),
    "dump": (0, _warn("no wanctl option; 'wanctl --help' lists the options")),
    "dryrun": (0, _warn("no wanctl option; 'wanctl --help' lists the options")),
    "logfile": (1, _warn("no wanctl option; redirect wanctl's standard error")),
    "logfd": (1, _warn("no wanctl option; redirect wanctl's standard error")),
    "record": (1, _warn('pppdump records are not written; use pcap = "FILE" instead')),
    "linkname": (1, _warn("no wanctl option; a link is named after its profile")),
    "ifname": (1, _warn("no wanctl option for the interface name")),
    "unit": (1, _warn("no wanctl option for the interface name")),
    "plugin": (1, _warn("pppd plugins cannot be loaded")),
    "ktune": (0, _warn("no wanctl option for kernel tuning")),
    "noktune": (0, ("note", "wanctl has no kernel tuning to turn off")),
    "receive-all": (0, _warn("no wanctl option for receive-all")),
    "ip-up-script": (1, _warn("no wanctl option; the hooks are /etc/ppp/ip-up and ip-down")),
    "ip-down-script": (1, _warn("no wanctl option; the hooks are /etc/ppp/ip-up and ip-down")),
    "ipv6-up-script": (1, _warn(_HOOKS6)),
    "ipv6-down-script": (1, _warn(_HOOKS6)),
    "set": (1, _warn("no wanctl option for the scripts' environment")),
    "child-timeout": (1, _warn("no wanctl option for the script timeout")),
    "remotenumber": (1, _warn("no wanctl option for remotenumber")),
    "allow-ip": (1, _warn("no wanctl option for allow-ip")),
    "allow-number": (1, _warn("no wanctl option for allow-number")),
    "privgroup": (1, _warn("the control socket's group (dialout) decides who may control a link")),
}
