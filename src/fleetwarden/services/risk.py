"""Risk in context for one device (R6): gathers what ``domain.risk`` weighs and explains.

The same model of sensor is scored differently by where it sits (segment zone), what data
its IoT systems handle and how badly a failure would hurt them (the systems' business
impact assessment), how critical it is, what it exposes on the network, and then what
its compliance checks and vulnerability findings say.

Must not: score a device on facts it cannot name; missing facts are named factors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetwarden.domain.classification import highest
from fleetwarden.domain.findings import FindingQuery, FindingStatus
from fleetwarden.domain.inventory import service_from_view
from fleetwarden.domain.model import DataItem
from fleetwarden.domain.records import RecordKind
from fleetwarden.domain.risk import (
    BusinessImpact,
    CheckState,
    Impact,
    RiskInput,
    RiskScore,
    assess_risk,
    profile_for,
)
from fleetwarden.errors import NotFound
from fleetwarden.ports import UnitOfWork
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.vulns import response_days

#: Findings read per device to count priorities (a device with more is counted up to it).
MAX_FINDINGS = 5000


@dataclass(frozen=True, slots=True)
class DeviceRisk:
    device_id: int
    device_name: str
    device_type: str
    score: RiskScore
    inputs: RiskInput
    systems: tuple[str, ...]


def risk_show(platform: Platform, principal: Principal, device_id: int) -> DeviceRisk:
    require(principal, Permission.READ)
    tools = platform.compliance_tools()
    now = platform.now()
    with platform.uow(principal.tenant, False) as uow:
        device = uow.devices.get(device_id)
        if device is None:
            raise NotFound(f"device {device_id} not found")
        ctx = uow.compliance.device_context([device_id]).get(device_id)
        systems = [s for s in uow.compliance.systems_of() if device_id in s["device_ids"]]
        items = (data_in_scope(all_data_items(uow), {s["id"] for s in systems})
                 if systems else [])
        hosts = uow.discovery.hosts_of_devices([device_id])
        latest = max(hosts, key=lambda h: (h.last_seen is not None, h.last_seen, h.id or 0),
                     default=None)
        services = None
        if latest is not None and latest.services:
            services = tuple(
                f"{v.transport}/{v.port} {v.service}"
                for v in (service_from_view(x) for x in latest.services))
        checks = tuple(CheckState(r.check_id, r.status, r.severity)
                       for r in uow.compliance.results(device_id=device_id))
        findings = uow.findings.findings(
            FindingQuery(device_id=device_id, limit=MAX_FINDINGS,
                         statuses=(FindingStatus.OPEN, FindingStatus.AFFECTED)),
            now, response_days(uow.tenant.settings))
    by_priority: dict[int, int] = {}
    for f in findings:
        by_priority[int(f["priority"])] = by_priority.get(int(f["priority"]), 0) + 1
    inputs = RiskInput(
        device_type=device.device_type.value, criticality=device.criticality.value,
        zone=ctx.zone if ctx else None,
        data_classification=highest(i.classification for i in items),
        data_items=tuple(f"{i.name} ({i.classification.value})" for i in items),
        business_impact=tuple(b for b in (system_impact(s) for s in systems) if b is not None),
        open_services=services, checks=checks, vulns_by_priority=by_priority,
        kev=sum(1 for f in findings if f.get("kev")),
        overdue=sum(1 for f in findings if f.get("overdue")))
    score = assess_risk(inputs, profile_for(tools.threat_profiles(), device.device_type.value))
    return DeviceRisk(device_id, device.name, device.device_type.value, score, inputs,
                      tuple(s["name"] for s in systems))


def all_data_items(uow: UnitOfWork) -> list[DataItem]:
    """Every data item of the tenant, read a thousand at a time."""
    every: list[DataItem] = []
    offset = 0
    while True:
        page = uow.records.list(RecordKind.DATA_ITEM, limit=1000, offset=offset, sort="id",
                                descending=False)
        every += [r for r in page if isinstance(r, DataItem)]
        if len(page) < 1000:
            return every
        offset += 1000


def data_in_scope(items: Sequence[DataItem], system_ids: set[int]) -> list[DataItem]:
    """The items of these systems, and every collection that aggregates any of them
    (transitively): a collection may be classified higher than its items (R7)."""
    chosen = {i.id for i in items if i.system_id in system_ids}
    grew = bool(chosen)
    while grew:
        more = {i.id for i in items if i.id not in chosen and chosen & set(i.aggregate_of)}
        grew = bool(more)
        chosen |= more
    return [i for i in items if i.id in chosen]


def system_impact(system: Mapping[str, Any]) -> BusinessImpact | None:
    """The IoT system's business impact assessment, None until all three are set."""
    c, i, a = (str(system.get(k) or "") for k in ("confidentiality", "integrity",
                                                  "availability"))
    if not (c and i and a):
        return None
    return BusinessImpact(confidentiality=Impact(c), integrity=Impact(i),
                          availability=Impact(a), system=str(system["name"]))

