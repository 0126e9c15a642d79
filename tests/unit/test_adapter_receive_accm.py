"""The miniport's receive path across the ACCM change LCP brings (RFC 1662 4.2, 7.1)."""

from __future__ import annotations

from dataclasses import replace

from wanminiport import CallParameters, FlowSpec, LineDownReason, LinkParams, ModemLines, Vc
from wanminiport.adapter import WanMiniport
from wanminiport.framing import PppAsyncFramer
from wanminiport.info import LinkInfo
from wanminiport.transports.base import Transport, TransportEvents, WriteDone

LCP_CONFIGURE_ACK = bytes.fromhex("c021 02010004")
IPCP_CONFIGURE_REQUEST = bytes.fromhex("8021 01c1000a 0306 00000000")


class SilentLine(Transport):
    name = "test"

    def start(self, events: TransportEvents) -> None:
        pass

    def write(self, data: bytes, done: WriteDone | None = None) -> None:
        pass

    @property
    def buffered(self) -> int:
        return 0

    def set_dtr(self, on: bool) -> None:
        pass

    def set_rts(self, on: bool) -> None:
        pass

    def modem_lines(self) -> ModemLines:
        return ModemLines()

    def close(self) -> None:
        pass

    @property
    def is_open(self) -> bool:
        return True


class OpensOnConfigureAck:
    """A VC client that, like LCP reaching Opened, sets ACCM 0 on the Configure-Ack."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def receive_indication(self, vc: Vc, frame: bytes) -> None:
        self.frames.append(frame)
        if frame == LCP_CONFIGURE_ACK:
            vc.set_link_info(replace(vc.link_info, send_accm=0, recv_accm=0))

    def link_params_indication(self, vc: Vc, params: LinkParams) -> None:
        pass

    def line_down_indication(self, vc: Vc, reason: LineDownReason) -> None:
        pass

    def fragment_indication(self, vc: Vc) -> None:
        pass

    def modem_lines_indication(self, vc: Vc, lines: ModemLines) -> None:
        pass


def _line() -> tuple[WanMiniport, OpensOnConfigureAck]:
    adapter = WanMiniport(SilentLine())
    adapter.start()
    client = OpensOnConfigureAck()
    vc = adapter.create_vc(client)
    flow = FlowSpec(115200)
    adapter.activate_vc(vc, CallParameters(flow, flow, permanent=True))
    return adapter, client


def test_frames_behind_the_configure_ack_are_received_with_the_new_accm() -> None:
    adapter, client = _line()
    before = PppAsyncFramer(LinkInfo())  # all controls escaped: LCP, and the default
    after = PppAsyncFramer(LinkInfo(send_accm=0, recv_accm=0))
    # One chunk: the Configure-Ack that opens LCP, then an NCP packet the
    # peer sent at once with ACCM 0 (its control octets unescaped).
    chunk = before.encode(LCP_CONFIGURE_ACK) + after.encode(IPCP_CONFIGURE_REQUEST)
    adapter.frames_received(chunk)
    assert client.frames == [LCP_CONFIGURE_ACK, IPCP_CONFIGURE_REQUEST]
    assert adapter.active_vc is not None and adapter.active_vc.stats.crc_errors == 0


def test_control_characters_in_the_receive_accm_are_still_discarded() -> None:
    adapter, client = _line()
    framed = PppAsyncFramer(LinkInfo()).encode(bytes.fromhex("c021 09c10008 00000000"))
    # A DCE inserted XON and XOFF between the octets: RFC 1662 4.2 drops them.
    noisy = framed[:3] + b"\x11" + framed[3:6] + b"\x13" + framed[6:]
    adapter.frames_received(noisy + noisy)
    assert client.frames == [bytes.fromhex("c021 09c10008 00000000")] * 2
