"""What a dial-up user sets and sees: tone or pulse dialing, auto-answer, and a
chat script's SAY/REPORT text (always shown, as chat writes it to stderr) and
its ``chat -v`` dialogue (shown with ``--debug``, as pppd logs it).

Real ``wanctl`` processes in network namespaces, on emulated modems joined by
the virtual exchange.
"""

from __future__ import annotations

import pytest

from hw.lab.modem.process import ExchangeProcess
from tests.e2e.conftest import CLIENT_IP, HUB_IP, Lab
from wanctl.lab import ping

HUB, CLIENT = "5551001", "5551002"


def modems() -> ExchangeProcess:
    return ExchangeProcess([HUB, CLIENT], ring_interval=0.5, handshake=0.2)


@pytest.mark.parametrize(
    ("flags", "command"),
    [
        ((), "ATDT5550000"),
        (("--tone",), "ATDT5550000"),
        (("--pulse",), "ATDP5550000"),
    ],
)
def test_dial_command_follows_tone_or_pulse(lab: Lab, flags: tuple[str, ...], command: str) -> None:
    """Expected: the modem is told ATDT (tone, the default) or ATDP (--pulse); the
    number does not exist, so NO CARRIER and exit code 8 (connect failed)."""
    with modems() as exchange:
        dialer = lab.start(
            "dial", lab.ns_client, exchange.tty(CLIENT), "--number", "5550000", "--debug", *flags
        )
        assert dialer.wait(60) == 8
        output = dialer.output()
    assert f"send ({command}^M)" in output, output
    other = "ATDP" if command.startswith("ATDT") else "ATDT"
    assert other not in output, output
    assert "NO CARRIER" in output


def test_auto_answer_lets_the_modem_pick_up_by_itself(lab: Lab) -> None:
    """Expected: --auto-answer 2 sets ATS0=2 and never sends ATA; the modem answers on
    the second ring, PPP comes up and ping crosses."""
    with modems() as exchange:
        hub = lab.start(
            "answer",
            lab.ns_hub,
            exchange.tty(HUB),
            "--noauth",
            "--ip",
            f"{HUB_IP}:{CLIENT_IP}",
            "--auto-answer",
            "2",
            "--debug",
        )
        hub.wait_for(r"Waiting for a call", 30)
        client = lab.start("dial", lab.ns_client, exchange.tty(CLIENT), "--number", HUB, "--noauth")
        client.wait_for(r"Link up", 60)
        hub.wait_for(r"Link up", 30)
        ok, summary = ping(lab.ns_client, HUB_IP, count=2)
        output = hub.output()
    assert ok, summary
    assert "send (ATS0=2^M)" in output, output
    assert "send (ATA^M)" not in output, output


def test_chat_say_is_shown_and_its_log_only_with_debug(lab: Lab) -> None:
    """Expected: a connect script's SAY text and REPORT line reach the user without
    --debug; chat's own -v log (expect/send lines) appears only with --debug."""
    script = "REPORT CONNECT\nABORT BUSY\nSAY 'Calling the hub\\n'\n'' ATZ OK ATDT\\T CONNECT ''\n"
    with modems() as exchange:
        hub = lab.start(
            "answer",
            lab.ns_hub,
            exchange.tty(HUB),
            "--noauth",
            "--init",
            "ATZ",
            "--ip",
            f"{HUB_IP}:{CLIENT_IP}",
        )
        hub.wait_for(r"Waiting for a call", 30)
        quiet = lab.start(
            "dial",
            lab.ns_client,
            exchange.tty(CLIENT),
            "--number",
            HUB,
            "--noauth",
            "--connect",
            script,
        )
        quiet.wait_for(r"Link up", 60)
        assert quiet.stop() == 5  # SIGTERM: a clean hang-up, pppd's "user request"
        hub.stop()
        quiet_output = quiet.output()
    assert "Calling the hub" in quiet_output, quiet_output
    assert "chat: CONNECT 115200" in quiet_output, quiet_output
    assert "expect (OK)" not in quiet_output, quiet_output
    with modems() as exchange:
        lab.start(
            "answer",
            lab.ns_hub,
            exchange.tty(HUB),
            "--noauth",
            "--init",
            "ATZ",
            "--ip",
            f"{HUB_IP}:{CLIENT_IP}",
        ).wait_for(r"Waiting for a call", 30)
        verbose = lab.start(
            "dial",
            lab.ns_client,
            exchange.tty(CLIENT),
            "--number",
            HUB,
            "--noauth",
            "--connect",
            script,
            "--debug",
        )
        verbose.wait_for(r"Link up", 60)
        verbose_output = verbose.output()
    assert "Calling the hub" in verbose_output
    for line in ("chat: expect (OK)", "chat: send (ATDT5551001^M)", "chat: OK -- got it"):
        assert line in verbose_output, verbose_output
