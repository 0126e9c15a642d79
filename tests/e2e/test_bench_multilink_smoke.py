"""The multilink benchmark runs end to end in a tiny configuration, so it cannot rot.

No figure is judged (benchmarks print figures; tests do not time anything):
the benchmark must run to completion and print each of its rows with
numbers in it.
"""

from __future__ import annotations

import re

import pytest

from bench import bench_multilink
from wanctl.lab import lab_unavailable

pytestmark = pytest.mark.netns

PERCENT = r"\d+\.\d+%"


def test_bench_multilink_prints_efficiency_overhead_latency_and_failover(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    code = bench_multilink.main(
        [
            "--runs",
            "1",
            "--seconds",
            "0.5",
            "--warmup",
            "1.5",
            "--setup",
            "1 plain",
            "--setup",
            "2x115200",
            "--pings",
            "1",
            "--cut-after",
            "2",
            "--after",
            "1.5",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(rf"^\s+1 plain +{PERCENT} +- +{PERCENT} +{PERCENT}", out, re.MULTILINE), out
    assert re.search(
        rf"^\s+2x115200 +{PERCENT} +95% +{PERCENT} +{PERCENT} +{PERCENT}\(50%\)", out, re.M
    ), out
    assert re.search(rf"^\s+2x115200 +\d+ +-?{PERCENT} +{PERCENT} +{PERCENT}", out, re.M), out
    assert re.search(r"bundle of 2 \d+\.\d+ ms; ratio 2/1 \d+\.\d+", out), out
    assert re.search(r"below half the remaining capacity .* \d+\.\d+ s \(runs:", out), out
    assert re.search(r"TCP survived \d/1, SHA-256 intact \d/1", out), out
    assert re.search(r"was suspect \d+\.\d+ s after the cut at the sender", out), out
