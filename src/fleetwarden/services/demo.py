"""Seeding a tenant with the synthetic demo estate (no real personal data, R18).

The estate arrives as plain records (from the demo adapter); this use case files
them through the same services a user would, so the demo's audit log is real.
``seed_vulnerabilities`` then gives it something to find: the suppliers' firmware SBOMs
and a small offline feed set, imported as ``sbom import`` and ``feeds import`` would.

Must not: overwrite feed data a database already holds (feeds are shared by every
tenant, and a real NVD import must never be replaced by demonstration records).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from fleetwarden.domain.model import DeviceModel
from fleetwarden.domain.records import SPECS, RecordKind
from fleetwarden.ports import DeviceQuery, UnitOfWork
from fleetwarden.services import devices, feeds, importing, registry, software
from fleetwarden.services.context import Permission, Platform, Principal, require

_RENAMES = {"vdp_url": "disclosure_url", "vulnerability_disclosure_url": "disclosure_url",
            "from": "source", "to": "destination"}


class Estate(Protocol):
    sites: Sequence[Mapping[str, Any]]
    segments: Sequence[Mapping[str, Any]]
    suppliers: Sequence[Mapping[str, Any]]
    models: Sequence[Mapping[str, Any]]
    devices: Sequence[Mapping[str, Any]]
    iot_systems: Sequence[Mapping[str, Any]]
    data_items: Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class SeedReport:
    sites: int
    segments: int
    suppliers: int
    models: int
    devices: int
    systems: int
    data_items: int


def _accepted(kind: RecordKind, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the fields the record accepts (the estate carries extra generator data)."""
    names = {f.name for f in fields(SPECS[kind].cls)} - {"id", "tenant_id"}
    names |= {n[:-3] for n in names if n.endswith("_id")}
    out = {}
    for key, value in raw.items():
        key = _RENAMES.get(key, key)
        if key in names:
            out[key] = value
    return out


def _member_ids(
    platform: Platform, principal: Principal, types: Sequence[str], sites: Sequence[str]
) -> list[int]:
    """Devices of the system's types, at its sites when it names any."""
    ids: list[int] = []
    for device_type in types:
        page = devices.list_devices(platform, principal,
                                    DeviceQuery(device_type=device_type, limit=1000))
        ids.extend(d.id for d in page.items
                   if d.id is not None and (not sites or d.site in sites))
    return ids


def seed(platform: Platform, principal: Principal, estate: Estate) -> SeedReport:
    simple = [
        (RecordKind.SITE, estate.sites),
        (RecordKind.SUPPLIER, estate.suppliers),
        (RecordKind.SEGMENT, estate.segments),
        (RecordKind.MODEL, estate.models),
    ]
    for kind, items in simple:
        for raw in items:
            registry.create(platform, principal, kind, _accepted(kind, raw))
    report = importing.import_devices(
        platform, principal, enumerate(estate.devices, start=1),
        source={"file": "demo estate", "format": "generated", "sha256": "demo"},
    )
    if report.error_count:
        first = report.errors[0]
        raise RuntimeError(f"demo estate row {first[0]} rejected: {first[1]}")
    for raw in estate.iot_systems:
        body = _accepted(RecordKind.SYSTEM, raw)
        body["data_flows"] = [
            {_RENAMES.get(k, k): v for k, v in flow.items()} for flow in raw.get("data_flows", [])
        ]
        body["device_ids"] = _member_ids(platform, principal, raw.get("device_types", []),
                                         raw.get("sites", []))
        registry.create(platform, principal, RecordKind.SYSTEM, body)
    # Items before the aggregates that name them.
    ordered = sorted(estate.data_items, key=lambda d: bool(d.get("aggregate_of")))
    for raw in ordered:
        registry.create(platform, principal, RecordKind.DATA_ITEM,
                        _accepted(RecordKind.DATA_ITEM, raw))
    return SeedReport(len(estate.sites), len(estate.segments), len(estate.suppliers),
                      len(estate.models), report.created, len(estate.iot_systems),
                      len(estate.data_items))


# ------------------------------------------------------------------ vulnerability data
class FirmwareSbom(Protocol):
    """An SBOM a supplier published for one firmware release of one model."""

    @property
    def path(self) -> Path: ...
    @property
    def vendor(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def firmware(self) -> str: ...


@dataclass(frozen=True, slots=True)
class VulnSeedReport:
    sboms: int
    """Firmware SBOMs imported now (images that already have one are left alone, and
    models the register does not hold are skipped)."""
    feed_files: int
    """Feed files imported: 0 when the database already held feed data."""
    feed_records: dict[str, int] = field(default_factory=dict)
    """Records imported per source (``nvd``, ``kev``, ``epss``)."""


def seed_vulnerabilities(platform: Platform, principal: Principal,
                         sboms: Sequence[FirmwareSbom], feed_files: Sequence[Path]
                         ) -> VulnSeedReport:
    """Import the SBOMs of the register's firmware images that have none yet, then
    ``feed_files`` unless the database already holds feed data; running it twice
    imports nothing the second time."""
    require(principal, Permission.WRITE)
    with platform.uow(principal.tenant, False) as uow:
        todo = [s for s in sboms if _needs_sbom(uow, s)]
        has_feeds = any(row["last_import"] is not None for row in uow.feeds.status(None))
    for s in todo:
        software.import_sbom(platform, principal, str(s.path), model=f"{s.vendor}/{s.model}",
                             firmware=s.firmware)
    if has_feeds or not feed_files:
        return VulnSeedReport(len(todo), 0)
    result = feeds.import_feeds(platform, principal, [str(f) for f in feed_files])
    return VulnSeedReport(len(todo), len(result.files), dict(result.totals))


def _needs_sbom(uow: UnitOfWork, sbom: FirmwareSbom) -> bool:
    found = uow.records.by_name(RecordKind.MODEL, f"{sbom.vendor}/{sbom.model}")
    if not isinstance(found, DeviceModel) or found.id is None:
        return False
    image = uow.software.firmware_id(found.id, sbom.firmware)
    return image is None or not uow.software.components_of(firmware_id=image, source="sbom")
