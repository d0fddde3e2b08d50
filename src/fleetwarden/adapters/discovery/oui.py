"""MAC address -> IEEE OUI organisation, from the registry netaddr ships (R4).

The registry is the IEEE's public MA-L list bundled with netaddr, so lookups work
offline and follow netaddr's updates. Addresses the registry cannot speak for (locally
administered or randomised, multicast, all-zero, malformed, unregistered) give None.
For a block the IEEE Registration Authority subdivides (IAB), the sub-assignment's
organisation is used when netaddr has it.

Must not: normalise the organisation to a product brand (the fingerprint alias table
does that) or raise on bad input.
"""

from __future__ import annotations

from functools import lru_cache

import netaddr

#: Longer text is no MAC address; refusing it early keeps the parser's work bounded.
_MAX_INPUT = 32
_REGISTRATION_AUTHORITY = "ieee registration authority"


@lru_cache(maxsize=16_384)
def mac_vendor(mac: str) -> str | None:
    """The organisation the MAC's OUI is registered to, or None."""
    if not isinstance(mac, str) or not 0 < len(mac) <= _MAX_INPUT:
        return None
    try:
        eui = netaddr.EUI(mac.strip())
    except (netaddr.AddrFormatError, TypeError, ValueError):
        return None
    first_octet = eui.words[0]
    if first_octet & 0x03 or int(eui) == 0:  # multicast or locally administered
        return None
    try:
        org = str(eui.oui.registration().org).strip()
        if org.casefold() == _REGISTRATION_AUTHORITY and eui.is_iab():
            org = str(eui.iab.registration().org).strip()
    except (netaddr.NotRegisteredError, IndexError, KeyError):
        return None
    if not org or org.casefold() == _REGISTRATION_AUTHORITY:
        return None
    return org
