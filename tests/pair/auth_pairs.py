"""Two PPP engines that authenticate each other, on the fake clock: the shared set-up."""

from __future__ import annotations

import random
from collections.abc import Callable
from ipaddress import IPv4Address

from ndiswan.ppp import LinkTerminated, PppConfig, PppSession, SecretsTable, Wire
from wanminiport.exitcodes import ExitCode

HUB_IP, BOB_IP = IPv4Address("10.7.0.1"), IPv4Address("10.7.0.2")


def session(name: str, seed: int, secrets: SecretsTable, **overrides: object) -> PppSession:
    """``hub`` (which assigns the addresses) or ``bob``, with these config overrides."""
    if name == "hub":
        overrides = {"local_ip": HUB_IP, "remote_ip": BOB_IP, **overrides}
    config = PppConfig(name=name, **overrides)  # type: ignore[arg-type]
    return PppSession(config, secrets=secrets, rng=random.Random(seed).randbytes)


def run(wire: Wire, done: Callable[[Wire], bool], max_time: float = 200.0) -> None:
    wire.start()
    assert wire.run(done, max_time=max_time), "\n".join(wire.trace)


def both_up(wire: Wire) -> bool:
    return all(end.network is not None for end in wire.ends)


def both_dead(wire: Wire) -> bool:
    return all(any(isinstance(e, LinkTerminated) for e in ev) for ev in wire.events)


def exit_code(events: list[object]) -> ExitCode:
    return next(e for e in events if isinstance(e, LinkTerminated)).exit_code
