"""Which feed format a file holds, told from its content (never from its name).

The first MiB (after gunzip/unxz) is tokenised with ijson and a handful of signals are
collected: top-level keys and some of their values, ``document.category`` and the keys
of the first ``vulnerabilities`` item. A zip is taken for an archive of OSV records, as
long as its first ``.json`` member looks like one. Text that is not JSON is EPSS when its
first line is the EPSS comment or header.

Must not: read past the first MiB of a stream, or build domain values.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import ijson  # type: ignore[import-untyped]

from fleetwarden.adapters.feeds._json import MAX_DEPTH, json_error_text
from fleetwarden.adapters.feeds._source import (
    Compression,
    file_head,
    open_source,
    sniff_compression,
)
from fleetwarden.adapters.feeds._zip import iter_members
from fleetwarden.domain.vulns import FeedSource
from fleetwarden.errors import FeedError

SNIFF_BYTES = 1 << 20
_SCALARS = frozenset({"string", "number", "integer", "double", "boolean", "null"})
_SUPPORTED = ("NVD CVE JSON 2.0, OSV, CISA KEV, EPSS CSV, CycloneDX VEX, OpenVEX or "
              "CSAF VEX")


class FeedKind(StrEnum):
    NVD = "nvd"
    OSV = "osv"
    KEV = "kev"
    EPSS = "epss"
    CYCLONEDX_VEX = "cyclonedx-vex"
    OPENVEX = "openvex"
    CSAF_VEX = "csaf-vex"

    @property
    def source(self) -> FeedSource:
        if self in (FeedKind.CYCLONEDX_VEX, FeedKind.OPENVEX, FeedKind.CSAF_VEX):
            return FeedSource.VEX
        return FeedSource(self.value)


@dataclass
class _Signals:
    keys: set[str] = field(default_factory=set)
    values: dict[str, Any] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    item_keys: set[str] = field(default_factory=set)
    error: str | None = None


def detect(path: str | Path) -> FeedKind:
    """The format of ``path``; ``FeedError`` naming the file when it is none we read."""
    path = Path(path)
    if sniff_compression(file_head(path)) is Compression.ZIP:
        return _detect_zip(path)
    with open_source(path) as source:
        head = source.read_up_to(SNIFF_BYTES)
    return classify(path, head)


def _detect_zip(path: Path) -> FeedKind:
    members = iter_members(path, ".json")
    try:
        for name, data in members:
            if classify(path, data[:SNIFF_BYTES]) is not FeedKind.OSV:
                raise FeedError(f"{path}: a zip is read as OSV records, and member "
                                f"{name[:80]!r} is not one")
            return FeedKind.OSV
    finally:
        members.close()
    raise FeedError(f"{path}: the zip archive holds no .json members")


def classify(path: Path, head: bytes) -> FeedKind:
    """The kind of a document from its first bytes."""
    text = head.lstrip()
    if not text:
        raise FeedError(f"{path}: the file is empty")
    if text[:1] == b"{":
        return _classify_json(path, _signals(text))
    if text[:1] == b"[":
        raise FeedError(f"{path}: a JSON array is not a feed format we read ({_SUPPORTED})")
    first = text.split(b"\n", 1)[0].strip().lower()
    columns = {c.strip(b' "') for c in first.split(b",")}
    if first.startswith(b"#model_version") or {b"cve", b"epss"} <= columns:
        return FeedKind.EPSS
    raise FeedError(f"{path}: not a feed format we read ({_SUPPORTED})")


def _signals(text: bytes) -> _Signals:
    found = _Signals()
    stack: list[str] = []  # "map" or "array" per open container
    keys: list[str | None] = []
    items = 0  # items started in the top-level "vulnerabilities" array
    try:
        for ev, val in ijson.basic_parse(io.BytesIO(text), use_float=True):
            depth = len(stack)
            if ev == "map_key":
                keys[-1] = val
                if depth == 1:
                    found.keys.add(val)
                elif depth == 3 and keys[0] == "vulnerabilities" and items == 1:
                    found.item_keys.add(val)
                continue
            if ev in ("start_map", "start_array"):
                if depth >= MAX_DEPTH:
                    found.error = f"nested deeper than {MAX_DEPTH} levels"
                    break
                if depth == 2 and keys[0] == "vulnerabilities" and stack[1] == "array":
                    items += 1
                stack.append("map" if ev == "start_map" else "array")
                keys.append(None)
                continue
            if ev in ("end_map", "end_array"):
                stack.pop()
                keys.pop()
                continue
            if ev in _SCALARS:
                if depth == 1 and keys[0] is not None:
                    found.values[keys[0]] = val
                elif depth == 2 and keys[0] == "document" and keys[1] is not None:
                    found.document[keys[1]] = val
    except (ijson.JSONError, ValueError) as exc:
        # The signals so far still decide (a cut-off prefix can end mid-token), and the
        # reader then reports the damage with the record it is in.
        found.error = f"malformed JSON ({json_error_text(exc)})"
    return found


def _classify_json(path: Path, s: _Signals) -> FeedKind:
    values = s.values
    if values.get("bomFormat") == "CycloneDX":
        return FeedKind.CYCLONEDX_VEX
    context = values.get("@context")
    if isinstance(context, str) and context.startswith("https://openvex.dev/ns"):
        return FeedKind.OPENVEX
    if "document" in s.keys and ("category" in s.document or "csaf_version" in s.document):
        category = s.document.get("category")
        if category != "csaf_vex":
            shown = str(category)[:40] if category is not None else "none"
            raise FeedError(f"{path}: a CSAF document of category {shown!r}; only CSAF VEX "
                            "(csaf_vex) is read as a feed")
        return FeedKind.CSAF_VEX
    if "catalogVersion" in s.keys or "cveID" in s.item_keys:
        return FeedKind.KEV
    if values.get("format") == "NVD_CVE" or "cve" in s.item_keys or "cve" in s.keys \
            or ("id" in s.keys and ("sourceIdentifier" in s.keys or "vulnStatus" in s.keys)):
        return FeedKind.NVD
    if "CVE_Items" in s.keys or "CVE_data_format" in s.keys:
        raise FeedError(f"{path}: an NVD JSON 1.1 feed; only CVE JSON 2.0 is supported (the "
                        "NVD retired 1.1)")
    if "id" in s.keys and "modified" in s.keys:
        return FeedKind.OSV
    if s.error is not None:
        raise FeedError(f"{path}: {s.error}")
    hint = ""
    if isinstance(values.get("format"), str):
        hint = f" (format {values['format'][:40]!r})"
    raise FeedError(f"{path}: not a feed format we read{hint}: expected {_SUPPORTED}")
