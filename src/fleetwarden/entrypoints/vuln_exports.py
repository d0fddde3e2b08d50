"""Findings as documents others read: CycloneDX 1.5 VDR and VEX (JSON), and CSV.

``cyclonedx_vdr`` is a Vulnerability Disclosure Report: each vulnerability once, with
the components it affects, its ratings and fleetwarden's priority, due date, KEV, EPSS
and device counts as ``fleetwarden:`` properties. ``cyclonedx_vex`` says, per
vulnerability and component, what was decided (``analysis``); where devices running the
same component were triaged differently it repeats the vulnerability, once per distinct
analysis, and each of those names its own copy of the component (same name, version,
purl and CPE; its own bom-ref with ``fleetwarden:variant_of``), so no bom-ref is given
two analyses. Devices are never listed one by
one (an image may run on a million of them): they appear as counts.

Status -> CycloneDX ``analysis.state``:
  open -> in_triage, affected -> exploitable, not_affected -> not_affected,
  false_positive -> false_positive, risk_accepted -> exploitable (response will_not_fix;
  the detail names the approver and the expiry), suppressed (a VEX statement said
  not_affected or fixed) -> not_affected, fixed -> resolved.
CISA/OpenVEX justification -> CycloneDX ``analysis.justification`` (the nearest value;
CycloneDX has no "adversary cannot control the input"):
  component_not_present -> code_not_present,
  vulnerable_code_not_present -> code_not_present,
  vulnerable_code_not_in_execute_path -> code_not_reachable,
  vulnerable_code_cannot_be_controlled_by_adversary -> protected_by_mitigating_control,
  inline_mitigations_already_exist -> protected_by_mitigating_control.
The original justification is kept in the ``fleetwarden:justification`` property, so
nothing is lost in the mapping.

Must not: read or write anything (the caller pages through the findings and writes the
file), or pass feed and SBOM text anywhere it could run (CSV cells are neutralised).
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from fleetwarden import __version__
from fleetwarden.domain.findings import ACTIVE, Finding, FindingStatus
from fleetwarden.domain.vulns import SbomComponent, VexJustification
from fleetwarden.entrypoints.presenters import csv_cell
from fleetwarden.entrypoints.vulns_views import ROW_COLUMNS, finding_row

SPEC_VERSION = "1.5"
PROPERTY_PREFIX = "fleetwarden:"

STATE: dict[FindingStatus, str] = {
    FindingStatus.OPEN: "in_triage",
    FindingStatus.AFFECTED: "exploitable",
    FindingStatus.NOT_AFFECTED: "not_affected",
    FindingStatus.FALSE_POSITIVE: "false_positive",
    FindingStatus.RISK_ACCEPTED: "exploitable",
    FindingStatus.SUPPRESSED: "not_affected",
    FindingStatus.FIXED: "resolved",
}
"""A finding's status as a CycloneDX impact analysis state."""

JUSTIFICATION: dict[VexJustification, str] = {
    VexJustification.COMPONENT_NOT_PRESENT: "code_not_present",
    VexJustification.VULNERABLE_CODE_NOT_PRESENT: "code_not_present",
    VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH: "code_not_reachable",
    VexJustification.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY:
        "protected_by_mitigating_control",
    VexJustification.INLINE_MITIGATIONS_ALREADY_EXIST: "protected_by_mitigating_control",
}
"""CISA/OpenVEX justification -> the nearest CycloneDX impact analysis justification."""

_V = TypeVar("_V")

RATING_METHOD = {"2.0": "CVSSv2", "3.0": "CVSSv3", "3.1": "CVSSv31", "4.0": "CVSSv4"}

_NOT_AFFECTED = frozenset({FindingStatus.NOT_AFFECTED, FindingStatus.FALSE_POSITIVE,
                           FindingStatus.SUPPRESSED, FindingStatus.FIXED})
"""Statuses saying the component, as installed, is not (or no longer) vulnerable."""

_CSV_FORMULA = ("-",)
"""``csv_cell`` already neutralises ``= + @`` and tab/CR; a leading ``-`` is a formula in
spreadsheets too, and no findings column holds a negative number."""


