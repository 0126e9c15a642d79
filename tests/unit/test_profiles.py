"""TOML profiles: lookup, one clear error per bad line, and file permission rules."""

import ipaddress
import os
import tomllib
from pathlib import Path

import pytest

from wanctl.errors import ProfileError, ProfilePermissionError, UsageErrors
from wanctl.options import LinkOptions, merge_options
from wanctl.profiles import (
    MAX_PROFILE_BYTES,
    find_profile,
    load_profile,
    open_profile,
    parse_profile_text,
    profile_search_path,
    render_profile,
    save_profile,
)

GOOD = """\
# Office link over the USB-serial adapter
device = "/dev/ttyUSB0"
baud = 57600
flow = "crtscts"
ip = "10.0.0.1:10.0.0.2"
ms-dns = ["10.0.0.53"]
asyncmap = 0x000a0000
escape = [0x11, 0x13]
lcp-echo-interval = 10
defaultroute = true
connect = '''
'' ATZ
OK ATDT\\T
CONNECT ''
'''
number = "5551234"
"""


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _errors(text: str) -> list[str]:
    with pytest.raises(UsageErrors) as info:
        parse_profile_text(text, "/etc/wanctl/t.toml")
    return str(info.value).splitlines()


def _one_error(text: str) -> str:
    with pytest.raises((UsageErrors, ProfileError)) as info:
        parse_profile_text(text, "/etc/wanctl/t.toml")
    lines = str(info.value).splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_good_profile_gives_typed_options(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path / "office.toml", GOOD))
    opts = merge_options(profile.layer)
    assert opts.device == "/dev/ttyUSB0" and opts.baud == 57600 and opts.flow == "crtscts"
    assert opts.remote_ip == ipaddress.IPv4Address("10.0.0.2")
    assert opts.asyncmap == 0xA0000 and opts.escape == (0x11, 0x13)
    assert opts.connect is not None and "ATDT\\T" in opts.connect
    assert opts.origins["baud"] == f"profile {tmp_path / 'office.toml'}"
    assert profile.lines["number"] == 16 and profile.name == "office"


def test_user_profile_is_found_before_the_system_one(tmp_path: Path) -> None:
    user, system = tmp_path / "user", tmp_path / "etc"
    user.mkdir()
    system.mkdir()
    _write(system / "isp.toml", "baud = 9600\n")
    assert find_profile("isp", search_path=[user, system]) == system / "isp.toml"
    _write(user / "isp.toml", "baud = 19200\n")
    found = open_profile("isp", search_path=[user, system])
    assert found.path == user / "isp.toml" and found.layer.values["baud"] == 19200


def test_search_path_honours_xdg_config_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/home/u/.cfg")
    assert profile_search_path() == [Path("/home/u/.cfg/wanctl"), Path("/etc/wanctl")]


def test_config_path_is_used_as_given(tmp_path: Path) -> None:
    path = _write(tmp_path / "any-name.conf", "mru = 1400\n")
    assert open_profile(None, config=path).layer.values["mru"] == 1400


