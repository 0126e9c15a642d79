"""MPPE between two engines on the fake clock: keys from MS-CHAPv2, CCP option 18, the gate."""

from __future__ import annotations

from pathlib import Path

from ndiswan.ppp import AuthRequirement, LogLine, SecretsTable, Wire
from ndiswan.ppp.ccp.methods import PROTO_COMPRESSED
from ndiswan.ppp.constants import Proto
from tests.pair.auth_pairs import both_dead, both_up, exit_code, run, session
from wanminiport.exitcodes import ExitCode

PASSWORD = "clientPass"
SECRETS = SecretsTable.from_text(f'bob hub "{PASSWORD}" *\n')
MPPE_128 = {"noccp": False, "mppe": (128,), "require_mppe": True}


def test_mppe_128_stateless_comes_up_both_ways_after_ms_chap_v2() -> None:
    client = session("bob", 2, SECRETS, **MPPE_128)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP_V2, **MPPE_128)
    wire = Wire((client, server))
    run(wire, lambda w: both_up(w) and all(e.compression.ccp.encrypting for e in w.ends))  # type: ignore[union-attr]
    assert any("<mppe +H -M +S -L -D -C>" in t for t in wire.trace), "\n".join(wire.trace)
    notes = [e.text for e in wire.events[0] if isinstance(e, LogLine)]
    assert "MPPE 128-bit stateless compression enabled" in notes
    # A datagram goes out as 0x00fd, encrypted, and comes back as it was.
    frame = client.send_datagram(Proto.IP, b"\x45" + bytes(27))
    assert frame is not None and frame[0] == PROTO_COMPRESSED  # PFC: one octet
    assert b"\x45" + bytes(27) not in frame
    inbound = server.compression.inbound(PROTO_COMPRESSED, frame[1:], wire.now)
    assert (inbound.protocol, inbound.payload) == (Proto.IP, b"\x45" + bytes(27))


def test_stateful_mppe_when_both_allow_it() -> None:
    stateful = {**MPPE_128, "mppe_stateful": True}
    client = session("bob", 2, SECRETS, **stateful)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP_V2, **stateful)
    wire = Wire((client, server))
    run(wire, lambda w: both_up(w) and all(e.compression.ccp.encrypting for e in w.ends))  # type: ignore[union-attr]
    assert any("<mppe -H -M +S -L -D -C>" in t for t in wire.trace)


def test_a_side_offering_40_and_128_is_nakd_to_the_strongest_both_allow() -> None:
    client = session("bob", 2, SECRETS, noccp=False, mppe=(128, 40), require_mppe=True)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP_V2, noccp=False,
                     mppe=(40,), require_mppe=True)  # fmt: skip
    wire = Wire((client, server))
    run(wire, lambda w: both_up(w) and all(e.compression.ccp.encrypting for e in w.ends))  # type: ignore[union-attr]
    assert any("ConfNak" in t and "<mppe +H -M -S +L -D -C>" in t for t in wire.trace)
    notes = [e.text for e in wire.events[1] if isinstance(e, LogLine)]
    assert "MPPE 40-bit stateless compression enabled" in notes


def test_required_mppe_without_ms_chap_v2_ends_the_link_and_passes_no_ip() -> None:
    client = session("bob", 2, SECRETS, **MPPE_128)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.CHAP, **MPPE_128)
    wire = Wire((client, server))
    run(wire, both_dead)
    assert exit_code(wire.events[0]) is not ExitCode.OK
    logs = [e.text for e in wire.events[0] if isinstance(e, LogLine)]
    assert "MPPE required but peer negotiation failed" in logs
    assert client.stats.datagrams_sent == 0
    assert client.send_datagram(Proto.IP, b"\x45" + bytes(27)) is None


def test_no_datagram_crosses_in_the_clear_before_mppe_is_up() -> None:
    client = session("bob", 2, SECRETS, **MPPE_128)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP_V2, **MPPE_128)
    wire = Wire((client, server))
    run(wire, both_up)  # IPCP can open before CCP does
    if not client.compression.ccp.encrypting:  # type: ignore[union-attr]
        assert client.send_datagram(Proto.IP, b"\x45" + bytes(27)) is None
    plain = server.compression.inbound(Proto.IP, b"\x45" + bytes(27), wire.now)
    assert plain.error == "unencrypted datagram while MPPE is required"
    assert server.compression.dropped_unencrypted >= 1