# ------------------------------------------------------------------------- CSV
def _csv_cell(value: Any) -> str:
    text = csv_cell(value)
    return "'" + text if text.startswith(_CSV_FORMULA) else text


def csv_text(findings: Iterable[Finding], *, header: bool = True) -> str:
    """One CSV line per finding (``ROW_COLUMNS``); cells a spreadsheet would run as a
    formula get a leading ``'``. ``header=False`` continues an earlier page."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(ROW_COLUMNS)
    for f in findings:
        row = finding_row(f)
        writer.writerow([_csv_cell(row[c]) for c in ROW_COLUMNS])
    return out.getvalue()


# -------------------------------------------------------------------- CycloneDX
def _ts(when: datetime) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _prop(name: str, value: Any) -> dict[str, str]:
    return {"name": PROPERTY_PREFIX + name, "value": str(value)}


def component_ref(c: SbomComponent) -> str:
    """A bom-ref that stays the same from one export to the next for the same component."""
    key = "\x1f".join(x or "" for x in (c.name, c.version, c.purl, c.cpe))
    return "component-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _component_type(c: SbomComponent) -> str:
    """From the CPE's part (CPE 2.3 or 2.2 URI): hardware, operating system or firmware,
    else a library."""
    parts = (c.cpe or "").lower().split(":")
    if parts[:2] == ["cpe", "2.3"]:
        part, product = parts[2:3], parts[4:5]
    elif len(parts) > 1 and parts[0] == "cpe" and parts[1].startswith("/"):
        part, product = [parts[1][1:]], parts[3:4]
    else:
        return "library"
    if part == ["h"]:
        return "device"
    if part == ["o"]:
        return "firmware" if "firmware" in f"{c.name} {''.join(product)}".lower() \
            else "operating-system"
    return "library"


def _component(c: SbomComponent) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _component_type(c), "bom-ref": component_ref(c),
                           "name": c.name or "(unnamed)"}
    if c.version:
        out["version"] = c.version
    if c.cpe:
        out["cpe"] = c.cpe
    if c.purl:
        out["purl"] = c.purl
    return out


def _device_component(f: Finding) -> tuple[str, dict[str, Any]]:
    """Findings that stopped matching carry no component: they point at the device."""
    ref = f"device-{f.device_id}"
    comp: dict[str, Any] = {"type": "device", "bom-ref": ref, "name": f.device_name,
                            "properties": [_prop("device_id", f.device_id)]}
    if f.model:
        comp["properties"].append(_prop("model", f.model))
    return ref, comp


def _source(vid: str) -> dict[str, str]:
    if vid.upper().startswith("CVE-"):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{vid}"}
    return {"name": "OSV", "url": f"https://osv.dev/vulnerability/{vid}"}


def _severity(version: str | None, score: float) -> str:
    if version == "2.0":
        return "high" if score >= 7.0 else "medium" if score >= 4.0 else "low"
    if score == 0:
        return "none"
    return ("critical" if score >= 9.0 else "high" if score >= 7.0
            else "medium" if score >= 4.0 else "low")


def _vulnerability(f: Finding) -> dict[str, Any]:
    """What every entry for ``f``'s vulnerability says, whatever the device."""
    vid = f.vulnerability_id
    out: dict[str, Any] = {"id": vid, "source": _source(vid)}
    refs = [{"id": a, "source": _source(a)} for a in dict.fromkeys(f.aliases) if a != vid]
    if refs:
        out["references"] = refs
    if f.cvss_score is not None:
        rating: dict[str, Any] = {"source": _source(vid), "score": f.cvss_score,
                                  "severity": _severity(f.cvss_version, f.cvss_score),
                                  "method": RATING_METHOD.get(f.cvss_version or "", "other")}
        if f.cvss_vector:
            rating["vector"] = f.cvss_vector
        out["ratings"] = [rating]
    if f.summary:
        out["description"] = f.summary
    return out


