"""Line noise: TCP over a link whose cable flips one bit in 10,000 (BER 1e-4).

Two real ``wanctl`` processes in two network namespaces, the virtual cable
in a process of its own flipping each data bit with probability 1e-4, MRU
296 on both sides (what anyone sets on a noisy line: a 1500-octet frame
survives such a line only one time in five).  The client sends random data
over TCP to the hub for ``seconds``.

Expected:

* the data's SHA-256 at the hub equals the sender's (TCP over PPP recovers
  every lost frame; no damaged frame is delivered);
* the link stays up: no "Link down" from either side, phase ``network``;
* every dropped frame is counted.  Per direction, with the status of both
  ends (``wanctl status --json``) and the cable's counters read while the
  line is quiet: lost = frames sent - frames received, counted = the
  receiver's crc + framing + overrun errors.  The receiver's framer counts
  every flag-delimited piece it does not deliver (checked exactly by
  ``tests/fuzz``), so lost and counted differ only where a flipped bit
  destroyed a flag (two frames become one piece) or made one (one frame
  becomes two): |lost - counted| <= bits flipped.  And no piece is counted
  without damage: counted <= 2 x bits flipped.

CI runs ``CI_SECONDS``; the slow variant runs ``WANCTL_NOISE_SECONDS``
(default 600, ten minutes) with ``WANCTL_SLOW=1``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from hw.lab.cable_process import CableProcess
from tests.reliability.conftest import Lab
from tests.reliability.slow import env_count
from wanctl.lab import tcp_transfer

BER = 1e-4
CI_SECONDS = 20
LONG_SECONDS = env_count("WANCTL_NOISE_SECONDS", 600)
NOISY_LINE = ("--mru", "296", "--mtu", "296")


@dataclass(frozen=True)
class Direction:
    name: str
    sent: int
    received: int
    counted: int
    flipped: int

    @property
    def lost(self) -> int:
        return self.sent - self.received

    def line(self) -> str:
        return (
            f"{self.name}: {self.sent} frames sent, {self.received} received, "
            f"{self.lost} lost, {self.counted} counted as errors, "
            f"{self.flipped} bits flipped"
        )


def status(lab: Lab, link: str) -> dict[str, Any]:
    process = lab.wanctl("status", link, "--json")
    assert process.wait(15) == 0, process.output()
    report: dict[str, Any] = json.loads(process.output())
    return report


def counted(report: dict[str, Any]) -> int:
    errors = report["errors"]
    return int(errors["crc"] + errors["framing"] + errors["overruns"])


def quiet_snapshot(lab: Lab, cable: CableProcess) -> tuple[Direction, Direction]:
    """Both ends' counters and the cable's, read twice half a second apart until
    they agree (so no frame was in flight while they were read)."""
    previous: tuple[Direction, Direction] | None = None
    for _ in range(20):
        client, hub, line = status(lab, "client"), status(lab, "hub"), cable.stats()
        now = (
            Direction(
                "client -> hub",
                client["frames"]["sent"],
                hub["frames"]["received"],
                counted(hub),
                line["a_to_b"]["bits_flipped"],
            ),
            Direction(
                "hub -> client",
                hub["frames"]["sent"],
                client["frames"]["received"],
                counted(client),
                line["b_to_a"]["bits_flipped"],
            ),
        )
        if now == previous:
            for report in (client, hub):
                assert report["phase"] == "network", report
            return now
        previous = now
        time.sleep(0.5)
    raise AssertionError(f"the counters never settled: {previous}")


def run_noisy_transfer(lab: Lab, seconds: int) -> None:
    with CableProcess(115200, ber=BER, seed=20250) as cable:
        hub = lab.answer(cable.b, *NOISY_LINE)
        client = lab.dial(cable.a, *NOISY_LINE)
        client.wait_for(r"Link up", 90)
        hub.wait_for(r"Link up", 90)
        started = time.monotonic()
        result = tcp_transfer(lab.ns_client, lab.ns_hub, "10.77.0.1", seconds=seconds)
        elapsed = time.monotonic() - started
        directions = quiet_snapshot(lab, cable)
        outputs = client.output() + "\n" + hub.output()
    print(
        f"\nBER {BER:g}, MRU 296, {seconds} s of sending: {result['bytes']} bytes over TCP"
        f" in {elapsed:.0f} s ({result['bytes'] / elapsed:.0f} bytes/s), SHA-256 "
        f"{'matches' if result['intact'] else 'DIFFERS'}, longest wait for one write "
        f"{result['longest_send_wait']:.1f} s"
    )
    for direction in directions:
        print("  " + direction.line())
    assert result["intact"] and result["bytes"] == result["sent"] > 0, result
    assert "Link down" not in outputs, outputs
    for direction in directions:
        assert direction.lost >= 0
        assert abs(direction.lost - direction.counted) <= direction.flipped, direction
        assert direction.counted <= 2 * direction.flipped, direction
    # The line really was noisy: frames were lost, and every loss was seen.
    assert sum(d.lost for d in directions) > 0 and sum(d.counted for d in directions) > 0


def test_tcp_over_a_noisy_line_arrives_intact_and_every_loss_is_counted(lab: Lab) -> None:
    """Expected (CI, 20 s): SHA-256 matches, the link stays up, every loss counted."""
    run_noisy_transfer(lab, CI_SECONDS)


@pytest.mark.slow
@pytest.mark.timeout(LONG_SECONDS + 600)
def test_ten_minutes_of_tcp_over_a_noisy_line(lab: Lab) -> None:
    """Expected: as the CI run, over WANCTL_NOISE_SECONDS (600) of sending."""
    run_noisy_transfer(lab, LONG_SECONDS)
