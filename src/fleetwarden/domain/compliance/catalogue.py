"""Control catalogues as data: frameworks, their requirements and requirement ids.

A catalogue file (TOML, one per framework, under ``catalogues/compliance/frameworks``)
lists every requirement, automated or not. This module turns one parsed file into values
and refuses anything malformed, so a bad catalogue fails loudly at load, not in a report.

Must not: read files (adapters pass the parsed mapping in).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fleetwarden.errors import InputError

_FRAMEWORK_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LOCAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,31}$")
APPLIES_TO = ("device", "model", "organisation")


@dataclass(frozen=True, slots=True)
class Requirement:
    framework: str
    local_id: str
    title: str
    """Short, in our own words."""
    reference: str
    """Where in the source document (clause, table row, page)."""
    group: str
    """The aspect or section it belongs to (e.g. "Credential management")."""
    mandatory: bool = True
    applies_to: str = "device"
    """device, model (supplier duties, attested per model) or organisation."""

    @property
    def id(self) -> str:
        return f"{self.framework}/{self.local_id}"


@dataclass(frozen=True, slots=True)
class Framework:
    id: str
    title: str
    version: str
    source: str
    """The document the requirements come from, as a citation."""
    requirements: tuple[Requirement, ...]

    def get(self, requirement_id: str) -> Requirement | None:
        return next((r for r in self.requirements if r.id == requirement_id), None)


def parse_framework(data: Mapping[str, Any], origin: str) -> Framework:
    """A framework from one parsed catalogue file; ``origin`` names it in errors."""
    head = data.get("framework")
    if not isinstance(head, Mapping):
        raise InputError(f"{origin}: missing [framework] table")
    fid = _text(head, "id", origin)
    if not _FRAMEWORK_ID.match(fid):
        raise InputError(f"{origin}: framework id {fid!r} must be lower-case words joined by -")
    rows = data.get("requirement")
    if not isinstance(rows, list) or not rows:
        raise InputError(f"{origin}: no [[requirement]] entries")
    seen: set[str] = set()
    reqs = []
    for i, row in enumerate(rows, 1):
        where = f"{origin}: requirement {i}"
        if not isinstance(row, Mapping):
            raise InputError(f"{where}: not a table")
        local = _text(row, "id", where)
        if not _LOCAL_ID.match(local):
            raise InputError(f"{where}: id {local!r} is not a short id (letters, digits, . -)")
        if local in seen:
            raise InputError(f"{where}: duplicate id {local!r}")
        seen.add(local)
        applies = row.get("applies_to", "device")
        if applies not in APPLIES_TO:
            raise InputError(f"{where}: applies_to must be one of {', '.join(APPLIES_TO)}")
        mandatory = row.get("mandatory", True)
        if not isinstance(mandatory, bool):
            raise InputError(f"{where}: mandatory must be true or false")
        reqs.append(Requirement(framework=fid, local_id=local, title=_text(row, "title", where),
                                reference=_text(row, "reference", where),
                                group=_text(row, "group", where), mandatory=mandatory,
                                applies_to=applies))
    return Framework(id=fid, title=_text(head, "title", origin),
                     version=_text(head, "version", origin),
                     source=_text(head, "source", origin), requirements=tuple(reqs))


def split_id(requirement_id: str) -> tuple[str, str]:
    """``etsi-en-303-645/5.1-1`` -> (framework, local id); InputError when malformed."""
    fid, sep, local = requirement_id.partition("/")
    if not sep or not _FRAMEWORK_ID.match(fid) or not _LOCAL_ID.match(local):
        raise InputError(f"requirement id {requirement_id!r} is not FRAMEWORK/ID "
                         "(e.g. etsi-en-303-645/5.1-1, owasp-iot-2018/I2, psti/1)")
    return fid, local


def check_references(frameworks: Iterable[Framework], mapped: Mapping[str, Iterable[str]]
                     ) -> None:
    """Refuse a check mapped to a requirement no catalogue lists (``mapped``: check -> ids)."""
    known = {r.id for f in frameworks for r in f.requirements}
    for check_id, ids in mapped.items():
        for rid in ids:
            split_id(rid)
            if rid not in known:
                raise InputError(f"check {check_id!r} maps to unknown requirement {rid!r}")


def _text(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: {key!r} must be a non-empty string")
    return value.strip()
