"""OpenVEX (v0.0.1 and v0.2 ``statements``); the mapping is in ``vex``.

Must not: resolve products beyond the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fleetwarden.adapters.feeds import _values as v
from fleetwarden.adapters.feeds import _vex_common as c
from fleetwarden.adapters.feeds._context import BadRecord, Reading, ReadProgress
from fleetwarden.domain.vulns import VexStatement, VexStatus


def read_openvex(reading: Reading, progress: ReadProgress | None = None
                 ) -> tuple[VexStatement, ...]:
    doc = c.load(reading, progress)
    context = doc.get("@context")
    if not (isinstance(context, str) and context.startswith("https://openvex.dev/ns")):
        raise reading.fail("@context is not https://openvex.dev/ns...: not OpenVEX")
    statements = doc.get("statements")
    if not isinstance(statements, list) or not statements:
        raise reading.fail("an OpenVEX document without statements")
    document = c.name(doc.get("@id"), "@id")
    author = c.name(doc.get("author"), "author")
    issued = c.when(reading, doc.get("last_updated") or doc.get("timestamp"), "timestamp")
    out: list[VexStatement] = []
    for i, raw in enumerate(statements):
        where = f"statements[{i}]"
        vuln = raw.get("vulnerability") if isinstance(raw, dict) else None
        name = vuln.get("name") if isinstance(vuln, dict) else vuln
        if name is not None:
            where = f"{where} ({v.label(name)})"
        try:
            out.append(_openvex_statement(v.as_dict(raw, "a statement"), name, document,
                                          author, issued))
        except BadRecord as exc:
            reading.bad(where, exc.reason)
    return tuple(out)


def _openvex_products(raw: Any) -> Iterator[str]:
    for j, product in enumerate(v.as_list(raw, "products")):
        if isinstance(product, str):
            yield c.product(product, f"products[{j}]")
            continue
        product = v.as_dict(product, f"products[{j}]")
        identifiers = product.get("identifiers")
        identifiers = identifiers if isinstance(identifiers, dict) else {}
        chosen = product.get("@id") or identifiers.get("purl") or identifiers.get("cpe23") \
            or identifiers.get("cpe22")
        yield c.product(chosen, f"products[{j}].@id")


def _openvex_statement(raw: dict[str, Any], name: Any, document: str | None,
                       author: str | None, issued: datetime | None) -> VexStatement:
    vuln_id = v.vuln_id(name, "vulnerability.name")
    status_value = raw.get("status")
    status = c.STATUSES.get(status_value) if isinstance(status_value, str) else None
    if status is None:
        raise BadRecord(f"status {v.show(status_value)} is not an OpenVEX status")
    products = tuple(dict.fromkeys(_openvex_products(raw.get("products"))))
    if not products:
        raise BadRecord("names no product")
    justification = c.justification(raw.get("justification"), "justification")
    impact = v.text(raw.get("impact_statement"), "impact_statement")
    if status is VexStatus.NOT_AFFECTED and justification is None and impact is None:
        raise BadRecord("not_affected without a justification or impact_statement")
    return VexStatement(
        vulnerability_id=vuln_id, products=products, status=status,
        justification=justification, impact_statement=impact,
        action_statement=v.text(raw.get("action_statement"), "action_statement"),
        timestamp=v.timestamp(raw.get("last_updated") or raw.get("timestamp"),
                              "timestamp") or issued,
        author=author, document=document)
