"""OSCAL assessment-results renderer of the compliance report (JSON, built and validated
with compliance-trestle's pydantic models).

Mapping:
- ``metadata``: title, published = last-modified = generated_at, version = generated_at,
  oscal-version (trestle's); parties = the tenant (organization), the user who generated
  the report (person, role ``prepared-by``) and every person named as attester/approver
  in the evidence; props = tool, tenant, site, device count, audit-chain head.
- ``import-ap``: fleetwarden keeps no OSCAL assessment plan. ``href`` is ``#<uuid>`` of a
  back-matter resource that says so and names the catalogues the plan consisted of (one
  back-matter resource per framework, citing its source). A consumer that needs a real
  plan must treat that reference as a placeholder.
- one ``result``: start/end = assessed_from/assessed_to (generated_at when unknown);
  ``reviewed-controls`` has one control selection per framework listing its requirements;
  ``local-definitions`` defines the tool (component, type software), devices
  (inventory items: asset-id, ipv4/ipv6 address, site) and models or other subjects
  (components); props ``compliance-percent`` (class = framework id).
- ``findings``: one per requirement. target type ``objective-id``, target-id = the
  requirement's control id; status ``satisfied`` for PASS, NOT_APPLICABLE and WAIVED
  (as ``compliance_percent`` counts them), ``not-satisfied`` otherwise; reason ``pass``
  for PASS, ``fail`` for FAIL, ``other`` for the rest, and remarks say which.
- ``observations``: one per evidence record of each entry (one per entry that has no
  evidence). methods TEST for automated probes, EXAMINE for register facts, attestations
  and waivers; collected/expires from the evidence; subjects = the device or model;
  origins = the tool, or the person who attested; evidence files as relevant-evidence
  with their SHA-256.
- fleetwarden's own values (status PASS/FAIL/..., check id, severity, counts) are props
  in the ``https://fleetwarden.dev/ns/oscal`` namespace.

Control ids: a requirement id ``ncsp-iot/5.1-1`` is not an OSCAL token (``/``), so the
control id is ``ncsp-iot_5.1-1`` (every character outside letters, digits, ``_ . -``
becomes ``_``); the original id is kept in the ``requirement-id`` prop.

UUIDs are version-5 UUIDs of names under one fleetwarden namespace, so the same report
always gives the same document: the document and everything in it hang off (tenant,
generated_at, audit-chain head hash); devices, models, people and the tool hang off the
tenant and their id only, so the same device keeps its uuid from one report to the next.

Text that devices wrote goes into Markdown fields (title, description, remarks) with
``< > &`` as entities and Markdown's link/emphasis characters backslash-escaped, and into
plain props as one inert line; nothing is cut (the OSCAL keeps what the report holds).

Must not: read or write files, or call anything but trestle's models.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from trestle.oscal import OSCAL_VERSION
from trestle.oscal import assessment_results as ar
from trestle.oscal import common as oc

from fleetwarden.domain.compliance.report import (
    ComplianceReport,
    Entry,
    EvidenceRecord,
    RequirementResult,
)
from fleetwarden.domain.compliance.results import Status
from fleetwarden.entrypoints.reports._common import SATISFIED, STATUS_ORDER, inert, ts, utc
from fleetwarden.errors import InputError

NS = "https://fleetwarden.dev/ns/oscal"
"""Namespace of fleetwarden's props."""
UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, NS)

_METHOD = {"automated-probe": oc.Methods.TEST, "register": oc.Methods.EXAMINE,
           "attestation": oc.Methods.EXAMINE, "waiver": oc.Methods.EXAMINE}
_PEOPLE_METHODS = frozenset({"attestation", "waiver"})
_REASON = {Status.PASS: oc.Reason.pass_, Status.FAIL: oc.Reason.fail}
_REMARKS = {
    Status.PASS: "Every device in scope passes.",
    Status.FAIL: "At least one device in scope fails.",
    Status.ERROR: "A check could not run on at least one device: not decided.",
    Status.MANUAL: "Needs a person: no automated check decided it and no attestation covers it.",
    Status.WAIVED: "Waived: an approved waiver covers the devices that do not pass.",
    Status.NOT_APPLICABLE: "Not applicable to any device in scope.",
}
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_.\-]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]])")


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, "\x1f".join(str(p) for p in parts)))


