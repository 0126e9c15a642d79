"""Run conformance cases against the simulated peer: one call per case or battery."""

from __future__ import annotations

from ipaddress import IPv4Address

from ndiswan.ppp import AuthRequirement, PppConfig
from tests.conformance.simline import NO_MUTANT, Mutant, SimulatedLine, SimulatedPeer
from wanctl.conformance.case import PeerRole, Result
from wanctl.conformance.context import PEER_IP, TESTER_IP, Settings
from wanctl.conformance.probe import Probe
from wanctl.conformance.runner import all_cases, run, select

USER, PASSWORD = "tester", "s3cret"


def answering_config(require_auth: AuthRequirement = AuthRequirement.NONE) -> PppConfig:
    """What `wanctl answer` runs by default on a direct line, as a server."""
    return PppConfig(
        name="server",
        local_ip=IPv4Address("10.64.0.2"),
        remote_ip=IPv4Address("10.64.0.1"),
        require_auth=require_auth,
        ms_dns=(IPv4Address("10.64.0.53"),),
        ipv6=True,
    )


def dialing_config() -> PppConfig:
    """What `wanctl dial` runs when it calls the tester."""
    return PppConfig(
        user=USER, password=PASSWORD, remote_name="conformance", ipv6=True, usepeerdns=True
    )


def secrets(client: str, server: str) -> str | None:
    return PASSWORD if client == USER else None


def run_cases(
    ids: list[str] | None = None,
    *,
    mutant: Mutant = NO_MUTANT,
    role: PeerRole = PeerRole.ANSWER,
    peer_auth: AuthRequirement = AuthRequirement.NONE,
    tester_auth: AuthRequirement = AuthRequirement.NONE,
    timeout: float = 3.0,
) -> list[Result]:
    """Results of ``ids`` (all cases when None) against our core with ``mutant``."""
    if role is PeerRole.ANSWER:
        peer = SimulatedPeer(lambda: answering_config(peer_auth), secrets, mutant)
    else:
        peer = SimulatedPeer(dialing_config, secrets, mutant)
    line = SimulatedLine(peer)
    settings = Settings(
        role=role,
        timeout=timeout,
        user=USER,
        password=PASSWORD,
        require_auth=tester_auth,
        tester_ip=TESTER_IP,
        peer_ip=PEER_IP,
    )
    cases = select(all_cases(), ids=ids or ())
    return run(cases, Probe(line), settings)
