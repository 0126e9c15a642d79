"""Install wanctl's udev rules and make udev apply them (``wanctl udev-install``).

Copies ``udev/90-wanctl.rules`` into ``/etc/udev/rules.d``; with
``--autostart VID:PID[:SERIAL]`` also writes ``91-wanctl-autostart.rules``
(one rule per adapter, tagging its tty for systemd with
``SYSTEMD_WANTS=wanctl@<tty>.service``) and installs the ``wanctl@.service``
template.  Then ``udevadm control --reload``, ``udevadm trigger`` for the tty
and usb subsystems and ``udevadm settle``, so adapters already plugged in get
their names and permissions at once.

``--root DIR`` installs under another root (a package build, a chroot) and
skips the reload, as does ``--no-reload``.  ``udev/install.sh`` runs this
module from a source checkout.  It imports only the standard library: it
runs under ``sudo``, often with the system's Python and not the project's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

RULES_NAME = "90-wanctl.rules"
AUTOSTART_RULES_NAME = "91-wanctl-autostart.rules"
UNIT_NAME = "wanctl@.service"
RULES_DIR = "etc/udev/rules.d"
UNIT_DIR = "etc/systemd/system"
SOURCE_ENV = "WANCTL_UDEV_DIR"
#: Characters that would be glob syntax or end the quoted value in a udev match.
_UNSAFE_IN_MATCH = set('"*?[]|\\')

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


class InstallError(Exception):
    """Something the user must fix; the message says what."""


def default_source_dir() -> Path:
    configured = os.environ.get(SOURCE_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1] / "udev"


@dataclass(frozen=True)
class AdapterMatch:
    """Which adapter an autostart rule is for: vendor, product, maybe serial number."""

    vendor_id: int
    product_id: int
    serial_number: str | None = None

    def __str__(self) -> str:
        tail = f":{self.serial_number}" if self.serial_number is not None else ""
        return f"{self.vendor_id:04x}:{self.product_id:04x}{tail}"


def _hex_id(text: str, what: str, spec: str) -> int:
    if not 1 <= len(text) <= 4 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise InstallError(
            f"bad adapter {spec!r}: the {what} must be 1 to 4 hexadecimal digits, not {text!r} "
            f"(e.g. 0403:6001 or 0403:6001:A1B2C3D4)"
        )
    return int(text, 16)


def parse_autostart(spec: str) -> AdapterMatch:
    """``0403:6001`` or ``0403:6001:SERIAL`` (a ``usb:`` prefix is allowed)."""
    text = spec[4:] if spec[:4].lower() == "usb:" else spec
    fields = text.split(":", 2)
    if len(fields) < 2:
        raise InstallError(f"bad adapter {spec!r}: expected VID:PID or VID:PID:SERIAL")
    vendor = _hex_id(fields[0], "vendor id", spec)
    product = _hex_id(fields[1], "product id", spec)
    serial = fields[2] if len(fields) == 3 else None
    if serial is not None:
        if not serial or not serial.isprintable():
            raise InstallError(f"bad adapter {spec!r}: the serial number is empty or unprintable")
        if _UNSAFE_IN_MATCH & set(serial):
            raise InstallError(
                f"serial number {serial!r} holds characters a udev match cannot take "
                f"literally ({''.join(sorted(_UNSAFE_IN_MATCH))})"
            )
    return AdapterMatch(vendor, product, serial)


def autostart_rule(spec: AdapterMatch) -> str:
    """One rule: the adapter's tty asks systemd for ``wanctl@<tty>.service``."""
    serial = (f', ENV{{ID_SERIAL_SHORT}}=="{spec.serial_number}"'
              if spec.serial_number is not None else "")  # fmt: skip
    return (
        f'SUBSYSTEM=="tty", KERNEL=="ttyUSB[0-9]*|ttyACM[0-9]*", '
        f'ENV{{ID_VENDOR_ID}}=="{spec.vendor_id:04x}", ENV{{ID_MODEL_ID}}=="{spec.product_id:04x}"'
        f'{serial}, TAG+="systemd", ENV{{SYSTEMD_WANTS}}+="wanctl@%k.service"'
    )


def autostart_rules(specs: Sequence[AdapterMatch]) -> str:
    header = (
        "# wanctl autostart, written by udev/install.sh --autostart: when one of these\n"
        "# adapters appears, systemd starts wanctl@<tty>.service for it.\n"
        "# Remove this file (and run udev/install.sh again) to stop that.\n"
        'ACTION=="remove", GOTO="wanctl_autostart_end"\n'
    )
    body = "".join(f"# {spec}\n{autostart_rule(spec)}\n" for spec in specs)
    return header + body + 'LABEL="wanctl_autostart_end"\n'


