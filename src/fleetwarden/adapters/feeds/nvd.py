"""NVD CVE JSON 2.0: one CVE record, or a feed / API response file, into ``Vulnerability``.

Accepted documents: ``{"cve": {...}}``, the bare ``cve`` object, or
``{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": [{"cve": ...}, ...]}`` as
the NVD feeds (``nvdcve-2.0-*.json[.gz|.xz]``) and the CVE API write it. The file is
streamed (see ``_json.Members``), so memory stays flat whatever its size.

Two ways to read, both validating every record:

* ``read_feed`` (in the package) collects everything first and hands back a tuple: a bad
  record raises before the caller holds anything. Right for a yearly feed (~40,000
  records) and anything smaller.
* ``iter_nvd`` yields records in file order and raises ``FeedError`` at the first bad one
  (unless ``skip_bad_records``). Right for the whole NVD (300,000 records); the caller
  must apply inside one transaction and roll back on ``FeedError``.

Mapping: ``vulnStatus`` Rejected sets ``withdrawn`` (to ``lastModified``); the English
description becomes ``summary`` (bounded); every CVSS v4.0/v3.1/v3.0/v2 metric is
re-scored from its vector by the cvss library (a vector the library rejects makes the
record bad; a stated score that differs is replaced and warned about); configurations keep
their operators, ``negate``, ``vulnerable`` and version bounds, with each criteria name
parsed by ``domain.cpe.parse_cpe``; references are bounded in number. ``cveTags`` have no
field on ``Vulnerability`` yet and come back beside it.

Must not: load a whole feed into memory (no ``json.load``), or apply anything.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fleetwarden.adapters.feeds import _values as v
from fleetwarden.adapters.feeds._context import BadRecord, Reading, ReadProgress, Warn
from fleetwarden.adapters.feeds._json import Members
from fleetwarden.adapters.feeds._source import open_source
from fleetwarden.domain.cpe import MAX_CPE_LENGTH, parse_cpe
from fleetwarden.domain.vulns import (
    ConfigNode,
    Configuration,
    Cpe,
    CpeMatch,
    Cvss,
    FeedSource,
    Vulnerability,
)
from fleetwarden.errors import FleetwardenError

_METRICS = (("cvssMetricV40", "4.0"), ("cvssMetricV31", "3.1"), ("cvssMetricV30", "3.0"),
            ("cvssMetricV2", "2.0"))
_OPERATORS = {"OR": "OR", "AND": "AND"}
_BOUNDS = ("versionStartIncluding", "versionStartExcluding", "versionEndIncluding",
           "versionEndExcluding")
_VALUE = r"(?:[a-z0-9_.\-]++|\\[!-,/:-@\[-^`{-~])++"
_PLAIN_CPE = re.compile(rf"cpe:2\.3:[aho](?::(?:{_VALUE}|\*)){{10}}")
"""Criteria already in canonical form: lower case, plain characters, quoted punctuation."""
_HEADER_KEYS = frozenset({"resultsPerPage", "startIndex", "totalResults", "format",
                          "version", "timestamp"})


@dataclass
class NvdHeader:
    """What the file says about itself, filled in while it is read."""

    timestamp: datetime | None = None
    newest: datetime | None = None
    """The latest ``lastModified`` among the records read."""


@dataclass(frozen=True, slots=True)
class NvdRecord:
    vulnerability: Vulnerability
    tags: tuple[str, ...] = ()
    """``cveTags`` (``disputed``, ``unsupported-when-assigned``, ...), all sources merged."""


def iter_nvd(path: str | Path, *, skip_bad_records: bool = False, warn: Warn | None = None,
             progress: ReadProgress | None = None) -> Iterator[Vulnerability]:
    """Vulnerabilities in file order; ``FeedError`` at the first bad record (see module).

    ``warn`` receives one line per warning (skipped records, corrected scores).
    Nothing is de-duplicated: a later record with the same id should replace an
    earlier one, as an upsert in file order does.
    """
    reading = Reading(Path(path), skip_bad_records, on_warning=warn or (lambda _line: None))
    for record in iter_records(reading, NvdHeader(), progress):
        yield record.vulnerability


def iter_records(reading: Reading, header: NvdHeader,
                 progress: ReadProgress | None = None) -> Iterator[NvdRecord]:
    path = reading.path
    with open_source(path, progress=progress) as source:
        members = Members(source, "vulnerabilities")
        top: dict[str, Any] = {}
        for key, index, value in members:
            if index < 0:
                if key == "vulnerabilities":
                    raise reading.fail("'vulnerabilities' must be an array")
                if key in _HEADER_KEYS:
                    _check_header(reading, header, key, value)
                top[key] = value
                continue
            record = _record(reading, header, index, value)
            if record is not None:
                yield record
        if members.streamed_found:
            return
        if "CVE_Items" in top or "CVE_data_format" in top:
            raise reading.fail("an NVD JSON 1.1 feed; only CVE JSON 2.0 is supported "
                               "(the NVD retired 1.1)")
        if "cve" in top:
            record = _record(reading, header, None, {"cve": top["cve"]})
        elif "id" in top:
            record = _record(reading, header, None, {"cve": top})
        else:
            raise reading.fail("no 'vulnerabilities', 'cve' or CVE 'id': not an NVD CVE "
                               "JSON 2.0 document")
        if record is not None:
            yield record


def _check_header(reading: Reading, header: NvdHeader, key: str, value: Any) -> None:
    if key == "format" and value != "NVD_CVE":
        raise reading.fail(f"format {v.show(value)}, not NVD_CVE")
    if key == "version" and not (isinstance(value, str) and value.startswith("2.")):
        raise reading.fail(f"version {v.show(value)}; only CVE JSON 2.x is supported")
    if key == "timestamp":
        try:
            header.timestamp = v.timestamp(value, "timestamp")
        except BadRecord as exc:
            reading.warn("the document header", exc.reason)


def _record(reading: Reading, header: NvdHeader, index: int | None,
            item: Any) -> NvdRecord | None:
    where = "the record" if index is None else f"vulnerabilities[{index}]"
    cve = item.get("cve") if isinstance(item, dict) else None
    if isinstance(cve, dict) and isinstance(cve.get("id"), str):
        where = f"{where} ({v.label(cve['id'])})"
    try:
        if cve is None:
            raise BadRecord("no 'cve' object")
        record = parse_cve(v.as_dict(cve, "'cve'"), lambda msg: reading.warn(where, msg))
    except BadRecord as exc:
        reading.bad(where, exc.reason)
        return None
    modified = record.vulnerability.modified
    if modified is not None and (header.newest is None or modified > header.newest):
        header.newest = modified
    return record


def parse_cve(cve: dict[str, Any], warn: Warn) -> NvdRecord:
    """One NVD ``cve`` object as a domain value (raises ``BadRecord``)."""
    vuln_id = v.cve_id(cve.get("id"))
    published = v.timestamp(cve.get("published"), "published", required=True)
    modified = v.timestamp(cve.get("lastModified"), "lastModified", required=True)
    status = cve.get("vulnStatus")
    if status is not None and not isinstance(status, str):
        raise BadRecord(f"vulnStatus must be a string, not {v.kind(status)}")
    withdrawn = modified if status is not None and status.casefold().startswith("reject") \
        else None
    return NvdRecord(
        Vulnerability(
            id=vuln_id, source=FeedSource.NVD, summary=_summary(cve.get("descriptions")),
            published=published, modified=modified, withdrawn=withdrawn,
            cvss=_metrics(cve.get("metrics"), warn),
            configurations=_configurations(cve.get("configurations")),
            references=v.urls(v.as_list(cve.get("references"), "references"))),
        _tags(cve.get("cveTags")))


def _summary(descriptions: Any) -> str | None:
    chosen = None
    for d in v.as_list(descriptions, "descriptions"):
        if not isinstance(d, dict):
            raise BadRecord("descriptions must hold objects")
        if chosen is None or (d.get("lang") == "en" and chosen.get("lang") != "en"):
            chosen = d
    return v.text(chosen.get("value"), "description") if chosen else None


def _metrics(metrics: Any, warn: Warn) -> tuple[Cvss, ...]:
    if metrics is None:
        return ()
    metrics = v.as_dict(metrics, "metrics")
    out: list[Cvss] = []
    for key, version in _METRICS:
        entries = v.as_list(metrics.get(key), f"metrics.{key}")
        ranked = sorted(entries, key=lambda e: not (isinstance(e, dict)
                                                    and e.get("type") == "Primary"))
        for entry in ranked:
            entry = v.as_dict(entry, f"an entry of metrics.{key}")
            data = v.as_dict(entry.get("cvssData"), f"metrics.{key} cvssData")
            stated_version = data.get("version")
            if stated_version is not None and stated_version != version:
                raise BadRecord(f"metrics.{key} holds CVSS version {v.show(stated_version)}")
            source = v.short(entry.get("source"), f"metrics.{key} source")
            score = v.cvss(data.get("vectorString"), version=version,
                           source=sys.intern(source) if source else None,
                           primary=entry.get("type") == "Primary")
            if v.stated_score_differs(score, data.get("baseScore")):
                warn(f"{key} states base score {data.get('baseScore')} for "
                     f"{score.vector}; the cvss library computes {score.score} (kept)")
            out.append(score)
    return tuple(out)


def _operator(value: Any, default: str) -> str:
    if value is None:
        return default
    operator = _OPERATORS.get(value) if isinstance(value, str) else None
    if operator is None:
        raise BadRecord(f"operator {v.show(value)} is neither AND nor OR")
    return operator


def _negate(value: Any) -> bool:
    if value is None or value is False:
        return False
    if value is not True:
        raise BadRecord("negate must be true or false")
    return True


def _configurations(raw: Any) -> tuple[Configuration, ...]:
    out = []
    for i, config in enumerate(v.as_list(raw, "configurations")):
        try:
            out.append(_configuration(config))
        except BadRecord as exc:
            raise exc.inside(f"configurations[{i}]") from None
    return tuple(out)


def _configuration(raw: Any) -> Configuration:
    config = v.as_dict(raw, "a configuration")
    nodes = []
    for i, node in enumerate(v.as_list(config.get("nodes"), "nodes")):
        try:
            nodes.append(_node(node))
        except BadRecord as exc:
            raise exc.inside(f"nodes[{i}]") from None
    if not nodes:
        raise BadRecord("no nodes")
    return Configuration(tuple(nodes), _operator(config.get("operator"), "OR"),
                         _negate(config.get("negate")))


def _node(raw: Any) -> ConfigNode:
    node = v.as_dict(raw, "a node")
    matches = []
    for i, match in enumerate(v.as_list(node.get("cpeMatch"), "cpeMatch")):
        try:
            matches.append(_match(match))
        except BadRecord as exc:
            raise exc.inside(f"cpeMatch[{i}]") from None
    return ConfigNode(_operator(node.get("operator"), "OR"), _negate(node.get("negate")),
                      tuple(matches))


def _match(match: Any) -> CpeMatch:
    if type(match) is not dict:
        raise BadRecord(f"must be an object, not {v.kind(match)}")
    vulnerable = match.get("vulnerable")
    if vulnerable is not True and vulnerable is not False:
        raise BadRecord("vulnerable must be true or false")
    criteria = match.get("criteria")
    cpe = _CPE_CACHE.get(criteria) if type(criteria) is str else None
    if cpe is None:
        if not isinstance(criteria, str) or not criteria.startswith("cpe:2.3:"):
            raise BadRecord(f"criteria {v.show(criteria)} is not a CPE 2.3 name")
        cpe = criteria_cpe(criteria)
    get = match.get
    bounds = [get(key) for key in _BOUNDS]
    for i, bound in enumerate(bounds):
        if bound is not None:
            bounds[i] = v.short(bound, _BOUNDS[i])
    return CpeMatch(cpe, vulnerable, *bounds)


def criteria_cpe(criteria: str) -> Cpe:
    """``domain.cpe.parse_cpe``, with a fast path for names already in canonical form.

    Nearly all NVD criteria are lower case, plain characters and backslash-quoted
    punctuation: their canonical attributes are the text split on unquoted colons,
    ~50x cheaper than the general parser, which matters at 300,000 CVEs. A test holds
    the two equal.
    """
    cpe = _CPE_CACHE.get(criteria)
    if cpe is not None:
        return cpe
    if len(criteria) <= MAX_CPE_LENGTH and _PLAIN_CPE.fullmatch(criteria):
        body = criteria[8:]
        cpe = Cpe(*(_FIELD.findall(body) if "\\" in body else body.split(":")))
    else:
        try:
            cpe = parse_cpe(criteria)
        except FleetwardenError as exc:
            raise BadRecord(str(exc)[:200]) from None
    if len(_CPE_CACHE) >= 65536:
        _CPE_CACHE.clear()
    _CPE_CACHE[criteria] = cpe
    return cpe


_CPE_CACHE: dict[str, Cpe] = {}
_FIELD = re.compile(r"(?:[^:\\]|\\.)+")


def _tags(raw: Any) -> tuple[str, ...]:
    tags: dict[str, None] = {}
    for entry in v.as_list(raw, "cveTags"):
        for tag in v.as_list(entry.get("tags") if isinstance(entry, dict) else None,
                             "cveTags tags"):
            name = v.short(tag, "a cveTag", limit=64)
            if name:
                tags[sys.intern(name)] = None
    return tuple(tags)
