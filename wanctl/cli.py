"""``wanctl``: the command line.

Verbs: ports, dial, answer, hangup, status, capture, selftest, modem, cable,
demo, import-pppd, peer, conformance.  Every error is one line naming what to fix, and the exit
code follows pppd's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from wanctl.errors import ProfileError, UsageError, WanctlError, one_line
from wanctl.options import add_link_options, command_line_layer, merge_options
from wanctl.profiles import PROFILE_SUFFIX, find_profile, load_profile, profile_search_path
from wanminiport.exitcodes import ExitCode

PROG = "wanctl"


def _link_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], verb: str, help_text: str
) -> argparse.ArgumentParser:
    parser = sub.add_parser(verb, help=help_text, description=help_text)
    parser.add_argument(
        "target",
        metavar="TARGET",
        help="a profile name or a port (/dev/ttyUSB0, ttyS0, a pyserial URL)",
    )
    parser.add_argument(
        "more_ports",
        nargs="*",
        metavar="PORT",
        help="with --multilink: more ports of the bundle",
    )
    parser.add_argument("--config", metavar="FILE", help="read the profile from this file")
    parser.add_argument(
        "--linkname",
        metavar="NAME",
        help="name of the link for status/hangup (default: profile or port)",
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="go to the background once IP is up (pppd's default)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_link_options(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "IP over serial lines, USB adapters and Hayes modems, speaking PPP like pppd."
        ),
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    ports = sub.add_parser("ports", help="list serial ports and USB adapters")
    ports.add_argument("--json", action="store_true", help="one JSON array")

    _link_parser(sub, "dial", "connect: dial a modem, or start PPP on a direct line")
    _link_parser(sub, "answer", "wait for a call on a modem, or for the peer on a direct line")

    hangup = sub.add_parser("hangup", help="hang up a running link")
    hangup.add_argument("link", nargs="?", metavar="LINK")
    hangup.add_argument("--all", action="store_true", help="every running link")
    hangup.add_argument(
        "--member", metavar="PORT", help="multilink: drop this member, the bundle stays up"
    )

    status = sub.add_parser("status", help="show running links")
    status.add_argument("link", nargs="?", metavar="LINK")
    status.add_argument("--json", action="store_true", help="the status as JSON")

    capture = sub.add_parser("capture", help="capture a running link's frames to pcap")
    capture.add_argument("link", metavar="LINK")
    capture.add_argument(
        "-w",
        dest="file",
        required=True,
        metavar="FILE",
        help="pcap file to write (LINKTYPE_PPP_WITH_DIR)",
    )
    capture.add_argument(
        "-c", dest="count", type=int, default=0, metavar="N", help="stop after N frames"
    )
    capture.add_argument(
        "--duration", type=float, default=0.0, metavar="SECONDS", help="stop after this long"
    )

    selftest = sub.add_parser("selftest", help="test a loopback plug or two cabled adapters")
    selftest.add_argument("port", metavar="PORT")
    selftest.add_argument("port2", nargs="?", metavar="PORT2")
    selftest.add_argument(
        "--bauds",
        default="9600,115200",
        help="comma-separated speeds to test (default 9600,115200)",
    )

    sub.add_parser(
        "modem",
        help="emulated Hayes modems and a virtual exchange",
        add_help=False,
        prefix_chars="\0",
    )
    sub.add_parser(
        "cable",
        help="a virtual null-modem cable between two new ttys",
        add_help=False,
        prefix_chars="\0",
    )

    sub.add_parser(
        "peer",
        help="run a real pppd in a VM as a peer for your PPP: peer pppd [PORT] -- OPTIONS",
        add_help=False,
        prefix_chars="\0",
    )

    sub.add_parser(
        "conformance",
        help="test someone else's PPP on PORT against the RFCs (MUST/SHOULD per case)",
        add_help=False,
        prefix_chars="\0",
    )

    demo = sub.add_parser("demo", help="two namespaces, a virtual cable, PPP, ping, throughput")
    demo.add_argument("--baud", type=int, default=115200)
    demo.add_argument(
        "--modems", action="store_true", help="dial through two emulated modems instead of a cable"
    )
    demo.add_argument(
        "--seconds", type=float, default=5.0, help="length of the throughput measurement"
    )

    imp = sub.add_parser("import-pppd", help="turn a pppd peers file into a profile")
    imp.add_argument("path", metavar="PEERS_FILE")
    imp.add_argument("-o", dest="output", metavar="FILE", help="write the profile here")
    return parser


def verb_list(parser: argparse.ArgumentParser) -> str:
    """What ``wanctl`` alone prints: usage, then each verb with its one line."""
    lines = [parser.format_usage().rstrip(), "", "verbs:"]
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for choice in getattr(action, "_choices_actions", []):
            lines.append(f"  {choice.dest:<12} {choice.help}")
    lines += ["", f"'{PROG} VERB --help' tells more about one verb."]
    return "\n".join(lines)


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    if debug:
        logging.getLogger("wanctl.pppd").setLevel(logging.DEBUG)
        logging.getLogger("wanminiport").setLevel(logging.INFO)


def _target_options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Profile (if TARGET names one, or --config) < command line."""
    cmdline = command_line_layer(args)
    layers = []
    profile_name = None
    target: str = args.target
    looks_like_port = "/" in target or "://" in target or target.startswith("tty")
    if args.config or not looks_like_port:
        profile_path = _profile_or_port(target, args.config)
        if profile_path is not None:
            profile = load_profile(profile_path, name=target if not args.config else None)
            layers.append(profile.layer)
            profile_name = profile.name
    if args.more_ports:
        from wanctl.options import OPTIONS_BY_NAME
        from wanctl.values import BadValue

        try:
            cmdline.set(OPTIONS_BY_NAME["members"], args.more_ports, True, "PORT")
        except BadValue as exc:
            raise UsageError("PORT", str(exc), exc.fix) from None
    options = merge_options(*layers, cmdline)
    if options.device is None and profile_name is None:
        from wanctl.options import OPTIONS_BY_NAME
        from wanctl.values import BadValue

        try:
            cmdline.set(OPTIONS_BY_NAME["device"], target, True, "TARGET")
        except BadValue as exc:
            raise UsageError("TARGET", str(exc)) from None
        options = merge_options(*layers, cmdline)
    return options, args.linkname or profile_name or link_name_for(options.device or target)


