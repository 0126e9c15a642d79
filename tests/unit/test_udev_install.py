"""The udev installer: files under a throw-away root, udevadm calls recorded.

Real udev applying the rules is tested in tests/interop/test_usb_cdc.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from hw.udev_install import (
    AUTOSTART_RULES_NAME,
    RULES_DIR,
    RULES_NAME,
    UNIT_DIR,
    UNIT_NAME,
    AdapterMatch,
    InstallError,
    autostart_rule,
    default_source_dir,
    install,
    main,
    parse_autostart,
    uninstall,
)

SOURCE = default_source_dir()


class Recorder:
    def __init__(self, fail: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.fail = fail

    def __call__(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.commands.append(list(command))
        code = 1 if self.fail and self.fail in command else 0
        return subprocess.CompletedProcess(list(command), code, "", "boom" if code else "")


def test_install_copies_the_rules_world_readable(tmp_path: Path) -> None:
    report = install(tmp_path, reload=False)
    target = tmp_path / RULES_DIR / RULES_NAME
    assert report.written == [target]
    assert target.read_text() == (SOURCE / RULES_NAME).read_text()
    assert target.stat().st_mode & 0o777 == 0o644
    assert not (tmp_path / RULES_DIR / AUTOSTART_RULES_NAME).exists()


def test_install_reloads_then_triggers_then_settles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    runner = Recorder()
    install(tmp_path, runner=runner)
    assert [command[:2] for command in runner.commands] == [
        ["udevadm", "control"], ["udevadm", "trigger"], ["udevadm", "settle"],
    ]  # fmt: skip
    assert "--reload" in runner.commands[0]
    assert "--action=change" in runner.commands[1]


def test_autostart_triggers_add_events_so_plugged_adapters_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    runner = Recorder()
    install(tmp_path, autostart=[parse_autostart("0403:6001")], runner=runner)
    trigger = next(command for command in runner.commands if "trigger" in command)
    assert "--action=add" in trigger


def test_failed_udevadm_is_reported_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    with pytest.raises(InstallError, match=r"udevadm trigger .* failed: boom"):
        install(tmp_path, runner=Recorder(fail="trigger"))


def test_missing_udevadm_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(InstallError, match="apt-get install udev"):
        install(tmp_path)


def test_missing_rules_file_says_where_to_run_from(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="source checkout"):
        install(tmp_path, source_dir=tmp_path / "nowhere", reload=False)


def test_autostart_installs_rule_file_and_unit_template(tmp_path: Path) -> None:
    specs = [parse_autostart("0403:6001:A1B2C3D4"), parse_autostart("usb:0525:a4a7")]
    install(tmp_path, autostart=specs, reload=False)
    rules = (tmp_path / RULES_DIR / AUTOSTART_RULES_NAME).read_text()
    assert 'ENV{ID_SERIAL_SHORT}=="A1B2C3D4"' in rules
    assert 'ENV{ID_VENDOR_ID}=="0525", ENV{ID_MODEL_ID}=="a4a7"' in rules
    assert rules.count('ENV{SYSTEMD_WANTS}+="wanctl@%k.service"') == 2
    assert (tmp_path / UNIT_DIR / UNIT_NAME).read_text() == (SOURCE / UNIT_NAME).read_text()


def test_autostart_rule_without_serial_matches_every_such_adapter() -> None:
    rule = autostart_rule(AdapterMatch(0x0403, 0x6001))
    assert "ID_SERIAL_SHORT" not in rule
    assert 'TAG+="systemd"' in rule


def test_uninstall_removes_only_what_install_wrote(tmp_path: Path) -> None:
    install(tmp_path, autostart=[parse_autostart("0403:6001")], reload=False)
    other = tmp_path / RULES_DIR / "99-local.rules"
    other.write_text("# someone else's\n")
    report = uninstall(tmp_path, reload=False)
    assert len(report.removed) == 3
    assert sorted(p.name for p in (tmp_path / RULES_DIR).iterdir()) == ["99-local.rules"]
    assert uninstall(tmp_path, reload=False).removed == []


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("0403", "expected VID:PID"),
        ("", "expected VID:PID"),
        ("0403:", "product id"),
        ("040g:6001", "vendor id"),
        ("10403:6001", "vendor id"),
        ("0403:6001:", "empty or unprintable"),
        ("0403:6001:A\tB", "empty or unprintable"),
        ("0403:6001:A*", "cannot take"),
        ('0403:6001:A"B', "cannot take"),
        ("0403:6001:[AB]", "cannot take"),
    ],
)
def test_malformed_autostart_adapter_is_refused(text: str, complaint: str) -> None:
    with pytest.raises(InstallError, match=r"bad adapter|serial number") as caught:
        parse_autostart(text)
    assert complaint in str(caught.value)


def test_command_line_reports_errors_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(tmp_path), "--autostart", "zz:1"]) == 1
    assert "udev-install: bad adapter" in capsys.readouterr().err
    assert not (tmp_path / RULES_DIR).exists()


def test_command_line_with_root_does_not_touch_the_running_udev(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"installed {tmp_path / RULES_DIR / RULES_NAME}" in out
    assert "ran udevadm" not in out


def test_install_script_runs_the_module(tmp_path: Path) -> None:
    script = SOURCE / "install.sh"
    result = subprocess.run(["sh", str(script), "--root", str(tmp_path)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / RULES_DIR / RULES_NAME).is_file()


def test_rules_file_keeps_every_promise_of_its_header() -> None:
    rules = (SOURCE / RULES_NAME).read_text()
    active = [line for line in rules.splitlines() if line and not line.startswith("#")]
    text = "\n".join(active)
    assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in text
    assert 'GROUP="dialout", MODE="0660"' in text
    assert 'SYMLINK+="wan/$env{.wanctl_name}"' in text
    assert 'ATTR{device/latency_timer}="1"' in text
    assert "SYSTEMD_WANTS" not in text, "autostart must stay opt-in"
    labels = {line.split('"')[1] for line in active if line.startswith("LABEL=")}
    gotos = {part.split('"')[1] for line in active for part in line.split(", ") if "GOTO=" in part}
    assert gotos <= labels
