"""wanctl: the command line's foundations -- options, profiles, control socket, capture.

* ``errors``      -- one-line errors a user can act on, each with its exit code
                   (pppd's, ``ExitCode``, from ``wanminiport.exitcodes``)
* ``options``     -- the link option table shared by flags and profile keys
* ``profiles``    -- TOML profiles: lookup, checks, writing
* ``pppd_import`` -- pppd peers files and chat scripts to profiles
* ``control``     -- the per-link control socket (status, hangup)
* ``pcap``        -- PPP capture files for Wireshark (LINKTYPE_PPP_WITH_DIR)

The public names below are re-exported here but imported on first use, so a
process that needs only the control socket (``wanctl status``, ``wanctl
hangup``) does not load the link stack that ``options`` pulls in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "ControlServer": "control",
    "PeerCredentials": "control",
    "hangup": "control",
    "hangup_all": "control",
    "list_links": "control",
    "status": "control",
    "ControlError": "errors",
    "ControlPermissionError": "errors",
    "ControlProtocolError": "errors",
    "LinkNotRunningError": "errors",
    "PppdImportError": "errors",
    "ProfileError": "errors",
    "ProfilePermissionError": "errors",
    "UsageError": "errors",
    "UsageErrors": "errors",
    "WanctlError": "errors",
    "ExitCode": "wanminiport.exitcodes",
    "OPTIONS": "options",
    "LinkOptions": "options",
    "OptionLayer": "options",
    "OptionSpec": "options",
    "add_link_options": "options",
    "command_line_layer": "options",
    "merge_options": "options",
    "LINKTYPE_PPP_WITH_DIR": "pcap",
    "Direction": "pcap",
    "PcapWriter": "pcap",
    "ImportResult": "pppd_import",
    "import_pppd": "pppd_import",
    "Profile": "profiles",
    "find_profile": "profiles",
    "load_profile": "profiles",
    "open_profile": "profiles",
    "render_profile": "profiles",
    "save_profile": "profiles",
}

__all__ = [
    "LINKTYPE_PPP_WITH_DIR",
    "OPTIONS",
    "ControlError",
    "ControlPermissionError",
    "ControlProtocolError",
    "ControlServer",
    "Direction",
    "ExitCode",
    "ImportResult",
    "LinkNotRunningError",
    "LinkOptions",
    "OptionLayer",
    "OptionSpec",
    "PcapWriter",
    "PeerCredentials",
    "PppdImportError",
    "Profile",
    "ProfileError",
    "ProfilePermissionError",
    "UsageError",
    "UsageErrors",
    "WanctlError",
    "add_link_options",
    "command_line_layer",
    "find_profile",
    "hangup",
    "hangup_all",
    "import_pppd",
    "list_links",
    "load_profile",
    "merge_options",
    "open_profile",
    "render_profile",
    "save_profile",
    "status",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wanctl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module if "." in module else f"wanctl.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from wanctl.control import (
        ControlServer,
        PeerCredentials,
        hangup,
        hangup_all,
        list_links,
        status,
    )
    from wanctl.errors import (
        ControlError,
        ControlPermissionError,
        ControlProtocolError,
        LinkNotRunningError,
        PppdImportError,
        ProfileError,
        ProfilePermissionError,
        UsageError,
        UsageErrors,
        WanctlError,
    )
    from wanctl.options import (
        OPTIONS,
        LinkOptions,
        OptionLayer,
        OptionSpec,
        add_link_options,
        command_line_layer,
        merge_options,
    )
    from wanctl.pcap import LINKTYPE_PPP_WITH_DIR, Direction, PcapWriter
    from wanctl.pppd_import import ImportResult, import_pppd
    from wanctl.profiles import (
        Profile,
        find_profile,
        load_profile,
        open_profile,
        render_profile,
        save_profile,
    )
    from wanminiport.exitcodes import ExitCode
