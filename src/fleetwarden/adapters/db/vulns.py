"""Vulnerability storage: public feed data (shared) and each tenant's SBOMs and VEX.

Feed tables (vulnerabilities, their match keys, KEV, EPSS, feed imports) have no tenant:
a CVE is the same for everyone and 300,000 of them must not be copied per tenant. Only
the import record names the tenant and actor that brought the data in. SBOMs, firmware
images, components and VEX statements are tenant data and every statement filters on
the unit of work's tenant.

Re-importing a record replaces it in place (upsert by id), so a newer feed simply wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from fleetwarden.adapters.db.tables import (
    as_utc,
    epss_scores,
    feed_imports,
    firmware_images,
    kev_entries,
    sboms,
    software_components,
    vex_statements,
    vulnerabilities,
    vulnerability_keys,
)
from fleetwarden.domain.vulns import (
    ConfigNode,
    Configuration,
    Cpe,
    CpeMatch,
    Cvss,
    EpssScore,
    FeedSource,
    KevEntry,
    OsvAffected,
    OsvEvent,
    OsvRange,
    SbomComponent,
    VexStatement,
    Vulnerability,
    best_cvss,
)

CHUNK = 500


# -------------------------------------------------------------- JSON round trip
def vulnerability_data(v: Vulnerability) -> str:
    """What matching needs of ``v``, as the ``data`` column stores it."""
    return json.dumps({"cvss": [asdict(c) for c in v.cvss],
                       "configurations": [asdict(c) for c in v.configurations],
                       "affected": [asdict(a) for a in v.affected],
                       "references": list(v.references)}, separators=(",", ":"))


def _configuration(raw: dict[str, Any]) -> Configuration:
    return Configuration(
        nodes=tuple(ConfigNode(
            operator=n["operator"], negate=n["negate"],
            matches=tuple(CpeMatch(criteria=Cpe(**m["criteria"]), vulnerable=m["vulnerable"],
                                   version_start_including=m["version_start_including"],
                                   version_start_excluding=m["version_start_excluding"],
                                   version_end_including=m["version_end_including"],
                                   version_end_excluding=m["version_end_excluding"])
                          for m in n["matches"])) for n in raw["nodes"]),
        operator=raw["operator"], negate=raw["negate"])


def _affected(raw: dict[str, Any]) -> OsvAffected:
    return OsvAffected(
        ecosystem=raw["ecosystem"], name=raw["name"], purl=raw["purl"],
        ranges=tuple(OsvRange(r["type"], tuple(OsvEvent(e["kind"], e["value"])
                                               for e in r["events"])) for r in raw["ranges"]),
        versions=tuple(raw["versions"]))


def row_to_vulnerability(r: Any) -> Vulnerability:
    data = json.loads(r.data)
    return Vulnerability(
        id=r.id, source=FeedSource(r.source),
        aliases=tuple(r.aliases.split(";")) if r.aliases else (), summary=r.summary,
        published=as_utc(r.published), modified=as_utc(r.modified), withdrawn=as_utc(r.withdrawn),
        cvss=tuple(Cvss(**c) for c in data["cvss"]),
        configurations=tuple(_configuration(c) for c in data["configurations"]),
        affected=tuple(_affected(a) for a in data["affected"]),
        references=tuple(data["references"]))


def match_keys(v: Vulnerability) -> set[tuple[str, str]]:
    """(kind, key) pairs a component must share with ``v`` to be worth matching."""
    keys = {("cpe", f"{m.criteria.vendor}:{m.criteria.product}")
            for c in v.configurations for n in c.nodes for m in n.matches if m.vulnerable}
    keys |= {("pkg", f"{a.ecosystem.split(':')[0].lower()}:{a.name.lower()}")
             for a in v.affected}
    return keys


# ------------------------------------------------------------------- feed store
class SqlFeedStore:
    """Public feed data; shared by every tenant (see the module docstring)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def upsert_vulnerabilities(self, batch: Sequence[Vulnerability], now: datetime) -> int:
        """Insert or replace ``batch``; how many were already stored (updated)."""
        ids = [v.id for v in batch]
        existing: set[str] = set()
        for i in range(0, len(ids), CHUNK):
            existing |= set(self._conn.execute(select(vulnerabilities.c.id).where(
                vulnerabilities.c.id.in_(ids[i:i + CHUNK]))).scalars())
            self._conn.execute(delete(vulnerability_keys).where(
                vulnerability_keys.c.vulnerability_id.in_(ids[i:i + CHUNK])))
            self._conn.execute(delete(vulnerabilities).where(
                vulnerabilities.c.id.in_(ids[i:i + CHUNK])))
        rows, keys = [], []
        for v in batch:
            best = best_cvss(v)
            rows.append({
                "id": v.id, "source": v.source.value, "aliases": ";".join(v.aliases),
                "summary": v.summary, "published": v.published, "modified": v.modified,
                "withdrawn": v.withdrawn, "cvss_version": best.version if best else None,
                "cvss_score": best.score if best else None,
                "cvss_vector": best.vector if best else None,
                "data": vulnerability_data(v), "imported_at": now})
            keys += [{"kind": k, "key": key[:256], "vulnerability_id": v.id}
                     for k, key in sorted(match_keys(v))]
        if rows:
            self._conn.execute(insert(vulnerabilities), rows)
        if keys:
            self._conn.execute(insert(vulnerability_keys), keys)
        return len(existing)

    def vulnerability(self, vuln_id: str) -> Vulnerability | None:
        r = self._conn.execute(select(vulnerabilities).where(
            vulnerabilities.c.id == vuln_id)).first()
        return row_to_vulnerability(r) if r is not None else None

    def vulnerabilities(self, ids: Sequence[str]) -> list[Vulnerability]:
        out = []
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), CHUNK):
            out += [row_to_vulnerability(r) for r in self._conn.execute(
                select(vulnerabilities).where(vulnerabilities.c.id.in_(ids[i:i + CHUNK])))]
        return out

    def ids_for_keys(self, keys: Iterable[tuple[str, str]]) -> set[str]:
        """Vulnerabilities sharing a match key (kind, key) with the given ones."""
        by_kind: dict[str, list[str]] = {}
        for kind, key in keys:
            by_kind.setdefault(kind, []).append(key[:256])
        out: set[str] = set()
        for kind, values in by_kind.items():
            values = sorted(set(values))
            for i in range(0, len(values), CHUNK):
                out |= set(self._conn.execute(select(vulnerability_keys.c.vulnerability_id)
                                              .where(vulnerability_keys.c.kind == kind,
                                                     vulnerability_keys.c.key.in_(
                                                         values[i:i + CHUNK]))).scalars())
        return out

    def ids_imported_after(self, since: datetime | None) -> list[str]:
        stmt = select(vulnerabilities.c.id)
        if since is not None:
            stmt = stmt.where(vulnerabilities.c.imported_at > since)
        return list(self._conn.execute(stmt).scalars())

    def newest_import(self) -> datetime | None:
        return as_utc(self._conn.execute(select(func.max(vulnerabilities.c.imported_at)))
                    .scalar())

    def kev_many(self, cve_ids: Iterable[str]) -> dict[str, KevEntry]:
        ids = sorted(set(cve_ids))
        out = {}
        for i in range(0, len(ids), CHUNK):
            for r in self._conn.execute(select(kev_entries).where(
                    kev_entries.c.cve_id.in_(ids[i:i + CHUNK]))):
                out[r.cve_id] = KevEntry(r.cve_id, r.vendor, r.product, r.date_added,
                                         r.due_date, r.known_ransomware, r.required_action)
        return out

    def epss_many(self, cve_ids: Iterable[str]) -> dict[str, EpssScore]:
        ids = sorted(set(cve_ids))
        out = {}
        for i in range(0, len(ids), CHUNK):
            for r in self._conn.execute(select(epss_scores).where(
                    epss_scores.c.cve_id.in_(ids[i:i + CHUNK]))):
                out[r.cve_id] = EpssScore(r.cve_id, r.epss, r.percentile, r.scored_on)
        return out

    def upsert_kev(self, entries: Sequence[KevEntry], now: datetime) -> None:
        ids = [e.cve_id for e in entries]
        for i in range(0, len(ids), CHUNK):
            self._conn.execute(delete(kev_entries).where(kev_entries.c.cve_id.in_(
                ids[i:i + CHUNK])))
        if entries:
            self._conn.execute(insert(kev_entries), [
                {"cve_id": e.cve_id, "vendor": e.vendor, "product": e.product,
                 "date_added": e.date_added, "due_date": e.due_date,
                 "known_ransomware": e.known_ransomware, "required_action": e.required_action,
                 "imported_at": now} for e in entries])

    def upsert_epss(self, scores: Sequence[EpssScore], now: datetime) -> None:
        ids = [s.cve_id for s in scores]
        for i in range(0, len(ids), CHUNK):
            self._conn.execute(delete(epss_scores).where(epss_scores.c.cve_id.in_(
                ids[i:i + CHUNK])))
        if scores:
            self._conn.execute(insert(epss_scores), [
                {"cve_id": s.cve_id, "epss": s.epss, "percentile": s.percentile,
                 "scored_on": s.scored_on, "imported_at": now} for s in scores])

    def record_import(self, *, source: FeedSource, file_name: str, sha256: str, records: int,
                      skipped: int, data_date: datetime | None, now: datetime,
                      tenant_id: int | None, actor: str) -> int:
        new_id = self._conn.execute(insert(feed_imports).values(
            source=source.value, file_name=file_name[:256], sha256=sha256, records=records,
            skipped=skipped, data_date=data_date, imported_at=now, tenant_id=tenant_id,
            actor=actor)).inserted_primary_key
        assert new_id is not None
        return int(new_id[0])

    def status(self, tenant_id: int | None) -> list[dict[str, Any]]:
        """Per source: the last import, its data date and how many records are stored.

        The file name is shown only to the tenant that imported it."""
        counts = {
            FeedSource.NVD: select(func.count()).select_from(vulnerabilities).where(
                vulnerabilities.c.source == "nvd"),
            FeedSource.OSV: select(func.count()).select_from(vulnerabilities).where(
                vulnerabilities.c.source == "osv"),
            FeedSource.KEV: select(func.count()).select_from(kev_entries),
            FeedSource.EPSS: select(func.count()).select_from(epss_scores),
        }
        out = []
        for source in FeedSource:
            last = self._conn.execute(select(feed_imports).where(
                feed_imports.c.source == source.value)
                .order_by(feed_imports.c.imported_at.desc(), feed_imports.c.id.desc())
                .limit(1)).first()
            stored = (self._conn.execute(counts[source]).scalar_one()
                      if source in counts else None)
            out.append({"source": source.value, "stored": stored,
                        "last_import": as_utc(last.imported_at) if last else None,
                        "data_date": as_utc(last.data_date) if last else None,
                        "file": last.file_name if last and last.tenant_id == tenant_id
                        else None,
                        "records": last.records if last else None})
        return out


