"""MS-CHAP v1 and v2, and EAP-MD5, against the real pppd 2.4.9 in the VM, in both roles.

pppd reads the same chap-secrets line for MS-CHAP as for CHAP-MD5; its log
names the algorithm LCP agreed on (``<auth chap MS-v2>``) and, as the
client, checks our authenticator response before it says "CHAP
authentication succeeded".  Every link that comes up pings both ways.
"""

from __future__ import annotations

import os

import pytest

from tests.interop.test_pppd_compression import fetch_from_guest, push_to_guest
from tests.interop.test_pppd_interop import (
    OURS,
    PPPD,
    Bench,
    _secrets_args,
    _up,
    bench,
    namespace,
)

__all__ = ["bench", "namespace"]  # fixtures shared with test_pppd_interop

#: Our option, pppd's option and the name LCP prints for the algorithm.
ALGORITHMS = {
    "mschap-v2": ("MS-CHAPv2", "MS-v2"),
    "mschap": ("MS-CHAP", "MS"),
}


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_pppd_requires_ms_chap_from_us(bench: Bench, algorithm: str) -> None:
    ours = bench.start_ours(
        "dial", "--user", "client", "--remotename", "server", *_secrets_args(bench)
    )
    pppd = bench.pppd("auth", f"require-{algorithm}", "name", "server", f"{PPPD}:{OURS}")
    _up(ours, pppd)
    log = pppd.read_log()
    ours_name, lcp_name = ALGORITHMS[algorithm]
    assert f"<auth chap {lcp_name}>" in log
    assert "sent [CHAP Success" in log
    if algorithm == "mschap-v2":
        # pppd proves it knows the password: we checked S= before believing it.
        assert "S=" in log
    assert f"Authenticated ({ours_name}, peer: client)" in ours.output()
    bench.ping_both_ways()


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_we_require_ms_chap_from_pppd(bench: Bench, algorithm: str) -> None:
    ours = bench.start_ours(
        "answer", f"--require-{algorithm}", "--name", "server", "--ip", f"{OURS}:{PPPD}",
        *_secrets_args(bench),
    )  # fmt: skip
    pppd = bench.pppd("noauth", "user", "client", "remotename", "server")
    _up(ours, pppd)
    log = pppd.read_log()
    ours_name, lcp_name = ALGORITHMS[algorithm]
    assert f"<auth chap {lcp_name}>" in log
    # pppd as the client checks our authenticator response (v2) before this line.
    assert "CHAP authentication succeeded" in log
    assert f"Authenticated ({ours_name}, authenticator: client)" in ours.output()
    bench.ping_both_ways()


def test_wrong_password_against_pppds_mschap_v2_fails_on_both_sides(bench: Bench) -> None:
    ours = bench.start_ours(
        "dial", "--user", "client", "--remotename", "server", "--password", "not-the-secret"
    )
    pppd = bench.pppd("auth", "require-mschap-v2", "name", "server", f"{PPPD}:{OURS}")
    assert ours.wait(40) == 19  # EXIT_AUTH_TOPEER_FAILED
    assert pppd.wait(40) == 11  # EXIT_PEER_AUTH_FAILED
    assert "E=691" in pppd.read_log()
    assert "Authentication failed (MS-CHAPv2)" in ours.output()


def test_pppd_with_the_wrong_password_is_refused_by_our_mschap_v2(bench: Bench) -> None:
    bench.vm.write_file("/etc/ppp/chap-secrets", "client server wrong-secret *\n", mode=0o600)
    ours = bench.start_ours(
        "answer", "--require-mschap-v2", "--name", "server", "--ip", f"{OURS}:{PPPD}",
        *_secrets_args(bench),
    )  # fmt: skip
    pppd = bench.pppd("noauth", "user", "client", "remotename", "server")
    assert pppd.wait(40) == 19
    assert "E=691" in pppd.read_log()
    ours.wait_for(r"Authentication failed", 10)


def test_pppd_refusing_mschap_v2_cannot_make_us_accept_less(bench: Bench) -> None:
    ours = bench.start_ours(
        "answer", "--require-mschap-v2", "--name", "server", "--ip", f"{OURS}:{PPPD}",
        *_secrets_args(bench),
    )  # fmt: skip
    pppd = bench.pppd("noauth", "user", "client", "remotename", "server", "refuse-mschap-v2")
    # pppd will not do MS-CHAPv2; we take nothing less and end the call (an
    # answering line then listens again).
    ours.wait_for(r"peer refused to authenticate", 60)
    ours.wait_for(r"Link down: .*\(exit code 11\)", 30)
    pppd.wait(40)
    log = pppd.read_log()
    print("\n" + "\n".join(line for line in log.splitlines() if "LCP Conf" in line))
    assert "LCP terminated by peer (peer refused to authenticate)" in log
    assert "[CHAP" not in log and "[PAP" not in log
    assert "Link up" not in ours.output()


