"""``wanctl demo``: the whole job with no hardware, narrated.

Two network namespaces stand for two computers.  A virtual null-modem cable
(two real ttys joined by a relay paced at the chosen baud) or two emulated
Hayes modems on a virtual exchange join them.  One side answers, the other
dials; CHAP, IPCP and IPV6CP come up; we ping both ways, measure TCP
throughput against the line rate, and hang up.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from hw.lab.cable_process import CableProcess
from hw.lab.modem.process import ExchangeProcess
from wanctl.lab import LinkProcess, lab_unavailable, namespaces, ping, tcp_transfer
from wanminiport.exitcodes import ExitCode

HUB_IP, CLIENT_IP = "10.77.0.1", "10.77.0.2"
HUB_NUMBER, CLIENT_NUMBER = "5552002", "5551001"


def say(text: str) -> None:
    print(text, flush=True)


@contextlib.contextmanager
def _line(modems: bool, baud: int) -> Iterator[tuple[str, str, list[str], list[str]]]:
    """The two ttys, and the extra options each side needs for this kind of line."""
    if modems:
        with ExchangeProcess(
            [HUB_NUMBER, CLIENT_NUMBER], rate=baud, ring_interval=1.0, handshake=0.5
        ) as exchange:
            say(f"Two emulated Hayes modems on a virtual exchange, CONNECT {baud}:")
            say(f"  hub modem    {exchange.tty(HUB_NUMBER)} (number {HUB_NUMBER})")
            say(f"  client modem {exchange.tty(CLIENT_NUMBER)} (number {CLIENT_NUMBER})")
            yield (
                exchange.tty(HUB_NUMBER),
                exchange.tty(CLIENT_NUMBER),
                ["--init", "ATS0=0"],
                ["--number", HUB_NUMBER],
            )
    else:
        with CableProcess(baud) as cable:
            say(f"A virtual null-modem cable at {baud} baud (8N1, paced in its own process):")
            say(f"  {cable.b} <-> {cable.a}")
            yield cable.b, cable.a, [], []


def run_demo(*, baud: int = 115200, modems: bool = False, seconds: float = 5.0) -> int:
    reason = lab_unavailable()
    if reason:
        say(f"wanctl demo: {reason}")
        return int(ExitCode.NOT_ROOT)
    started = time.monotonic()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wanctl-demo-") as tmp:
        secrets = Path(tmp, "chap-secrets")
        secrets.write_text('client hub "demo secret" *\n')
        secrets.chmod(0o600)
        env = {"WANCTL_RUN_DIR": tmp, "WANCTL_LOCK_DIR": tmp}
        with namespaces(2, prefix="demo") as (ns_hub, ns_client):
            say(
                f"Two network namespaces stand for two computers: {ns_hub} (hub), "
                f"{ns_client} (client)."
            )
            with _line(modems, baud) as (hub_tty, client_tty, hub_extra, client_extra):
                hub = LinkProcess(
                    [
                        "answer",
                        hub_tty,
                        "--baud",
                        str(baud),
                        "--ip",
                        f"{HUB_IP}:{CLIENT_IP}",
                        "--ipv6",
                        "--require-chap",
                        "--name",
                        "hub",
                        "--chap-secrets",
                        str(secrets),
                        "--ms-dns",
                        "10.77.0.53",
                        "--linkname",
                        "hub",
                        *hub_extra,
                    ],
                    namespace=ns_hub,
                    env=env,
                    name="hub",
                )
                say(f"Hub: wanctl answer {hub_tty} --require-chap --ip {HUB_IP}:{CLIENT_IP} --ipv6")
                client = LinkProcess(
                    [
                        "dial",
                        client_tty,
                        "--baud",
                        str(baud),
                        "--user",
                        "client",
                        "--remotename",
                        "hub",
                        "--chap-secrets",
                        str(secrets),
                        "--ipv6",
                        "--usepeerdns",
                        "--linkname",
                        "client",
                        *client_extra,
                    ],
                    namespace=ns_client,
                    env=env,
                    name="client",
                )
                say(f"Client: wanctl dial {client_tty} --user client --ipv6 --usepeerdns")
                try:
                    _narrate(client, hub, ns_client, ns_hub, baud, seconds, failures)
                finally:
                    say("Hanging up the client (wanctl hangup client) ...")
                    LinkProcess(["hangup", "client"], env=env).wait()
                    client_code = client.wait(20)
                    try:  # the hub sees the peer's Terminate-Request and ends by itself
                        hub_code = hub.wait(20)
                    except subprocess.TimeoutExpired:
                        hub_code = hub.stop()
                    say(
                        f"  client exited with {client_code} (pppd's 5: user request), "
                        f"hub with {hub_code} (the peer ended the link)"
                    )
    say(
        f"Demo finished in {time.monotonic() - started:.0f} s"
        + (": all steps passed." if not failures else f"; failed: {', '.join(failures)}")
    )
    return 0 if not failures else int(ExitCode.FATAL_ERROR)


def _narrate(
    client: LinkProcess,
    hub: LinkProcess,
    ns_client: str,
    ns_hub: str,
    baud: int,
    seconds: float,
    failures: list[str],
) -> None:
    say("The client's progress:")
    seen = 0
    up = client.wait_for(r"Link up: (\S+) local (\S+) remote (\S+)", 60)
    for line in client.lines[seen:]:
        say(f"  client | {line}")
    ipv6 = [line for line in client.lines if line.startswith("IPv6 up")]
    hub_ll = client_ll = ""
    if ipv6:
        words = ipv6[0].split()
        client_ll, hub_ll = words[3], words[5]
    hub.wait_for(r"Link up", 30)
    say(f"  interface {up.group(1)}: local {up.group(2)}, remote {up.group(3)}")
    for where, ns, address in (
        ("client -> hub", ns_client, HUB_IP),
        ("hub -> client", ns_hub, CLIENT_IP),
        ("client -> hub, IPv6", ns_client, f"{hub_ll}%wan0"),
        ("hub -> client, IPv6", ns_hub, f"{client_ll}%wan0"),
    ):
        if not address.startswith("%"):
            ok, summary = ping(ns, address)
            say(f"Ping {where} ({address}): {summary}")
            if not ok:
                failures.append(f"ping {where}")
    say(
        f"Throughput: the client sends bulk TCP to the hub for {seconds:g} s; the hub times"
        " what arrives ..."
    )
    result = tcp_transfer(ns_client, ns_hub, HUB_IP, seconds=seconds)
    rate = result["bytes"] / result["seconds"] if result["seconds"] else 0.0
    line_rate = baud / 10
    say(
        f"  {result['bytes']} bytes in {result['seconds']:.1f} s = {rate:.0f} bytes/s, "
        f"{rate / line_rate:.1%} of the line's {line_rate:.0f} bytes/s (8N1); "
        f"data {'intact' if result['intact'] else 'CORRUPTED'} (SHA-256)"
    )
    if not result["intact"]:
        failures.append("throughput data integrity")