@dataclass
class _Group:
    """Findings of one vulnerability (and, for VEX, one analysis), folded as they come."""

    head: Finding
    refs: dict[str, str] = field(default_factory=dict)
    """bom-ref -> version status (affected / unaffected), in order of appearance."""
    versions: dict[str, str | None] = field(default_factory=dict)
    per_ref: dict[str, int] = field(default_factory=dict)
    """bom-ref -> findings on it."""
    devices: set[int] = field(default_factory=set)
    active: set[int] = field(default_factory=set)
    overdue: set[int] = field(default_factory=set)
    findings: int = 0
    top: int | None = None
    """Most urgent priority among findings still to act on (none: nothing to act on)."""
    due: date | None = None
    kev: bool = False
    epss: float | None = None

    def add(self, f: Finding, ref: str, version: str | None) -> None:
        self.findings += 1
        self.devices.add(f.device_id)
        self.kev = self.kev or f.kev
        if f.epss is not None:
            self.epss = max(self.epss or 0.0, f.epss)
        status = "unaffected" if f.status in _NOT_AFFECTED else "affected"
        if self.refs.get(ref) != "affected":  # one device still affected: affected
            self.refs[ref] = status
        self.versions[ref] = version
        self.per_ref[ref] = self.per_ref.get(ref, 0) + 1
        if f.status in ACTIVE or f.status is FindingStatus.RISK_ACCEPTED:
            self.top = f.priority if self.top is None else min(self.top, f.priority)
        if f.status in ACTIVE:
            self.active.add(f.device_id)
            self.due = f.due_date if self.due is None else min(self.due, f.due_date)
            if f.overdue:
                self.overdue.add(f.device_id)

    def rename(self, ref: str, new: str) -> None:
        self.refs = _renamed(self.refs, ref, new)
        self.versions = _renamed(self.versions, ref, new)
        self.per_ref = _renamed(self.per_ref, ref, new)

    def affects(self) -> list[dict[str, Any]]:
        out = []
        for ref, status in self.refs.items():
            item: dict[str, Any] = {"ref": ref}
            version = self.versions.get(ref)
            if version:
                item["versions"] = [{"version": version, "status": status}]
            out.append(item)
        return out

    def properties(self) -> list[dict[str, str]]:
        props = [_prop("kev", str(self.kev).lower())]
        if self.top is not None:
            props.insert(0, _prop("priority", f"P{self.top}"))
        if self.due is not None:
            props.append(_prop("due_date", self.due.isoformat()))
        if self.epss is not None:
            props.append(_prop("epss", f"{self.epss:.5f}"))
        props += [_prop("devices", len(self.devices)),
                  _prop("devices_active", len(self.active)),
                  _prop("devices_overdue", len(self.overdue)),
                  _prop("findings", self.findings)]
        return props


def _renamed(d: dict[str, _V], old: str, new: str) -> dict[str, _V]:
    """``d`` with key ``old`` called ``new``, in the same place."""
    return {(new if k == old else k): v for k, v in d.items()}


