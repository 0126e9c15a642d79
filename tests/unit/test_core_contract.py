"""Every protocol core speaks the one contract of ``wanminiport.sansio``, and
``CoreTimer`` (the asyncio half) arms, follows and cancels a core's timer.

The contract: ``get_timer()`` / ``handle_timer(now)``, one ``drain()`` whose
byte output is ``Transmit`` and whose log output is ``LogLine``, and misuse
raised as ``LocalProtocolError`` while the peer's doings are outputs.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from hw.lab.modem.engine import ModemEngine, ToLine
from ndiswan.ppp import PppConfig, PppSession
from ndiswan.ppp.automaton import Automaton
from ndiswan.ppp.chap import ChapAuthenticator
from ndiswan.ppp.fsm import Timing
from ndiswan.ppp.options import RejectAllHandler
from ndiswan.ppp.pap import PapPeer
from wanminiport.coretimer import CoreTimer
from wanminiport.mcm import ChatInterpreter, HayesDialer, HayesStateError
from wanminiport.sansio import LocalProtocolError, LogLine, Transmit

#: Names the cores used before the contract; none may come back.
RETIRED = (
    "pop_outputs",
    "deadline",
    "take_packets",
    "take_events",
    "take_signals",
    "frames_to_send",
    "next_event",
    "events",
)


def started_cores() -> list[tuple[str, Any]]:
    """One of each core, each asked to do something that sends bytes."""
    dialer = HayesDialer()
    dialer.dial("5551234", 0.0, init=("ATZ",))
    chat = ChatInterpreter(["", "ATZ", "OK", ""])
    chat.start(0.0)
    engine = ModemEngine()
    engine.receive_from_dte(b"AT\r", 0.0)
    automaton = Automaton(0x8021, "TEST", RejectAllHandler(), Timing())
    automaton.up(0.0)
    automaton.open(0.0)
    pap = PapPeer("bob", "secret")
    pap.start(0.0)
    chap = ChapAuthenticator("hub", lambda client, server: None, random.Random(1).randbytes)
    chap.start(0.0)
    session = PppSession(PppConfig(name="hub"), rng=random.Random(1).randbytes)
    session.open(0.0)
    session.lower_up(0.0)
    return [
        ("Hayes dialer", dialer),
        ("chat interpreter", chat),
        ("modem engine", engine),
        ("RFC 1661 automaton", automaton),
        ("PAP peer", pap),
        ("CHAP authenticator", chap),
        ("PPP session", session),
    ]


@pytest.mark.parametrize("name", [name for name, _ in started_cores()])
def test_every_core_has_one_drain_one_timer_and_transmits_bytes(name: str) -> None:
    core = dict(started_cores())[name]
    assert not [old for old in RETIRED if hasattr(core, old)], name
    outputs = core.drain()
    assert isinstance(outputs, list) and outputs, f"{name} sent nothing when started"
    assert core.drain() == [], f"{name}: a drain gives each output once"
    sent = [o for o in outputs if isinstance(o, Transmit)]
    assert sent and all(isinstance(o.data, bytes) and o.data for o in sent), name
    # No other record carries bytes for the floor below (ToLine is the far modem's).
    others = [o for o in outputs if not isinstance(o, Transmit | ToLine | LogLine)]
    assert not [o for o in others if isinstance(getattr(o, "data", None), bytes)], others
    timer = core.get_timer()
    assert timer is None or timer > 0.0, name
    core.handle_timer(0.0)  # before the deadline: nothing happens
    assert core.get_timer() == timer, name


def test_timers_fire_retransmissions_through_the_same_drain() -> None:
    for name, core in started_cores():
        core.drain()
        timer = core.get_timer()
        if timer is None:
            continue
        core.handle_timer(timer)
        later = core.drain()
        assert later, f"{name}: its timer at {timer} did nothing"


def test_misuse_is_a_local_protocol_error() -> None:
    dialer = HayesDialer()
    with pytest.raises(LocalProtocolError):
        dialer.accept(0.0)  # no call is ringing
    assert issubclass(HayesStateError, LocalProtocolError)


class FakeCore:
    """A core whose deadline the test moves; it records when it was woken."""

    def __init__(self, when: float | None) -> None:
        self.when = when
        self.woken: list[float] = []

    def get_timer(self) -> float | None:
        return self.when

    def handle_timer(self, now: float) -> None:
        self.woken.append(now)
        self.when = None


def test_core_timer_wakes_the_core_then_its_driver_and_follows_the_deadline() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        core = FakeCore(loop.time() + 0.01)
        serviced: list[float] = []
        timer = CoreTimer(core, lambda: serviced.append(loop.time()))
        timer.rearm()
        assert timer.when == core.when
        timer.rearm()  # the deadline did not move: the same arming stays
        await asyncio.sleep(0.1)
        assert len(core.woken) == 1 and core.woken[0] >= timer.loop.time() - 0.1
        assert len(serviced) == 1 and serviced[0] >= core.woken[0]
        assert timer.when is None  # the core wants nothing more
        # A deadline that moves earlier replaces the armed one.
        core.when = loop.time() + 10.0
        timer.rearm()
        core.when = loop.time() + 0.01
        timer.rearm()
        assert timer.when == core.when
        await asyncio.sleep(0.1)
        assert len(core.woken) == 2
        # Cancelled: it never fires.
        core.when = loop.time() + 0.01
        timer.rearm()
        timer.cancel()
        await asyncio.sleep(0.1)
        assert len(core.woken) == 2 and timer.when is None

    asyncio.run(run())
