"""Views for the device page's sections: the lifecycle timeline's changes, what
discovery saw on the network (services, TLS, certificates), check evidence, and the
choices the page's forms offer.

Device-supplied text (banners, titles, certificate subjects, hostnames) stays plain
text here: control characters are shown as ``\\xNN`` escapes and very long values are
cut, then the template autoescapes it. A service's banner and fields are shown once each
(a field that repeats the banner, or another field, is named beside it, not repeated),
and a long one as its first ``SHORT_TEXT`` characters with the rest behind a disclosure.

Must not: call services, mark anything safe, or decide what a user may do (the
template asks ``can``; the services refuse anyway).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleetwarden.domain.audit import AuditEvent
from fleetwarden.domain.compliance.records import StoredResult
from fleetwarden.domain.discovery import MAX_TEXT as MAX_DEVICE_TEXT
from fleetwarden.domain.inventory import DiscoveredHost
from fleetwarden.domain.lifecycle import TRANSITIONS, LifecycleState

MAX_TEXT = 600
"""Characters of one device-supplied value shown (a banner can be megabytes)."""
SHORT_TEXT = 200
"""Characters of a banner or field shown at first; the rest is one click away."""
NETWORK_CHECKS = ("tls-", "cert-", "key-")
"""Checks about TLS and certificates, shown with the services they looked at."""


def printable(value: object, limit: int = MAX_TEXT, *, keep: str = "") -> str:
    """Device text made visible: control characters (but those in ``keep``) as escapes,
    cut at ``limit``."""
    text = "" if value is None else str(value)
    shown = "".join(c if c.isprintable() or c in keep else f"\\x{ord(c):02x}"
                    if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text[:limit])
    return shown + (f"… ({len(text):,} characters)" if len(text) > limit else "")


def _compact(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return "-" if value is None or value == "" else str(value)


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: str | None
    """None when the event records no earlier value (a creation)."""
    after: str | None


def changes(e: AuditEvent) -> list[Change]:
    """What one event changed, field by field (unchanged fields left out)."""
    before, after = e.before or {}, e.after or {}
    out = []
    for key in list(before) + [k for k in after if k not in before]:
        b, a = before.get(key), after.get(key)
        if key in before and key in after and b == a:
            continue
        if key not in before and a in (None, "", [], {}):
            continue  # a creation's empty fields say nothing
        out.append(Change(key.replace("_", " "), _compact(b) if key in before else None,
                          _compact(a) if key in after else None))
    return out


@dataclass(frozen=True, slots=True)
class BulkImport:
    """A ``device.import`` audit event, for the timeline of a device it may have made."""

    seq: int
    at: str
    actor: str
    source: str
    """The file (or "demo estate") as the import named it."""
    created: int | None


def bulk_imports(events: Iterable[AuditEvent]) -> list[BulkImport]:
    out = []
    for e in events:
        after = e.after or {}
        created = after.get("created")
        out.append(BulkImport(e.seq, e.at[:19].replace("T", " "), e.actor,
                              str(after.get("file") or "-"),
                              created if isinstance(created, int) else None))
    return out


# ------------------------------------------------------------------- network
@dataclass(frozen=True, slots=True)
class Said:
    """A banner or field as shown: ``short`` always, ``full`` behind a disclosure when
    the value is longer than ``SHORT_TEXT`` (empty otherwise)."""

    short: str
    full: str
    length: int
    """Characters the device sent (as stored)."""


def said(value: object) -> Said:
    text = "" if value is None else str(value)
    if len(text) <= SHORT_TEXT:
        return Said(printable(text), "", len(text))
    return Said(printable(text[:SHORT_TEXT]), printable(text, MAX_DEVICE_TEXT), len(text))


def _texts(banner: object, fields: Mapping[str, Any]) -> list[tuple[str, Said]]:
    """(names, text) once per distinct text: the banner first, then the fields by
    name; a field that says what the banner or an earlier field said joins its names."""
    names: dict[str, list[str]] = {}
    if banner:
        names[str(banner)] = ["banner"]
    for key, value in sorted(fields.items()):
        if value is None or value == "":
            continue
        same = names.setdefault(str(value), [])
        name = printable(key, 64)
        if name not in same:
            same.append(name)
    return [(", ".join(n), said(text)) for text, n in names.items()]


@dataclass(frozen=True, slots=True)
class Certificate:
    subject: str
    issuer: str
    not_before: str
    not_after: str
    key: str
    signature: str
    sha256: str
    sans: str
    self_signed: bool


@dataclass(frozen=True, slots=True)
class ServiceRow:
    port: str
    service: str
    product: str
    texts: list[tuple[str, Said]]
    """The banner and the fields: (their names, the text), each text once."""
    tls: str
    certificate: Certificate | None


@dataclass(frozen=True, slots=True)
class HostView:
    host: DiscoveredHost
    hostname: str
    """Empty when the host has none."""
    fingerprint: str
    services: list[ServiceRow]

    @property
    def tls(self) -> bool:
        """Whether any service spoke TLS (the table's TLS column is left out if not)."""
        return any(s.tls or s.certificate for s in self.services)


def _certificate(c: Mapping[str, Any]) -> Certificate:
    key = " ".join(str(x) for x in (c.get("key_type"), c.get("key_bits")) if x)
    return Certificate(
        subject=printable(c.get("subject")), issuer=printable(c.get("issuer")),
        not_before=printable(c.get("not_before") or "-"),
        not_after=printable(c.get("not_after") or "-"),
        key=printable(key or "-") + (" bits" if c.get("key_bits") else ""),
        signature=printable(c.get("signature_algorithm") or "-"),
        sha256=printable(c.get("sha256") or "-"),
        sans=printable(", ".join(str(s) for s in c.get("sans") or ()) or "-"),
        self_signed=bool(c.get("self_signed")))


def _service(s: Mapping[str, Any]) -> ServiceRow:
    tls = s.get("tls") if isinstance(s.get("tls"), Mapping) else None
    cert = tls.get("certificate") if tls else None
    product = " ".join(str(x) for x in (s.get("product"), s.get("version")) if x)
    raw_fields = s.get("fields")
    fields: Mapping[str, Any] = raw_fields if isinstance(raw_fields, Mapping) else {}
    return ServiceRow(
        port=f"{printable(s.get('transport') or 'tcp', 8)}/{printable(s.get('port'), 8)}",
        service=printable(s.get("service") or "unknown", 64), product=printable(product),
        texts=_texts(s.get("banner"), fields),
        tls=printable(" ".join(str(x) for x in (tls.get("version"), tls.get("cipher")) if x))
        if tls else "",
        certificate=_certificate(cert) if isinstance(cert, Mapping) else None)


def _port_key(s: Mapping[str, Any]) -> tuple[int, str]:
    port = s.get("port")
    return (port if isinstance(port, int) else 0, str(s.get("transport") or ""))


def network(hosts: Iterable[DiscoveredHost]) -> list[HostView]:
    out = []
    for h in hosts:
        guess = " ".join(x for x in (h.vendor, h.model, h.firmware_version) if x)
        out.append(HostView(
            host=h, hostname=printable(h.hostname, 256),
            fingerprint=printable(guess or "-") + (f" ({h.confidence:.0%})" if guess else ""),
            services=[_service(s) for s in sorted(h.services, key=_port_key)]))
    return out


# ------------------------------------------------------------------- compliance
@dataclass(frozen=True, slots=True)
class ResultRow:
    result: StoredResult
    evidence: str


def _evidence(r: StoredResult) -> str:
    """Indented JSON: its own line breaks kept; JSON escapes any inside the values."""
    text = json.dumps(r.evidence, indent=1, sort_keys=True, default=str, ensure_ascii=False)
    return printable(text, 4000, keep="\n")


def split_results(results: Sequence[StoredResult]) -> tuple[list[ResultRow], list[ResultRow]]:
    """(TLS and certificate results, every other result), worst first."""
    order = {"FAIL": 0, "ERROR": 1, "MANUAL": 2, "WAIVED": 3, "PASS": 4, "NOT_APPLICABLE": 5}
    rows = sorted((ResultRow(r, _evidence(r)) for r in results),
                  key=lambda x: (order.get(x.result.status.value, 9), x.result.check_id))
    network_rows = [x for x in rows if x.result.check_id.startswith(NETWORK_CHECKS)]
    return network_rows, [x for x in rows if x not in network_rows]


@dataclass(frozen=True, slots=True)
class Verdict:
    requirement_id: str
    title: str
    mandatory: bool
    status: str
    reason: str
    decided_by: str | None
    check_id: str | None
    attestation_id: int | None
    waiver_id: int | None
    assessed: str
    """``YYYY-MM-DD HH:MM`` of the check result behind it, or ``-``."""


@dataclass(frozen=True, slots=True)
class FrameworkView:
    id: str
    counts: list[tuple[str, int]]
    decided: list[Verdict]
    """Every verdict but MANUAL, worst first."""
    manual: list[Verdict]

    @property
    def bad(self) -> bool:
        return any(v.status in ("FAIL", "ERROR") for v in self.decided)


STATUS_ORDER = ("FAIL", "ERROR", "MANUAL", "WAIVED", "PASS", "NOT_APPLICABLE")


def _verdict(v: Mapping[str, Any]) -> Verdict:
    at = v.get("assessed_at")
    return Verdict(v["requirement_id"], v["title"], bool(v["mandatory"]), v["status"],
                   v["reason"], v["decided_by"], v["check_id"], v["attestation_id"],
                   v["waiver_id"], at[:16].replace("T", " ") if at else "-")


def frameworks(verdicts: Iterable[Mapping[str, Any]]) -> list[FrameworkView]:
    """``device_compliance``'s verdicts per framework, with counts per status."""
    by: dict[str, list[Verdict]] = {}
    for raw in verdicts:
        v = _verdict(raw)
        by.setdefault(v.requirement_id.split("/", 1)[0], []).append(v)
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    out = []
    for fid, rows in by.items():
        counts = {s: sum(1 for v in rows if v.status == s) for s in STATUS_ORDER}
        out.append(FrameworkView(
            fid, [(s, n) for s, n in counts.items() if n],
            sorted((v for v in rows if v.status != "MANUAL"),
                   key=lambda v: rank.get(v.status, 9)),
            [v for v in rows if v.status == "MANUAL"]))
    return out


def requirement_options(verdicts: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(id, "title (status)") of every requirement, for the forms' requirement list."""
    return sorted((v["requirement_id"], f"{v['title'][:90]} ({v['status']})")
                  for v in verdicts)


def next_states(current: LifecycleState) -> list[str]:
    """The states the lifecycle allows from ``current``, in lifecycle order."""
    order = list(LifecycleState)
    return [s.value for s in sorted(TRANSITIONS[current], key=order.index)]