def _profile_or_port(target: str, config: str | None) -> Path | None:
    """The profile file TARGET (or --config) names, or None when TARGET is a port
    below /dev; neither is one line saying where profiles were looked for."""
    if config:
        return find_profile(None, config)
    try:
        return find_profile(target)
    except ProfileError:
        if os.path.exists(os.path.join("/dev", target)):
            return None
    tried = ", ".join(str(d / f"{target}{PROFILE_SUFFIX}") for d in profile_search_path())
    raise UsageError(
        target,
        f"neither a profile nor a port of that name (no {tried}, no /dev/{target})",
        "'wanctl ports' lists the ports; a profile is a TOML file in one of those places",
    )


def link_name_for(device: str) -> str:
    """A link's default name: its device below /dev ('/dev/pts/3' -> 'pts-3')."""
    name = device.removeprefix("/dev/") if device.startswith("/dev/") else Path(device).name
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in name.replace("/", "-"))
    return cleaned.strip("-.")[:64] or "link"


def cmd_link(args: argparse.Namespace, answer: bool) -> int:
    from wanctl.bundle_runner import BundleRunner
    from wanctl.progress import Progress
    from wanctl.runner import LinkRunner

    options, link_name = _target_options(args)
    _setup_logging(options.debug)
    on_up = None
    if args.background:
        from wanctl.daemon import detach_when_up

        on_up = detach_when_up()
    runner_class = BundleRunner if options.multilink else LinkRunner
    runner = runner_class(
        options,
        link_name=link_name,
        answer=answer,
        progress=Progress(quiet=args.quiet),
        on_up=on_up,
    )
    return int(asyncio.run(runner.run()))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "modem":
        from hw.lab.modem.process import main as modem_main

        return modem_main(argv[1:])
    if argv and argv[0] == "cable":
        from hw.lab.cable_process import main as cable_main

        return cable_main(argv[1:])
    if argv and argv[0] == "conformance":
        from wanctl.conformance.cli import main as conformance_main

        return conformance_main(argv[1:])
    if argv and argv[0] == "peer":
        from wanctl.peer import main as peer_main

        return peer_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        print(verb_list(parser), file=sys.stderr)
        return int(ExitCode.OPTION_ERROR)
    try:
        return _dispatch(args)
    except WanctlError as exc:  # every error that ends the program: one line, its code
        print(f"{PROG}: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.USER_REQUEST)
    except PermissionError as exc:  # the OS refused something no layer wrapped
        print(f"{PROG}: {one_line(str(exc))}", file=sys.stderr)
        return int(ExitCode.NOT_ROOT)


def _dispatch(args: argparse.Namespace) -> int:
    from wanctl import verbs

    verb = args.verb
    if verb in ("dial", "answer"):
        return cmd_link(args, answer=verb == "answer")
    if verb == "ports":
        return verbs.ports(args.json)
    if verb == "status":
        return verbs.status(args.link, args.json)
    if verb == "hangup":
        return verbs.hangup(args.link, args.all, args.member)
    if verb == "capture":
        return verbs.capture(args.link, args.file, args.count, args.duration)
    if verb == "selftest":
        return verbs.selftest(args.port, args.port2, args.bauds)
    if verb == "import-pppd":
        return verbs.import_pppd(args.path, args.output)
    if verb == "demo":
        from wanctl.demo import run_demo

        return run_demo(baud=args.baud, modems=args.modems, seconds=args.seconds)
    raise WanctlError(f"unknown verb {verb}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
