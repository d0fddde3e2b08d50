"""Storage of compliance: assessment runs, latest check results per subject, attestations
with their evidence files, waivers and the daily summary snapshots. Tenant-scoped.

Must not: decide a status (domain/compliance does) or keep more than the latest result of
a check on a subject (the assessment row and its audit event keep each run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from fleetwarden.adapters.db.tables import (
    as_utc,
    attestations,
    compliance_assessments,
    compliance_results,
    device_models,
    devices,
    evidence_files,
    firmware_images,
    iot_systems,
    report_snapshots,
    segments,
    sites,
    software_components,
    waivers,
)
from fleetwarden.domain.compliance.exceptions import (
    Attestation,
    EvidenceFile,
    Method,
    SubjectType,
    Waiver,
)
from fleetwarden.domain.compliance.records import (
    DeviceContext,
    NewResult,
    StoredResult,
)
from fleetwarden.domain.compliance.results import Severity, Status

_CHUNK = 500


class SqlComplianceRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self._conn = conn
        self._tenant = tenant_id

    # ------------------------------------------------------------------ assessments
    def add_assessment(self, *, actor: str, targets: Sequence[str], options: Mapping[str, Any],
                       tool: str, started_at: datetime) -> int:
        return int(self._conn.execute(insert(compliance_assessments).values(
            tenant_id=self._tenant, actor=actor, status="running",
            targets=json.dumps(list(targets)), options=json.dumps(dict(options)), tool=tool,
            started_at=started_at, summary="{}")).inserted_primary_key[0])

    def finish_assessment(self, assessment_id: int, *, status: str, finished_at: datetime,
                          summary: Mapping[str, Any], scan_id: int | None = None,
                          error: str | None = None) -> None:
        self._conn.execute(update(compliance_assessments).where(
            compliance_assessments.c.tenant_id == self._tenant,
            compliance_assessments.c.id == assessment_id).values(
            status=status, finished_at=finished_at, summary=json.dumps(dict(summary)),
            scan_id=scan_id, error=error))

    def assessments(self, limit: int = 50) -> list[dict[str, Any]]:
        a = compliance_assessments.c
        rows = self._conn.execute(select(compliance_assessments).where(
            a.tenant_id == self._tenant).order_by(a.id.desc()).limit(limit)).all()
        return [{"id": r.id, "actor": r.actor, "status": r.status,
                 "targets": json.loads(r.targets), "options": json.loads(r.options),
                 "scan_id": r.scan_id, "tool": r.tool, "started_at": as_utc(r.started_at),
                 "finished_at": as_utc(r.finished_at), "summary": json.loads(r.summary),
                 "error": r.error} for r in rows]

    # ------------------------------------------------------------------- results
    def replace_results(self, *, device_ids: Sequence[int], host_ids: Sequence[int],
                        results: Sequence[NewResult], assessment_id: int, tool: str,
                        at: datetime) -> None:
        """The subjects' earlier results make way for these (one transaction)."""
        r = compliance_results.c
        for chunk in _chunks(device_ids):
            self._conn.execute(delete(compliance_results).where(
                r.tenant_id == self._tenant, r.device_id.in_(chunk)))
        for chunk in _chunks(host_ids):
            self._conn.execute(delete(compliance_results).where(
                r.tenant_id == self._tenant, r.device_id.is_(None), r.host_id.in_(chunk)))
        rows = [{"tenant_id": self._tenant, "device_id": x.device_id, "host_id": x.host_id,
                 "ip": x.ip, "check_id": x.check_id, "status": x.status.value,
                 "severity": x.severity.value, "reason": x.reason,
                 "evidence": json.dumps(x.evidence, default=str, separators=(",", ":")),
                 "assessment_id": assessment_id, "assessed_at": at, "tool": tool}
                for x in results]
        for start in range(0, len(rows), 2000):
            self._conn.execute(insert(compliance_results), rows[start:start + 2000])

    def results(self, *, device_id: int | None = None, host_id: int | None = None
                ) -> list[StoredResult]:
        r = compliance_results.c
        stmt = select(compliance_results).where(r.tenant_id == self._tenant)
        if device_id is not None:
            stmt = stmt.where(r.device_id == device_id)
        if host_id is not None:
            stmt = stmt.where(r.host_id == host_id, r.device_id.is_(None))
        return [_result(x) for x in self._conn.execute(stmt.order_by(r.check_id)).all()]

    def unregistered_results(self) -> list[StoredResult]:
        r = compliance_results.c
        stmt = select(compliance_results).where(r.tenant_id == self._tenant,
                                                r.device_id.is_(None)).order_by(r.host_id)
        return [_result(x) for x in self._conn.execute(stmt).all()]

    def stream_results(self, device_ids: Sequence[int] | None = None
                       ) -> Iterator[tuple[int, str, str, str, str, str, datetime, str]]:
        """(device_id, check_id, status, severity, reason, evidence json, assessed_at, tool)
        of registered devices, ordered by device; ``device_ids`` limits them."""
        r = compliance_results.c
        cols = (r.device_id, r.check_id, r.status, r.severity, r.reason, r.evidence,
                r.assessed_at, r.tool)
        if device_ids is not None:
            for chunk in _chunks(sorted(device_ids)):
                with self._conn.execute(select(*cols).where(
                        r.tenant_id == self._tenant, r.device_id.in_(chunk))
                        .order_by(r.device_id)) as rows:
                    yield from rows
            return
        stmt = (select(*cols).where(r.tenant_id == self._tenant, r.device_id.is_not(None))
                .order_by(r.device_id).execution_options(yield_per=20000))
        # closed even when the caller stops early (a PostgreSQL server cursor must be)
        with self._conn.execute(stmt) as rows:
            yield from rows

    # -------------------------------------------------------------- register facts
    def device_context(self, device_ids: Sequence[int]) -> dict[int, DeviceContext]:
        d, m, seg, st = devices.c, device_models.c, segments.c, sites.c
        out: dict[int, DeviceContext] = {}
        for chunk in _chunks(device_ids):
            rows = self._conn.execute(
                select(d.id, d.model_id, st.name, seg.name, seg.zone, m.approved_services,
                       m.end_of_support, d.firmware_updated_at, d.firmware_version)
                .select_from(devices.outerjoin(device_models, d.model_id == m.id)
                             .outerjoin(segments, d.segment_id == seg.id)
                             .outerjoin(sites, d.site_id == st.id))
                .where(d.tenant_id == self._tenant, d.id.in_(chunk))).all()
            covered = self._with_inventory([(r[0], r[1], r[8]) for r in rows])
            for r in rows:
                eos = r[6]
                out[r[0]] = DeviceContext(
                    device_id=r[0], model_id=r[1], site=r[2], segment=r[3], zone=r[4],
                    approved_services=tuple(json.loads(r[5])) if r[5] is not None else None,
                    end_of_support=date.fromisoformat(eos) if isinstance(eos, str) else eos,
                    firmware_updated_at=as_utc(r[7]), has_sbom=r[0] in covered)
        return out

    def _with_inventory(self, rows: Sequence[tuple[int, int | None, str | None]]) -> set[int]:
        """Devices whose firmware image, or the device itself, lists software components."""
        sc, fw = software_components.c, firmware_images.c
        ids = [r[0] for r in rows]
        own = {x for (x,) in self._conn.execute(select(sc.device_id).distinct().where(
            sc.tenant_id == self._tenant, sc.device_id.in_(ids)))}
        images = {(m, v) for _, m, v in rows if m is not None and v}
        if not images:
            return own
        with_components = {(m, v) for m, v in self._conn.execute(
            select(fw.model_id, fw.version).where(
                fw.tenant_id == self._tenant,
                or_(*(and_(fw.model_id == m, fw.version == v) for m, v in images)),
                select(sc.id).where(sc.firmware_id == fw.id).exists()))}
        return own | {i for i, m, v in rows if (m, v) in with_components}

    def systems_of(self) -> list[dict[str, Any]]:
        s = iot_systems.c
        return [{"id": r.id, "name": r.name, "device_ids": json.loads(r.device_ids or "[]"),
                 "confidentiality": r.impact_confidentiality,
                 "integrity": r.impact_integrity, "availability": r.impact_availability}
                for r in self._conn.execute(select(iot_systems).where(
                    s.tenant_id == self._tenant)).all()]

    def set_model_profile(self, model_id: int, services: Sequence[str] | None) -> None:
        self._conn.execute(update(device_models).where(
            device_models.c.tenant_id == self._tenant, device_models.c.id == model_id).values(
            approved_services=None if services is None else json.dumps(list(services))))

    # --------------------------------------------------------------- attestations
    def add_attestation(self, a: Attestation) -> int:
        return int(self._conn.execute(insert(attestations).values(
            tenant_id=self._tenant, requirement_id=a.requirement_id,
            subject_type=a.subject_type.value, subject_id=a.subject_id, status=a.status.value,
            statement=a.statement, method=a.method.value, attested_by=a.attested_by,
            attested_at=a.attested_at, expires_at=a.expires_at)).inserted_primary_key[0])

    def add_evidence_file(self, attestation_id: int, name: str, content: bytes, sha256: str,
                          media_type: str | None, by: str, at: datetime) -> int:
        return int(self._conn.execute(insert(evidence_files).values(
            tenant_id=self._tenant, attestation_id=attestation_id, name=name, sha256=sha256,
            size=len(content), media_type=media_type, content=content, added_by=by,
            added_at=at)).inserted_primary_key[0])

    def evidence_content(self, file_id: int) -> tuple[EvidenceFile, bytes] | None:
        e = evidence_files.c
        row = self._conn.execute(select(evidence_files).where(
            e.tenant_id == self._tenant, e.id == file_id)).first()
        return (_file(row), bytes(row.content)) if row else None

    def attestation(self, attestation_id: int) -> Attestation | None:
        found = self.attestations(ids=[attestation_id])
        return found[0] if found else None

    def attestations(self, *, ids: Sequence[int] | None = None,
                     requirement_id: str | None = None,
                     subject: tuple[SubjectType, int] | None = None,
                     active_at: datetime | None = None) -> list[Attestation]:
        a = attestations.c
        stmt = select(attestations).where(a.tenant_id == self._tenant)
        if ids is not None:
            stmt = stmt.where(a.id.in_(list(ids)))
        if requirement_id is not None:
            stmt = stmt.where(a.requirement_id == requirement_id)
        if subject is not None:
            stmt = stmt.where(a.subject_type == subject[0].value, a.subject_id == subject[1])
        if active_at is not None:
            stmt = stmt.where(a.revoked_at.is_(None), a.expires_at > active_at)
        rows = self._conn.execute(stmt.order_by(a.id)).all()
        files: dict[int, list[EvidenceFile]] = {}
        e = evidence_files.c
        for chunk in _chunks([r.id for r in rows]):
            for f in self._conn.execute(select(
                    e.id, e.attestation_id, e.name, e.sha256, e.size, e.media_type, e.added_by,
                    e.added_at).where(e.tenant_id == self._tenant,
                                      e.attestation_id.in_(chunk)).order_by(e.id)).all():
                files.setdefault(f.attestation_id, []).append(_file(f))
        return [Attestation(
            id=r.id, requirement_id=r.requirement_id, subject_type=SubjectType(r.subject_type),
            subject_id=r.subject_id, status=Status(r.status), statement=r.statement,
            method=Method(r.method), attested_by=r.attested_by,
            attested_at=_utc(r.attested_at), expires_at=_utc(r.expires_at),
            revoked_at=as_utc(r.revoked_at), revoked_by=r.revoked_by,
            files=tuple(files.get(r.id, ()))) for r in rows]

    def revoke_attestation(self, attestation_id: int, by: str, at: datetime) -> None:
        self._conn.execute(update(attestations).where(
            attestations.c.tenant_id == self._tenant, attestations.c.id == attestation_id)
            .values(revoked_at=at, revoked_by=by))

    # -------------------------------------------------------------------- waivers
    def add_waiver(self, w: Waiver) -> int:
        return int(self._conn.execute(insert(waivers).values(
            tenant_id=self._tenant, target=w.target, subject_type=w.subject_type.value,
            subject_id=w.subject_id, justification=w.justification, approver=w.approver,
            requested_by=w.requested_by, created_at=w.created_at,
            expires_at=w.expires_at)).inserted_primary_key[0])

    def waiver(self, waiver_id: int) -> Waiver | None:
        found = self.waivers(ids=[waiver_id])
        return found[0] if found else None

    def waivers(self, *, ids: Sequence[int] | None = None, active_at: datetime | None = None,
                target: str | None = None) -> list[Waiver]:
        w = waivers.c
        stmt = select(waivers).where(w.tenant_id == self._tenant)
        if ids is not None:
            stmt = stmt.where(w.id.in_(list(ids)))
        if target is not None:
            stmt = stmt.where(w.target == target)
        if active_at is not None:
            stmt = stmt.where(w.revoked_at.is_(None), w.expires_at > active_at)
        return [Waiver(id=r.id, target=r.target, subject_type=SubjectType(r.subject_type),
                       subject_id=r.subject_id, justification=r.justification,
                       approver=r.approver, requested_by=r.requested_by,
                       created_at=_utc(r.created_at), expires_at=_utc(r.expires_at),
                       revoked_at=as_utc(r.revoked_at), revoked_by=r.revoked_by)
                for r in self._conn.execute(stmt.order_by(w.id)).all()]

    def revoke_waiver(self, waiver_id: int, by: str, at: datetime) -> None:
        self._conn.execute(update(waivers).where(
            waivers.c.tenant_id == self._tenant, waivers.c.id == waiver_id)
            .values(revoked_at=at, revoked_by=by))

    # ------------------------------------------------------------------ snapshots
    def put_snapshot(self, day: date, measures: Mapping[str, float], at: datetime) -> bool:
        """Store the day's measures; False (and nothing written) when they are unchanged."""
        s = report_snapshots.c
        body = json.dumps(dict(sorted(measures.items())), separators=(",", ":"))
        old = self._conn.execute(select(s.measures).where(
            s.tenant_id == self._tenant, s.day == day)).scalar()
        if old == body:
            return False
        if old is None:
            self._conn.execute(insert(report_snapshots).values(
                tenant_id=self._tenant, day=day, measures=body, taken_at=at))
        else:
            self._conn.execute(update(report_snapshots).where(
                s.tenant_id == self._tenant, s.day == day).values(measures=body, taken_at=at))
        return True

    def snapshots(self, since: date) -> list[tuple[date, dict[str, float]]]:
        s = report_snapshots.c
        rows = self._conn.execute(select(s.day, s.measures).where(
            s.tenant_id == self._tenant, s.day >= since).order_by(s.day)).all()
        return [(r[0] if isinstance(r[0], date) else date.fromisoformat(r[0]),
                 json.loads(r[1])) for r in rows]

    def result_counts(self) -> dict[str, int]:
        r = compliance_results.c
        return {s: n for s, n in self._conn.execute(select(r.status, func.count()).where(
            r.tenant_id == self._tenant).group_by(r.status))}


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    batch: list[int] = []
    for i in ids:
        batch.append(i)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _utc(ts: datetime) -> datetime:
    out = as_utc(ts)
    assert out is not None
    return out


def _result(x: Any) -> StoredResult:
    return StoredResult(device_id=x.device_id, host_id=x.host_id, ip=x.ip,
                        check_id=x.check_id, status=Status(x.status),
                        severity=Severity(x.severity), reason=x.reason,
                        evidence=json.loads(x.evidence), assessment_id=x.assessment_id,
                        assessed_at=_utc(x.assessed_at), tool=x.tool)


def _file(row: Any) -> EvidenceFile:
    return EvidenceFile(id=row.id, name=row.name, sha256=row.sha256, size=row.size,
                        media_type=row.media_type, added_by=row.added_by,
                        added_at=_utc(row.added_at))
