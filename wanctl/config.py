"""From the user's link options to what each layer is configured with.

One place maps ``LinkOptions`` (flags and profile keys, pppd's names) onto
the PPP engine's ``PppConfig``, the TUN edge's options and the transport's
settings, so the verbs and the demo build links the same way.
"""

from __future__ import annotations

import os
import socket
import ssl
import stat

from ndiswan.edges import TunOptions
from ndiswan.ppp import AuthRequirement, PppConfig
from ndiswan.ppp.eap_tls import tls_context
from ndiswan.ppp.multilink.endpoint import parse_endpoint
from ndiswan.ppp.secrets_format import SecretsTable
from ndiswan.secrets import SecretsFileError, load_secrets
from wanctl.errors import UsageError
from wanctl.options import LinkOptions

#: CR and LF in our receive ACCM: on a modem line without a CD signal the
#: peer must escape them, so an unescaped "\r\nNO CARRIER\r\n" can only come
#: from the modem itself and a packet carrying that text cannot hang us up.
NO_CARRIER_ACCM = (1 << 0x0A) | (1 << 0x0D)


def auth_requirement(options: LinkOptions) -> AuthRequirement:
    # The strongest asked for wins: EAP, MS-CHAPv2, MS-CHAP, then CHAP and/or PAP.
    if options.require_eap:
        return AuthRequirement.EAP
    if options.require_mschap_v2:
        return AuthRequirement.MSCHAP_V2
    if options.require_mschap:
        return AuthRequirement.MSCHAP
    if options.require_chap and options.require_pap:
        return AuthRequirement.PAP_OR_CHAP
    if options.require_chap:
        return AuthRequirement.CHAP
    if options.require_pap:
        return AuthRequirement.PAP
    return AuthRequirement.NONE


def mppe_strengths(options: LinkOptions) -> tuple[int, ...]:
    """The MPPE strengths required, strongest first; () when MPPE is not required.

    As pppd, MPPE (and then only MPPE: no Deflate or BSD-Compress beside it)
    runs when it is required; without ``require-mppe*`` it is not offered.
    """
    if options.require_mppe_128:
        return (128,)
    if options.require_mppe_40:
        return (40,)
    if options.require_mppe:
        return tuple(bits for bits in (128, 40) if not getattr(options, f"nomppe_{bits}"))
    return ()


def ppp_config(options: LinkOptions, *, text_carrier_detect: bool = False) -> PppConfig:
    """The PPP engine's configuration for these options."""
    mppe = mppe_strengths(options)
    tls_server, tls_client = eap_tls_contexts(options)
    asyncmap = options.asyncmap | (NO_CARRIER_ACCM if text_carrier_detect else 0)
    return PppConfig(
        mru=options.mru,
        asyncmap=asyncmap,
        lcp_echo_interval=float(options.lcp_echo_interval),
        lcp_echo_failure=options.lcp_echo_failure if options.lcp_echo_interval else 0,
        restart_time=float(options.lcp_restart),
        max_configure=options.lcp_max_configure,
        max_terminate=options.lcp_max_terminate,
        max_failure=options.lcp_max_failure,
        idle=float(options.idle),
        require_auth=auth_requirement(options),
        refuse_pap=options.refuse_pap,
        refuse_chap=options.refuse_chap,
        refuse_mschap=options.refuse_mschap,
        refuse_mschap_v2=options.refuse_mschap_v2,
        refuse_eap=options.refuse_eap,
        name=options.name or socket.gethostname(),
        user=options.user or "",
        password=options.password,
        remote_name=options.remotename or "",
        eap_tls_server=tls_server,
        eap_tls_client=tls_client,
        local_ip=options.local_ip,
        remote_ip=options.remote_ip,
        ms_dns=options.ms_dns,
        usepeerdns=options.usepeerdns,
        ipv6=options.ipv6,
        noccp=not (options.ccp or bool(mppe)),
        deflate=(0, 0) if mppe else options.deflate,
        bsdcomp=(0, 0) if mppe else options.bsdcomp,
        mppe=mppe,
        mppe_stateful=options.mppe_stateful,
        require_mppe=bool(mppe),
        vj=options.vj,
        vj_max_slots=options.vj_max_slots,
        vjccomp=options.vjccomp,
        multilink=options.multilink,
        mrru=options.mrru,
        mpshortseq=options.mpshortseq,
        endpoint=parse_endpoint(options.endpoint) if options.endpoint else None,
    )


def eap_tls_contexts(options: LinkOptions) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """EAP-TLS contexts for (checking the peer, proving ourselves), from pppd's ca/cert/key.

    Like a secrets file, a private key that others can read is refused.
    """
    given = {name: getattr(options, name) for name in ("ca", "cert", "key")}
    if not any(given.values()):
        return None, None
    missing = [f"--{name}" for name, path in given.items() if not path]
    if missing:
        raise UsageError(
            "cert", f"EAP-TLS needs --ca, --cert and --key; missing {' '.join(missing)}"
        )
    ca, cert, key = str(given["ca"]), str(given["cert"]), str(given["key"])
    try:
        if os.stat(key).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UsageError("key", f"{key} is readable by others: chmod 600 it")
        contexts = tuple(
            tls_context(server=server, ca_file=ca, cert_file=cert, key_file=key)
            for server in (True, False)
        )
    except (OSError, ssl.SSLError) as error:
        raise UsageError("cert", f"EAP-TLS certificates: {error}") from None
    return contexts[0], contexts[1]


def secrets_for(options: LinkOptions) -> SecretsTable | None:
    """pap-secrets and chap-secrets, when the link needs them and they exist.

    A file that others can read is refused (exit code 2) rather than used.
    """
    required = (
        options.require_pap
        or options.require_chap
        or options.require_mschap
        or options.require_mschap_v2
        or options.require_eap
    )
    needed = options.password is None and (options.user is not None or required)
    if not needed:
        return None
    paths = [p for p in (options.pap_secrets, options.chap_secrets) if os.path.exists(p)]
    if not paths:
        return None
    try:
        return load_secrets(*paths)
    except SecretsFileError as exc:
        raise UsageError("secrets", str(exc)) from None


def tun_options(options: LinkOptions) -> TunOptions:
    return TunOptions(
        default_route=options.defaultroute,
        resolv_path="/etc/ppp/resolv.conf" if options.usepeerdns else None,
        device=options.device or "",
        ipparam=options.ipparam,
    )
