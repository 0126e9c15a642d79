"""The miniport's information records: the OID_WAN_CO_* analogs.

CoNDIS names are kept in docstrings so a reader of the WDK finds their way:

* ``CoInfo``      -- NDIS_WAN_CO_INFO, the answer to OID_WAN_CO_GET_INFO
* ``LinkInfo``    -- NDIS_WAN_CO_SET_LINK_INFO, set by NDISWAN after LCP
* ``LinkParams``  -- WAN_CO_LINKPARAMS, indicated upward by the miniport at
  any time; a ``send_window`` of 0 shuts the VC's window
* ``VcStats``     -- the per-VC counters (NDIS_WAN_GET_STATS_INFO analog)

This module does no I/O and holds no state beyond plain records.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

#: RFC 1662 default: every control character 0x00-0x1F is escaped.
DEFAULT_ACCM = 0xFFFFFFFF
#: RFC 1661 default Maximum-Receive-Unit.
DEFAULT_MRU = 1500


class FramingBits(enum.IntFlag):
    """FramingBits of NDIS_WAN_CO_INFO / NDIS_WAN_CO_SET_LINK_INFO (ndiswan.h values)."""

    RAS_FRAMING = 0x0000_0001
    PPP_FRAMING = 0x0000_0100
    PPP_COMPRESS_ADDRESS_CONTROL = 0x0000_0200
    PPP_COMPRESS_PROTOCOL_FIELD = 0x0000_0400
    PPP_ACCM_SUPPORTED = 0x0000_0800
    SLIP_FRAMING = 0x0000_1000
    #: Not in ndiswan.h: the 32-bit FCS of RFC 1662 section C.3.
    PPP_FCS32 = 0x1000_0000


class FramingMode(enum.Enum):
    """Which framer a miniport runs on its line."""

    PPP = "ppp"
    SLIP = "slip"
    RAS = "ras"


class SendStatus(enum.Enum):
    """The status a send completes with (NDIS_STATUS_* analogs)."""

    SUCCESS = "success"
    #: The call was torn down (hang-up, carrier loss) before the frame left.
    HANGUP = "hangup"
    #: The device went away (unplug, EIO/HUP on the tty).
    UNPLUGGED = "unplugged"
    #: The VC or adapter was closed by its owner.
    CLOSED = "closed"
    #: The frame was larger than MaxSendFrameSize or otherwise not sendable.
    INVALID = "invalid"


@dataclass(frozen=True)
class CoInfo:
    """NDIS_WAN_CO_INFO: what the miniport can do (OID_WAN_CO_GET_INFO)."""

    max_frame_size: int
    max_send_window: int
    framing_bits: FramingBits
    desired_accm: int = DEFAULT_ACCM

    def __post_init__(self) -> None:
        if self.max_send_window < 1:
            raise ValueError("MaxSendWindow must be at least 1")
        if self.max_frame_size < 1:
            raise ValueError("MaxFrameSize must be positive")


@dataclass(frozen=True)
class LinkInfo:
    """NDIS_WAN_CO_SET_LINK_INFO: the negotiated link (OID_WAN_CO_SET_LINK_INFO).

    ``send_accm`` is the peer's receive ACCM (what we must escape);
    ``recv_accm`` is ours (unescaped characters in it are discarded on receive).
    """

    max_send_frame_size: int = DEFAULT_MRU
    max_recv_frame_size: int = DEFAULT_MRU
    send_framing_bits: FramingBits = FramingBits.PPP_FRAMING
    recv_framing_bits: FramingBits = FramingBits.PPP_FRAMING
    send_accm: int = DEFAULT_ACCM
    recv_accm: int = DEFAULT_ACCM


@dataclass(frozen=True)
class LinkParams:
    """WAN_CO_LINKPARAMS: indicated upward whenever speed or window changes."""

    transmit_speed: int
    receive_speed: int
    send_window: int


@dataclass
class VcStats:
    """Per-VC counters, the NDIS_WAN_GET_STATS_INFO fields plus a few of ours."""

    bytes_sent: int = 0
    bytes_received: int = 0
    frames_sent: int = 0
    frames_received: int = 0
    crc_errors: int = 0
    timeout_errors: int = 0
    alignment_errors: int = 0
    serial_overrun_errors: int = 0
    framing_errors: int = 0
    buffer_overrun_errors: int = 0
    sends_failed: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        out = {k: v for k, v in vars(self).items() if isinstance(v, int)}
        out.update(self.extra)
        return out
