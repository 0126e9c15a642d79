"""persist on an adapter that is not there: wait for its tty to appear, then dial.

The tty is a stable name (a symlink, as udev's /dev/wan/<serial>) to one end
of the virtual cable that appears a second after ``dial --persist`` starts,
as a USB adapter plugged in late or replugged would.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.e2e.conftest import Lab


def test_persist_waits_for_a_missing_tty_and_dials_when_it_appears(
    lab: Lab, tmp_path: Path
) -> None:
    stable_name = tmp_path / "wan" / "DONGLE01"
    lab.answer()
    client = lab.start(
        "dial", lab.ns_client, str(stable_name), "--user", "client", "--remotename", "hub",
        "--chap-secrets", str(lab.secrets), "--linkname", "client", "--persist",
        "--holdoff", "0",
    )  # fmt: skip
    client.wait_for(rf"Waiting for {stable_name} to come back", 30)
    time.sleep(1.0)
    stable_name.parent.mkdir()
    os.symlink(lab.cable.a, stable_name)
    client.wait_for(rf"{stable_name} is back", 10)
    client.wait_for(r"Link up: \S+ local 10\.77\.0\.2 remote 10\.77\.0\.1", 30)
    refusals = [line for line in client.lines if "no such device" in line]
    assert len(refusals) == 1, client.output()
