"""Async test bodies under plain pytest: a fresh event loop per test, bounded in time."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

#: No async test body may run longer than this.
TEST_TIMEOUT = 15.0


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop; pytest still sees its fixtures."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), TEST_TIMEOUT))

    return wrapper


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait (polling every 5 ms) until ``condition()`` holds; fail naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)