def test_missing_profile_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"no such profile \(looked for .*/isp.toml"):
        find_profile("isp", search_path=[tmp_path])
    with pytest.raises(ProfileError, match="check the --config path"):
        find_profile(None, config=tmp_path / "absent.toml")


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", ".hidden", "x" * 65])
def test_profile_name_with_path_characters_is_refused(name: str) -> None:
    with pytest.raises(ProfileError, match="is not a profile name"):
        find_profile(name, search_path=[Path("/nonexistent")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mtuu = 1500\n", "/etc/wanctl/t.toml:1: key 'mtuu': unknown key; did you mean 'mtu'?"),
        (
            "lcp_echo_interval = 5\n",
            "t.toml:1: key 'lcp_echo_interval': unknown key; did you"
            " mean 'lcp-echo-interval'? (option names use dashes)",
        ),
        ("speed = 9600\n", "key 'speed': unknown key; write baud = 115200"),
        ("crtscts = true\n", "key 'crtscts': unknown key; write flow = \"crtscts\""),
        (
            "nodefaultroute = true\n",
            "key 'nodefaultroute': unknown key; write defaultroute = false",
        ),
        ("local = true\n", "key 'local': unknown key; write modem = false"),
        ("zzzz = 1\n", "key 'zzzz': unknown key; see 'wanctl --help'"),
        ("[modem]\ninit = 'ATZ'\n", "t.toml:1: key 'modem': expected true or false, got table"),
        (
            'mru = "1500"\n',
            "t.toml:1: key 'mru': expected an integer, got string '1500';"
            " write a number from 128 to 16384 (no quotes)",
        ),
        ("mru = 1500.0\n", "key 'mru': expected an integer, got float"),
        ("mru = true\n", "key 'mru': expected an integer, got boolean"),
        ('persist = "yes"\n', "key 'persist': expected true or false, got string 'yes'"),
        ("persist = 1\n", "key 'persist': expected true or false, got integer"),
        ("device = 0\n", "key 'device': expected a string, got integer"),
        ('user = ["a"]\n', "key 'user': expected a string, got array"),
        ("ms-dns = 5\n", "key 'ms-dns': expected a list of addresses, got integer"),
        ('escape = ["11"]\n', "key 'escape': expected an integer in the list, got string"),
        ("asyncmap = true\n", "key 'asyncmap': expected a hex integer, got boolean"),
        ('flow = "hardware"\n', "key 'flow': 'hardware' is not a choice"),
        ("mru = 99999\n", "t.toml:1: key 'mru': 99999 is out of range"),
        ('local-ip = "10.0.0"\n', "key 'local-ip': '10.0.0' is not an IPv4 address"),
        ('ip = "10.0.0.1-10.0.0.2"\n', "key 'ip': '10.0.0.1-10.0.0.2' is not local:remote"),
        ("asyncmap = 0x1ffffffff\n", "key 'asyncmap': 0x1ffffffff does not fit in 32 bits"),
        ("escape = [0x7e, 0x30]\n", "key 'escape': 0x30 cannot be escaped"),
        ('number = "call me"\n', "key 'number': 'call me' has characters a modem cannot"),
        ('init = "ATZ\\r"\n', "key 'init': init string contains a control character"),
        ('connect = "/etc/chat\\nATZ"\n', "key 'connect': a script path cannot span lines"),
        ('device = "ttyS0 ttyS1"\n', "key 'device': device 'ttyS0 ttyS1' contains a space"),
        ('ms-dns = ["1.1.1.1", "1.0.0.1", "8.8.8.8"]\n', "key 'ms-dns': 3 addresses"),
        (
            'device = "/dev/ttyS0"\nport = "/dev/ttyS1"\n',
            "t.toml:2: key 'port': sets the same option as device",
        ),
    ],
)
def test_bad_profile_line_gives_one_error_naming_file_line_key_and_fix(
    text: str, expected: str
) -> None:
    line = _one_error(text)
    assert expected in line, line
    assert "; " in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "mru = 1500\nuser = jdoe\n",
            't.toml:2: TOML syntax error: Invalid value; put text in double quotes: user = "jdoe"',
        ),
        (
            "defaultroute = True\n",
            "t.toml:1: TOML syntax error: Invalid value; booleans are written true or false",
        ),
        (
            "mru = 1500\nmru = 1400\n",
            "t.toml:2: TOML syntax error: Cannot overwrite a value; each key may appear only once",
        ),
        ("mru 1500\n", "t.toml:1: TOML syntax error: Expected '=' after a key"),
        ('user = "jdoe\n', "t.toml:1: TOML syntax error: Illegal character"),
        (
            "baud = 115200\nconnect = '''\nATZ\n",
            "t.toml:3: TOML syntax error: Expected \"'''\"; close the quote",
        ),
        ("mru = 15OO\n", "t.toml:1: TOML syntax error: Expected newline"),
        ("= 3\n", "t.toml:1: TOML syntax error: Invalid statement; see https://toml.io"),
    ],
)
def test_toml_syntax_error_gives_file_line_and_hint(text: str, expected: str) -> None:
    line = _one_error(text)
    assert line.startswith("/etc/wanctl/t.toml") and expected in line, line


