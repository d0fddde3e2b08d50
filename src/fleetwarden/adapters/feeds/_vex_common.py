"""What the three VEX readers share: loading a document whole, and small checked values.

Must not: know any one VEX format.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleetwarden.adapters.feeds import _values as v
from fleetwarden.adapters.feeds._context import BadRecord, Reading, ReadProgress
from fleetwarden.adapters.feeds._json import load_document
from fleetwarden.adapters.feeds._source import open_source
from fleetwarden.domain.vulns import VexJustification, VexStatus

MAX_DOCUMENT = 64 << 20
"""VEX documents are read whole (statements point at products defined elsewhere)."""
MAX_PRODUCT = 1024
STATUSES = {s.value: s for s in VexStatus}
_JUSTIFICATIONS = {j.value: j for j in VexJustification}


def load(reading: Reading, progress: ReadProgress | None) -> dict[str, Any]:
    with open_source(reading.path, progress=progress,
                     record_limit=2 * MAX_DOCUMENT) as source:
        doc = load_document(source, MAX_DOCUMENT)
    if not isinstance(doc, dict):
        raise reading.fail("expected a JSON object at the top level")
    return doc


def object_(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def name(value: Any, what: str) -> str | None:
    """An author, document id or similar: bounded text, never a reason to refuse."""
    try:
        return v.text(value, what, v.MAX_SHORT)
    except BadRecord:
        return None


def when(reading: Reading, value: Any, what: str) -> datetime | None:
    try:
        return v.timestamp(value, what)
    except BadRecord as exc:
        reading.warn("the document", exc.reason)
        return None


def product(value: Any, what: str) -> str:
    return v.required(value, what, MAX_PRODUCT)


def justification(value: Any, what: str) -> VexJustification | None:
    if value is None:
        return None
    found = _JUSTIFICATIONS.get(value) if isinstance(value, str) else None
    if found is None:
        raise BadRecord(f"{what} {v.show(value)} is not a VEX justification")
    return found


