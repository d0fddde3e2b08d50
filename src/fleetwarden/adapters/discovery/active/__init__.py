"""Active discovery: scan addresses, identify services, return ``HostObservation`` values.

The public API is ``scan`` (async) and ``scan_sync``, with ``parse_targets`` /
``parse_ports`` for the CLI's TARGET and ``--ports`` strings and ``Profile`` for
``--profile``. Everything else in this package is internal.

Must not: scan outside 127.0.0.0/8 unless the caller passes ``allow_non_loopback=True``
for a scope it has authorised.
"""

from __future__ import annotations

from fleetwarden.adapters.discovery.active.limits import Profile
from fleetwarden.adapters.discovery.active.scanner import (
    Progress,
    check_options,
    scan,
    scan_sync,
)
from fleetwarden.adapters.discovery.active.sweep import ScanError
from fleetwarden.adapters.discovery.active.targets import (
    IOT_TOP_TCP,
    IOT_TOP_UDP,
    LAB_PORT_OFFSET,
    MAX_ADDRESSES,
    PortPlan,
    Targets,
    parse_ports,
    parse_targets,
)

__all__ = [
    "IOT_TOP_TCP", "IOT_TOP_UDP", "LAB_PORT_OFFSET", "MAX_ADDRESSES", "PortPlan", "Profile",
    "Progress", "ScanError", "Targets", "check_options", "parse_ports", "parse_targets", "scan",
    "scan_sync",
]
