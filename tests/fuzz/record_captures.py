"""Record the fuzzers' extra seeds: two real pppds in the interop VM, joined by a relay.

    python3 -m tests.fuzz.record_captures        (as root; boots the VM, about 30 s)

The CHAP exchange in ``tests/interop/data`` has no PAP, no Echo, no
Configure-Nak or -Reject and little data.  This records one more link, in
``tests/fuzz/data``: the server requires PAP and asks for MRU 296 and an
asyncmap, the client asks for MRU 1500, refuses CHAP and wants VJ
compression the server rejects; both send LCP Echo-Requests every second;
IPv4 and IPv6 come up and pings cross both ways; then the server is sent
SIGTERM.  Each direction's bytes and each side's ``debug`` log are kept.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hw.lab.vm import IPCP_UP, PppdVm, start_pppd
from tests.interop.pppd_wire import CapturingRelay, read_frames

DATA = Path(__file__).parent / "data"
PAP_SECRETS = 'client\tserver\t"pap-s3cret"\t*\n'
SERVER = [
    "auth",
    "require-pap",
    "name",
    "server",
    "mru",
    "296",
    "asyncmap",
    "0xa0000",
    "+ipv6",
    "lcp-echo-interval",
    "1",
    "lcp-echo-failure",
    "5",
    "novj",
    "10.78.0.1:10.78.0.2",
]
CLIENT = [
    "noauth",
    "user",
    "client",
    "remotename",
    "server",
    "refuse-chap",
    "mru",
    "1500",
    "+ipv6",
    "lcp-echo-interval",
    "1",
    "lcp-echo-failure",
    "5",
    "10.78.0.2:10.78.0.1",
]


def main() -> int:
    with PppdVm(serial_lines=2) as vm:
        vm.write_file("/etc/ppp/pap-secrets", PAP_SECRETS, mode=0o600)
        line1, line2 = vm.line("ttyS1"), vm.line("ttyS2")
        with CapturingRelay(line1.host, line2.host) as relay:
            client = start_pppd(vm, "ttyS2", CLIENT, own_netns=True)
            server = start_pppd(vm, "ttyS1", SERVER)
            server.wait_for_log(IPCP_UP, timeout=60)
            client.wait_for_log(IPCP_UP, timeout=60)
            vm.run("ping -c 3 -s 200 -W 5 10.78.0.2", timeout=30)
            time.sleep(2.5)  # a few LCP echoes both ways
            server.terminate()
            server.wait(timeout=30)
            client.wait(timeout=30)
            server_to_client, client_to_server = relay.snapshot()
        DATA.mkdir(exist_ok=True)
        (DATA / "pap_server.log").write_text(server.read_log())
        (DATA / "pap_client.log").write_text(client.read_log())
        (DATA / "pap_server_to_client.bin").write_bytes(server_to_client)
        (DATA / "pap_client_to_server.bin").write_bytes(client_to_server)
    frames = read_frames(server_to_client) + read_frames(client_to_server)
    print(
        f"recorded {len(server_to_client) + len(client_to_server)} bytes, {len(frames)} frames"
        f" in {DATA}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
