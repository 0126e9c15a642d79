"""import-pppd: pppd peers files and chat scripts become profiles; nothing dropped silently."""

import ipaddress
import tomllib
from pathlib import Path

import pytest

from wanctl.errors import PppdImportError
from wanctl.options import merge_options
from wanctl.pppd_import import ImportResult, import_pppd
from wanctl.pppd_words import PPPD_OPTIONS, split_words
from wanctl.profiles import load_profile, parse_profile_text, save_profile

ROOT = Path(__file__).resolve().parents[1] / "data" / "pppd_peers"
PEERS = ROOT / "etc" / "ppp" / "peers"


def _import(name: str) -> ImportResult:
    return import_pppd(PEERS / name, root=ROOT)


def _peer(tmp_path: Path, text: str, name: str = "peer") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _warnings_about(result: ImportResult, option: str) -> list[str]:
    return [w for w in result.warnings if f": {option}" in w]


def test_isp_dialup_with_chat_file() -> None:
    result = _import("isp-dialup")
    values = result.values
    assert values["device"] == "/dev/ttyS0" and values["baud"] == 57600
    assert values["flow"] == "crtscts" and values["modem"] is True and values["lock"] is True
    assert values["user"] == "jdoe@example.net" and values["number"] == "5551234"
    assert values["noauth"] and values["defaultroute"] and values["usepeerdns"]
    assert values["persist"] and values["maxfail"] == 0 and values["holdoff"] == 20
    assert (values["lcp-echo-interval"], values["lcp-echo-failure"]) == (30, 4)
    script = values["connect"]
    assert script.startswith("# Chat script for Example ISP")
    assert 'ABORT\t\t"NO CARRIER"' in script and "OK-AT-OK\tATDT\\T" in script
    assert result.files == [PEERS / "isp-dialup", ROOT / "etc/chatscripts/isp-dialup"]
    assert len(result.warnings) == 1
    assert result.warnings[0].endswith(
        "isp-dialup:17: replacedefaultroute: no wanctl option to replace an existing default route"
    )
    assert values["vj"] is False and values["ccp"] is False


def test_null_modem_direct_link() -> None:
    result = _import("nullmodem")
    values = result.values
    assert values["device"] == "/dev/ttyUSB0" and values["baud"] == 115200
    assert values["modem"] is False and values["flow"] == "none" and values["noauth"]
    assert (values["local-ip"], values["remote-ip"]) == ("10.0.0.1", "10.0.0.2")
    assert values["ipparam"] == "lab-cable" and "connect" not in values
    assert [w.split(": ", 1)[1] for w in result.warnings] == [
        "nodetach: detaching is up to how you start wanctl (shell, systemd)"
    ]
    assert any(
        "connect '/bin/true': a direct line needs no connect script" in n for n in result.notes
    )


def test_pap_peer_with_password_include_and_inline_chat() -> None:
    result = _import("office-pap")
    values = result.values
    assert values["user"] == "office-gw" and values["password"] == "s3cret pass#1"
    assert values["remotename"] == "office-ras" and values["refuse-chap"] is True
    assert values["ipv6"] is True and values["usepeerdns"] is True
    # from "file /etc/ppp/options.office"
    assert values["mru"] == 1400 and values["mtu"] == 1400 and values["idle"] == 600
    assert values["asyncmap"] == 0x000A0000 and values["escape"] == [0x11, 0x13, 0xFF]
    assert values["connect"] == "TIMEOUT 40\n'' ATZ OK 'ATX3 DT 0,0123 456 789' CONNECT ''\n"
    assert ROOT / "etc/ppp/options.office" in result.files
    assert result.has_password and result.warnings == []
    assert "Holds a password: keep this file mode 600" in result.to_toml()


def test_unsupported_options_each_get_a_warning_line() -> None:
    result = _import("gprs-legacy")
    expected = [
        "init /usr/sbin/chat -f /etc/chatscripts/gprs-init",
        "demand",
        "connect-delay 5000",
        "ipcp-accept-local",
        "ipcp-accept-remote",
        "noaccomp",
        "nopcomp",
        "cdtrcts",
        "record /var/log/ppp/gprs.rec",
        "plugin /usr/lib/pppd/2.4.9/passprompt.so",
        "ktune",
    ]
    assert [w.split(": ")[1] for w in result.warnings] == expected
    assert all(w.startswith(f"{PEERS / 'gprs-legacy'}:") for w in result.warnings)
    lines = [int(w.split(":")[1]) for w in result.warnings]
    assert lines == sorted(lines) and lines[0] == 5
    # "call gprs-common" was read, and its options carried over
    assert result.values["user"] == "web" and result.values["defaultroute"] is True
    assert result.values["connect"].startswith("TIMEOUT 15\nABORT BUSY")
    footer = result.to_toml().split("NOT TRANSLATED")[1]
    for option in expected:
        assert option in footer


