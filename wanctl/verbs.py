"""The short verbs: ports, status, hangup, capture, selftest, import-pppd."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from wanctl import control
from wanctl.errors import UsageError, WanctlError
from wanctl.pcap import Direction, PcapWriter
from wanminiport.exitcodes import ExitCode


def ports(as_json: bool) -> int:
    from hw.discovery import format_ports, list_ports

    found = list_ports()
    if as_json:
        print(json.dumps([p.as_dict() for p in found], indent=2))
    elif not found:
        print("no serial ports or USB adapters found")
    else:
        print(format_ports(found))
    return 0


def _human_status(s: dict[str, object]) -> str:
    ipv4 = s["ipv4"]
    assert isinstance(ipv4, dict)
    b, f, e, w = s["bytes"], s["frames"], s["errors"], s["send_window"]
    assert isinstance(b, dict) and isinstance(f, dict) and isinstance(e, dict)
    assert isinstance(w, dict)
    return (
        f"{s['link']}: {s['phase']} on {s['device']} at {s['speed']} bps, "
        f"up {float(str(s['uptime'])):.0f} s, pid {s['pid']}\n"
        f"  interface {s['interface'] or '-'}  local {ipv4['local'] or '-'}  "
        f"remote {ipv4['remote'] or '-'}\n"
        f"  sent {b['sent']} bytes / {f['sent']} frames, "
        f"received {b['received']} bytes / {f['received']} frames\n"
        f"  errors: crc {e['crc']}, framing {e['framing']}, overruns {e['overruns']}, "
        f"dropped {e['dropped']}; send window {w['outstanding']}/{w['size']}"
        + _human_compression(s.get("compression"))
        + _human_bundle(s.get("bundle"))
    )


def _human_bundle(b: object) -> str:
    """One line per multilink member: state, speed, share of what was sent, errors."""
    if not isinstance(b, dict):
        return ""
    lines = [
        f"\n  bundle {b['key'] or '-'}: sent {b['packets_sent']} packets, "
        f"received {b['packets_received']}, lost {b['lost']}, dropped {b['dropped']}"
    ]
    for m in b["members"]:
        why = f" ({m['left_because']})" if m["left_because"] else ""
        lines.append(
            f"\n    member {m['member']}: {m['state']}{why} at {m['speed']} bps, "
            f"{m['share']:.0%} of sent, {m['frames_sent']}/{m['frames_received']} "
            f"fragments sent/received, errors {m['errors']}"
        )
    return "".join(lines)


def _human_compression(c: object) -> str:
    """``compression: Deflate (15) sent (ratio 3.12), Deflate (15) received (2.95); VJ both``."""
    if not isinstance(c, dict):
        return ""
    parts = []
    for direction, key in (("sent", "send"), ("received", "receive")):
        figures = c[direction]
        ratio = figures["before"] / figures["after"] if figures["after"] else 0.0
        if c[key]:
            parts.append(f"{c[key]} {direction} (ratio {ratio:.2f})")
    vj = c["vj"]
    vj_text = {(True, True): "both ways", (True, False): "sent", (False, True): "received"}
    if vj["send"] or vj["receive"]:
        parts.append(f"VJ {vj_text[vj['send'], vj['receive']]}")
    return "\n  compression: " + (", ".join(parts) if parts else "none")


def status(link: str | None, as_json: bool) -> int:
    names = [link] if link else control.list_links()
    if not names:
        print("no links are running")
        return 0
    results = [control.status(name) for name in names]
    if as_json:
        print(json.dumps(results[0] if link else results, indent=2))
    else:
        print("\n".join(_human_status(r) for r in results))
    return 0


def hangup(link: str | None, everything: bool, member: str | None = None) -> int:
    if everything and member is not None:
        raise UsageError("--member", "drops one member of one bundle", "name the LINK, not --all")
    if everything:
        outcome = control.hangup_all()
        for name, error in outcome.items():
            print(f"{name}: {error or 'hanging up'}")
        return 1 if any(outcome.values()) else 0
    if link is None:
        running = control.list_links()
        if len(running) != 1:
            raise UsageError(
                "LINK",
                f"{len(running)} links are running",
                "name one (wanctl status lists them) or use --all",
            )
        link = running[0]
    if member is not None:
        control.hangup(link, member=member)
        print(f"{link}: dropping member {member}")
        return 0
    control.hangup(link)
    print(f"{link}: hanging up")
    return 0


def capture(link: str, path: str, count: int, duration: float) -> int:
    frames = 0
    deadline = time.monotonic() + duration if duration else None
    with PcapWriter(path) as writer:
        try:
            for timestamp, outbound, frame in control.capture_frames(link):
                writer.write(frame, Direction.SENT if outbound else Direction.RECEIVED, timestamp)
                frames += 1
                if (count and frames >= count) or (deadline and time.monotonic() >= deadline):
                    break
        except KeyboardInterrupt:
            pass
    print(f"{frames} frames written to {path}", file=sys.stderr)
    return 0


def selftest(port: str, port2: str | None, bauds: str) -> int:
    try:
        speeds = [int(b) for b in bauds.split(",") if b]
    except ValueError:
        raise UsageError(
            "--bauds", f"{bauds!r} is not a list of speeds", "write them like 9600,115200"
        ) from None
    from hw.selftest import run_selftest

    report = run_selftest(port, port2, bauds=speeds, progress=lambda text: print(text))
    print(report.render())
    return 0 if report.passed else int(ExitCode.FATAL_ERROR)


def import_pppd(path: str, output: str | None) -> int:
    from wanctl.pppd_import import import_pppd as translate
    from wanctl.profiles import save_profile

    result = translate(path)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    text = result.to_toml()
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        save_profile(Path(output), text)
    except FileExistsError:
        raise WanctlError(f"{output} exists; remove it or choose another -o FILE") from None
    print(f"profile written to {output}", file=sys.stderr)
    return 0
