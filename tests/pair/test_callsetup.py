"""The runner's call-setup strategies over real ttys: a cable's PVC and an emulated modem's call.

Each end is the runner's stack below the TUN (transport, miniport, PPP link on an
API edge); the strategy alone brings the call up and takes it down, as
``LinkRunner`` asks it to.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Awaitable
from typing import Any

import pytest

from hw.lab.cable import VirtualCable
from hw.lab.modem import Exchange, ExchangeConfig, ModemConfig
from ndiswan.edges import ApiEdge
from ndiswan.link import NO_LINK_STATUS, PppLink
from ndiswan.ppp import NetworkUp, PppConfig
from tests.reliability.stack import NO_CARRIER_ACCM, client_config, hub_config, lookup, until
from wanctl.callsetup import (
    CallSetup,
    DirectLine,
    ModemLine,
    call_setup_for,
    dialup_settings,
    uses_modem,
)
from wanctl.options import LinkOptions
from wanctl.progress import Progress
from wanminiport import WanMiniport
from wanminiport.callmgr import bind_client, unbind_adapter
from wanminiport.exitcodes import ExitCode
from wanminiport.transports.serial_port import SerialTransport
from wanminiport.vc import NO_VC_STATUS, Vc, VcState

HUB_NUMBER, CLIENT_NUMBER = "5552002", "5551001"


class End:
    """One side: the stack below the TUN and the strategy the runner would pick."""

    def __init__(self, path: str, config: PppConfig, options: LinkOptions, *, answer: bool):
        self.output = io.StringIO()
        self.adapter = WanMiniport(SerialTransport(path, 115200))
        self.adapter.start()
        self.edge = ApiEdge()
        self.link = PppLink(config, self.edge, secrets=lookup)
        bind_client(self.adapter, self.link)
        self.call: CallSetup = call_setup_for(
            self.adapter, options, answer=answer, progress=Progress(self.output)
        )

    async def connect(self) -> Vc:
        vc = await self.call.connect(self.link, _no_hangup)
        assert vc is not None
        return vc

    async def network_up(self) -> NetworkUp:
        while True:
            event = await asyncio.wait_for(self.edge.events.get(), 30)
            if isinstance(event, NetworkUp):
                return event

    def close(self) -> None:
        self.link.detach()
        self.call.close()
        unbind_adapter(self.adapter)
        self.adapter.close()

    @property
    def lines(self) -> list[str]:
        return self.output.getvalue().splitlines()


async def _no_hangup(request: Awaitable[Any]) -> Any:
    return await request


def test_a_direct_line_adds_a_pvc_and_teardown_deletes_it() -> None:
    async def run() -> None:
        async with VirtualCable(115200) as cable:
            options = LinkOptions(device=cable.a_path)
            hub = End(cable.a_path, hub_config(), options, answer=True)
            client = End(cable.b_path, client_config(), LinkOptions(device="b"), answer=False)
            assert isinstance(hub.call, DirectLine) and isinstance(client.call, DirectLine)
            try:
                hub_vc, client_vc = await hub.connect(), await client.connect()
                up = await client.network_up()
                await hub.network_up()
                assert hub_vc.state is VcState.ACTIVE and client_vc.state is VcState.ACTIVE
                assert hub.lines == [f"Direct line {cable.a_path}: starting PPP"]
                # The owners' figures: the link knows the addresses, the VC the octets.
                status = client.link.status()
                assert status["ipv4"] == {"local": str(up.local), "remote": str(up.remote)}
                assert set(status) == set(NO_LINK_STATUS)
                vc_status = client_vc.status()
                assert set(vc_status) == set(NO_VC_STATUS)
                assert vc_status["bytes"]["sent"] == client_vc.stats.bytes_sent > 0
                assert vc_status["frames"]["received"] == client_vc.stats.frames_received > 0
                await client.call.teardown(client_vc)
                assert client_vc.state is VcState.DELETED and not client.adapter.vcs
            finally:
                client.close()
                hub.close()

    asyncio.run(asyncio.wait_for(run(), 60))


def test_a_modem_line_dials_answers_and_hangs_up_through_the_emulated_exchange() -> None:
    async def run() -> None:
        exchange = Exchange(
            ExchangeConfig(ring_interval=0.2, handshake_time=0.0, dte_poll_interval=0.01)
        )
        for number in (HUB_NUMBER, CLIENT_NUMBER):
            exchange.add_modem(number, config=ModemConfig(rate=115200))
        exchange.start()
        hub_path, client_path = (exchange.modems[n].path for n in (HUB_NUMBER, CLIENT_NUMBER))
        hub = End(
            hub_path,
            hub_config(asyncmap=NO_CARRIER_ACCM),
            LinkOptions(device=hub_path, auto_answer=1),
            answer=True,
        )
        client = End(
            client_path,
            client_config(asyncmap=NO_CARRIER_ACCM),
            LinkOptions(device=client_path, number=HUB_NUMBER),
            answer=False,
        )
        assert isinstance(hub.call, ModemLine) and isinstance(client.call, ModemLine)
        try:
            answering = asyncio.ensure_future(hub.connect())
            client_vc = await client.connect()
            hub_vc = await answering
            await client.network_up()
            await hub.network_up()
            assert client.lines[:2] == [f"Dialing {HUB_NUMBER}", "CONNECT 115200"]
            assert f"Waiting for a call on {hub_path}" in hub.lines
            await client.call.teardown(client_vc)
            assert client_vc.state is VcState.DEACTIVATED
            assert "Hanging up" in client.lines
            await until(hub.link.terminated.is_set, "the answering side to see the carrier drop")
            assert hub.link.exit_code is ExitCode.HANGUP
            assert hub_vc.state is VcState.DEACTIVATED
        finally:
            client.close()
            hub.close()
            exchange.close()

    asyncio.run(asyncio.wait_for(run(), 90))


@pytest.mark.parametrize(
    ("options", "answer", "modem"),
    [
        (LinkOptions(device="/dev/ttyS0"), False, False),
        (LinkOptions(device="/dev/ttyS0"), True, False),
        (LinkOptions(device="/dev/ttyS0", number="5551234"), False, True),
        (LinkOptions(device="/dev/ttyS0", connect="'' ATDT5551234 CONNECT ''"), False, True),
        (LinkOptions(device="/dev/ttyS0", connect="'' ATA CONNECT ''"), True, True),
        (LinkOptions(device="/dev/ttyS0", init="ATS0=0"), True, True),
        (LinkOptions(device="/dev/ttyS0", auto_answer=2), True, True),
        # A number means nothing to the answering side, rings and init nothing to a caller.
        (LinkOptions(device="/dev/ttyS0", number="5551234"), True, False),
        (LinkOptions(device="/dev/ttyS0", auto_answer=2, init="ATS0=0"), False, False),
    ],
)
def test_the_kind_of_line_follows_pppd_options(
    options: LinkOptions, answer: bool, modem: bool
) -> None:
    assert uses_modem(options, answer=answer) is modem

    async def run() -> None:
        controller, tty = os.openpty()
        adapter = WanMiniport(SerialTransport(os.ttyname(tty), 115200))
        adapter.start()
        call = call_setup_for(adapter, options, answer=answer, progress=Progress(io.StringIO()))
        try:
            assert isinstance(call, ModemLine if modem else DirectLine)
        finally:
            call.close()
            adapter.close()
            os.close(tty)
            os.close(controller)

    asyncio.run(run())


def test_dialup_settings_carry_init_pulse_rings_and_the_script_to_the_right_side() -> None:
    script = "'' ATDT5551234 CONNECT ''"
    caller = dialup_settings(
        LinkOptions(connect=script, init="AT&F", pulse=True, auto_answer=0), answer=False
    )
    assert caller.init == ("ATZ", "AT&F") and caller.pulse
    assert caller.connect_chat == ["", "ATDT5551234", "CONNECT", ""]
    assert caller.answer_chat is None
    answerer = dialup_settings(LinkOptions(connect=script, auto_answer=3), answer=True)
    assert answerer.answer_chat == ["", "ATDT5551234", "CONNECT", ""]
    assert answerer.connect_chat is None and answerer.auto_answer_rings == 3
    assert answerer.init == dialup_settings(LinkOptions(), answer=True).init  # the default


def test_status_before_any_call_is_the_no_link_shape() -> None:
    link = PppLink(client_config(), ApiEdge())
    assert link.status() == NO_LINK_STATUS
