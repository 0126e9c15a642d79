"""Framers: PPP in async HDLC (RFC 1662), SLIP (RFC 1055) and RAS (no framing).

Protocol cores: no I/O, time passed in, receive errors counted and never raised.
"""

from wanminiport.framing.base import Framer, FramingStats

__all__ = ["Framer", "FramingStats"]
