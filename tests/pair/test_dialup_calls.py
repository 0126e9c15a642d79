"""Calls through two emulated modems: PPP up, hang-up from either side, back to idle.

The same adapters, call managers and PPP links carry one call after another:
after each hang-up both modems are in command mode again, the answering side
waits for the next RING, and the caller reuses its deactivated VC (CoNDIS
lets a VC be reused for the next call instead of deleted).
"""

from __future__ import annotations

import asyncio

from hw.lab.modem import Exchange, ExchangeConfig, ModemConfig
from tests.reliability.stack import (
    NO_CARRIER_ACCM,
    LinkEnd,
    answer,
    client_config,
    close_end,
    hub_config,
    network_up,
    open_modem_end,
    until,
)
from wanminiport.exitcodes import ExitCode
from wanminiport.mcm import HayesTimings
from wanminiport.mcm.dialup import DialupCallManager, DialupSettings
from wanminiport.vc import VcState

HUB_NUMBER, CLIENT_NUMBER = "5552002", "5551001"
#: The modems run at 1/20 of real time, so their S12 escape guard is 50 ms; our
#: guard around "+++" must be longer for the escape (and so ATH) to be heard.
SETTINGS = DialupSettings(
    timings=HayesTimings(command=2.0, dial=5.0, answer=5.0, ring_gap=1.0, guard=0.1, dtr_hold=0.05)
)


async def _call(hub: LinkEnd, client: LinkEnd) -> None:
    assert client.vc is not None
    answering = asyncio.ensure_future(answer(hub))
    await client.manager.make_call(client.handle, client.vc, HUB_NUMBER)  # type: ignore[union-attr]
    await answering
    await network_up(client)
    await network_up(hub)


def test_calls_come_up_hang_up_from_either_side_and_return_to_idle() -> None:
    async def run() -> None:
        exchange = Exchange(
            ExchangeConfig(ring_interval=0.2, handshake_time=0.0, dte_poll_interval=0.01)
        )
        for number in (HUB_NUMBER, CLIENT_NUMBER):
            exchange.add_modem(number, config=ModemConfig(rate=115200, time_scale=0.05))
        exchange.start()
        hub = await open_modem_end(
            exchange.modems[HUB_NUMBER].path, hub_config(asyncmap=NO_CARRIER_ACCM), SETTINGS
        )
        client = await open_modem_end(
            exchange.modems[CLIENT_NUMBER].path, client_config(asyncmap=NO_CARRIER_ACCM), SETTINGS
        )
        client.vc = client.adapter.create_vc(client.link)
        try:
            for round_number, hanging_up in enumerate((client, hub, client)):
                await _call(hub, client)
                other = hub if hanging_up is client else client
                assert hanging_up.vc is not None
                # Our side puts the phone down; the other sees NO CARRIER.
                await hanging_up.manager.close_call(hanging_up.vc)  # type: ignore[union-attr]
                await until(other.link.terminated.is_set, "the far side to see the carrier drop")
                assert other.link.exit_code is ExitCode.HANGUP
                for end in (hub, client):
                    assert end.vc is not None and end.vc.state is VcState.DEACTIVATED
                    assert isinstance(end.manager, DialupCallManager)
                    assert not end.manager.signaling.online  # command mode, idle
                    assert not end.manager.calls
                    end.link.detach()
                # The caller reuses its VC; the answering side deletes its own.
                assert hub.vc is not None
                hub.manager.delete_vc(hub.vc)
                hub.vc = None
                assert len(client.adapter.vcs) == 1 and not hub.adapter.vcs, round_number
        finally:
            await close_end(client)
            await close_end(hub)
            exchange.close()

    asyncio.run(asyncio.wait_for(run(), 120))