def test_mppe_keys_from_ms_chap_v1_are_one_key_for_both_directions() -> None:
    for bits in (128,):
        mppe = {"noccp": False, "mppe": (128, 40), "require_mppe": True}
        client = session("bob", 2, SECRETS, **mppe)
        server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP, **mppe)
        wire = Wire((client, server))
        run(wire, lambda w: both_up(w) and all(e.compression.ccp.encrypting for e in w.ends))  # type: ignore[union-attr]
        keys = [end._mppe_keys() for end in wire.ends]
        assert keys[0] is not None and keys[1] is not None
        assert keys[0].symmetric and keys[0].master == keys[1].master
        assert keys[0].start(bits, send=True) == keys[0].start(bits, send=False)
        for sender, receiver in ((client, server), (server, client)):
            frame = sender.send_datagram(Proto.IP, b"\x45" + bytes(27))
            assert frame is not None and frame[0] == PROTO_COMPRESSED
            inbound = receiver.compression.inbound(PROTO_COMPRESSED, frame[1:], wire.now)
            assert (inbound.protocol, inbound.payload) == (Proto.IP, b"\x45" + bytes(27))


def test_ms_chap_v1_gives_no_40_bit_mppe_as_pppd() -> None:
    mppe_40 = {"noccp": False, "mppe": (40,), "require_mppe": True}
    client = session("bob", 2, SECRETS, **mppe_40)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP, **mppe_40)
    wire = Wire((client, server))
    run(wire, both_dead)
    logs = [e.text for e in wire.events[0] if isinstance(e, LogLine)]
    assert "MPPE required but peer negotiation failed" in logs
    assert client.stats.datagrams_sent == 0


def test_no_password_hash_or_key_in_the_debug_log_or_the_pcap(tmp_path: Path) -> None:
    """MS-CHAPv2 + MPPE-128: a capture of the whole line and every log line hold
    neither the password, its hashes, the master or start keys, nor a datagram's text."""
    from ndiswan.ppp import mschap
    from wanctl.pcap import PcapWriter

    client = session("bob", 2, SECRETS, **MPPE_128)
    server = session("hub", 1, SECRETS, require_auth=AuthRequirement.MSCHAP_V2, **MPPE_128)
    wire = Wire((client, server))
    pcap = PcapWriter(tmp_path / "line.pcap")
    send = wire.send

    def captured(index: int, frame: bytes) -> None:
        (pcap.sent if index == 0 else pcap.received)(frame, wire.now)
        send(index, frame)

    wire.send = captured  # type: ignore[method-assign]
    run(wire, lambda w: both_up(w) and all(e.compression.ccp.encrypting for e in w.ends))  # type: ignore[union-attr]
    text = b"\x45" + bytes(19) + b"a secret datagram payload" * 4
    for sender in (client, server):
        frame = sender.send_datagram(Proto.IP, text)
        assert frame is not None
        wire.send(0 if sender is client else 1, frame)
    wire.run_for(1.0)
    pcap.close()
    keys = [end._mppe_keys() for end in wire.ends]
    assert keys[0] is not None and keys[1] is not None
    hashed = mschap.nt_password_hash(PASSWORD)
    forbidden = [PASSWORD.encode(), PASSWORD.encode("utf-16-le"), hashed, b"a secret datagram"]
    forbidden += [mschap.password_hash_hash(PASSWORD), keys[0].master]
    forbidden += [k.start(128, send=direction) for k in keys for direction in (True, False)]
    captured_bytes = (tmp_path / "line.pcap").read_bytes()
    assert pcap.packets >= 19  # LCP, MS-CHAPv2, CCP, IPCP and the two datagrams
    logs = "\n".join(
        wire.trace + [e.text for ev in wire.events for e in ev if isinstance(e, LogLine)]
    )
    flat_log = logs.replace(" ", "").lower()
    for secret in forbidden:
        assert secret not in captured_bytes
        assert secret.hex() not in flat_log
    assert PASSWORD not in logs