@pytest.mark.parametrize("name", ["isp-dialup", "nullmodem", "office-pap", "gprs-legacy"])
def test_imported_profile_is_valid_toml_and_valid_options(name: str, tmp_path: Path) -> None:
    result = _import(name)
    text = result.to_toml()
    assert tomllib.loads(text) == result.values
    merge_options(parse_profile_text(text, name).layer)
    path = tmp_path / f"{name}.toml"
    save_profile(path, text)
    assert (path.stat().st_mode & 0o777) == (0o600 if result.has_password else 0o644)
    assert load_profile(path).layer.values.keys()


def test_every_option_in_the_samples_is_translated_noted_or_warned() -> None:
    for name in ("isp-dialup", "nullmodem", "office-pap", "gprs-legacy", "gprs-common"):
        result = _import(name)
        mentioned = " ".join(result.warnings + result.notes) + " " + " ".join(result.values)
        words = split_words((PEERS / name).read_text(), name)
        i = 0
        while i < len(words):
            word = words[i].text
            arity = PPPD_OPTIONS.get(word, (0, ()))[0]
            i += 1 + arity
            if word in PPPD_OPTIONS and PPPD_OPTIONS[word][1][0] in ("warn", "note"):
                assert word in mentioned, (name, word)


def test_words_follow_pppd_quoting_comments_and_escapes() -> None:
    text = (
        'user "a b"  # comment "not closed\n'
        "password 'it''s'\n"
        'name x\\ y ipparam "#not-a-comment"\n'
        "remotename line\\\ncontinued\n"
        'welcome "\\x41\\101\\t"\n'
        "mru\n1400\n"
    )
    words = [(w.text, w.line) for w in split_words(text, "t")]
    assert words == [
        ("user", 1),
        ("a b", 1),
        ("password", 2),
        ("its", 2),
        ("name", 3),
        ("x y", 3),
        ("ipparam", 3),
        ("#not-a-comment", 3),
        ("remotename", 4),
        ("linecontinued", 4),
        ("welcome", 6),
        ("AA\t", 6),
        ("mru", 7),
        ("1400", 8),
    ]


def test_inline_chat_words_are_requoted_for_chat(tmp_path: Path) -> None:
    path = _peer(tmp_path, 'connect \'chat -e "" "AT&F" OK "ATDT 555 1234" CONNECT \\\'\\\'\'\n')
    result = import_pppd(path)
    assert result.values["connect"] == "ECHO ON\n'' AT&F OK 'ATDT 555 1234' CONNECT ''\n"


def test_later_options_override_earlier_ones(tmp_path: Path) -> None:
    result = import_pppd(_peer(tmp_path, "mru 1400\nnocrtscts\ncrtscts\nmru 1200\n"))
    assert result.values["mru"] == 1200 and result.values["flow"] == "crtscts"


# --- malformed peers files -------------------------------------------------------------


def test_unclosed_quote_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = _peer(tmp_path, 'lock\nuser "jdoe\nnoauth\n')
    with pytest.raises(PppdImportError) as info:
        import_pppd(path)
    assert str(info.value) == (
        f'{path}:2: the " quote opened here is never closed; add the closing "'
    )
    assert info.value.exit_code == 2


def test_option_missing_its_argument_is_an_error(tmp_path: Path) -> None:
    path = _peer(tmp_path, "lock\nmru\n")
    with pytest.raises(
        PppdImportError,
        match=r":2: key 'mru': needs an argument but the file"
        r" ends; give it a value: mru VALUE",
    ):
        import_pppd(path)


def test_missing_peers_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PppdImportError, match="cannot be read"):
        import_pppd(tmp_path / "nope")


