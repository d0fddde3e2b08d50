"""CycloneDX 1.4-1.6, JSON (a decoded dict) or XML (a defusedxml tree) -> ``Sbom``.

Why fields are mapped here rather than through ``cyclonedx.model.bom.Bom.from_json`` /
``from_xml`` (py-serializable): measured on this machine with cyclonedx-python-lib 11.12
at 5,000 components, ``Bom.from_json`` takes 2.4 s and ``Bom.from_xml`` 3.0 s -- the
``Bom`` keeps components in a ``SortedSet`` ordered by a comparison tuple built on every
comparison -- and even ``Component.from_json`` one component at a time (no ``Bom``) takes
0.9 s (XML 1.1 s), half the issue's 2 s budget for a whole import including storage.
Its schema validators need the ``json-validation``/``xml-validation`` extras
(jsonschema, lxml), which are not installed. So ``json`` and defusedxml decode, this
module reads the few fields the product keeps and checks them as the schema would
(required ``name`` and ``type``, ``type`` from the library's ``ComponentType``, unique
``bom-ref``), and the library supplies the vocabulary (``SchemaVersion``,
``ComponentType``). A test holds the result equal to the library's own deserialisation
of the hand-written 1.4-1.6 JSON and XML SBOMs. Whole reads at 5,000 components (hashes,
licences, supplier, purl and CPE each), median of 7: JSON 0.15 s, XML 0.22 s.

Nested components are flattened depth first in document order, the subject's
(``metadata.component``) nested components included; the subject itself is not a
component, it names the SBOM.

Must not: parse bytes (``_input`` does, safely) or keep fields the product does not use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from xml.etree.ElementTree import Element

from cyclonedx.model.component import ComponentType
from cyclonedx.schema import SchemaVersion

from fleetwarden.adapters.sbom._common import (
    MAX_NESTING,
    Refused,
    check_count,
    component,
    show,
    text,
    timestamp,
)
from fleetwarden.domain.vulns import Sbom, SbomComponent

#: The CycloneDX versions read (the issue's 1.4-1.6).
SUPPORTED = tuple(v.to_version() for v in (SchemaVersion.V1_4, SchemaVersion.V1_5,
                                           SchemaVersion.V1_6))
_TYPES = frozenset(t.value for t in ComponentType)

# One raw record -> (component, its bom-ref, its children as (raw, location) pairs).
_Parsed = tuple[SbomComponent, str | None, list[tuple[Any, str]]]


def format_for(version: str) -> str:
    """``cyclonedx-1.5`` for ``1.5``; refused naming the version if not supported."""
    if version not in SUPPORTED:
        stated = f"CycloneDX {version}" if version else "CycloneDX without a specVersion"
        raise Refused(f"{stated} is not supported: {', '.join(SUPPORTED)} only")
    return f"cyclonedx-{version}"


def from_json(doc: dict[str, Any], version: str) -> Sbom:
    fmt = format_for(version)
    metadata = _object(doc.get("metadata"), "metadata")
    collector = _Collector()
    name = subject_version = None
    roots: list[tuple[Any, str]] = []
    subject = metadata.get("component")
    if subject is not None:
        found, ref, children = _json_component(subject, "metadata.component")
        collector.claim(ref, "metadata.component")
        name, subject_version = found.name, found.version
        roots.extend(children)
    roots.extend(_json_list(doc.get("components"), "components"))
    collector.flatten(roots, _json_component)
    return Sbom(
        format=fmt, components=tuple(collector.components), name=name,
        version=subject_version,
        serial=text(doc.get("serialNumber"), "serialNumber", "document"),
        created=timestamp(metadata.get("timestamp"), "metadata.timestamp"))


def from_xml(root: Element, version: str) -> Sbom:
    fmt = format_for(version)
    ns = str(root.tag)[: -len("bom")]
    tags = _Tags(ns)
    collector = _Collector()
    name = subject_version = None
    created = None
    roots: list[tuple[Any, str]] = []
    for child in root:
        if child.tag == tags.metadata:
            for item in child:
                if item.tag == tags.timestamp:
                    created = timestamp(item.text, "metadata.timestamp")
                elif item.tag == tags.component:
                    found, ref, children = tags.component_of(item, "metadata.component")
                    collector.claim(ref, "metadata.component")
                    name, subject_version = found.name, found.version
                    roots[:0] = children
        elif child.tag == tags.components:
            roots.extend(tags.children(child, "components"))
    collector.flatten(roots, tags.component_of)
    return Sbom(
        format=fmt, components=tuple(collector.components), name=name,
        version=subject_version,
        serial=text(root.get("serialNumber"), "serialNumber", "document"), created=created)


class _Collector:
    """Flattens nested components in document order; bom-refs must be unique."""

    def __init__(self) -> None:
        self.components: list[SbomComponent] = []
        self._refs: dict[str, str] = {}

    def claim(self, ref: str | None, where: str) -> None:
        if ref is None:
            return
        if ref in self._refs:
            raise Refused(f"{where}: bom-ref {show(ref)} is already used by {self._refs[ref]}")
        self._refs[ref] = where

    def flatten(self, roots: Iterable[tuple[Any, str]],
                parse: Callable[[Any, str], _Parsed]) -> None:
        stack = [(raw, where, 1) for raw, where in reversed(list(roots))]
        while stack:
            raw, where, depth = stack.pop()
            if depth > MAX_NESTING:
                raise Refused(f"{where}: components nested more than {MAX_NESTING} deep")
            found, ref, children = parse(raw, where)
            self.claim(ref, where)
            self.components.append(found)
            check_count(len(self.components))
            stack.extend((c, w, depth + 1) for c, w in reversed(children))


def _at(where: str, index: int) -> str:
    """The location of item ``index`` under ``where``, cut in the middle when deep."""
    full = f"{where}[{index}]"
    return full if len(full) <= 100 else f"{full[:40]}...{full[-60:]}"


def _record(where: str, ref: object) -> str:
    return f"{where} (bom-ref {show(ref)})" if ref is not None else where


def _type(value: object, record: str) -> str:
    if value is None:
        raise Refused(f"{record}: no type")
    if not isinstance(value, str) or value not in _TYPES:
        raise Refused(f"{record}: unknown component type {show(value)}")
    return str(value)


# ----------------------------------------------------------------------------- JSON
def _object(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused(f"{where} must be an object, not {type(value).__name__}")
    return value


def _json_list(value: object, where: str) -> list[tuple[Any, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Refused(f"{where} must be an array, not {type(value).__name__}")
    return [(item, _at(where, i)) for i, item in enumerate(value)]


def _json_component(raw: object, where: str) -> _Parsed:
    if not isinstance(raw, dict):
        raise Refused(f"{where}: a component must be an object, not {type(raw).__name__}")
    ref = text(raw.get("bom-ref"), "bom-ref", where)
    record = _record(where, ref)
    supplier = _object(raw.get("supplier"), f"{record}: supplier").get("name")
    found = component(
        record, name=raw.get("name"), version=raw.get("version"),
        purl_value=raw.get("purl"), cpe_value=raw.get("cpe"),
        supplier=supplier if supplier is not None else raw.get("publisher"),
        type_value=_type(raw.get("type"), record))
    return found, ref, _json_list(raw.get("components"), f"{where}.components")


# ------------------------------------------------------------------------------ XML
class _Tags:
    """Qualified tag names of one CycloneDX namespace, and reading a ``<component>``."""

    def __init__(self, ns: str) -> None:
        self.metadata = ns + "metadata"
        self.timestamp = ns + "timestamp"
        self.component = ns + "component"
        self.components = ns + "components"
        self.name = ns + "name"
        self.supplier = ns + "supplier"
        self._fields = {ns + f: f for f in ("name", "version", "purl", "cpe", "publisher")}

    def children(self, parent: Element, where: str) -> list[tuple[Any, str]]:
        found = [c for c in parent if c.tag == self.component]
        return [(c, _at(where, i)) for i, c in enumerate(found)]

    def component_of(self, elem: Element, where: str) -> _Parsed:
        ref = text(elem.get("bom-ref"), "bom-ref", where)
        record = _record(where, ref)
        values: dict[str, str] = {}
        supplier: str | None = None
        children: list[tuple[Any, str]] = []
        for child in elem:
            field = self._fields.get(str(child.tag))
            if field is not None:
                values[field] = child.text or ""
            elif child.tag == self.supplier:
                supplier = next((s.text or "" for s in child if s.tag == self.name), None)
            elif child.tag == self.components:
                children = self.children(child, f"{where}.components")
        found = component(
            record, name=values.get("name"), version=values.get("version"),
            purl_value=values.get("purl"), cpe_value=values.get("cpe"),
            supplier=supplier if supplier is not None else values.get("publisher"),
            type_value=_type(elem.get("type"), record))
        return found, ref, children