@dataclass
class InstallReport:
    """What an install or uninstall did."""

    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False)


def _copy(source: Path, target: Path, report: InstallReport) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.new")
    shutil.copyfile(source, temporary)
    temporary.chmod(0o644)
    temporary.replace(target)
    report.written.append(target)


def _write(text: str, target: Path, report: InstallReport) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.new")
    temporary.write_text(text)
    temporary.chmod(0o644)
    temporary.replace(target)
    report.written.append(target)


def reload_udev(report: InstallReport, *, add_events: bool, runner: Runner = _run) -> None:
    """Make a running udev read the rules again and apply them to present devices."""
    if shutil.which("udevadm") is None:
        raise InstallError("udevadm is not installed (apt-get install udev)")
    action = "add" if add_events else "change"
    commands = [
        ["udevadm", "control", "--reload"],
        ["udevadm", "trigger", f"--action={action}", "--subsystem-match=tty",
         "--subsystem-match=usb"],
        ["udevadm", "settle", "--timeout=30"],
    ]  # fmt: skip
    if add_events and Path("/run/systemd/system").is_dir():
        commands.insert(0, ["systemctl", "daemon-reload"])
    for command in commands:
        result = runner(command)
        report.commands.append(list(command))
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip()
            raise InstallError(f"{' '.join(command)} failed: {message}")


def install(root: Path = Path("/"), *, autostart: Sequence[AdapterMatch] = (),
            source_dir: Path | None = None, reload: bool = True,
            runner: Runner = _run) -> InstallReport:  # fmt: skip
    """Install the rules (and the opt-in autostart) under ``root``; reload udev if asked."""
    source = source_dir or default_source_dir()
    rules = source / RULES_NAME
    if not rules.is_file():
        raise InstallError(
            f"{rules} not found: run udev/install.sh from a wanctl source checkout "
            f"or set {SOURCE_ENV} to the directory holding {RULES_NAME}"
        )
    report = InstallReport()
    try:
        _copy(rules, root / RULES_DIR / RULES_NAME, report)
        if autostart:
            _write(autostart_rules(autostart), root / RULES_DIR / AUTOSTART_RULES_NAME, report)
            _copy(source / UNIT_NAME, root / UNIT_DIR / UNIT_NAME, report)
    except PermissionError as exc:
        raise InstallError(f"cannot write {exc.filename}: run as root (sudo)") from exc
    if reload:
        reload_udev(report, add_events=bool(autostart), runner=runner)
    return report


def uninstall(
    root: Path = Path("/"), *, reload: bool = True, runner: Runner = _run
) -> InstallReport:
    """Remove every file ``install`` may have written."""
    report = InstallReport()
    for target in (root / RULES_DIR / RULES_NAME, root / RULES_DIR / AUTOSTART_RULES_NAME,
                   root / UNIT_DIR / UNIT_NAME):  # fmt: skip
        try:
            target.unlink()
        except FileNotFoundError:
            continue
        except PermissionError as exc:
            raise InstallError(f"cannot remove {target}: run as root (sudo)") from exc
        report.removed.append(target)
    if reload:
        reload_udev(report, add_events=False, runner=runner)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="udev/install.sh", description="Install wanctl's udev rules and apply them."
    )
    parser.add_argument(
        "--autostart",
        action="append",
        default=[],
        metavar="VID:PID[:SERIAL]",
        help="start wanctl@<tty>.service when this adapter appears (repeatable)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        help="install under this root instead of / (implies --no-reload)",
    )
    parser.add_argument(
        "--no-reload", action="store_true", help="only copy files; do not run udevadm"
    )
    parser.add_argument("--uninstall", action="store_true", help="remove the installed files")
    args = parser.parse_args(argv)  # fmt: skip
    reload = not args.no_reload and args.root == Path("/")
    try:
        specs = [parse_autostart(text) for text in args.autostart]
        if args.uninstall:
            report = uninstall(args.root, reload=reload)
        else:
            report = install(args.root, autostart=specs, reload=reload)
    except InstallError as exc:
        print(f"udev-install: {exc}", file=sys.stderr)
        return 1
    for path in report.written:
        print(f"installed {path}")
    for path in report.removed:
        print(f"removed {path}")
    for command in report.commands:
        print(f"ran {' '.join(command)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
