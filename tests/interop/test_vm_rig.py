"""The interop rig itself: the VM boots, runs guest commands, passes bytes on its
serial lines, and two real pppds in it bring a link up through a host relay.

The pppd pair tests are also the baseline later interop tests compare with:
they record each side's control packets until IPCP is up.  With
``WANCTL_UPDATE_CAPTURES=1`` the CHAP test rewrites the capture fixtures in
``tests/interop/data/`` (see its README).
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
import tty
from collections.abc import Callable
from pathlib import Path

import pytest

from hw.lab.vm import (
    IPCP_UP,
    GuestProcess,
    GuestTimeout,
    PppdVm,
    VmError,
    count_sent,
    parse_pppd_log,
    start_pppd,
)
from tests.interop.pppd_wire import (
    CapturingRelay,
    control_packets_on_wire,
    read_frames,
    sent_packets_in_log,
)

pytestmark = pytest.mark.interop

DATA = Path(__file__).parent / "data"
UPDATE_CAPTURES = os.environ.get("WANCTL_UPDATE_CAPTURES") == "1"
ALL_BYTES = bytes(range(256))
RAW_TTY = "raw -echo cs8 -parenb -cstopb clocal"


# -- guest commands and processes ----------------------------------------------


def test_guest_command_returns_status_and_combined_output(pppd_vm: PppdVm) -> None:
    status, output = pppd_vm.run("echo to-stdout; echo to-stderr >&2; exit 7")
    assert status == 7
    assert output == "to-stdout\nto-stderr\n"


def test_guest_command_outliving_timeout_is_killed_and_agent_survives(pppd_vm: PppdVm) -> None:
    with pytest.raises(GuestTimeout) as timed_out:
        pppd_vm.run("echo started; sleep 60", timeout=1)
    assert timed_out.value.output == "started\n"
    assert pppd_vm.run("echo still-answering") == (0, "still-answering\n")
    _, processes = pppd_vm.run("ps -o args")
    assert "sleep 60" not in processes


def test_agent_killed_mid_command_is_replaced_and_the_vm_stays_usable(pppd_vm: PppdVm) -> None:
    # The command's parent is the agent shell; busybox init starts a new one.
    with pytest.raises(VmError, match="agent was restarted"):
        pppd_vm.run("kill -KILL $PPID; sleep 5", timeout=20)
    assert pppd_vm.run("echo answered") == (0, "answered\n")


def test_pppd_reports_version_2_4_9(pppd_vm: PppdVm) -> None:
    status, output = pppd_vm.run("pppd --version")
    assert status == 0
    assert output.strip() == "pppd version 2.4.9"


def test_dev_ppp_exists_after_ppp_generic_is_loaded(pppd_vm: PppdVm) -> None:
    modules = pppd_vm.check_output("cut -d' ' -f1 /proc/modules").split()
    assert {"ppp_generic", "ppp_async"} <= set(modules)
    # Character device 108,0 is what pppd opens to create its ppp unit.
    assert (
        pppd_vm.check_output("stat -c '%F %t,%T' /dev/ppp").strip() == "character special file 6c,0"
    )


def test_spawned_process_freezes_thaws_and_reports_exit_status(pppd_vm: PppdVm) -> None:
    sleeper = pppd_vm.spawn(["sleep", "60"], name="sleeper")
    assert pppd_vm.check_output(f"cat /proc/{sleeper.pid}/comm").strip() == "sleep"
    assert sleeper.freeze()
    assert _process_state(pppd_vm, sleeper) == "T"
    assert sleeper.thaw()
    assert _process_state(pppd_vm, sleeper) == "S"
    assert sleeper.poll() is None
    assert sleeper.terminate()
    assert sleeper.wait(timeout=10) == 128 + signal.SIGTERM


def test_spawned_shell_code_keeps_its_output_and_exit_status(pppd_vm: PppdVm) -> None:
    process = pppd_vm.spawn("echo out; echo err >&2; exit 3", name="shell")
    assert process.wait(timeout=10) == 3
    assert process.output() == "out\nerr\n"


def test_waiting_for_a_log_line_fails_at_once_when_pppd_exits(pppd_vm: PppdVm) -> None:
    # ttyS7 exists as a device node but has no UART behind it: pppd cannot open it.
    pppd = start_pppd(pppd_vm, "ttyS7", ["noauth"])
    started = time.monotonic()
    with pytest.raises(VmError, match="without logging"):
        pppd.wait_for_log(IPCP_UP, timeout=60)
    assert time.monotonic() - started < 15
    assert pppd.poll() not in (None, 0)


def test_pppd_secrets_are_written_with_mode_600(pppd_vm: PppdVm) -> None:
    secrets = 'client\tserver\t"s3cret"\t*\n'
    pppd_vm.write_file("/etc/ppp/chap-secrets", secrets, mode=0o600)
    assert pppd_vm.check_output("stat -c %a /etc/ppp/chap-secrets").strip() == "600"
    assert pppd_vm.read_file("/etc/ppp/chap-secrets") == secrets.encode()


def _process_state(vm: PppdVm, process: GuestProcess) -> str:
    return vm.check_output(
        f"sed -n 's/^State:\\t\\(.\\).*/\\1/p' /proc/{process.pid}/status"
    ).strip()


# -- serial lines ----------------------------------------------------------------


def _open_host_side(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    return fd


def _host_to_guest(vm: PppdVm, guest: str, host: str, payload: bytes) -> bytes:
    ready, received = f"/run/ready-{guest}", f"/run/received-{guest}"
    vm.run(f"rm -f {ready} {received}")
    reader = vm.spawn(
        f"exec 4<>/dev/{guest}; stty {RAW_TTY} <&4; : >{ready};"
        f" exec timeout 20 head -c {len(payload)} <&4 >{received}",
        name=f"reader-{guest}",
    )
    vm.check_output(f"for i in $(seq 100); do [ -e {ready} ] && exit 0; usleep 50000; done; exit 1")
    fd = _open_host_side(host)
    try:
        os.write(fd, payload)
        assert reader.wait(timeout=30) == 0, reader.output()
    finally:
        os.close(fd)
    return vm.read_file(received)


def _guest_to_host(vm: PppdVm, guest: str, host: str, payload: bytes) -> bytes:
    vm.write_file(f"/run/payload-{guest}", payload)
    # Open before the guest writes: qemu drops output while nobody holds the pty.
    fd = _open_host_side(host)
    os.set_blocking(fd, False)
    try:
        vm.check_output(f"exec 4<>/dev/{guest}; stty {RAW_TTY} <&4; cat /run/payload-{guest} >&4")
        received = bytearray()
        deadline = time.monotonic() + 20
        while len(received) < len(payload) and time.monotonic() < deadline:
            try:
                received += os.read(fd, 4096)
            except BlockingIOError:
                time.sleep(0.02)
    finally:
        os.close(fd)
    return bytes(received)


def test_each_serial_line_passes_all_byte_values_host_to_guest(pppd_vm: PppdVm) -> None:
    for line in pppd_vm.lines:
        assert _host_to_guest(pppd_vm, line.guest, line.host, ALL_BYTES) == ALL_BYTES, line


def test_each_serial_line_passes_all_byte_values_guest_to_host(pppd_vm: PppdVm) -> None:
    for line in pppd_vm.lines:
        assert _guest_to_host(pppd_vm, line.guest, line.host, ALL_BYTES) == ALL_BYTES, line


def test_lines_beyond_ttyS3_come_from_a_pci_card_and_pass_bytes(
    make_pppd_vm: Callable[..., PppdVm],
) -> None:
    vm = make_pppd_vm(serial_lines=5)
    assert [line.guest for line in vm.lines] == ["ttyS1", "ttyS2", "ttyS3", "ttyS4", "ttyS5"]
    for line in vm.lines[3:]:
        assert _host_to_guest(vm, line.guest, line.host, ALL_BYTES) == ALL_BYTES
        assert _guest_to_host(vm, line.guest, line.host, ALL_BYTES) == ALL_BYTES


# -- pppd to pppd ------------------------------------------------------------------

LOCAL_A, LOCAL_B = "10.77.0.1", "10.77.0.2"


def _start_pppd_pair(
    vm: PppdVm, a_options: list[str], b_options: list[str]
) -> tuple[GuestProcess, GuestProcess]:
    """pppd A on ttyS1 and pppd B on ttyS2; B in a network namespace of its own,
    so that A's traffic to B's address really crosses the serial link."""
    # B first: A's first ConfReq then finds B listening (B's own first one is lost).
    b = start_pppd(vm, "ttyS2", [*b_options, f"{LOCAL_B}:{LOCAL_A}"], own_netns=True)
    a = start_pppd(vm, "ttyS1", [*a_options, f"{LOCAL_A}:{LOCAL_B}"])
    return a, b


def _stop_pair(a: GuestProcess, b: GuestProcess) -> tuple[int, int]:
    """SIGTERM A (it sends LCP TermReq, B answers TermAck and exits)."""
    a.terminate()
    return a.wait(timeout=30), b.wait(timeout=30)


def _assert_wire_matches_logs(
    first_to_second: bytes, second_to_first: bytes, log_a: str, log_b: str
) -> None:
    """Every control packet each pppd logged as sent crossed the relay, in order."""
    assert control_packets_on_wire(first_to_second) == sent_packets_in_log(parse_pppd_log(log_a))
    assert control_packets_on_wire(second_to_first) == sent_packets_in_log(parse_pppd_log(log_b))


def test_pppd_pair_brings_up_ipcp_and_ping_crosses_the_link(
    pppd_vm: PppdVm, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ttys1, ttys2 = pppd_vm.line("ttyS1"), pppd_vm.line("ttyS2")
    with CapturingRelay(ttys1.host, ttys2.host) as relay:
        started = time.monotonic()
        a, b = _start_pppd_pair(pppd_vm, ["noauth"], ["noauth"])
        a.wait_for_log(IPCP_UP)
        b.wait_for_log(IPCP_UP)
        ipcp_seconds = time.monotonic() - started
        before_ping = relay.snapshot()
        ping = pppd_vm.run(f"ping -c 3 -W 5 {LOCAL_B}", timeout=30)
        after_ping = relay.snapshot()
        status_a, status_b = _stop_pair(a, b)
        wire = relay.snapshot()
    assert relay.error is None
    assert ping[0] == 0, ping[1]
    assert "3 packets received" in ping[1]
    # The echo requests and replies went over the serial line as data frames.
    for direction in (0, 1):
        new_bytes = after_ping[direction][len(before_ping[direction]) :]
        data_frames = [frame for frame in read_frames(new_bytes) if not frame.is_control]
        assert len(data_frames) >= 3

    text_a, text_b = a.read_log(), b.read_log()
    (tmp_path / "pppd-a.log").write_text(text_a)
    (tmp_path / "pppd-b.log").write_text(text_b)
    _assert_wire_matches_logs(wire[0], wire[1], text_a, text_b)
    assert status_a == 5  # pppd's EXIT_USER_REQUEST after SIGTERM
    assert status_b in (5, 16)  # terminated by peer, or "Modem hangup" as the line closes
    for side, text in (("a", text_a), ("b", text_b)):
        until_up = parse_pppd_log(text, until=IPCP_UP)
        sent = count_sent(until_up)
        assert sent[("LCP", "ConfReq")] >= 1 and sent[("IPCP", "ConfReq")] >= 1
        assert ("rcvd", "IPCP", "ConfAck") in until_up
        figure = (f"pppd_{side}_control_packets_sent_until_ipcp_up", sum(sent.values()))
        request.node.user_properties.append(figure)
        print(*figure, dict(sent))
    request.node.user_properties.append(("seconds_until_ipcp_up", round(ipcp_seconds, 2)))
    print(f"IPCP up after {ipcp_seconds:.2f} s; pppd logs in {tmp_path}")


CHAP_SECRETS = "client\tserver\ts3cret-for-tests\t*\n"


def test_pppd_chap_exchange_on_the_wire_matches_both_logs(pppd_vm: PppdVm) -> None:
    pppd_vm.write_file("/etc/ppp/chap-secrets", CHAP_SECRETS, mode=0o600)
    server_options = ["auth", "require-chap", "name", "server"]
    client_options = ["noauth", "user", "client", "remotename", "server"]
    ttys1, ttys2 = pppd_vm.line("ttyS1"), pppd_vm.line("ttyS2")
    with CapturingRelay(ttys1.host, ttys2.host) as relay:
        server, client = _start_pppd_pair(pppd_vm, server_options, client_options)
        server.wait_for_log(IPCP_UP)
        client.wait_for_log(IPCP_UP)
        _stop_pair(server, client)
        server_to_client, client_to_server = relay.snapshot()
    text_server, text_client = server.read_log(), client.read_log()
    _assert_wire_matches_logs(server_to_client, client_to_server, text_server, text_client)
    assert "CHAP authentication succeeded" in text_client
    sent_by_server = count_sent(parse_pppd_log(text_server))
    assert sent_by_server[("CHAP", "Challenge")] >= 1 and sent_by_server[("CHAP", "Success")] == 1
    if UPDATE_CAPTURES:
        DATA.mkdir(exist_ok=True)
        (DATA / "chap_server.log").write_text(text_server)
        (DATA / "chap_client.log").write_text(text_client)
        (DATA / "chap_server_to_client.bin").write_bytes(server_to_client)
        (DATA / "chap_client_to_server.bin").write_bytes(client_to_server)


def test_stored_chap_capture_matches_its_logs() -> None:
    """The fixture files are one real exchange: wire bytes and logs agree packet by packet."""
    server_log = (DATA / "chap_server.log").read_text()
    client_log = (DATA / "chap_client.log").read_text()
    _assert_wire_matches_logs(
        (DATA / "chap_server_to_client.bin").read_bytes(),
        (DATA / "chap_client_to_server.bin").read_bytes(),
        server_log,
        client_log,
    )
    protocols = {packet.protocol for packet in parse_pppd_log(server_log)}
    assert {"LCP", "CHAP", "IPCP"} <= protocols
    total = sum(path.stat().st_size for path in DATA.iterdir())
    assert total < 16 * 1024  # fixtures stay small


def test_guest_files_round_trip_binary_data(pppd_vm: PppdVm) -> None:
    payload = os.urandom(3000)
    pppd_vm.write_file("/run/random.bin", payload)
    digest = pppd_vm.check_output("sha256sum /run/random.bin").split()[0]
    assert digest == hashlib.sha256(payload).hexdigest()
    assert pppd_vm.read_file("/run/random.bin") == payload
