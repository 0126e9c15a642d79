"""The link options: ONE table shared by command-line flags and profile keys.

``--mru 1400`` on the command line and ``mru = 1400`` in a profile are the
same option, parsed by the same code.  Names follow pppd where pppd has the
option (``lcp-echo-interval``, ``require-chap``, ``usepeerdns``); a boolean
has a positive flag and a negative one (``--defaultroute`` /
``--nodefaultroute``, ``--modem`` / ``--local``, ``--lock`` / ``--nolock``),
and a profile writes it as ``defaultroute = false``.

Values are merged defaults < profile < command line into one validated,
frozen ``LinkOptions``; each value remembers where it came from so an error
about a combination names both sources.

Decisions worth knowing:

* ``baud`` on a tty must be a standard termios speed (a typo like 11520 is
  caught, not rounded by the driver); on a pyserial URL (``socket://``,
  ``rfc2217://``, ``loop://``) any positive speed is accepted, since it only
  paces and labels the link.
* ``device`` without a leading ``/`` gets ``/dev/`` prepended, as in pppd.
* ``connect`` is a chat script: a path (starting ``/``, ``./``, ``../`` or
  ``~/``) or the script's text itself (chat's expect-send words).  A script
  file must be a regular file owned by root (or the user running wanctl)
  and not writable by group or others, as hook scripts must.
* ``init`` is the AT command sent to a modem before dialing ``number``.
* Defaults follow pppd as Debian ships it: asyncmap 0, mru 1500, maxfail
  10, holdoff 30, LCP echo every 30 s and 4 misses (Debian's
  /etc/ppp/options), UUCP locking on, modem control lines honoured.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from wanctl import values as v
from wanctl.errors import UsageError, UsageErrors
from wanminiport.info import FramingMode
from wanminiport.mcm.chat_script import ChatScriptError, parse_chat_file


@dataclass(frozen=True)
class OptionSpec:
    """One link option: its name (flag ``--name`` and profile key ``name``)."""

    name: str
    parse: v.Parser
    default: Any
    help: str
    #: Profile example used in fix messages, e.g. ``mru = 1500``.
    example: str
    metavar: str | None = None
    #: For booleans: the flag/pppd word that sets it false (``nodefaultroute``).
    negative: str | None = None
    #: Other names for the flag and the key (``port`` for ``device``).
    aliases: tuple[str, ...] = ()
    #: Flags that set a fixed value (``--crtscts`` sets ``flow = "crtscts"``).
    consts: tuple[tuple[str, str], ...] = ()
    #: Repeatable on the command line (``--ms-dns A --ms-dns B``).
    repeat: bool = False

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")

    @property
    def is_bool(self) -> bool:
        return isinstance(self.default, bool)


def _bool(name: str, default: bool, help: str, negative: str | None = None) -> OptionSpec:
    return OptionSpec(
        name,
        v.boolean,
        default,
        help,
        f"{name} = {'true' if not default else 'false'}",
        negative=negative or f"no{name}",
    )


_FLOW = ("crtscts", "xonxoff", "none")
_FRAMING = ("ppp", "slip")

OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "device",
        v.device,
        None,
        "serial device or pyserial URL (ttyS0 means /dev/ttyS0)",
        'device = "/dev/ttyUSB0"',
        metavar="PATH|URL",
        aliases=("port",),
    ),
    OptionSpec(
        "baud",
        v.integer(1, 2**31 - 1, "bits/s"),
        115200,
        "line speed: a standard tty speed, any positive number for a URL",
        "baud = 115200",
        metavar="BPS",
    ),
    OptionSpec(
        "flow",
        v.choice(_FLOW),
        "none",
        "flow control: crtscts (RTS/CTS), xonxoff, or none (3-wire cables)",
        'flow = "crtscts"',
        metavar="|".join(_FLOW),
        consts=(("crtscts", "crtscts"), ("xonxoff", "xonxoff"), ("nocrtscts", "none")),
    ),
    OptionSpec(
        "framing",
        v.choice(_FRAMING),
        "ppp",
        "line framing: ppp or slip",
        'framing = "ppp"',
        metavar="ppp|slip",
    ),
    _bool(
        "modem",
        True,
        "honour modem control lines (CD, DTR); --local ignores them (CLOCAL)",
        negative="local",
    ),
    _bool("lock", True, "take a UUCP lock on the port (/var/lock/LCK..NAME)"),
    OptionSpec(
        "number",
        v.phone_number,
        None,
        "phone number the modem dials",
        'number = "5551234"',
        metavar="DIGITS",
    ),
    _bool("pulse", False, "dial with pulses (ATDP) instead of tones (ATDT)", negative="tone"),
    OptionSpec(
        "auto-answer",
        v.integer(0, 255, "rings"),
        0,
        "let the modem answer by itself after this many rings (ATS0=N); 0: we answer with ATA",
        "auto-answer = 2",
        metavar="RINGS",
    ),
    OptionSpec(
        "init",
        v.at_command,
        None,
        "AT command sent to the modem before dialing",
        'init = "ATZ"',
        metavar="AT...",
    ),
    OptionSpec(
        "connect",
        v.chat_script,
        None,
        "chat script: a file path or the script text",
        'connect = "/etc/chatscripts/isp"',
        metavar="SCRIPT",
    ),
    OptionSpec(
        "user",
        v.text("user name"),
        None,
        "name we authenticate as (PAP/CHAP)",
        'user = "jdoe"',
        metavar="NAME",
    ),
    OptionSpec(
        "password",
        v.text("password"),
        None,
        "password for PAP/CHAP (on a command line others see it in ps: prefer a"
        " profile, chmod 600)",
        'password = "secret"',
        metavar="SECRET",
    ),
    OptionSpec(
        "pap-secrets",
        v.text("path", 4096),
        "/etc/ppp/pap-secrets",
        "pppd-format PAP secrets file",
        'pap-secrets = "/etc/ppp/pap-secrets"',
        metavar="PATH",
    ),
    OptionSpec(
        "chap-secrets",
        v.text("path", 4096),
        "/etc/ppp/chap-secrets",
        "pppd-format CHAP secrets file",
        'chap-secrets = "/etc/ppp/chap-secrets"',
        metavar="PATH",
    ),
    OptionSpec(
        "ca",
        v.text("path", 4096),
        None,
        "EAP-TLS: CA certificates (PEM) the peer's certificate must chain to",
        'ca = "/etc/ppp/ca.crt"',
        metavar="PATH",
    ),
    OptionSpec(
        "cert",
        v.text("path", 4096),
        None,
        "EAP-TLS: our certificate (PEM), shown to the peer",
        'cert = "/etc/ppp/client.crt"',
        metavar="PATH",
    ),
    OptionSpec(
        "key",
        v.text("path", 4096),
        None,
        "EAP-TLS: the private key (PEM) of our certificate",
        'key = "/etc/ppp/client.key"',
        metavar="PATH",
    ),
    _bool("require-pap", False, "require the peer to authenticate with PAP"),
    _bool("require-chap", False, "require the peer to authenticate with CHAP (MD5)"),
    _bool("refuse-pap", False, "refuse to authenticate ourselves with PAP"),
    _bool("refuse-chap", False, "refuse to authenticate ourselves with CHAP (MD5)"),
    _bool("require-mschap", False, "require the peer to authenticate with MS-CHAP"),
    _bool("require-mschap-v2", False, "require the peer to authenticate with MS-CHAPv2"),
    _bool("refuse-mschap", False, "refuse to authenticate ourselves with MS-CHAP"),
    _bool("refuse-mschap-v2", False, "refuse to authenticate ourselves with MS-CHAPv2"),
    _bool(
        "require-eap", False, "require the peer to authenticate with EAP (MD5, or TLS with --cert)"
    ),
    _bool("refuse-eap", False, "refuse to authenticate ourselves with EAP"),
    _bool("noauth", False, "do not require the peer to authenticate", negative="auth"),
    OptionSpec(
        "local-ip",
        v.ipv4,
        None,
        "our IPv4 address (default: the peer assigns it)",
        'local-ip = "10.0.0.1"',
        metavar="ADDR",
    ),
    OptionSpec(
        "remote-ip",
        v.ipv4,
        None,
        "the peer's IPv4 address",
        'remote-ip = "10.0.0.2"',
        metavar="ADDR",
    ),
    OptionSpec(
        "ip",
        v.ipv4_pair,
        None,
        "both addresses in pppd's LOCAL:REMOTE form",
        'ip = "10.0.0.1:10.0.0.2"',
        metavar="LOCAL:REMOTE",
    ),
    OptionSpec(
        "ms-dns",
        v.ipv4_list(2),
        (),
        "DNS server offered to the peer (up to two)",
        'ms-dns = ["10.0.0.53"]',
        metavar="ADDR",
        repeat=True,
    ),
    _bool("usepeerdns", False, "ask the peer for DNS servers (passed to ip-up as DNS1/DNS2)"),
    _bool("defaultroute", False, "add a default route through the link"),
    _bool("ipv6", False, "negotiate IPv6 (IPV6CP) as well as IPv4"),
    OptionSpec(
        "mru",
        v.integer(128, 16384, "bytes"),
        1500,
        "maximum receive unit",
        "mru = 1500",
        metavar="BYTES",
    ),
    OptionSpec(
        "mtu",
        v.integer(128, 16384, "bytes"),
        None,
        "maximum transmit unit (default: what the peer's MRU allows)",
        "mtu = 1500",
        metavar="BYTES",
    ),
    OptionSpec(
        "asyncmap",
        v.accm,
        0,
        "control characters the peer must escape (hex)",
        "asyncmap = 0x00000000",
        metavar="HEX",
    ),
    OptionSpec(
        "escape",
        v.escape_set,
        (),
        "extra characters we escape (hex list: 11,13,ff)",
        "escape = [0x11, 0x13]",
        metavar="HEX,...",
    ),
    _bool("ccp", False, "negotiate data compression (CCP: Deflate, BSD-Compress)"),
    _bool(
        "require-mppe", False, "require MPPE encryption, 40 or 128-bit (needs MS-CHAP or MS-CHAPv2)"
    ),
    _bool(
        "require-mppe-128", False, "require 128-bit MPPE encryption (needs MS-CHAP or MS-CHAPv2)"
    ),
    _bool("require-mppe-40", False, "require 40-bit MPPE encryption (needs MS-CHAP or MS-CHAPv2)"),
    _bool("nomppe-40", False, "refuse 40-bit MPPE"),
    _bool("nomppe-128", False, "refuse 128-bit MPPE"),
    _bool("mppe-stateful", False, "allow stateful MPPE (a key change every 256 packets)"),
    OptionSpec(
        "deflate",
        v.compression_sizes("deflate"),
        (15, 15),
        "Deflate window sizes, receive[,send] (9..15; 0: off); --nodeflate turns it off",
        'deflate = "15,15"',
        metavar="R[,T]",
        consts=(("nodeflate", "0"),),
    ),
    OptionSpec(
        "bsdcomp",
        v.compression_sizes("bsdcomp"),
        (15, 15),
        "BSD-Compress code sizes, receive[,send] (9..15; 0: off); --nobsdcomp turns it off",
        'bsdcomp = "15,15"',
        metavar="R[,T]",
        consts=(("nobsdcomp", "0"),),
    ),
    _bool("vj", True, "Van Jacobson TCP/IP header compression"),
    OptionSpec(
        "vj-max-slots",
        v.integer(2, 16, "slots"),
        16,
        "VJ connection slots",
        "vj-max-slots = 16",
        metavar="N",
    ),
    _bool("vjccomp", True, "let VJ leave out a repeated slot id"),
    OptionSpec(
        "lcp-echo-interval",
        v.integer(0, 86400, "seconds"),
        30,
        "seconds between LCP echo requests (0: none)",
        "lcp-echo-interval = 30",
        metavar="SECONDS",
    ),
    OptionSpec(
        "lcp-echo-failure",
        v.integer(0, 1000),
        4,
        "unanswered echo requests before the peer counts as dead (0: never)",
        "lcp-echo-failure = 4",
        metavar="COUNT",
    ),
    OptionSpec(
        "lcp-restart",
        v.integer(1, 60, "seconds"),
        3,
        "seconds between Configure- and Terminate-Request retransmissions",
        "lcp-restart = 3",
        metavar="SECONDS",
    ),
    OptionSpec(
        "lcp-max-configure",
        v.integer(1, 1000),
        10,
        "Configure-Requests sent without an answer before giving up",
        "lcp-max-configure = 10",
        metavar="COUNT",
    ),
    OptionSpec(
        "lcp-max-terminate",
        v.integer(1, 1000),
        2,
        "Terminate-Requests sent without an answer before the link counts as down",
        "lcp-max-terminate = 2",
        metavar="COUNT",
    ),
    OptionSpec(
        "lcp-max-failure",
        v.integer(1, 1000),
        5,
        "Configure-Naks sent before an option is rejected instead",
        "lcp-max-failure = 5",
        metavar="COUNT",
    ),
    _bool(
        "multilink",
        False,
        "Multilink PPP (RFC 1990): this port and --members make one bundle",
        negative="nomultilink",
    ),
    OptionSpec(
        "members",
        v.device_list(7),
        (),
        "with multilink: more ports of the bundle, PORT@BAUD for its own speed,"
        " PORT=NUMBER for the number its modem dials"
        " (dial --multilink PORT PORT... gives them too)",
        'members = ["/dev/ttyUSB1"]',
        metavar="PORT,PORT",
    ),
    OptionSpec(
        "mrru",
        v.integer(128, 16384, "octets"),
        None,
        "with multilink: the largest reassembled packet we accept (default: our MRU)",
        "mrru = 1500",
        metavar="OCTETS",
    ),
    _bool("mpshortseq", False, "with multilink: ask for 12-bit sequence numbers"),
    OptionSpec(
        "endpoint",
        v.endpoint,
        None,
        "with multilink: our Endpoint Discriminator, in pppd's syntax",
        'endpoint = "magic:0a0b0c0d"',
        metavar="CLASS:VALUE",
    ),
    OptionSpec(
        "demand-add",
        v.percent_seconds,
        None,
        "with multilink (dial): bandwidth on demand; bring up the next member when the"
        " bundle is this busy for this long",
        'demand-add = "75,10"',
        metavar="PERCENT,SECONDS",
    ),
    OptionSpec(
        "demand-drop",
        v.percent_seconds,
        (25, 30),
        "with demand-add: drop a member when the bundle is this idle for this long",
        'demand-drop = "25,30"',
        metavar="PERCENT,SECONDS",
    ),
    OptionSpec(
        "demand-min",
        v.integer(1, 8),
        1,
        "with demand-add: members kept up however idle the bundle is",
        "demand-min = 1",
        metavar="COUNT",
    ),
    _bool("persist", False, "redial or re-listen after the link ends"),
    OptionSpec(
        "maxfail",
        v.integer(0, 1_000_000),
        10,
        "give up after this many failed attempts in a row (0: never)",
        "maxfail = 10",
        metavar="COUNT",
    ),
    OptionSpec(
        "holdoff",
        v.integer(0, 86400, "seconds"),
        30,
        "seconds to wait before re-establishing a link (with persist)",
        "holdoff = 30",
        metavar="SECONDS",
    ),
    OptionSpec(
        "idle",
        v.integer(0, 31_536_000, "seconds"),
        0,
        "hang up after this many seconds without data (0: never)",
        "idle = 600",
        metavar="SECONDS",
    ),
    OptionSpec(
        "pcap",
        v.text("path", 4096),
        None,
        "write every frame to this pcap file",
        'pcap = "/tmp/link.pcap"',
        metavar="FILE",
    ),
    _bool("debug", False, "log every packet as pppd's debug does"),
    OptionSpec(
        "ipparam",
        v.text("ipparam"),
        "",
        "extra argument passed to ip-up/ip-down",
        'ipparam = "office"',
        metavar="TEXT",
    ),
    OptionSpec(
        "name",
        v.text("name"),
        None,
        "our name for authentication (default: hostname)",
        'name = "gw1"',
        metavar="NAME",
    ),
    OptionSpec(
        "remotename",
        v.text("name"),
        None,
        "the peer's name for authentication",
        'remotename = "isp"',
        metavar="NAME",
    ),
)

OPTIONS_BY_NAME: dict[str, OptionSpec] = {spec.name: spec for spec in OPTIONS}
#: Every name a profile key may have (aliases included).
KEY_NAMES: dict[str, OptionSpec] = {
    **OPTIONS_BY_NAME,
    **{alias: spec for spec in OPTIONS for alias in spec.aliases},
}


@dataclass(frozen=True)
class LinkOptions:
    """The validated link options; see the table ``OPTIONS`` for each one's meaning."""

    device: str | None = None
    baud: int = 115200
    flow: str = "none"
    framing: FramingMode = FramingMode.PPP
    modem: bool = True
    lock: bool = True
    number: str | None = None
    pulse: bool = False
    auto_answer: int = 0
    init: str | None = None
    connect: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    pap_secrets: str = "/etc/ppp/pap-secrets"
    chap_secrets: str = "/etc/ppp/chap-secrets"
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    require_pap: bool = False
    require_chap: bool = False
    refuse_pap: bool = False
    refuse_chap: bool = False
    require_mschap: bool = False
    require_mschap_v2: bool = False
    refuse_mschap: bool = False
    refuse_mschap_v2: bool = False
    require_eap: bool = False
    refuse_eap: bool = False
    noauth: bool = False
    local_ip: ipaddress.IPv4Address | None = None
    remote_ip: ipaddress.IPv4Address | None = None
    ms_dns: tuple[ipaddress.IPv4Address, ...] = ()
    usepeerdns: bool = False
    defaultroute: bool = False
    ipv6: bool = False
    mru: int = 1500
    mtu: int | None = None
    asyncmap: int = 0
    escape: tuple[int, ...] = ()
    ccp: bool = False
    require_mppe: bool = False
    require_mppe_128: bool = False
    require_mppe_40: bool = False
    nomppe_40: bool = False
    nomppe_128: bool = False
    mppe_stateful: bool = False
    deflate: tuple[int, int] = (15, 15)
    bsdcomp: tuple[int, int] = (15, 15)
    vj: bool = True
    vj_max_slots: int = 16
    vjccomp: bool = True
    lcp_echo_interval: int = 30
    lcp_echo_failure: int = 4
    lcp_restart: int = 3
    lcp_max_configure: int = 10
    lcp_max_terminate: int = 2
    lcp_max_failure: int = 5
    multilink: bool = False
    members: tuple[str, ...] = ()
    mrru: int | None = None
    mpshortseq: bool = False
    endpoint: str | None = None
    demand_add: tuple[int, int] | None = None
    demand_drop: tuple[int, int] = (25, 30)
    demand_min: int = 1
    persist: bool = False
    maxfail: int = 10
    holdoff: int = 30
    idle: int = 0
    pcap: str | None = None
    debug: bool = False
    ipparam: str = ""
    name: str | None = None
    remotename: str | None = None
    #: Where each value that is not a default came from ("command line", a profile path).
    origins: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_url(self) -> bool:
        """Whether ``device`` is a pyserial URL rather than a tty path."""
        return self.device is not None and bool(v.URL_RE.match(self.device))

    def chat_words(self) -> list[str] | None:
        """The connect script as chat words for the dialer; a script file is read here.

        The words keep chat's escapes (``\\T`` is dialled as ``number``).
        """
        if self.connect is None:
            return None
        if not v.is_chat_path(self.connect):
            return parse_chat_file(self.connect)
        # Here, not at the top: every verb imports this module, few read a script.
        from ndiswan.hooks import UnsafeScriptError, check_script_stat

        path = os.path.expanduser(self.connect)
        origin = self.origins.get("connect", "default")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                # A chat script steers the modem of a process running as root (and
                # may send files with @): like a hook it must be ours and unwritable
                # by others.  Checked on the open file, so it is the one we read.
                check_script_stat(
                    path, os.fstat(handle.fileno()), executable=False, owners=(0, os.geteuid())
                )
                text = handle.read(v.MAX_CHAT + 1)
        except UnsafeScriptError as exc:
            raise UsageError(
                f"connect ({origin})",
                str(exc),
                "a chat script must be owned by root (or you) and not writable by others",
            ) from None
        except OSError as exc:
            raise UsageError(
                f"connect ({origin})",
                f"{path} cannot be read ({exc.strerror})",
                "check the chat script's path",
            ) from None
        if len(text) > v.MAX_CHAT:
            raise UsageError(
                f"connect ({origin})",
                f"{path} is larger than {v.MAX_CHAT} bytes",
                "a chat script is a short list of expect-send words",
            )
        try:
            return parse_chat_file(text)
        except ChatScriptError as exc:
            raise UsageError(
                f"connect ({origin})", f"{path}: {exc}", "close each quote on the line it opens"
            ) from None

    def profile_values(self) -> dict[str, Any]:
        """The options that differ from the defaults, keyed and typed as a profile writes them."""
        out: dict[str, Any] = {}
        for spec in OPTIONS:
            if spec.name == "ip":
                continue
            value = getattr(self, spec.field)
            if value != _DEFAULTS[spec.field]:
                out[spec.name] = to_profile_value(value)
        return out


