"""The benchmarks run end to end in a tiny configuration, so they cannot rot.

No figure is judged here (benchmarks print figures; tests do not time
anything): each benchmark must run to completion and print every row of its
table with numbers in it, and the scale benchmark must write its plot.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import bench_e2e, bench_scale
from wanctl.lab import lab_unavailable

pytestmark = pytest.mark.netns

PERCENT = r"\d+\.\d+%"


@pytest.fixture(autouse=True)
def _needs_the_lab() -> None:
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)


def test_bench_e2e_prints_efficiency_latency_and_call_setup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = bench_e2e.main(
        [
            "--runs",
            "1",
            "--baud",
            "921600",
            "--seconds",
            "1",
            "--warmup",
            "1",
            "--pings",
            "3",
            "--skip",
            "modems",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(rf"^\s+921600 +{PERCENT} +{PERCENT}", out, re.MULTILINE), out
    assert re.search(r"RTT \d+\.\d+ ms, serialization of both frames \d+\.\d+ ms", out), out
    assert re.search(r"^\s+direct +\d+\.\d+s", out, re.MULTILINE), out


def test_bench_scale_prints_a_row_per_link_count_and_writes_the_plot(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    png = tmp_path / "scale.png"
    code = bench_scale.main(
        ["--links", "1", "2", "--runs", "1", "--seconds", "1", "--warmup", "1", "--png", str(png)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    for count in (1, 2):
        assert re.search(
            rf"^\s+{count} +\d+\.\d+ +\d+\.\d+ +{PERCENT} +{PERCENT}", out, re.MULTILINE
        ), out
    if "no plot" not in out:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