class _Document:
    """The BOM skeleton, the components met so far and the vulnerability groups."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}
        self.groups: dict[tuple[Any, ...], _Group] = {}

    def add(self, key: tuple[Any, ...], f: Finding) -> None:
        if f.component is not None:
            ref = component_ref(f.component)
            if ref not in self.components:
                self.components[ref] = _component(f.component)
            version = f.component.version
        else:
            ref, comp = _device_component(f)
            self.components.setdefault(ref, comp)
            version = None
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(f)
        group.add(f, ref, version)

    def split_disagreements(self) -> None:
        """Where devices running one component were triaged differently for the same
        vulnerability, give each analysis its own copy of the component (same name,
        version and identifiers, its own bom-ref), so that no two entries say different
        things about one bom-ref."""
        seen: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        for key, group in self.groups.items():
            for ref in group.refs:
                seen.setdefault((key[0], ref), []).append(key)
        for (_, ref), keys in seen.items():
            if len(keys) < 2:
                continue
            for key in keys:
                group = self.groups[key]
                variant = f"{ref}-{hashlib.sha256(repr(key).encode()).hexdigest()[:12]}"
                comp = {**self.components[ref], "bom-ref": variant}
                comp["properties"] = [*comp.get("properties", ()), _prop("variant_of", ref),
                                      _prop("findings", group.per_ref[ref])]
                self.components[variant] = comp
                group.rename(ref, variant)

    def bom(self, tenant: str, now: datetime,
            vulnerabilities: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION,
            "serialNumber": uuid.uuid4().urn, "version": 1,
            "metadata": {
                "timestamp": _ts(now),
                "tools": {"components": [{"type": "application", "name": "fleetwarden",
                                          "version": __version__}]},
                "component": {"type": "application", "bom-ref": "estate",
                              "name": tenant or "estate"},
            },
            "components": sorted(self._used(),
                                 key=lambda c: (c["name"], c.get("version") or "",
                                                c["bom-ref"])),
            "vulnerabilities": vulnerabilities,
        }

    def _used(self) -> list[dict[str, Any]]:
        used = {ref for g in self.groups.values() for ref in g.refs}
        return [c for ref, c in self.components.items() if ref in used]


def cyclonedx_vdr(findings: Iterable[Finding], *, tenant: str, now: datetime
                  ) -> dict[str, Any]:
    """A CycloneDX 1.5 Vulnerability Disclosure Report of ``findings``: one entry per
    vulnerability, in the order the findings come (most urgent first)."""
    doc = _Document()
    for f in findings:
        doc.add((f.vulnerability_id,), f)
    vulns = []
    for group in doc.groups.values():
        entry = _vulnerability(group.head)
        entry["affects"] = group.affects()
        entry["properties"] = group.properties()
        vulns.append(entry)
    return doc.bom(tenant, now, vulns)


def _analysis(f: Finding) -> tuple[str, str | None, str | None, bool]:
    """(state, justification, detail, will_not_fix) of one finding."""
    state = STATE[f.status]
    just = None
    if f.status is FindingStatus.NOT_AFFECTED and f.justification:
        try:
            just = JUSTIFICATION[VexJustification(f.justification)]
        except ValueError:
            just = None
    detail = f.note
    if f.status is FindingStatus.RISK_ACCEPTED:
        until = _ts(f.expires_at) if f.expires_at is not None else "no expiry"
        accepted = f"risk accepted by {f.approver or 'unknown'} until {until}"
        detail = f"{accepted}: {f.note}" if f.note else accepted
    elif f.status is FindingStatus.SUPPRESSED:
        said = f"VEX statement ({f.vex})" if f.vex else "a VEX statement"
        detail = f"suppressed by {said}"
    elif f.status is FindingStatus.FIXED:
        # the note, if any, explained an earlier decision, not the fix
        detail = "no longer matches: the software installed changed"
    return state, just, detail, f.status is FindingStatus.RISK_ACCEPTED


def cyclonedx_vex(findings: Iterable[Finding], *, tenant: str, now: datetime
                  ) -> dict[str, Any]:
    """A CycloneDX 1.5 VEX of ``findings``: per vulnerability, one entry per distinct
    analysis, each listing the components (and device counts) it applies to."""
    doc = _Document()
    statuses: dict[tuple[Any, ...], tuple[FindingStatus, str | None]] = {}
    for f in findings:
        key = (f.vulnerability_id, *_analysis(f))
        statuses.setdefault(key, (f.status, f.justification))
        doc.add(key, f)
    doc.split_disagreements()
    vulns = []
    for key, group in doc.groups.items():
        _, state, just, detail, will_not_fix = key
        entry = _vulnerability(group.head)
        analysis: dict[str, Any] = {"state": state}
        if just:
            analysis["justification"] = just
        if will_not_fix:
            analysis["response"] = ["will_not_fix"]
        if detail:
            analysis["detail"] = detail
        entry["analysis"] = analysis
        entry["affects"] = [{"ref": ref} for ref in group.refs]
        status, original = statuses[key]
        props = [_prop("status", status.value)]
        if original:
            props.append(_prop("justification", original))
        entry["properties"] = props + group.properties()
        vulns.append(entry)
    return doc.bom(tenant, now, vulns)