def test_every_bad_line_of_a_file_is_reported() -> None:
    lines = _errors('mru = 1\nbaud = "x"\nbogus = 1\nflow = "none"\nidle = -1\n')
    assert [line.split(":")[1] for line in lines] == ["1", "2", "3", "5"]


def test_error_lines_stay_single_even_with_newlines_in_values() -> None:
    line = _one_error('number = """\n555\n"""\n')
    assert "\n" not in line and "key 'number'" in line


def test_profile_with_password_readable_by_all_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "isp.toml", 'user = "jdoe"\npassword = "pw"\n', 0o644)
    with pytest.raises(ProfilePermissionError) as info:
        load_profile(path)
    text = str(info.value)
    assert f"{path}:2: key 'password'" in text and "every user can read (mode 0644)" in text
    assert f"run 'chmod 600 {path}'" in text and info.value.exit_code == 2
    path.chmod(0o600)
    assert load_profile(path).layer.values["password"] == "pw"
    path.chmod(0o640)
    assert load_profile(path).layer.values["user"] == "jdoe"


def test_profile_writable_by_others_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "isp.toml", "mru = 1400\n", 0o664)
    with pytest.raises(
        ProfilePermissionError,
        match=r"writable by group or others \(mode 0664\)"
        r".*chmod go-w",
    ):
        load_profile(path)


def test_profile_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file away")
    path = _write(tmp_path / "isp.toml", "mru = 1400\n")
    os.chown(path, 4321, 4321)
    with pytest.raises(ProfilePermissionError, match=r"owned by uid 4321.*chown root"):
        load_profile(path)


def test_profile_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ProfileError, match="is not a regular file"):
        load_profile(fifo)
    with pytest.raises(ProfileError, match="is not a regular file"):
        load_profile(tmp_path)


def test_unreadable_oversize_and_binary_profiles_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot be read"):
        load_profile(tmp_path / "absent.toml")
    big = _write(tmp_path / "big.toml", "#" * (MAX_PROFILE_BYTES + 1))
    with pytest.raises(ProfileError, match="larger than"):
        load_profile(big)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"mru = 1500\n\xff\xfe\n")
    binary.chmod(0o644)
    with pytest.raises(ProfileError, match="not UTF-8"):
        load_profile(binary)


def test_rendered_profile_reads_back_to_the_same_options(tmp_path: Path) -> None:
    opts = merge_options(parse_profile_text(GOOD, "good").layer)
    text = render_profile(opts.profile_values(), ["header line"], ["footer line"])
    assert text.startswith("# header line\n") and "# footer line" in text
    again = merge_options(parse_profile_text(text, "again").layer)
    assert again == opts


def test_rendered_strings_survive_quotes_backslashes_and_control_characters() -> None:
    for value in ['say "hi" \\d\\c', "tab\there", "two\nlines", "'''\nx\n", "\x01"]:
        text = render_profile({"ipparam": value} if "\n" not in value else {"connect": value})
        key = "connect" if "\n" in value else "ipparam"
        assert tomllib.loads(text)[key] == value


def test_saved_profile_with_password_is_mode_600(tmp_path: Path) -> None:
    secret, plain = tmp_path / "s.toml", tmp_path / "p.toml"
    save_profile(secret, render_profile({"user": "u", "password": "pw"}))
    save_profile(plain, render_profile({"mru": 1400}))
    assert secret.stat().st_mode & 0o777 == 0o600
    assert plain.stat().st_mode & 0o777 == 0o644
    assert load_profile(secret).layer.values["password"] == "pw"
    with pytest.raises(ProfileError, match="already exists"):
        save_profile(plain, "mru = 1200\n")
    save_profile(plain, "mru = 1200\n", overwrite=True)
    assert load_profile(plain).layer.values["mru"] == 1200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.toml", "s.toml"]


def test_empty_profile_means_all_defaults() -> None:
    assert merge_options(parse_profile_text("# nothing\n", "e").layer) == LinkOptions()
