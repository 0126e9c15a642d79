"""How many examples each fuzz target gets, the input counter, and the hang watchdog."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from types import FrameType

from hypothesis import HealthCheck, settings

SCALE_ENV = "WANCTL_FUZZ_SCALE"
#: Inputs fed to each target in this session, by target name.
INPUTS: collections.Counter[str] = collections.Counter()
#: No single input may keep a target busy longer than this (a hang).
HANG_SECONDS = 10.0


def scale() -> float:
    raw = os.environ.get(SCALE_ENV, "")
    value = float(raw) if raw else 1.0
    if value <= 0:
        raise ValueError(f"{SCALE_ENV} must be positive, not {raw!r}")
    return value


def fuzz_settings(examples: int) -> settings:
    """``examples`` at scale 1, multiplied by WANCTL_FUZZ_SCALE; no per-example deadline
    (a slow machine is not a bug), the watchdog catches real hangs.

    At scale 1 (the test command's run) the examples are the same every run, so the
    suite's verdict does not depend on luck; a scaled run explores fresh inputs."""
    return settings(
        max_examples=max(1, round(examples * scale())),
        derandomize=scale() == 1.0,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


class HangError(AssertionError):
    """An input kept a target busy for longer than HANG_SECONDS."""


@contextlib.contextmanager
def watchdog(target: str, seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Count one input for ``target``; fail it if it runs longer than ``seconds``."""
    INPUTS[target] += 1

    def expired(signum: int, frame: FrameType | None) -> None:
        raise HangError(f"{target}: one input ran longer than {seconds:g} s")

    # pytest-timeout may have its own SIGALRM timer running: put it back after.
    previous = signal.signal(signal.SIGALRM, expired)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            remaining = outer - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001))
