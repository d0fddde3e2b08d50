"""Bytes of an SBOM file -> a decoded document, safely, and which format it is.

The size is checked against the limit from ``stat`` before a byte is read, and the read
itself stops one byte past the limit (a file may grow, or not be regular). XML is parsed
only by defusedxml with DTDs, entity declarations and external references all
forbidden, so an entity bomb or an XXE file is refused before any expansion or fetch;
no XML reaches another parser. JSON nesting deeper than the interpreter allows is
refused, not crashed on.

Must not: map fields to components (the format modules do) or touch the network.
"""

from __future__ import annotations

import json
import re
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import (  # type: ignore[import-untyped]
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml import ElementTree as SafeElementTree

from fleetwarden.adapters.sbom._common import Refused, show

_TAG_VALUE_VERSION = re.compile(rb"^[ \t]*SPDXVersion:[ \t]*(\S*)", re.MULTILINE)
_YAML_SPDX = re.compile(rb"^[ \t]*spdxVersion:", re.MULTILINE)
_CYCLONEDX_NS = re.compile(r"^\{http://cyclonedx\.org/schema/bom/([0-9][0-9.]*)\}bom$")
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"


class Syntax(StrEnum):
    CYCLONEDX_JSON = "cyclonedx-json"
    CYCLONEDX_XML = "cyclonedx-xml"
    SPDX_JSON = "spdx-json"
    SPDX_TAG_VALUE = "spdx-tag-value"


@dataclass(frozen=True, slots=True)
class Document:
    """A decoded document and its syntax; ``version`` is as the document states it."""

    syntax: Syntax
    version: str
    json: dict[str, Any] | None = None
    xml: Element | None = None
    text: str | None = None


def read_limited(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refused if unreadable, not a regular file, or over ``max_bytes``."""
    try:
        # stat before open: opening a FIFO would block, reading /dev/zero never ends
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file")
        if info.st_size > max_bytes:
            raise Refused(f"{info.st_size} bytes is over the {max_bytes}-byte limit "
                          "for an SBOM")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise Refused(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise Refused(f"over the {max_bytes}-byte limit for an SBOM")
    return data


def decode(data: bytes) -> Document:
    """Detect the format by content and decode it; refused if unknown or malformed."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not head:
        raise Refused("empty file, not an SBOM")
    if head in (b"{", b"["):
        return _json_document(data)
    if head == b"<":
        return _xml_document(data)
    match = _TAG_VALUE_VERSION.search(data, 0, 1 << 16)
    if match:
        return Document(Syntax.SPDX_TAG_VALUE, _ascii(match.group(1)), text=_utf8(data))
    if _YAML_SPDX.search(data, 0, 1 << 16):
        raise Refused("SPDX YAML is not supported; use SPDX 2.3 JSON or tag-value")
    raise Refused("not an SBOM: neither CycloneDX (JSON, XML) nor SPDX (JSON, tag-value)")


def _json_document(data: bytes) -> Document:
    try:
        doc = json.loads(_utf8(data))
    except RecursionError:
        raise Refused("JSON nested too deeply") from None
    except ValueError as exc:
        raise Refused(f"not valid JSON: {_first_line(exc)}") from None
    if not isinstance(doc, dict):
        raise Refused(f"JSON {type(doc).__name__} at the top level, not an SBOM object")
    if "spdxVersion" in doc:
        return Document(Syntax.SPDX_JSON, _version(doc["spdxVersion"]), json=doc)
    if doc.get("bomFormat") == "CycloneDX":
        return Document(Syntax.CYCLONEDX_JSON, _version(doc.get("specVersion")), json=doc)
    if "bomFormat" in doc:
        raise Refused(f"bomFormat {show(doc['bomFormat'])} is not CycloneDX")
    if "specVersion" in doc:
        raise Refused("JSON with specVersion but no bomFormat: not a CycloneDX BOM")
    raise Refused("JSON that is neither CycloneDX (bomFormat) nor SPDX (spdxVersion)")


def _xml_document(data: bytes) -> Document:
    try:
        root = SafeElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise Refused("XML with a DOCTYPE (DTD) refused: DTDs and entities are not "
                      "accepted in SBOMs") from None
    except EntitiesForbidden:
        raise Refused("XML entity declarations refused (entity expansion attack)") from None
    except ExternalReferenceForbidden:
        raise Refused("XML external reference refused") from None
    except DefusedXmlException as exc:
        raise Refused(f"unsafe XML refused: {type(exc).__name__}") from None
    except ParseError as exc:
        raise Refused(f"not well-formed XML: {_first_line(exc)}") from None
    tag = str(root.tag)
    found = _CYCLONEDX_NS.match(tag)
    if found:
        return Document(Syntax.CYCLONEDX_XML, found.group(1), xml=root)
    if tag == _RDF:
        raise Refused("SPDX RDF/XML is not supported; use SPDX 2.3 JSON or tag-value")
    if tag.endswith("}bom") or tag == "bom":
        raise Refused(f"XML <bom> in namespace {show(tag.partition('}')[0][1:])}, "
                      "not a CycloneDX namespace")
    raise Refused(f"XML root element {show(tag)} is not a CycloneDX <bom>")


def _version(value: object) -> str:
    if isinstance(value, str):
        return value.strip()[:40]
    return "" if value is None else show(value, 20)


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Refused(f"not UTF-8 text (byte {exc.start})") from None


def _ascii(raw: bytes) -> str:
    return raw.decode("ascii", "replace")[:40]


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]