def test_overlong_word_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PppdImportError, match="longer than 1024"):
        import_pppd(_peer(tmp_path, "name " + "x" * 1100 + "\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frobnicate\n", ":1: frobnicate: unknown pppd option; not translated"),
        (
            "mru 99999\n",
            ":1: mru 99999: 99999 is out of range; use a number from 128 to 16384"
            " bytes; not translated",
        ),
        ("asyncmap xyz\n", ":1: asyncmap xyz: 'xyz' is not a hex number"),
        ("lcp-echo-interval often\n", ":1: lcp-echo-interval often: 'often' is not a whole"),
        ("10.0.0.1:10.0.0.300\n", ":1: 10.0.0.1:10.0.0.300: '10.0.0.300' is not an IPv4"),
        ("ms-dns 1.1.1.1 ms-dns 2.2.2.2 ms-dns 3.3.3.3\n", ":1: ms-dns 3.3.3.3: 3 addresses"),
        ("escape 7d,20\n", ":1: escape 7d,20: 0x20 cannot be escaped"),
        ("call ../../etc/shadow\n", ":1: call ../../etc/shadow: not a peer name; not read"),
        ("file /nonexistent/options\n", ":1: file: /nonexistent/options cannot be read"),
        (
            "connect /etc/ppp/my-dialer\n",
            ":1: connect '/etc/ppp/my-dialer': runs a program other than chat",
        ),
        ("connect 'chat -f /x | tee /tmp/log'\n", "uses shell syntax around chat"),
        (
            "connect 'chat -v -f /nonexistent/chat'\n",
            ":1: chat -f: /nonexistent/chat cannot be"
            " read (No such file or directory); the profile names the script by path instead",
        ),
        ("connect 'chat -Z x'\n", ":1: connect 'chat -Z x': chat option error"),
        ("connect 'chat -r /tmp/report \"\" AT'\n", ":1: chat -r /tmp/report: no wanctl"),
        ("connect 'chat \"\" AT&F'\n", "uses shell syntax around chat"),
        (
            "connect 'chat -T 12xy \"\" ATDT'\n",
            ":1: chat -T 12xy: '12xy' has characters a modem cannot dial",
        ),
        ("connect 'chat \"unclosed'\n", "cannot be split as a command"),
        ("noauth require-pap\n", "conflicts with"),
        ("auth\n", ":1: auth: say which protocol the peer must use"),
    ],
)
def test_bad_peers_line_becomes_a_warning_naming_file_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _peer(tmp_path, text)
    result = import_pppd(path)
    assert any(expected in w for w in result.warnings), result.warnings
    assert all("\n" not in w for w in result.warnings)
    assert "NOT TRANSLATED" in result.to_toml()


def test_unreadable_chat_file_keeps_the_path(tmp_path: Path) -> None:
    result = import_pppd(_peer(tmp_path, "connect 'chat -t 9 -f /nonexistent/chat'\n"))
    assert result.values["connect"] == "/nonexistent/chat"
    assert any("chat TIMEOUT 9: add it to the chat script by hand" in w for w in result.warnings)


def test_chat_script_dialling_t_or_u_without_numbers_warns(tmp_path: Path) -> None:
    (tmp_path / "script").write_text("'' ATZ\nOK ATDT\\T\nBUSY ATDT\\U\n")
    result = import_pppd(_peer(tmp_path, f"connect 'chat -f {tmp_path}/script'\n"))
    assert result.values["connect"].endswith("BUSY ATDT\\U\n")
    assert [w.split(": ", 1)[1] for w in result.warnings] == [
        "chat \\U: a second phone number is not supported",
        "chat \\T: the script dials \\T but no number was given (chat -T); set number",
    ]


def test_chat_environment_substitution_is_named_as_not_translated(tmp_path: Path) -> None:
    (tmp_path / "script").write_text("'' ATZ\nOK ATDT$PHONE\n")
    result = import_pppd(_peer(tmp_path, f"connect 'chat -E -f {tmp_path}/script'\n"))
    assert result.values["connect"] == "'' ATZ\nOK ATDT$PHONE\n"
    assert [w.split(": ", 1)[1] for w in result.warnings] == [
        "chat -E: environment variables are not substituted; write their values into the script"
    ]


def test_chat_file_and_inline_script_together_warn(tmp_path: Path) -> None:
    (tmp_path / "script").write_text("'' ATZ\n")
    path = _peer(tmp_path, f"connect 'chat -f {tmp_path}/script OK ATH'\n")
    result = import_pppd(path)
    assert result.values["connect"] == "'' ATZ\n"
    assert any("both -f and a script" in w for w in result.warnings)


def test_include_loop_is_reported_once_and_not_followed(tmp_path: Path) -> None:
    (tmp_path / "a").write_text(f"lock\nfile {tmp_path}/b\n")
    (tmp_path / "b").write_text(f"mru 1400\nfile {tmp_path}/a\n")
    result = import_pppd(tmp_path / "a")
    assert result.values["mru"] == 1400
    assert [w for w in result.warnings if "include loop" in w] == [
        f"{tmp_path}/b:2: file: {tmp_path}/a is already being read (an include loop);"
        " not read again"
    ]


