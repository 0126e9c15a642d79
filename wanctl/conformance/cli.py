"""``wanctl conformance PORT``: run the cases against the PPP on the far end of PORT."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ndiswan.ppp import AuthRequirement
from wanctl.conformance.case import PeerRole, Result
from wanctl.conformance.context import Settings
from wanctl.conformance.line import Line, LineError, SerialLine
from wanctl.conformance.probe import Probe
from wanctl.conformance.report import junit_xml, summary, table_header, table_row
from wanctl.conformance.runner import SelectionError, all_cases, run, select
from wanctl.pcap import PcapWriter
from wanminiport.exitcodes import ExitCode, WanctlError

#: Exit status when a MUST was broken (0: every MUST that applies passed).
MUST_BROKEN = 1
_AUTH = {"none": AuthRequirement.NONE, "pap": AuthRequirement.PAP, "chap": AuthRequirement.CHAP}


class ConformanceUsageError(WanctlError):
    exit_code = ExitCode.OPTION_ERROR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("port", nargs="?", metavar="PORT", help="tty, pty or pyserial URL")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--group", action="append", default=[], metavar="GROUP")
    parser.add_argument("--case", action="append", default=[], metavar="ID")
    parser.add_argument(
        "--peer-role",
        choices=[r.value for r in PeerRole],
        default=PeerRole.ANSWER.value,
        help="answer: it waits for our call (default); dial: it calls us",
    )
    parser.add_argument(
        "--timeout", type=float, default=3.0, metavar="SECONDS", help="wait per answer (3)"
    )
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    parser.add_argument("--pcap", metavar="FILE", help="capture the whole session here")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--user", default="", help="name for PAP/CHAP (ours, or the peer's)")
    parser.add_argument("--password", default=None, help="the secret that goes with --user")
    parser.add_argument(
        "--require-auth",
        choices=sorted(_AUTH),
        default="none",
        help="when the peer dials: authentication asked of it",
    )


def settings_from(args: argparse.Namespace) -> Settings:
    if args.timeout <= 0:
        raise ConformanceUsageError(f"--timeout must be positive, not {args.timeout}")
    if args.baud <= 0:
        raise ConformanceUsageError(f"--baud must be positive, not {args.baud}")
    if args.require_auth != "none" and args.peer_role != PeerRole.DIAL.value:
        raise ConformanceUsageError("--require-auth needs --peer-role dial")
    if args.require_auth != "none" and (not args.user or args.password is None):
        raise ConformanceUsageError("--require-auth needs --user and --password")
    return Settings(
        role=PeerRole(args.peer_role),
        timeout=args.timeout,
        user=args.user,
        password=args.password,
        require_auth=_AUTH[args.require_auth],
    )


def run_on(line: Line, args: argparse.Namespace, out: object = sys.stdout) -> list[Result]:
    """The run behind the command, on any ``Line`` (tests give a simulated one)."""
    settings = settings_from(args)
    try:
        cases = select(all_cases(), args.group, args.case)
    except SelectionError as exc:
        raise ConformanceUsageError(str(exc)) from exc
    pcap = PcapWriter(args.pcap) if args.pcap else None
    write = getattr(out, "write")  # noqa: B009 (any text stream)
    write(table_header() + "\n")

    def show(result: Result) -> None:
        write(table_row(result) + "\n")
        getattr(out, "flush", lambda: None)()

    try:
        results = run(cases, Probe(line, pcap), settings, show)
    finally:
        if pcap is not None:
            pcap.close()
    write(summary(results) + "\n")
    if args.junit:
        Path(args.junit).write_text(junit_xml(results))
    return results


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="wanctl conformance",
        description="test the PPP implementation on the far end of PORT against the RFCs",
    )
    add_arguments(parser)
    args = parser.parse_args(list(argv))
    try:
        if args.list:
            for case in all_cases():
                roles = "" if len(case.roles) > 1 else f" (peer {next(iter(case.roles)).value}s)"
                print(
                    f"{case.id:<28} {case.group:<7} {case.rfc:<16} {case.strength.value:<6} "
                    f"{case.title}{roles}"
                )
            return 0
        if not args.port:
            raise ConformanceUsageError("which port? usage: wanctl conformance PORT [options]")
        settings_from(args)
        line = SerialLine(args.port, args.baud)
        try:
            results = run_on(line, args)
        finally:
            line.close()
    except LineError as exc:
        print(f"wanctl conformance: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except WanctlError as exc:
        print(f"wanctl conformance: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    return MUST_BROKEN if any(r.breaks_a_must for r in results) else 0
