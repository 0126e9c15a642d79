"""From a PppConfig to what each part needs: option policies and auth machines.

The session owns the phases; this module only translates pppd-style
configuration into the handlers' terms, the way pppd's ``auth_reset`` and
``ipcp_resetci`` derive their "want" and "allow" options.
"""

from __future__ import annotations

from ndiswan.ppp.auth import AuthMachine
from ndiswan.ppp.chap import ChapAuthenticator, ChapPeer
from ndiswan.ppp.config import AuthProtocol, PppConfig, RandomBytes, SecretLookup
from ndiswan.ppp.constants import Proto
from ndiswan.ppp.eap import EapAuthenticator, EapPeer
from ndiswan.ppp.events import AuthRole
from ndiswan.ppp.ipcp import IpcpPolicy
from ndiswan.ppp.ipv6cp import Ipv6cpPolicy
from ndiswan.ppp.lcp import LcpPolicy
from ndiswan.ppp.pap import PapAuthenticator, PapPeer
from ndiswan.ppp.secrets_format import SecretsTable

AuthMachines = dict[tuple[int, AuthRole], AuthMachine]


def our_secret(config: PppConfig, secrets: SecretLookup | None) -> str | None:
    """The secret we authenticate with: ``password``, else the secrets lookup."""
    if config.password is not None:
        return config.password
    return secrets(config.auth_user, config.remote_name) if secrets is not None else None


def lcp_policy(config: PppConfig, secrets: SecretLookup | None) -> LcpPolicy:
    # Like pppd, offer to authenticate ourselves only with a secret to do it.
    have_secret = our_secret(config, secrets) is not None
    return LcpPolicy(
        mru=config.mru,
        asyncmap=config.asyncmap,
        magic=config.magic,
        pcomp=config.pcomp,
        accomp=config.accomp,
        require=config.require_auth.protocols,
        allow_pap=not config.refuse_pap and have_secret,
        allow_chap=not config.refuse_chap and have_secret,
        allow_mschap=not config.refuse_mschap and have_secret,
        allow_mschap_v2=not config.refuse_mschap_v2 and have_secret,
        allow_eap=not config.refuse_eap and (have_secret or config.eap_tls_client is not None),
        loopback_fail=config.loopback_fail,
        multilink=config.multilink,
        mrru=config.our_mrru,
        short_seq=config.mpshortseq,
        endpoint=config.our_endpoint,
    )


def ipcp_policy(config: PppConfig) -> IpcpPolicy:
    dns = (*config.ms_dns, None, None)
    accept_local, accept_remote = config.ipcp_accept_local, config.ipcp_accept_remote
    return IpcpPolicy(
        local=config.local_ip,
        remote=config.remote_ip,
        # pppd: insist on an address we were given, take the peer's otherwise.
        accept_local=config.local_ip is None if accept_local is None else accept_local,
        accept_remote=config.remote_ip is None if accept_remote is None else accept_remote,
        give_dns=(dns[0], dns[1]),
        request_dns=config.usepeerdns,
        vj=(config.vj_max_slots - 1, config.vjccomp) if config.vj else None,
    )


def ipv6cp_policy(config: PppConfig) -> Ipv6cpPolicy:
    return Ipv6cpPolicy(config.ipv6_local_id, config.ipv6_remote_id)


def auth_machines(
    config: PppConfig,
    *,
    check_peer_with: AuthProtocol | None,
    prove_ourselves_with: AuthProtocol | None,
    secrets: SecretLookup | None,
    rng: RandomBytes,
) -> AuthMachines:
    """The machines of the Authenticate phase, keyed by (protocol, role)."""
    machines: AuthMachines = {}
    # Only a secrets file's entry limits the peer's addresses (pppd's
    # set_allowed_addrs); a plain lookup function leaves them free.
    addresses = secrets.addresses if isinstance(secrets, SecretsTable) else None
    if check_peer_with is AuthProtocol.PAP:
        machines[Proto.PAP, AuthRole.AUTHENTICATOR] = PapAuthenticator(
            config.name, secrets, config.pap_wait_timeout, addresses
        )
    elif check_peer_with is AuthProtocol.EAP:
        machines[Proto.EAP, AuthRole.AUTHENTICATOR] = EapAuthenticator(
            config.name,
            secrets,
            rng,
            restart_time=config.restart_time,
            max_transmits=config.max_configure,
            addresses=addresses,
            tls=config.eap_tls_server,
        )
    elif check_peer_with is not None:
        machines[Proto.CHAP, AuthRole.AUTHENTICATOR] = ChapAuthenticator(
            config.name,
            secrets,
            rng,
            kind=check_peer_with,
            restart_time=config.restart_time,
            max_transmits=config.max_configure,
            rechallenge_interval=config.chap_interval,
            addresses=addresses,
        )
    if prove_ourselves_with is AuthProtocol.PAP:
        machines[Proto.PAP, AuthRole.PEER] = PapPeer(
            config.auth_user,
            our_secret(config, secrets) or "",
            config.restart_time,
            config.max_configure,
        )
    elif prove_ourselves_with is AuthProtocol.EAP:
        machines[Proto.EAP, AuthRole.PEER] = EapPeer(
            config.auth_user,
            config.password,
            secrets,
            config.remote_name,
            config.chap_wait_timeout,
            tls=config.eap_tls_client,
        )
    elif prove_ourselves_with is not None:
        machines[Proto.CHAP, AuthRole.PEER] = ChapPeer(
            config.auth_user,
            config.password,
            secrets,
            config.remote_name,
            config.chap_wait_timeout,
            kind=prove_ourselves_with,
            rng=rng,
            restart_time=config.restart_time,
            max_transmits=config.max_configure,
        )
    return machines
