"""CycloneDX VEX (``vulnerabilities[].analysis``); the mapping is in ``vex``.

Must not: read SBOM components as inventory (``adapters.sbom`` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fleetwarden.adapters.feeds import _values as v
from fleetwarden.adapters.feeds import _vex_common as c
from fleetwarden.adapters.feeds._context import BadRecord, Reading, ReadProgress
from fleetwarden.domain.vulns import VexJustification, VexStatement, VexStatus

_J = VexJustification

CYCLONEDX_STATES = {
    "exploitable": VexStatus.AFFECTED,
    "in_triage": VexStatus.UNDER_INVESTIGATION,
    "not_affected": VexStatus.NOT_AFFECTED,
    "false_positive": VexStatus.NOT_AFFECTED,
    "resolved": VexStatus.FIXED,
    "resolved_with_pedigree": VexStatus.FIXED,
}
CYCLONEDX_JUSTIFICATIONS = {
    "code_not_present": _J.VULNERABLE_CODE_NOT_PRESENT,
    "code_not_reachable": _J.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
    "requires_configuration": _J.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY,
    "requires_dependency": _J.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY,
    "requires_environment": _J.VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY,
    "protected_by_compiler": _J.INLINE_MITIGATIONS_ALREADY_EXIST,
    "protected_at_runtime": _J.INLINE_MITIGATIONS_ALREADY_EXIST,
    "protected_at_perimeter": _J.INLINE_MITIGATIONS_ALREADY_EXIST,
    "protected_by_mitigating_control": _J.INLINE_MITIGATIONS_ALREADY_EXIST,
}


def _walk_components(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    metadata = doc.get("metadata")
    stack: list[Any] = []
    if isinstance(metadata, dict) and isinstance(metadata.get("component"), dict):
        stack.append(metadata["component"])
    if isinstance(doc.get("components"), list):
        stack.extend(doc["components"])
    while stack:
        component = stack.pop()
        if isinstance(component, dict):
            yield component
            if isinstance(component.get("components"), list):
                stack.extend(component["components"])


def _component_ids(doc: dict[str, Any]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for component in _walk_components(doc):
        ref = component.get("bom-ref")
        if not isinstance(ref, str):
            continue
        for candidate in (component.get("purl"), component.get("cpe")):
            if isinstance(candidate, str) and 0 < len(candidate) <= c.MAX_PRODUCT:
                ids[ref] = candidate
                break
        else:
            name, version = component.get("name"), component.get("version")
            if isinstance(name, str) and name:
                label = f"{name}@{version}" if isinstance(version, str) and version else name
                ids[ref] = label[:c.MAX_PRODUCT]
    return ids


def _cyclonedx_author(metadata: dict[str, Any]) -> str | None:
    authors = metadata.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        return c.name(authors[0].get("name"), "author")
    for key in ("manufacturer", "manufacture", "supplier"):
        party = metadata.get(key)
        if isinstance(party, dict):
            return c.name(party.get("name"), key)
    return None


def read_cyclonedx(reading: Reading, progress: ReadProgress | None = None
                   ) -> tuple[VexStatement, ...]:
    doc = c.load(reading, progress)
    if doc.get("bomFormat") != "CycloneDX":
        raise reading.fail("bomFormat is not CycloneDX")
    spec = doc.get("specVersion")
    if isinstance(spec, str) and spec in ("1.0", "1.1", "1.2", "1.3"):
        raise reading.fail(f"CycloneDX {spec} has no vulnerability analysis (VEX needs 1.4+)")
    vulns = doc.get("vulnerabilities")
    if not vulns:
        raise reading.fail("a CycloneDX BOM without vulnerabilities is an SBOM, not VEX "
                           "(import it with 'fleetwarden sbom import')")
    if not isinstance(vulns, list):
        raise reading.fail("'vulnerabilities' must be an array")
    metadata = c.object_(doc.get("metadata"))
    serial = c.name(doc.get("serialNumber"), "serialNumber")
    author = _cyclonedx_author(metadata)
    issued = c.when(reading, metadata.get("timestamp"), "metadata.timestamp")
    refs = _component_ids(doc)
    out: list[VexStatement] = []
    for i, raw in enumerate(vulns):
        where = f"vulnerabilities[{i}]"
        if isinstance(raw, dict) and "id" in raw:
            where = f"{where} ({v.label(raw['id'])})"
        try:
            statement = _cyclonedx_statement(v.as_dict(raw, "an entry"), refs, serial,
                                             author, issued)
        except BadRecord as exc:
            reading.bad(where, exc.reason)
            continue
        if statement is None:
            reading.warn(where, "no analysis.state: a vulnerability report entry, not a VEX "
                                "statement; not imported")
            continue
        out.append(statement)
    return tuple(out)


def _cyclonedx_statement(vuln: dict[str, Any], refs: dict[str, str], serial: str | None,
                         author: str | None, issued: datetime | None) -> VexStatement | None:
    vuln_id = v.vuln_id(vuln.get("id"))
    analysis = vuln.get("analysis")
    if analysis is None or (isinstance(analysis, dict) and analysis.get("state") is None):
        return None
    analysis = v.as_dict(analysis, "analysis")
    state = analysis.get("state")
    status = CYCLONEDX_STATES.get(state) if isinstance(state, str) else None
    if status is None:
        raise BadRecord(f"analysis.state {v.show(state)} is not a CycloneDX state")
    original = analysis.get("justification")
    justification = None
    if original is not None:
        justification = CYCLONEDX_JUSTIFICATIONS.get(original) \
            if isinstance(original, str) else None
        if justification is None:
            raise BadRecord(f"analysis.justification {v.show(original)} is not a CycloneDX "
                            "justification")
    products: dict[str, None] = {}
    for j, affect in enumerate(v.as_list(vuln.get("affects"), "affects")):
        ref = c.product(v.as_dict(affect, f"affects[{j}]").get("ref"), f"affects[{j}].ref")
        local = ref.rsplit("#", 1)[1] if ref.startswith("urn:cdx:") and "#" in ref else ref
        products[refs.get(local, ref)] = None
    if not products:
        raise BadRecord("affects names no product")
    impact = v.text(analysis.get("detail"), "analysis.detail")
    if state == "false_positive":
        impact = f"false positive: {impact}" if impact else "false positive"
    elif impact is None and isinstance(original, str):
        impact = f"CycloneDX justification {original}"
    responses = [r for r in v.as_list(analysis.get("response"), "analysis.response")
                 if isinstance(r, str)]
    actions = [a for a in (v.text(vuln.get("recommendation"), "recommendation"),
                           v.text(vuln.get("workaround"), "workaround")) if a]
    if responses:
        actions.append("response: " + ", ".join(responses[:8]))
    when = (v.timestamp(analysis.get("lastUpdated"), "analysis.lastUpdated")
            or v.timestamp(analysis.get("firstIssued"), "analysis.firstIssued")
            or v.timestamp(vuln.get("updated"), "updated") or issued)
    return VexStatement(
        vulnerability_id=vuln_id, products=tuple(products), status=status,
        justification=justification, impact_statement=impact,
        action_statement=v.clean_text("; ".join(actions)) if actions else None,
        timestamp=when, author=author, document=serial)
