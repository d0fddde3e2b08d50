"""Reads for the dashboard's device page that no other service offers: every host
discovery linked to one device, the attestations and waivers its verdicts cite, and the
tenant's bulk imports (a device without a ``device.create`` event came in with one: an
import writes one audit event for its whole file, not one per device).

Must not: read beyond one device's rows and the exceptions named to it (the page stays
fast at 1,000,000 devices), or write anything.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from fleetwarden.domain.audit import AuditEvent
from fleetwarden.domain.compliance.exceptions import Attestation, Waiver
from fleetwarden.domain.inventory import DiscoveredHost
from fleetwarden.errors import InputError, NotFound
from fleetwarden.services.context import Permission, Platform, Principal, require

#: Exceptions one page may ask for: one per requirement of every catalogue is far less.
MAX_EXCEPTIONS = 2000
MAX_IMPORTS = 5
_NEVER = datetime.min.replace(tzinfo=UTC)


def hosts(platform: Platform, principal: Principal, device_id: int) -> list[DiscoveredHost]:
    """Every discovered host linked to the device, most recently seen first."""
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        if uow.devices.get(device_id) is None:
            raise NotFound(f"device {device_id} not found")
        found = uow.discovery.hosts_of_devices([device_id])
    return sorted(found, key=lambda h: (h.last_seen or _NEVER, h.id or 0), reverse=True)


def exceptions(platform: Platform, principal: Principal, attestation_ids: Collection[int],
               waiver_ids: Collection[int]) -> tuple[list[Attestation], list[Waiver]]:
    """The attestations and waivers with these ids (other tenants' are left out)."""
    require(principal, Permission.READ)
    if len(attestation_ids) + len(waiver_ids) > MAX_EXCEPTIONS:
        raise InputError(f"at most {MAX_EXCEPTIONS} attestations and waivers at once")
    if not attestation_ids and not waiver_ids:
        return [], []
    with platform.uow(principal.tenant, False) as uow:
        found_a = (uow.compliance.attestations(ids=sorted(set(attestation_ids)))
                   if attestation_ids else [])
        found_w = uow.compliance.waivers(ids=sorted(set(waiver_ids))) if waiver_ids else []
    return found_a, found_w


def bulk_imports(platform: Platform, principal: Principal,
                 limit: int = MAX_IMPORTS) -> list[AuditEvent]:
    """The tenant's latest bulk device imports (``device.import`` events), newest first."""
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return uow.audit_search.latest_of_type("import", "device.import", limit)
