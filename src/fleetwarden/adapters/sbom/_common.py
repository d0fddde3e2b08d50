"""Field checks shared by the CycloneDX and SPDX readers: one component record -> value.

Everything in an SBOM is untrusted: each text field is bounded in length and refused if
it holds control characters, a purl must parse (packageurl-python) and a CPE must be a
well-formed 2.3 name or 2.2 URI. A problem raises ``Refused`` naming the record; the
package entry point adds the file name and turns it into ``SbomError``.

Must not: read files, know a format's layout (the format modules do), or echo long
or multi-line input into a message (``show`` bounds what is quoted).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from packageurl import PackageURL

from fleetwarden.adapters.sbom._cpe import normalise_cpe
from fleetwarden.domain.vulns import SbomComponent

#: Longest text accepted in any field (name, version, purl, CPE, supplier, serial).
MAX_FIELD_CHARS = 4096
#: Deepest nesting of CycloneDX components (``components`` inside a component).
MAX_NESTING = 64
#: Most components one SBOM may list (after flattening).
MAX_COMPONENTS = 1_000_000

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Refused(Exception):
    """Internal: the document is refused; ``str`` is the reason, without the file name."""


def show(value: object, limit: int = 60) -> str:
    """``value`` quoted for a one-line message, cut to ``limit`` characters."""
    text = repr(value) if not isinstance(value, str) else value
    cut = text if len(text) <= limit else text[:limit] + "..."
    return repr(cut)


def text(value: object, field: str, record: str, *, required: bool = False) -> str | None:
    """A bounded, single-line string, stripped; ``""``/absent is ``None`` unless required."""
    if value is None:
        if required:
            raise Refused(f"{record}: no {field}")
        return None
    if not isinstance(value, str):
        raise Refused(f"{record}: {field} must be a string, not {type(value).__name__}")
    value = value.strip()
    if not value:
        if required:
            raise Refused(f"{record}: empty {field}")
        return None
    if len(value) > MAX_FIELD_CHARS:
        raise Refused(f"{record}: {field} is {len(value)} characters long "
                      f"(limit {MAX_FIELD_CHARS})")
    if _CONTROL.search(value):
        raise Refused(f"{record}: {field} {show(value)} contains control characters")
    return value


def purl(value: object, record: str) -> str | None:
    """The canonical form of a valid package URL, ``None`` if absent; refused if invalid."""
    raw = text(value, "purl", record)
    if raw is None:
        return None
    try:
        return str(PackageURL.from_string(raw).to_string())
    except ValueError as exc:
        raise Refused(f"{record}: invalid purl {show(raw)}: {_one_line(exc)}") from None


def cpe(value: object, record: str) -> str | None:
    """A CPE 2.3 formatted string (2.2 URIs converted), ``None`` if absent."""
    raw = text(value, "cpe", record)
    if raw is None:
        return None
    try:
        return normalise_cpe(raw)
    except ValueError as exc:
        raise Refused(f"{record}: invalid CPE {show(raw)}: {exc}") from None


def component(
    record: str, *, name: object, version: object = None, purl_value: object = None,
    cpe_value: object = None, supplier: object = None, type_value: str | None = None,
) -> SbomComponent:
    """One checked component; ``record`` names it in messages (bom-ref, SPDXID, index)."""
    return SbomComponent(
        name=text(name, "name", record, required=True) or "",
        version=text(version, "version", record),
        purl=purl(purl_value, record),
        cpe=cpe(cpe_value, record),
        supplier=text(supplier, "supplier", record),
        type=type_value,
    )


def timestamp(value: object, field: str) -> datetime | None:
    """An ISO 8601 date-time (``Z`` allowed); one without a zone is taken as UTC."""
    raw = text(value, field, "document")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Refused(f"{field} {show(raw)} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def check_count(count: int) -> None:
    if count > MAX_COMPONENTS:
        raise Refused(f"more than {MAX_COMPONENTS} components")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
