"""status.schema.json: the documented status of a link, and the checker that enforces it."""

import copy
from collections.abc import Callable
from typing import Any

import pytest

from wanctl.schemacheck import SchemaError, load_schema, validate


def sample_status() -> dict[str, Any]:
    return {
        "link": "lab",
        "pid": 42,
        "phase": "running",
        "device": "/dev/ttyUSB0",
        "speed": 115200,
        "uptime": 12.5,
        "interface": "wan0",
        "ipv4": {"local": "10.0.0.1", "remote": "10.0.0.2"},
        "ipv6": {"local_id": "0:0:0:1", "remote_id": "a1b2:c3d4:e5f6:789"},
        "bytes": {"sent": 1000, "received": 2000},
        "frames": {"sent": 10, "received": 20},
        "errors": {"crc": 1, "framing": 0, "overruns": 0, "dropped": 2},
        "send_window": {"size": 4, "outstanding": 1},
        "compression": {
            "send": "Deflate (15)",
            "receive": "Deflate (15)",
            "sent": {"before": 3000, "after": 1000},
            "received": {"before": 2800, "after": 1400},
            "failures": 0,
            "resets": 0,
            "vj": {"send": True, "receive": True},
        },
    }


def test_sample_status_conforms() -> None:
    assert validate(sample_status(), load_schema("status.schema.json")) == []


#: Members only some links have: ``bundle`` only with multilink.
OPTIONAL_MEMBERS = {"bundle"}


def test_every_member_is_required_and_described() -> None:
    schema = load_schema("status.schema.json")
    assert sorted(schema["required"]) == sorted(set(schema["properties"]) - OPTIONAL_MEMBERS)
    assert schema["additionalProperties"] is False
    for name in OPTIONAL_MEMBERS:
        assert "multilink" in schema["properties"][name]["description"]


def test_a_bundles_status_conforms_and_a_bad_member_row_does_not() -> None:
    status = copy.deepcopy(sample_status())
    row = {
        "member": "/dev/ttyUSB1", "state": "active", "speed": 115200, "share": 0.5,
        "frames_sent": 3, "octets_sent": 900, "frames_received": 2, "octets_received": 600,
        "errors": 0, "probes": 2, "suspected": 1, "left_because": None,
    }  # fmt: skip
    status["bundle"] = {
        "key": '"client"/magic:0a0b0c0d',
        "packets_sent": 1,
        "packets_received": 1,
        "lost": 0,
        "dropped": 0,
        "members": [row],
    }
    schema = load_schema("status.schema.json")
    assert validate(status, schema) == []
    row["state"] = "suspect"
    assert validate(status, schema) == []
    row["state"] = "gone"
    assert validate(status, schema)
    row["state"], row["probes"] = "active", -1
    assert validate(status, schema)


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    status = copy.deepcopy(sample_status())
    change(status)
    return status


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s.pop("phase"), "$: missing required 'phase'"),
        (lambda s: s.update(extra=1), "$: unexpected member 'extra'"),
        (lambda s: s.update(phase="up"), "$.phase: 'up' is not one of"),
        (lambda s: s.update(pid=True), "$.pid: expected integer"),
        (lambda s: s.update(pid=0), "$.pid: 0 is below the minimum 1"),
        (lambda s: s.update(uptime=-1.0), "$.uptime: -1.0 is below the minimum 0"),
        (lambda s: s.update(link="../x"), "$.link: '../x' does not match"),
        (lambda s: s.update(device=""), "$.device: shorter than 1 characters"),
        (lambda s: s.update(interface="x" * 16), "$.interface: longer than 15 characters"),
        (lambda s: s["ipv4"].update(local="10.0.0"), "$.ipv4.local: '10.0.0' does not match"),
        (lambda s: s["ipv6"].update(remote_id="fe80::1"), "$.ipv6.remote_id: 'fe80::1' does"),
        (lambda s: s["bytes"].update(sent=-5), "$.bytes.sent: -5 is below the minimum 0"),
        (lambda s: s["errors"].pop("crc"), "$.errors: missing required 'crc'"),
        (lambda s: s["send_window"].update(size=1.5), "$.send_window.size: expected integer"),
        (lambda s: s.update(frames=[]), "$.frames: expected object"),
        (lambda s: s["compression"]["sent"].pop("after"), "$.compression.sent: missing"),
        (lambda s: s["compression"]["vj"].update(send=1), "$.compression.vj.send: expected"),
    ],
)
def test_status_schema_rejects_each_broken_field(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    problems = validate(_broken(change), load_schema("status.schema.json"))
    assert any(p.startswith(expected) for p in problems), problems


def test_status_schema_accepts_a_link_before_ip_is_up() -> None:
    status = _broken(
        lambda s: s.update(
            phase="establish",
            interface=None,
            uptime=0,
            ipv4={"local": None, "remote": None},
            ipv6={"local_id": None, "remote_id": None},
        )
    )
    assert validate(status, load_schema("status.schema.json")) == []


def test_schema_keywords_the_checker_does_not_know_are_an_error() -> None:
    with pytest.raises(SchemaError, match="unsupported schema keywords"):
        validate("x", {"type": "string", "format": "ipv4"})