# -- EAP (MD5-Challenge) ----------------------------------------------------------


def test_pppd_requires_eap_from_us(bench: Bench) -> None:
    ours = bench.start_ours(
        "dial", "--user", "client", "--remotename", "server", *_secrets_args(bench)
    )
    pppd = bench.pppd("auth", "require-eap", "name", "server", f"{PPPD}:{OURS}")
    _up(ours, pppd)
    log = pppd.read_log()
    assert "<auth eap>" in log and "MD5-Challenge" in log
    assert "sent [EAP Success" in log
    assert "Authenticated (EAP, peer: client)" in ours.output()
    bench.ping_both_ways()


def test_we_require_eap_from_pppd(bench: Bench) -> None:
    ours = bench.start_ours(
        "answer", "--require-eap", "--name", "server", "--ip", f"{OURS}:{PPPD}",
        *_secrets_args(bench),
    )  # fmt: skip
    pppd = bench.pppd("noauth", "user", "client", "remotename", "server")
    _up(ours, pppd)
    log = pppd.read_log()
    assert "<auth eap>" in log and "rcvd [EAP Success" in log
    assert "Authenticated (EAP, authenticator: client)" in ours.output()
    bench.ping_both_ways()


def test_wrong_password_against_pppds_eap_fails_on_both_sides(bench: Bench) -> None:
    ours = bench.start_ours(
        "dial", "--user", "client", "--remotename", "server", "--password", "not-the-secret"
    )
    pppd = bench.pppd("auth", "require-eap", "name", "server", f"{PPPD}:{OURS}")
    assert ours.wait(40) == 19
    assert pppd.wait(40) == 11
    assert "sent [EAP Failure" in pppd.read_log()


# -- MPPE (keys from MS-CHAPv2; the kernel's ppp_mppe on pppd's side) -----------------


@pytest.mark.parametrize("stateful", [False, True])
def test_we_dial_pppd_requiring_mschap_v2_and_mppe_128(bench: Bench, stateful: bool) -> None:
    extra = ["--mppe-stateful"] if stateful else []
    ours = bench.start_ours(
        "dial", "--user", "client", "--remotename", "server", "--require-mppe-128", *extra,
        *_secrets_args(bench),
    )  # fmt: skip
    pppd_extra = ["mppe-stateful"] if stateful else []
    pppd = bench.pppd("auth", "require-mschap-v2", "require-mppe-128", *pppd_extra, "name",
                      "server", f"{PPPD}:{OURS}")  # fmt: skip
    _up(ours, pppd)
    log = pppd.wait_for_log("compression enabled", timeout=30)
    print("\n" + "\n".join(line for line in log.splitlines() if "CCP" in line or "MPPE" in line))
    # pppd always asks for stateless MPPE; mppe-stateful only lets it accept our
    # stateful request, so with it what pppd sends us is stateful.
    assert "MPPE 128-bit stateless compression enabled" in log
    expected = (
        "MPPE 128-bit stateful / MPPE 128-bit stateless compression enabled"
        if stateful
        else "MPPE 128-bit stateless compression enabled"
    )
    assert expected in ours.output()
    bench.ping_both_ways()
    if not stateful:
        # 1 MiB of random octets each way through MPPE, SHA-256 compared.
        data = os.urandom(1 << 20)
        push_to_guest(bench, data)
        fetch_from_guest(bench, "/run/received.bin")


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_pppd_dials_us_requiring_mppe_128(bench: Bench, algorithm: str) -> None:
    # MS-CHAPv1's key is one for both directions (RFC 3079 2.4), v2's one per direction.
    ours = bench.start_ours(
        "answer", f"--require-{algorithm}", "--require-mppe-128", "--name", "server",
        "--ip", f"{OURS}:{PPPD}", *_secrets_args(bench),
    )  # fmt: skip
    pppd = bench.pppd("noauth", "user", "client", "remotename", "server", "require-mppe-128")
    _up(ours, pppd)
    pppd.wait_for_log("MPPE 128-bit stateless compression enabled", timeout=30)
    bench.ping_both_ways()


# -- MPPE with MS-CHAPv1's key (one for both directions, RFC 3079 2.4) ---------------


def test_we_dial_pppd_requiring_mschap_v1_and_mppe_128(bench: Bench) -> None:
    # 128 only: with MS-CHAPv1 pppd disables 40-bit ("MS-CHAP LM not supported"), as we do.
    ours = bench.start_ours(
        "dial", "--user", "client", "--remotename", "server", "--require-mppe-128",
        *_secrets_args(bench),
    )  # fmt: skip
    pppd = bench.pppd("auth", "require-mschap", "require-mppe-128", "name", "server",
                      f"{PPPD}:{OURS}")  # fmt: skip
    _up(ours, pppd)
    log = pppd.wait_for_log("MPPE 128-bit stateless compression enabled", timeout=30)
    assert "<auth chap MS>" in log
    bench.ping_both_ways()