def test_call_reads_from_the_peers_directory(tmp_path: Path) -> None:
    peers = tmp_path / "etc" / "ppp" / "peers"
    peers.mkdir(parents=True)
    (peers / "base").write_text("crtscts\n")
    result = import_pppd(_peer(tmp_path, "call base\nmru 1400\n"), root=tmp_path)
    assert result.values == {"flow": "crtscts", "mru": 1400}
    assert _warnings_about(result, "call") == []


def test_imported_values_parse_back_as_the_same_options() -> None:
    result = _import("nullmodem")
    opts = merge_options(parse_profile_text(result.to_toml(), "n").layer)
    assert opts.local_ip == ipaddress.IPv4Address("10.0.0.1") and not opts.modem


def test_file_with_a_leading_double_slash_is_read_under_the_root(tmp_path: Path) -> None:
    """POSIX keeps a leading "//" (pathlib too): it still names a file under the root."""
    (tmp_path / "extra").write_text("mru 1400\n")
    result = import_pppd(_peer(tmp_path, "file //extra\n"), root=tmp_path)
    assert result.values == {"mru": 1400}


def test_ms_chap_words_are_translated(tmp_path: Path) -> None:
    result = import_pppd(_peer(tmp_path, "require-mschap-v2\n+mschap\n", "server"))
    assert result.values["require-mschap-v2"] is True and result.values["require-mschap"] is True
    assert result.warnings == []
    result = import_pppd(_peer(tmp_path, "refuse-mschap\n-mschap-v2\n", "client"))
    assert result.values["refuse-mschap"] is True and result.values["refuse-mschap-v2"] is True
    assert result.warnings == []


def test_eap_words_are_translated(tmp_path: Path) -> None:
    result = import_pppd(_peer(tmp_path, "require-eap\n", "server"))
    assert result.values["require-eap"] is True and result.warnings == []
    result = import_pppd(_peer(tmp_path, "-eap\n", "client"))
    assert result.values["refuse-eap"] is True and result.warnings == []


def test_mppe_words_are_translated(tmp_path: Path) -> None:
    words = "require-mppe-128\nmppe-stateful\n"
    result = import_pppd(_peer(tmp_path, words, "vpn"))
    assert result.values["require-mppe-128"] is True and result.values["mppe-stateful"] is True
    assert result.warnings == []
    result = import_pppd(_peer(tmp_path, "require-mppe\nnomppe-40\n", "vpn40"))
    assert result.values["require-mppe"] is True and result.values["nomppe-40"] is True


def test_eap_tls_files_are_imported_under_pppds_names(tmp_path: Path) -> None:
    peer = _peer(tmp_path, "require-eap\nca /etc/ppp/ca.crt\ncert /etc/ppp/bob.crt\n"
                           "key /etc/ppp/bob.key\nremotename hub\n")  # fmt: skip
    values = import_pppd(peer, root=tmp_path).values
    assert (values["ca"], values["cert"], values["key"]) == (
        "/etc/ppp/ca.crt", "/etc/ppp/bob.crt", "/etc/ppp/bob.key")  # fmt: skip
    assert values["require-eap"] is True


def test_lcp_timer_words_become_options(tmp_path: Path) -> None:
    text = "lcp-restart 1\nlcp-max-configure 4\nlcp-max-terminate 1\nlcp-max-failure 2\n"
    result = import_pppd(_peer(tmp_path, text), root=tmp_path)
    assert [result.values[k] for k in ("lcp-restart", "lcp-max-configure")] == [1, 4]
    assert [result.values[k] for k in ("lcp-max-terminate", "lcp-max-failure")] == [1, 2]
    assert not [w for w in result.warnings if "lcp-" in w]


def test_multilink_options_become_profile_values(tmp_path: Path) -> None:
    result = import_pppd(
        _peer(tmp_path, "/dev/ttyS1\nmultilink\nmrru 1600\nmpshortseq\nendpoint magic:0a0b0c0d\n")
    )
    values = result.values
    assert values["multilink"] is True and values["mrru"] == 1600
    assert values["mpshortseq"] is True and values["endpoint"] == "magic:0a0b0c0d"
    assert result.warnings == []
    off = import_pppd(_peer(tmp_path, "/dev/ttyS1\nmp\nnomp\n", "off"))
    assert off.values["multilink"] is False


def test_a_bad_endpoint_is_left_out_with_a_warning_naming_its_line(tmp_path: Path) -> None:
    result = import_pppd(_peer(tmp_path, "/dev/ttyS1\nmultilink\nendpoint bogus:1\n"))
    assert "endpoint" not in result.values
    [warning] = result.warnings
    assert ":3: endpoint bogus:1: Can't parse 'bogus:1'" in warning