_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(LinkOptions) if f.name != "origins"}


def to_profile_value(value: Any) -> Any:
    """A typed option value as TOML holds it (addresses as strings, enums by value)."""
    if isinstance(value, FramingMode):
        return value.value
    if isinstance(value, ipaddress.IPv4Address):
        return str(value)
    if isinstance(value, tuple):
        return [to_profile_value(item) for item in value]
    return value


@dataclass
class OptionLayer:
    """Option values from one source, already parsed: field name -> typed value."""

    origin: str
    values: dict[str, Any] = field(default_factory=dict)
    #: How the user wrote each field in this source (``--mru``, ``mru``), for errors.
    spelled: dict[str, str] = field(default_factory=dict)

    def set(self, spec: OptionSpec, raw: object, textual: bool, spelled: str) -> None:
        """Parse ``raw`` for ``spec`` into this layer; raises ``v.BadValue``."""
        value = spec.parse(raw, textual)
        targets = ("local_ip", "remote_ip") if spec.name == "ip" else (spec.field,)
        for name in targets:
            earlier = self.spelled.get(name)
            if earlier is not None and earlier != spelled:
                raise v.BadValue(f"sets the same option as {earlier}", "give only one of them")
        if spec.name == "framing":
            value = FramingMode(value)
        if spec.name == "ip":
            local, remote = value
            for name, addr in (("local_ip", local), ("remote_ip", remote)):
                if addr is not None:
                    self.values[name] = addr
                    self.spelled[name] = spelled
            return
        self.values[spec.field] = value
        self.spelled[spec.field] = spelled