# --------------------------------------------------------------- tenant's side
class SqlSoftwareRepository:
    """A tenant's firmware images, SBOMs, installed components and VEX statements."""

    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self._conn = conn
        self._tid = tenant_id

    def firmware(self, model_id: int, version: str, now: datetime) -> int:
        """The id of the model's firmware ``version``, created on first mention."""
        found = self.firmware_id(model_id, version)
        if found is not None:
            return found
        new_id = self._conn.execute(insert(firmware_images).values(
            tenant_id=self._tid, model_id=model_id, version=version,
            created_at=now)).inserted_primary_key
        assert new_id is not None
        return int(new_id[0])

    def add_sbom(self, *, device_id: int | None, firmware_id: int | None, fmt: str,
                 name: str | None, version: str | None, serial: str | None, file_name: str,
                 sha256: str, components: int, now: datetime, actor: str) -> int:
        new_id = self._conn.execute(insert(sboms).values(
            tenant_id=self._tid, device_id=device_id, firmware_id=firmware_id, format=fmt,
            name=name, version=version, serial=serial, file_name=file_name[:256],
            sha256=sha256, components=components, imported_at=now,
            actor=actor)).inserted_primary_key
        assert new_id is not None
        return int(new_id[0])

    def components_of(self, *, device_id: int | None = None,
                      firmware_id: int | None = None,
                      source: str | None = None) -> list[SbomComponent]:
        stmt = select(software_components).where(software_components.c.tenant_id == self._tid)
        if device_id is not None:
            stmt = stmt.where(software_components.c.device_id == device_id)
        if firmware_id is not None:
            stmt = stmt.where(software_components.c.firmware_id == firmware_id)
        if source is not None:
            stmt = stmt.where(software_components.c.source == source)
        rows = self._conn.execute(stmt.order_by(software_components.c.id)).all()
        return [SbomComponent(r.name, r.version, r.purl, r.cpe, r.supplier) for r in rows]

    def replace_components(self, components: Iterable[SbomComponent], *, source: str,
                           sbom_id: int | None, device_id: int | None = None,
                           firmware_id: int | None = None) -> None:
        """The subject's components from ``source`` become exactly ``components``."""
        assert (device_id is None) != (firmware_id is None)
        where = [software_components.c.tenant_id == self._tid,
                 software_components.c.source == source]
        where.append(software_components.c.device_id == device_id if device_id is not None
                     else software_components.c.firmware_id == firmware_id)
        self._conn.execute(delete(software_components).where(*where))
        rows = [{"tenant_id": self._tid, "name": c.name[:256],
                 "version": c.version[:128] if c.version else None,
                 "purl": c.purl[:512] if c.purl else None, "cpe": c.cpe[:512] if c.cpe else None,
                 "supplier": c.supplier[:256] if c.supplier else None, "device_id": device_id,
                 "firmware_id": firmware_id, "sbom_id": sbom_id, "source": source}
                for c in components]
        for i in range(0, len(rows), 2000):
            self._conn.execute(insert(software_components), rows[i:i + 2000])

    def add_vex(self, statements: Sequence[VexStatement], now: datetime) -> None:
        rows = [{"tenant_id": self._tid, "vulnerability_id": s.vulnerability_id,
                 "product": product[:512], "status": s.status.value,
                 "justification": s.justification.value if s.justification else None,
                 "impact_statement": s.impact_statement, "action_statement": s.action_statement,
                 "statement_time": s.timestamp, "author": s.author, "document": s.document,
                 "imported_at": now}
                for s in statements for product in s.products]
        for i in range(0, len(rows), 2000):
            self._conn.execute(insert(vex_statements), rows[i:i + 2000])

    def count_vex(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(vex_statements).where(
            vex_statements.c.tenant_id == self._tid)).scalar_one())

    def firmware_id(self, model_id: int, version: str) -> int | None:
        found = self._conn.execute(select(firmware_images.c.id).where(
            firmware_images.c.tenant_id == self._tid, firmware_images.c.model_id == model_id,
            firmware_images.c.version == version)).scalar()
        return int(found) if found is not None else None
