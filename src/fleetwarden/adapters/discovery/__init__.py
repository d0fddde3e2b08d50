"""Discovery adapters: the fingerprint catalogue, the IEEE OUI registry (here) and the
scanners and importers (sub-packages).

Must not: hold business logic; what a host is gets concluded by ``domain.fingerprint``.
"""

from __future__ import annotations

from fleetwarden.adapters.discovery.oui import mac_vendor
from fleetwarden.adapters.discovery.rules import (
    FINGERPRINT_DIR,
    FingerprintCatalogue,
    load_catalogue,
    load_rules,
    load_vendor_aliases,
)

__all__ = [
    "FINGERPRINT_DIR",
    "FingerprintCatalogue",
    "load_catalogue",
    "load_rules",
    "load_vendor_aliases",
    "mac_vendor",
]
