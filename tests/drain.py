"""A core's one ``drain()``, read by kind in tests.

A test often asks first for the frames a core sent and later for its events;
``take`` drains the core and hands out only the kind asked for, keeping the
rest, in order, for the next reader.
"""

from __future__ import annotations

from types import UnionType
from typing import Any
from weakref import WeakKeyDictionary

from wanminiport.sansio import Transmit

_kept: WeakKeyDictionary[Any, list[Any]] = WeakKeyDictionary()


def take(core: Any, kind: type | UnionType) -> list[Any]:
    """The outputs of ``kind`` since the last look, oldest first."""
    kept = _kept.setdefault(core, [])
    kept.extend(core.drain())
    taken = [output for output in kept if isinstance(output, kind)]
    kept[:] = [output for output in kept if not isinstance(output, kind)]
    return taken


def frames(core: Any) -> list[bytes]:
    """What the core handed down (``Transmit``), as bytes."""
    return [output.data for output in take(core, Transmit)]


def events(core: Any) -> list[Any]:
    """Everything else the core reported, in order."""
    everything = take(core, object)
    _kept[core] = [output for output in everything if isinstance(output, Transmit)]
    return [output for output in everything if not isinstance(output, Transmit)]