def control_id(requirement_id: str) -> str:
    """The OSCAL token standing for a requirement id (see the module docstring)."""
    token = _NOT_TOKEN.sub("_", requirement_id)
    return token if re.match(r"[A-Za-z_]", token) else "_" + token


def _line(value: object, limit: int | None = None) -> str | None:
    """One inert line without edge spaces (OSCAL strings forbid them), None if empty."""
    text = inert(value, limit).strip()
    return text or None


def _md(value: object) -> str:
    """Device-written text as literal Markdown: no raw HTML, no links, no emphasis."""
    text = inert(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _prop(name: str, value: object, cls: str | None = None) -> oc.Property | None:
    text = _line(value)
    if text is None:
        return None
    return oc.Property(name=name, value=text, ns=NS, class_=cls)


def _props(*items: oc.Property | None) -> list[oc.Property] | None:
    kept = [p for p in items if p is not None]
    return kept or None


class _Builder:
    """Collects the subjects and people an assessment-results document refers to."""

    def __init__(self, report: ComplianceReport) -> None:
        self.r = report
        self.doc = _uid("assessment-results", report.tenant, ts(report.generated_at),
                        report.audit_head_hash)
        self.tool = _uid("tool", report.tool)
        self.preparer = _uid("party", report.tenant, report.generated_by)
        self.org = _uid("organization", report.tenant)
        self.people: dict[str, str] = {}
        self.devices: dict[int, oc.InventoryItem] = {}
        self.components: dict[tuple[str, int], oc.SystemComponent] = {}
        self.fallback_time = utc(report.assessed_to or report.generated_at)

    # -- subjects
    def subject(self, e: Entry) -> oc.SubjectReference:
        sid = _uid("subject", self.r.tenant, e.subject_type, e.subject_id)
        title = _md(_line(e.subject_name, 200) or f"{e.subject_type} {e.subject_id}")
        if e.subject_type == "device":
            if e.subject_id not in self.devices:
                self.devices[e.subject_id] = oc.InventoryItem(
                    uuid=sid, description=_md(e.subject_name) or title,
                    props=_props(self._oscal_prop("asset-id", e.subject_id),
                                 self._ip_prop(e.ip), _prop("site", e.site)))
            kind = oc.SubjectReferenceValidValues.inventory_item
        else:
            key = (e.subject_type, e.subject_id)
            if key not in self.components:
                self.components[key] = oc.SystemComponent(
                    uuid=sid, type="hardware" if e.subject_type == "model" else "system",
                    title=title, description=_md(e.subject_name) or title,
                    props=_props(_prop("subject-type", e.subject_type),
                                 _prop("subject-id", e.subject_id)),
                    status=oc.Status(state=oc.SystemComponentOperationalStateValidValues.operational))
            kind = oc.SubjectReferenceValidValues.component
        return oc.SubjectReference(subject_uuid=sid, type=kind, title=title)

    @staticmethod
    def _oscal_prop(name: str, value: object) -> oc.Property | None:
        text = _line(value)
        return oc.Property(name=name, value=text) if text else None

    def _ip_prop(self, ip: str | None) -> oc.Property | None:
        try:
            version = ipaddress.ip_address(ip or "").version
        except ValueError:
            return _prop("ip", ip)
        return self._oscal_prop("ipv4-address" if version == 4 else "ipv6-address", ip)

    # -- people
    def person(self, name: str) -> str:
        return self.people.setdefault(name, _uid("party", self.r.tenant, name))

    def origin(self, ev: EvidenceRecord | None) -> list[oc.Origin]:
        if ev is not None and ev.by and ev.method in _PEOPLE_METHODS:
            actor = oc.OriginActor(type=oc.OriginActorValidValues.party,
                                   actor_uuid=self.person(ev.by))
        else:
            actor = oc.OriginActor(type=oc.OriginActorValidValues.tool, actor_uuid=self.tool)
        return [oc.Origin(actors=[actor])]

    # -- observations and findings
    def observations(self, req: RequirementResult) -> list[oc.Observation]:
        out = []
        for n, e in enumerate(req.entries):
            records: Iterable[EvidenceRecord | None] = e.evidence or (None,)
            for i, ev in enumerate(records):
                out.append(self.observation(req, e, ev, f"{n}.{i}"))
        return out

    def observation(self, req: RequirementResult, e: Entry, ev: EvidenceRecord | None,
                    index: str) -> oc.Observation:
        n = f"{e.subject_type} {e.subject_id}"
        if ev is None:
            method = oc.Methods.TEST if e.check_id else oc.Methods.EXAMINE
            description = _md(e.reason) or "No reason given."
            collected: datetime = self.fallback_time
        else:
            method = _METHOD.get(ev.method, oc.Methods.UNKNOWN)
            description = "\n\n".join(t for t in (_md(e.reason), _md(ev.summary)) if t) \
                or "No reason given."
            collected = utc(ev.collected_at) if ev.collected_at else self.fallback_time
        details = "; ".join(f"{k}={v}" for k, v in ev.details.items()) if ev else ""
        return oc.Observation(
            uuid=_uid(self.doc, "observation", req.requirement_id, e.subject_type,
                      e.subject_id, index),
            title=f"{_line(req.requirement_id)} on {_md(_line(e.subject_name, 200) or n)}",
            description=description,
            props=_props(_prop("status", e.status.value),
                         _prop("requirement-id", req.requirement_id),
                         _prop("check-id", e.check_id),
                         _prop("severity", e.severity.value if e.severity else None),
                         _prop("evidence-kind", ev.kind if ev else None),
                         _prop("evidence-method", ev.method if ev else None),
                         _prop("tool", ev.tool if ev else None),
                         _prop("by", ev.by if ev else None)),
            methods=[method],
            origins=self.origin(ev),
            subjects=[self.subject(e)],
            relevant_evidence=[
                oc.RelevantEvidence(description=_md(name) or "evidence file",
                                    props=[oc.Property(name="sha256", value=sha, ns=NS)])
                for name, sha in ev.files] if ev and ev.files else None,
            collected=collected,
            expires=utc(ev.expires_at) if ev and ev.expires_at else None,
            remarks=f"Evidence details: {_md(details)}" if details else None,
        )

    def finding(self, req: RequirementResult,
                observations: list[oc.Observation]) -> oc.Finding:
        state = (oc.ObjectiveStatusStateValidValues.satisfied if req.status in SATISFIED
                 else oc.ObjectiveStatusStateValidValues.not_satisfied)
        counts = ", ".join(f"{s.value} {req.counts.get(s, 0)}" for s in STATUS_ORDER)
        return oc.Finding(
            uuid=_uid(self.doc, "finding", req.requirement_id),
            title=f"{_line(req.requirement_id)}: {_line(req.title, 300) or 'untitled'}",
            description=f"{inert(req.title)} (reference: {inert(req.reference)}). "
                        f"Devices per status: {counts}."
                        + (f" {req.entries_omitted} entries omitted from this report."
                           if req.entries_omitted else ""),
            props=_props(_prop("status", req.status.value),
                         _prop("requirement-id", req.requirement_id),
                         _prop("group", req.group),
                         _prop("mandatory", "true" if req.mandatory else "false"),
                         *(_prop("checks", c) for c in req.checks),
                         *(_prop("devices-" + s.value.lower().replace("_", "-"),
                                 req.counts.get(s, 0)) for s in STATUS_ORDER),
                         _prop("entries-omitted", req.entries_omitted or None)),
            origins=self.origin(None),
            target=oc.FindingTarget(
                type=oc.FindingTargetTypeValidValues.objective_id,
                target_id=control_id(req.requirement_id),
                title=_line(req.title, 300),
                status=oc.ObjectiveStatus(state=state, reason=_REASON.get(req.status,
                                                                          oc.Reason.other),
                                          remarks=f"{req.status.value}: {_REMARKS[req.status]}")),
            related_observations=[oc.RelatedObservation(observation_uuid=o.uuid)
                                  for o in observations] or None,
        )

    # -- the document
    def build(self) -> ar.AssessmentResults:
        r = self.r
        frameworks = [fw for fw in r.frameworks if fw.requirements]
        if not frameworks:
            raise InputError("nothing to export as OSCAL: the report has no requirements")
        observations: list[oc.Observation] = []
        findings: list[oc.Finding] = []
        for fw in frameworks:
            for req in fw.requirements:
                mine = self.observations(req)
                observations.extend(mine)
                findings.append(self.finding(req, mine))
        plan = _uid(self.doc, "plan")
        generated = utc(r.generated_at)
        start = utc(r.assessed_from) if r.assessed_from else generated
        tool = oc.SystemComponent(
            uuid=self.tool, type="software", title=_line(r.tool, 200) or "fleetwarden",
            description="The assessment tool that ran the automated checks and made this "
                        "report.",
            status=oc.Status(state=oc.SystemComponentOperationalStateValidValues.operational))
        result = ar.Result(
            uuid=_uid(self.doc, "result"),
            title=f"Compliance assessment: {_line(r.tenant, 200)}",
            description=f"{r.device_count} devices in scope"
                        + (f" at site {_md(r.site)}" if r.site else "")
                        + "; frameworks: "
                        + "; ".join(f"{inert(f.title)} {inert(f.version)}" for f in frameworks)
                        + ".",
            start=start,
            end=max(utc(r.assessed_to), start) if r.assessed_to else None,
            props=_props(*(_prop("compliance-percent", fw.compliance_percent, cls=fw.id)
                           for fw in frameworks)),
            local_definitions=ar.LocalDefinitions1(
                components=[tool, *self.components.values()],
                inventory_items=list(self.devices.values()) or None),
            reviewed_controls=oc.ReviewedControls(
                description="The requirements of every framework in the report.",
                control_selections=[oc.ControlSelections(
                    description=f"{inert(fw.title)} {inert(fw.version)}",
                    props=_props(_prop("framework", fw.id)),
                    include_controls=[oc.SelectControlById(control_id=control_id(q.requirement_id))
                                      for q in fw.requirements])
                    for fw in frameworks]),
            observations=observations or None,
            findings=findings,
        )
        parties: list[Any] = [
            oc.Parties(uuid=self.org, type="organization", name=_line(r.tenant, 200)),
            oc.Parties(uuid=self.preparer, type="person", name=_line(r.generated_by, 200),
                       member_of_organizations=[self.org]),
            *(oc.Parties(uuid=pid, type="person", name=_line(name, 200))
              for name, pid in self.people.items() if pid != self.preparer),
        ]
        return ar.AssessmentResults(
            uuid=self.doc,
            metadata=oc.Metadata(
                title=f"fleetwarden compliance assessment results: {_line(r.tenant, 200)}",
                published=generated, last_modified=generated, version=ts(r.generated_at),
                oscal_version=OSCAL_VERSION,
                props=_props(_prop("tool", r.tool), _prop("tenant", r.tenant),
                             _prop("site", r.site), _prop("device-count", r.device_count),
                             _prop("audit-head-seq", r.audit_head_seq),
                             _prop("audit-head-hash", r.audit_head_hash)),
                roles=[oc.Role(id="prepared-by", title="Prepared by")],
                parties=parties,
                responsible_parties=[oc.ResponsibleParty(role_id="prepared-by",
                                                         party_uuids=[self.preparer])]),
            import_ap=ar.ImportAp(
                href=f"#{plan}",
                remarks="Placeholder: fleetwarden keeps no OSCAL assessment plan; the "
                        "back-matter resource describes the implied plan."),
            results=[result],
            back_matter=oc.BackMatter(resources=[
                oc.Resource(
                    uuid=plan, title="Implied assessment plan (placeholder)",
                    description="fleetwarden has no OSCAL assessment plan. The plan was: "
                                "the requirements of the frameworks cited below, assessed "
                                "on every device in scope by the tool's automated checks, "
                                "register facts, attestations and waivers."),
                *(oc.Resource(uuid=_uid("framework", fw.id, fw.version),
                              title=f"{inert(fw.title)} {inert(fw.version)}",
                              citation=oc.Citation(text=inert(fw.source) or fw.id),
                              props=_props(_prop("framework", fw.id)))
                  for fw in frameworks),
            ]),
        )


def assessment_results(report: ComplianceReport) -> ar.AssessmentResults:
    return _Builder(report).build()


def render_compliance(report: ComplianceReport) -> bytes:
    return assessment_results(report).oscal_serialize_json_bytes(pretty=True)