def merge_options(*layers: OptionLayer) -> LinkOptions:
    """Defaults < each layer in order; the result is checked as a whole."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    spelled: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.values.items():
            merged[name] = value
            origins[name] = layer.origin
            spelled[name] = layer.spelled.get(name, name.replace("_", "-"))
    options = LinkOptions(**merged, origins=origins)
    errors = list(_check_combination(options, origins, spelled))
    if errors:
        raise UsageErrors(errors)
    return options


def _check_combination(
    opts: LinkOptions, origins: Mapping[str, str], spelled: Mapping[str, str]
) -> Iterable[UsageError]:
    def where(name: str) -> str:
        return f"{spelled.get(name, name.replace('_', '-'))} ({origins.get(name, 'default')})"

    def conflict(a: str, b: str) -> UsageError:
        return UsageError(where(a), f"conflicts with {where(b)}", "drop one of them")

    if opts.device is not None and not opts.is_url and opts.baud not in v.STANDARD_BAUD_RATES:
        yield UsageError(
            where("baud"),
            f"{opts.baud} is not a standard tty speed",
            f"use {v.nearest_baud(opts.baud)} or another standard speed"
            " (any speed is allowed only on a pyserial URL such as socket://)",
        )
    for proto in ("pap", "chap", "mschap", "mschap_v2", "eap"):
        if getattr(opts, f"require_{proto}") and getattr(opts, f"refuse_{proto}"):
            # Refusing to authenticate ourselves does not stop us from requiring
            # the peer to, but with the same protocol both ways it is a typo.
            yield conflict(f"require_{proto}", f"refuse_{proto}")
        if opts.noauth and getattr(opts, f"require_{proto}"):
            yield conflict("noauth", f"require_{proto}")
    for bits in (40, 128):
        if getattr(opts, f"require_mppe_{bits}") and getattr(opts, f"nomppe_{bits}"):
            yield conflict(f"require_mppe_{bits}", f"nomppe_{bits}")
    if opts.require_mppe and opts.nomppe_40 and opts.nomppe_128:
        yield conflict("require_mppe", "nomppe_128")
    if opts.local_ip is not None and opts.local_ip == opts.remote_ip:
        yield UsageError(
            where("remote_ip"),
            f"is the same as local-ip {opts.local_ip}",
            "give the two ends different addresses",
        )
    if opts.lcp_echo_failure and not opts.lcp_echo_interval:
        yield UsageError(
            where("lcp_echo_failure"),
            "has no effect with lcp-echo-interval 0",
            "set lcp-echo-interval (e.g. 30) or lcp-echo-failure 0",
        )
    if opts.demand_add is not None and opts.demand_add[0] <= opts.demand_drop[0]:
        yield UsageError(
            where("demand_drop"),
            f"{opts.demand_drop[0]} % is not below demand-add's {opts.demand_add[0]} %",
            "members would come and go for ever: make the drop threshold the lower one",
        )
    if opts.demand_add is not None and opts.demand_min > len(opts.members):
        yield UsageError(
            where("demand_min"),
            f"keeps {opts.demand_min} members up, and there are {len(opts.members) + 1} ports",
            "list more ports than demand-min, or drop demand-add",
        )
    if not opts.multilink:
        for name in ("members", "mrru", "endpoint", "mpshortseq", "demand_add"):
            if getattr(opts, name):
                yield UsageError(
                    where(name), "needs multilink", "add --multilink (multilink = true)"
                )
    elif opts.require_mppe or opts.require_mppe_40 or opts.require_mppe_128 or opts.idle:
        name = (
            "idle"
            if opts.idle
            else next(
                n
                for n in ("require_mppe", "require_mppe_40", "require_mppe_128")
                if getattr(opts, n)
            )
        )
        yield UsageError(
            where(name), "is not supported over a multilink bundle", "drop it or --multilink"
        )
    elif len({opts.device, *(v.split_member(m, 0)[0] for m in opts.members)}) < 1 + len(
        opts.members
    ):
        yield UsageError(where("members"), "names a port twice", "give each port once")
    if opts.framing is FramingMode.SLIP:
        if opts.multilink:
            yield UsageError(
                where("multilink"), "needs PPP, but framing is slip", "use framing ppp"
            )
        if opts.local_ip is None or opts.remote_ip is None:
            yield UsageError(
                where("framing"),
                "SLIP cannot negotiate addresses",
                'set local-ip and remote-ip (or ip = "LOCAL:REMOTE")',
            )
        for name in ("require_pap", "require_chap", "require_mschap", "require_mschap_v2",
                     "require_eap", "ipv6", "usepeerdns"):  # fmt: skip
            if getattr(opts, name):
                yield UsageError(
                    where(name),
                    "needs PPP, but framing is slip",
                    "use framing ppp or drop the option",
                )


# --- command line ----------------------------------------------------------------------

_DEST_PREFIX = "link_option_"
#: Namespace attribute recording which flag set each option (``--local`` for modem).
_SPELLED_ATTR = "link_option_flags"


class _Remember(argparse.Action):
    """Store like ``store``/``store_const``/``append`` and note the flag used."""

    def __init__(self, *args: Any, kind: str = "store", **kwargs: Any) -> None:
        self.kind = kind
        if kind == "const":
            kwargs["nargs"] = 0
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if self.kind == "const":
            values = self.const
        elif self.kind == "append":
            values = [*getattr(namespace, self.dest, []), values]
        setattr(namespace, self.dest, values)
        flags = dict(getattr(namespace, _SPELLED_ATTR, {}))
        flags[self.dest] = option_string or self.dest
        setattr(namespace, _SPELLED_ATTR, flags)


def _dest(spec: OptionSpec) -> str:
    return _DEST_PREFIX + spec.field


def add_link_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Add every link option as a flag; read the values back with ``command_line_layer``.

    Flags keep their values as given (strings) and are parsed by the same code
    as profile keys, so an error names the flag and the fix in one line.
    Unset flags leave no attribute, which is how the merge knows a profile's
    value stands.
    """
    group = parser.add_argument_group("link options (the same names work as profile keys)")
    for spec in OPTIONS:
        dest = _dest(spec)
        names = [f"--{spec.name}", *(f"--{a}" for a in spec.aliases)]
        common: dict[str, Any] = {"dest": dest, "action": _Remember, "default": argparse.SUPPRESS}
        if spec.is_bool:
            state = "on" if spec.default else "off"
            group.add_argument(
                *names, kind="const", const=True, help=f"{spec.help} ({state} by default)", **common
            )
            group.add_argument(
                f"--{spec.negative}",
                kind="const",
                const=False,
                help=f"turn {spec.name} off",
                **common,
            )
            continue
        default_note = "" if spec.default in (None, (), "") else f" (default {spec.default})"
        if spec.name == "asyncmap":
            default_note = f" (default {spec.default:#x})"
        group.add_argument(
            *names,
            kind="append" if spec.repeat else "store",
            metavar=spec.metavar,
            help=spec.help + default_note,
            **common,
        )
        for flag, const in spec.consts:
            group.add_argument(
                f"--{flag}",
                kind="const",
                const=const,
                help=f"same as --{spec.name} {const}",
                **common,
            )
    return group


def command_line_layer(namespace: argparse.Namespace) -> OptionLayer:
    """The link options given on the command line, parsed; ``UsageErrors`` lists bad ones."""
    flags: dict[str, str] = getattr(namespace, _SPELLED_ATTR, {})
    layer = OptionLayer("command line")
    errors: list[UsageError] = []
    for spec in OPTIONS:
        dest = _dest(spec)
        if not hasattr(namespace, dest):
            continue
        flag = flags.get(dest, f"--{spec.name}")
        try:
            layer.set(spec, getattr(namespace, dest), textual=True, spelled=flag)
        except v.BadValue as exc:
            errors.append(UsageError(flag, exc.message, exc.fix))
    if errors:
        raise UsageErrors(errors)
    return layer
