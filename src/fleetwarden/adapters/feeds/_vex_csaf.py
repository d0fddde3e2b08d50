"""CSAF 2.0 VEX (``document.category == "csaf_vex"``); the mapping is in ``vex``.

Must not: read other CSAF categories (advisories are refused by detection).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fleetwarden.adapters.feeds import _values as v
from fleetwarden.adapters.feeds import _vex_common as c
from fleetwarden.adapters.feeds._context import BadRecord, Reading, ReadProgress
from fleetwarden.domain.vulns import VexStatement, VexStatus

CSAF_STATUSES = {
    "known_not_affected": VexStatus.NOT_AFFECTED,
    "known_affected": VexStatus.AFFECTED,
    "first_affected": VexStatus.AFFECTED,
    "last_affected": VexStatus.AFFECTED,
    "fixed": VexStatus.FIXED,
    "first_fixed": VexStatus.FIXED,
    "under_investigation": VexStatus.UNDER_INVESTIGATION,
}


def _csaf_products(tree: dict[str, Any]) -> dict[str, str]:
    """product_id -> purl, CPE, or name."""
    found: dict[str, dict[str, Any]] = {}
    stack: list[Any] = list(v.as_list(tree.get("branches"), "product_tree.branches"))
    while stack:
        branch = stack.pop()
        if not isinstance(branch, dict):
            continue
        if isinstance(branch.get("product"), dict):
            _collect(found, branch["product"])
        if isinstance(branch.get("branches"), list):
            stack.extend(branch["branches"])
    for product in v.as_list(tree.get("full_product_names"), "full_product_names"):
        _collect(found, product)
    relations = v.as_list(tree.get("relationships"), "relationships")
    for relation in relations:
        if isinstance(relation, dict):
            _collect(found, relation.get("full_product_name"))
    ids = {pid: _identify(product) for pid, product in found.items()}
    for relation in relations:
        # "X as a component of Y" has no helper of its own: it is X inside the product.
        if isinstance(relation, dict) and isinstance(relation.get("full_product_name"), dict):
            pid = relation["full_product_name"].get("product_id")
            ref = relation.get("product_reference")
            helper = relation["full_product_name"].get("product_identification_helper")
            if isinstance(pid, str) and isinstance(ref, str) and ref in ids and not helper:
                ids[pid] = ids[ref]
    return ids


def _collect(found: dict[str, dict[str, Any]], product: Any) -> None:
    if isinstance(product, dict) and isinstance(product.get("product_id"), str):
        found[product["product_id"]] = product


def _identify(product: dict[str, Any]) -> str:
    helper = product.get("product_identification_helper")
    if isinstance(helper, dict):
        for key in ("purl", "cpe"):
            if isinstance(helper.get(key), str) and 0 < len(helper[key]) <= c.MAX_PRODUCT:
                return str(helper[key])
    name = product.get("name")
    if isinstance(name, str) and 0 < len(name) <= c.MAX_PRODUCT:
        return v.clean_text(name, c.MAX_PRODUCT)
    return str(product["product_id"])[:c.MAX_PRODUCT]


def _groups(tree: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group in v.as_list(tree.get("product_groups"), "product_groups"):
        if isinstance(group, dict) and isinstance(group.get("group_id"), str):
            out[group["group_id"]] = [p for p in v.as_list(group.get("product_ids"),
                                                           "product_ids") if isinstance(p, str)]
    return out


def _targets(item: dict[str, Any], groups: dict[str, list[str]]) -> Iterable[str]:
    for pid in v.as_list(item.get("product_ids"), "product_ids"):
        if isinstance(pid, str):
            yield pid
    for gid in v.as_list(item.get("group_ids"), "group_ids"):
        if isinstance(gid, str):
            yield from groups.get(gid, ())


def read_csaf(reading: Reading, progress: ReadProgress | None = None
              ) -> tuple[VexStatement, ...]:
    doc = c.load(reading, progress)
    document = doc.get("document")
    if not isinstance(document, dict):
        raise reading.fail("no 'document' object: not CSAF")
    category = document.get("category")
    if category != "csaf_vex":
        raise reading.fail(f"CSAF category {v.show(category)} is not VEX (csaf_vex)")
    version = document.get("csaf_version")
    if not (isinstance(version, str) and version.startswith("2.")):
        raise reading.fail(f"csaf_version {v.show(version)}; only CSAF 2.x is supported")
    tracking = c.object_(document.get("tracking"))
    publisher = c.object_(document.get("publisher"))
    doc_id = c.name(tracking.get("id"), "tracking.id")
    author = c.name(publisher.get("name"), "publisher.name")
    issued = c.when(reading, tracking.get("current_release_date"), "current_release_date")
    try:
        tree = v.as_dict(doc.get("product_tree"), "product_tree")
        products = _csaf_products(tree)
        groups = _groups(tree)
    except BadRecord as exc:
        raise reading.fail(f"product_tree: {exc.reason}") from None
    vulns = doc.get("vulnerabilities")
    if not isinstance(vulns, list) or not vulns:
        raise reading.fail("a CSAF VEX document without vulnerabilities")
    out: list[VexStatement] = []
    for i, raw in enumerate(vulns):
        where = f"vulnerabilities[{i}]"
        if isinstance(raw, dict) and "cve" in raw:
            where = f"{where} ({v.label(raw['cve'])})"
        try:
            out.extend(_csaf_statements(v.as_dict(raw, "an entry"), products, groups,
                                        doc_id, author, issued))
        except BadRecord as exc:
            reading.bad(where, exc.reason)
    return tuple(out)


def _csaf_id(vuln: dict[str, Any]) -> str:
    if vuln.get("cve") is not None:
        return v.cve_id(vuln.get("cve"), "cve")
    for entry in v.as_list(vuln.get("ids"), "ids"):
        if isinstance(entry, dict) and entry.get("text") is not None:
            return v.vuln_id(entry.get("text"), "ids[].text")
    raise BadRecord("neither cve nor ids")


def _per_product(items: list[Any], groups: dict[str, list[str]], what: str,
                 wanted: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        item = v.as_dict(item, what)
        if wanted is not None and item.get("category") != wanted:
            continue
        for pid in _targets(item, groups):
            out.setdefault(pid, item)
    return out


def _csaf_statements(vuln: dict[str, Any], products: dict[str, str],
                     groups: dict[str, list[str]], doc_id: str | None, author: str | None,
                     issued: datetime | None) -> list[VexStatement]:
    vuln_id = _csaf_id(vuln)
    flags = _per_product(v.as_list(vuln.get("flags"), "flags"), groups, "a flag")
    threats = _per_product(v.as_list(vuln.get("threats"), "threats"), groups, "a threat",
                           "impact")
    remediations = _per_product(v.as_list(vuln.get("remediations"), "remediations"),
                                groups, "a remediation")
    status_map = v.as_dict(vuln.get("product_status"), "product_status")
    grouped: dict[tuple[Any, ...], dict[str, None]] = {}
    for key, pids in status_map.items():
        status = CSAF_STATUSES.get(key)
        if status is None:
            continue  # "recommended": a version to move to, not a statement
        for pid in v.as_list(pids, f"product_status.{key}"):
            if not isinstance(pid, str) or pid not in products:
                raise BadRecord(f"product_status.{key} names unknown product "
                                f"{v.show(pid)}")
            flag = flags.get(pid)
            justification = c.justification(flag.get("label"), "flags[].label") \
                if flag else None
            impact = v.text(threats[pid].get("details"), "threats[].details") \
                if pid in threats else None
            if status is VexStatus.NOT_AFFECTED and justification is None and impact is None:
                raise BadRecord(f"known_not_affected product {v.show(pid)} has neither a "
                                "flag nor an impact threat")
            action = v.text(remediations[pid].get("details"), "remediations[].details") \
                if pid in remediations else None
            grouped.setdefault((status, justification, impact, action), {})[products[pid]] = None
    if not grouped:
        raise BadRecord("product_status names no product")
    return [VexStatement(vulnerability_id=vuln_id, products=tuple(ids), status=status,
                         justification=justification, impact_statement=impact,
                         action_statement=action, timestamp=issued, author=author,
                         document=doc_id)
            for (status, justification, impact, action), ids in grouped.items()]
