"""Dial-up through the emulated Hayes modems, with real pppd and chat in the VM.

The VM's ttyS1 is joined to one emulated modem (its host pty is the
modem's DTE side); our wanctl process opens the other modem's pty in a
network namespace.  pppd drives its modem with the real ``chat`` program,
exactly as an ISP script would; we drive ours with the built-in dialer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hw.lab.modem.process import ExchangeProcess
from hw.lab.vm import PppdVm, start_pppd
from hw.lab.vm.pppd_log import IPCP_UP
from wanctl.lab import LinkProcess, lab_unavailable, namespaces, ping

OURS, PPPD = "10.89.0.2", "10.89.0.1"
OUR_NUMBER, PPPD_NUMBER = "5551001", "5552002"


@pytest.fixture
def line(pppd_vm: PppdVm, tmp_path: Path) -> Iterator[tuple[ExchangeProcess, str, dict[str, str]]]:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    joins = {PPPD_NUMBER: pppd_vm.line("ttyS1").host}
    with (
        namespaces(1, prefix="modem") as (namespace,),
        ExchangeProcess(
            [OUR_NUMBER, PPPD_NUMBER], joins=joins, ring_interval=1.0, handshake=0.5
        ) as exchange,
    ):
        env = {"WANCTL_RUN_DIR": str(tmp_path), "WANCTL_LOCK_DIR": str(tmp_path)}
        yield exchange, namespace, env


def _ping_both_ways(vm: PppdVm, namespace: str) -> None:
    ok, summary = ping(namespace, PPPD, count=2)
    assert ok, summary
    status, output = vm.run(f"ping -c 2 -W 5 {OURS}", timeout=30)
    assert status == 0, output


def test_pppd_dials_through_the_emulator_to_our_answering_side(
    pppd_vm: PppdVm, line: tuple[ExchangeProcess, str, dict[str, str]]
) -> None:
    exchange, namespace, env = line
    ours = LinkProcess(
        [
            "answer",
            exchange.tty(OUR_NUMBER),
            "--init",
            "ATS0=0",
            "--ip",
            f"{OURS}:{PPPD}",
            "--linkname",
            "ours",
            "--debug",
        ],
        namespace=namespace,
        env=env,
        name="wanctl answer",
    )
    try:
        ours.wait_for(r"Waiting for a call", 15)
        chat = f"chat -v '' ATZ OK ATDT{OUR_NUMBER} CONNECT ''"
        pppd = start_pppd(pppd_vm, "ttyS1", ["noauth", "connect", chat, f"{PPPD}:{OURS}"])
        ours.wait_for(r"^Link up: ", 60)
        pppd.wait_for_log(IPCP_UP, timeout=60)
        _ping_both_ways(pppd_vm, namespace)
        pppd.terminate()  # pppd hangs up: LCP Terminate-Request, then its modem drops DTR
        assert pppd.wait(30) == 5
        assert ours.wait(30) in (0, 16)
        assert "Hanging up" in ours.output()
    finally:
        ours.stop()


def test_our_dialer_reaches_pppd_answering_with_chat(
    pppd_vm: PppdVm, line: tuple[ExchangeProcess, str, dict[str, str]]
) -> None:
    exchange, namespace, env = line
    # Expect RING, send ATA, expect CONNECT: the answering side of an ISP's modem pool.
    answer_chat = "chat -v -t 60 RING ATA CONNECT ''"
    pppd = start_pppd(pppd_vm, "ttyS1", ["noauth", "connect", answer_chat, f"{PPPD}:{OURS}"])
    ours = LinkProcess(
        [
            "dial",
            exchange.tty(OUR_NUMBER),
            "--number",
            PPPD_NUMBER,
            "--linkname",
            "ours",
            "--debug",
        ],
        namespace=namespace,
        env=env,
        name="wanctl dial",
    )
    try:
        ours.wait_for(r"^CONNECT", 60)
        ours.wait_for(r"^Link up: ", 60)
        pppd.wait_for_log(IPCP_UP, timeout=60)
        _ping_both_ways(pppd_vm, namespace)
        assert LinkProcess(["hangup", "ours"], env=env).wait() == 0
        assert ours.wait(30) == 5
        assert pppd.wait(30) in (0, 5, 16), pppd.read_log()[-600:]
    finally:
        ours.stop()
