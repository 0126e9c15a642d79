"""Framers: PPP in async HDLC (RFC 1662), SLIP (RFC 1055) and RAS (no framing).

Protocol cores: no I/O, time passed in, receive errors counted and never raised.
"""

from wanminiport.framing.base import Framer, FramingStats
from wanminiport.framing.fcs import (
    FCS16_GOOD,
    FCS32_GOOD,
    fcs16,
    fcs16_bytes,
    fcs16_good,
    fcs32,
    fcs32_bytes,
    fcs32_good,
)
from wanminiport.framing.ppp_async import DEFAULT_FLAG_TIME, PppAsyncFramer
from wanminiport.framing.ras import RasFramer
from wanminiport.framing.slip import SlipFramer
from wanminiport.info import FramingMode, LinkInfo


def make_framer(mode: FramingMode, info: LinkInfo | None = None) -> Framer:
    """The framer for a line's framing mode, configured with ``info`` if given."""
    if mode is FramingMode.PPP:
        return PppAsyncFramer(info)
    if mode is FramingMode.SLIP:
        return SlipFramer(info)
    if mode is FramingMode.RAS:
        return RasFramer(info)
    raise ValueError(f"unknown framing mode {mode!r}")


__all__ = [
    "DEFAULT_FLAG_TIME",
    "FCS16_GOOD",
    "FCS32_GOOD",
    "Framer",
    "FramingStats",
    "PppAsyncFramer",
    "RasFramer",
    "SlipFramer",
    "fcs16",
    "fcs16_bytes",
    "fcs16_good",
    "fcs32",
    "fcs32_bytes",
    "fcs32_good",
    "make_framer",
]
