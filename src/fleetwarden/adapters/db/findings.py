"""Findings storage: matches per firmware image or device, fanned out to devices in SQL.

A firmware image's matches are stored once and joined to the devices that run it
(``devices.model_id`` + ``firmware_version``), so a million devices on 500 images cost
500 images' worth of rows; a device's own components (a per-device SBOM, banners
discovery read) match on the device itself. The findings query computes each finding's
priority in SQL with the weights of ``domain/priority.py`` (so filtering by priority or
overdue needs no Python per row), then the caller explains the page it shows.

Every statement filters on the unit of work's tenant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)

from fleetwarden.adapters.db.tables import (
    as_utc,
    data_items,
    device_data_classes,
    device_models,
    devices,
    finding_decisions,
    firmware_images,
    iot_systems,
    segments,
    sites,
    software_components,
    vex_statements,
    vuln_match_state,
    vuln_matches,
    vulnerabilities,
)
from fleetwarden.domain import priority as prio
from fleetwarden.domain.findings import (
    Decision,
    FindingQuery,
    FindingStatus,
    InstalledComponent,
    NewMatch,
    StoredMatch,
    Subject,
    effective,
    match_key,
)
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.vulns import SbomComponent, VexJustification, VexStatement, VexStatus

CHUNK = 500
SUPPRESSING = (VexStatus.NOT_AFFECTED.value, VexStatus.FIXED.value)


class SqlFindingRepository:
    """A tenant's matches, triage decisions and the findings they add up to."""

    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self._conn = conn
        self._tid = tenant_id

    # ------------------------------------------------------------------ subjects
    def firmware_subjects(self, firmware_ids: Sequence[int] | None = None) -> list[Subject]:
        """Firmware images with their components (images with no component are left out)."""
        sc, fw, dm = software_components, firmware_images, device_models
        stmt = (select(fw.c.id, fw.c.version, dm.c.vendor, dm.c.model, dm.c.cpe, sc.c.name,
                       sc.c.version.label("cversion"), sc.c.purl, sc.c.cpe.label("ccpe"),
                       sc.c.supplier, sc.c.source)
                .join(sc, and_(sc.c.firmware_id == fw.c.id, sc.c.tenant_id == self._tid))
                .join(dm, dm.c.id == fw.c.model_id)
                .where(fw.c.tenant_id == self._tid).order_by(fw.c.id, sc.c.id))
        rows: list[Any] = []
        if firmware_ids is None:
            rows = list(self._conn.execute(stmt))
        else:
            ids = list(firmware_ids)
            for i in range(0, len(ids), CHUNK):
                rows += self._conn.execute(stmt.where(fw.c.id.in_(ids[i:i + CHUNK]))).all()
        grouped: dict[int, list[Any]] = {}
        for r in rows:
            grouped.setdefault(r.id, []).append(r)
        out = []
        for fid, items in grouped.items():
            first = items[0]
            out.append(Subject(
                fid, None, f"{first.vendor} {first.model} firmware {first.version}",
                tuple(_installed(r) for r in items),
                (first.cpe,) if first.cpe else ()))
        return out

    def device_subjects(self, device_ids: Sequence[int] | None = None) -> list[Subject]:
        """Devices with components of their own, with their image's CPEs as platform."""
        sc, d = software_components, devices
        stmt = (select(d.c.id, d.c.name, d.c.model_id, d.c.firmware_version, sc.c.name
                       .label("cname"), sc.c.version.label("cversion"), sc.c.purl,
                       sc.c.cpe.label("ccpe"), sc.c.supplier, sc.c.source)
                .join(sc, and_(sc.c.device_id == d.c.id, sc.c.tenant_id == self._tid))
                .where(d.c.tenant_id == self._tid,
                       d.c.lifecycle_state != LifecycleState.DISPOSED.value)
                .order_by(d.c.id, sc.c.id))
        rows: list[Any] = []
        if device_ids is None:
            rows = list(self._conn.execute(stmt))
        else:
            ids = list(device_ids)
            for i in range(0, len(ids), CHUNK):
                rows += self._conn.execute(stmt.where(d.c.id.in_(ids[i:i + CHUNK]))).all()
        grouped: dict[int, list[Any]] = {}
        for r in rows:
            grouped.setdefault(r.id, []).append(r)
        platforms = self._image_platforms({(r[0].model_id, r[0].firmware_version)
                                           for r in grouped.values() if r[0].model_id})
        out = []
        for did, items in grouped.items():
            first = items[0]
            comps = tuple(InstalledComponent(SbomComponent(
                r.cname, r.cversion, r.purl, r.ccpe, r.supplier), r.source) for r in items)
            out.append(Subject(None, did, f"device {did} ({first.name})", comps,
                               platforms.get((first.model_id, first.firmware_version), ())))
        return out

    def _image_platforms(self, keys: set[tuple[int, str | None]]
                         ) -> dict[tuple[int, str | None], tuple[str, ...]]:
        """CPEs of each (model, firmware)'s hardware and image components."""
        out: dict[tuple[int, str | None], list[str]] = {}
        model_ids = sorted({k[0] for k in keys})
        dm, fw, sc = device_models, firmware_images, software_components
        for i in range(0, len(model_ids), CHUNK):
            for r in self._conn.execute(select(dm.c.id, dm.c.cpe).where(
                    dm.c.tenant_id == self._tid, dm.c.id.in_(model_ids[i:i + CHUNK]))):
                for k in keys:
                    if k[0] == r.id and r.cpe:
                        out.setdefault(k, []).append(r.cpe)
            for r in self._conn.execute(
                    select(fw.c.model_id, fw.c.version, sc.c.cpe, sc.c.version.label("cv"))
                    .join(sc, and_(sc.c.firmware_id == fw.c.id, sc.c.tenant_id == self._tid))
                    .where(fw.c.tenant_id == self._tid, sc.c.cpe.is_not(None),
                           fw.c.model_id.in_(model_ids[i:i + CHUNK]))):
                if (r.model_id, r.version) in keys:
                    out.setdefault((r.model_id, r.version), []).append(r.cpe)
        return {k: tuple(v) for k, v in out.items()}

    def firmware_of_device(self, device_id: int) -> int | None:
        d, fw = devices, firmware_images
        found = self._conn.execute(select(fw.c.id).join(d, and_(
            d.c.model_id == fw.c.model_id, d.c.firmware_version == fw.c.version)).where(
            d.c.tenant_id == self._tid, fw.c.tenant_id == self._tid,
            d.c.id == device_id)).scalar()
        return int(found) if found is not None else None

    # ------------------------------------------------------------------- matches
    def stored(self, *, firmware_ids: Sequence[int] | None = None,
               device_ids: Sequence[int] | None = None,
               vulnerability_ids: Sequence[str] | None = None) -> list[StoredMatch]:
        """Stored matches (fixed ones too), narrowed by subject or vulnerability."""
        m = vuln_matches
        base = select(m.c.id, m.c.match_key, m.c.vulnerability_id, m.c.firmware_id,
                      m.c.device_id, m.c.fixed_at, m.c.kev, m.c.component_purl,
                      m.c.component_cpe).where(m.c.tenant_id == self._tid)
        stmts: list[Select[Any]] = []
        for column, values in ((m.c.firmware_id, firmware_ids), (m.c.device_id, device_ids),
                               (m.c.vulnerability_id, vulnerability_ids)):
            if values is not None:
                vals = list(values)
                stmts += [base.where(column.in_(vals[i:i + CHUNK]))
                          for i in range(0, len(vals), CHUNK)]
        if firmware_ids is None and device_ids is None and vulnerability_ids is None:
            stmts = [base]
        seen: dict[int, StoredMatch] = {}
        for stmt in stmts:
            for r in self._conn.execute(stmt):
                seen[r.id] = StoredMatch(r.id, r.match_key, r.vulnerability_id, r.firmware_id,
                                         r.device_id, r.fixed_at is not None, bool(r.kev),
                                         r.component_purl, r.component_cpe)
        return list(seen.values())

    def add_matches(self, subject: Subject, found: Sequence[NewMatch],
                    signals: dict[str, tuple[int, list[str], bool, float | None]],
                    now: datetime) -> None:
        rows = []
        for nm in found:
            c = nm.component.component
            points, reasons, kev, epss = signals[nm.vulnerability_id]
            rows.append({
                "tenant_id": self._tid, "firmware_id": subject.firmware_id,
                "device_id": subject.device_id, "vulnerability_id": nm.vulnerability_id,
                "match_key": match_key(subject.firmware_id, subject.device_id,
                                       nm.vulnerability_id, c),
                "component_name": c.name[:256], "component_version": c.version,
                "component_purl": c.purl, "component_cpe": c.cpe,
                "component_source": nm.component.source, "basis": nm.basis,
                "reasons": json.dumps(list(nm.reasons)), "signal_points": points,
                "signal_reasons": json.dumps(reasons), "kev": kev, "epss": epss,
                "exposed": nm.component.source == "discovery", "vex_status": None,
                "vex_source": None, "first_seen": now, "fixed_at": None})
        for i in range(0, len(rows), 2000):
            self._conn.execute(insert(vuln_matches), rows[i:i + 2000])

    def set_fixed(self, match_ids: Sequence[int], fixed_at: datetime | None) -> None:
        """Mark matches fixed (no longer matching) or, with None, matching again."""
        ids = list(match_ids)
        for i in range(0, len(ids), CHUNK):
            self._conn.execute(update(vuln_matches).where(
                vuln_matches.c.tenant_id == self._tid,
                vuln_matches.c.id.in_(ids[i:i + CHUNK])).values(fixed_at=fixed_at))

    def set_reasons(self, updates: Sequence[tuple[int, tuple[str, ...]]]) -> None:
        for match_id, reasons in updates:
            self._conn.execute(update(vuln_matches).where(
                vuln_matches.c.tenant_id == self._tid, vuln_matches.c.id == match_id)
                .values(reasons=json.dumps(list(reasons))))

    def set_signals(self, vuln_id: str, points: int, reasons: list[str], kev: bool,
                    epss: float | None) -> None:
        self._conn.execute(update(vuln_matches).where(
            vuln_matches.c.tenant_id == self._tid,
            vuln_matches.c.vulnerability_id == vuln_id).values(
            signal_points=points, signal_reasons=json.dumps(reasons), kev=kev, epss=epss))

    def set_vex(self, match_id: int, status: str | None, source: str | None) -> None:
        self._conn.execute(update(vuln_matches).where(
            vuln_matches.c.tenant_id == self._tid, vuln_matches.c.id == match_id)
            .values(vex_status=status, vex_source=source[:512] if source else None))

    def vex_statements(self, vulnerability_ids: Sequence[str]) -> list[VexStatement]:
        """The tenant's VEX statements about these vulnerabilities, oldest first."""
        vs = vex_statements
        ids = list(dict.fromkeys(vulnerability_ids))
        out = []
        for i in range(0, len(ids), CHUNK):
            for r in self._conn.execute(select(vs).where(
                    vs.c.tenant_id == self._tid, vs.c.vulnerability_id.in_(ids[i:i + CHUNK]))
                    .order_by(vs.c.statement_time, vs.c.id)):
                out.append(VexStatement(
                    r.vulnerability_id, (r.product,), VexStatus(r.status),
                    VexJustification(r.justification) if r.justification else None,
                    r.impact_statement, r.action_statement, as_utc(r.statement_time), r.author,
                    r.document))
        return out

    def affected_devices(self, firmware_ids: Sequence[int]) -> dict[int, list[int]]:
        """The live devices running each image (ids in order)."""
        d, fw = devices, firmware_images
        out: dict[int, list[int]] = {}
        ids = list(firmware_ids)
        for i in range(0, len(ids), CHUNK):
            for r in self._conn.execute(
                    select(fw.c.id, d.c.id.label("did")).join(d, and_(
                        d.c.tenant_id == self._tid, d.c.model_id == fw.c.model_id,
                        d.c.firmware_version == fw.c.version))
                    .where(fw.c.tenant_id == self._tid, fw.c.id.in_(ids[i:i + CHUNK]),
                           d.c.lifecycle_state != LifecycleState.DISPOSED.value)
                    .order_by(fw.c.id, d.c.id)):
                out.setdefault(r.id, []).append(r.did)
        return out

    # ------------------------------------------------------------ data classes
    def refresh_data_classes(self) -> int:
        """Recompute each device's highest data classification from its IoT systems."""
        from fleetwarden.domain.classification import Classification

        by_system: dict[int, Classification] = {}
        for r in self._conn.execute(select(data_items.c.system_id, data_items.c.classification)
                                    .where(data_items.c.tenant_id == self._tid,
                                           data_items.c.system_id.is_not(None))):
            cls = Classification(r.classification)
            old = by_system.get(r.system_id)
            if old is None or cls.rank > old.rank:
                by_system[r.system_id] = cls
        by_device: dict[int, Classification] = {}
        for r in self._conn.execute(select(iot_systems.c.id, iot_systems.c.device_ids).where(
                iot_systems.c.tenant_id == self._tid)):
            cls = by_system.get(r.id)
            if cls is None:
                continue
            for did in json.loads(r.device_ids or "[]"):
                old = by_device.get(did)
                if old is None or cls.rank > old.rank:
                    by_device[did] = cls
        self._conn.execute(delete(device_data_classes).where(
            device_data_classes.c.tenant_id == self._tid))
        known = set()
        ids = sorted(by_device)
        for i in range(0, len(ids), CHUNK):
            known |= set(self._conn.execute(select(devices.c.id).where(
                devices.c.tenant_id == self._tid, devices.c.id.in_(ids[i:i + CHUNK]))).scalars())
        rows = [{"tenant_id": self._tid, "device_id": did, "classification": cls.value}
                for did, cls in sorted(by_device.items()) if did in known]
        if rows:
            self._conn.execute(insert(device_data_classes), rows)
        return len(rows)

    # --------------------------------------------------------------------- state
    def state(self) -> tuple[datetime | None, datetime | None, int]:
        """(last run, newest feed data matched, runs so far)."""
        r = self._conn.execute(select(vuln_match_state).where(
            vuln_match_state.c.tenant_id == self._tid)).first()
        if r is None:
            return None, None, 0
        return as_utc(r.matched_at), as_utc(r.feed_watermark), int(r.runs)

    def save_state(self, matched_at: datetime, watermark: datetime | None) -> None:
        t = vuln_match_state
        runs = self.state()[2]
        if runs == 0 and self._conn.execute(select(t.c.tenant_id).where(
                t.c.tenant_id == self._tid)).first() is None:
            self._conn.execute(insert(t).values(tenant_id=self._tid, matched_at=matched_at,
                                                feed_watermark=watermark, runs=1))
        else:
            self._conn.execute(update(t).where(t.c.tenant_id == self._tid).values(
                matched_at=matched_at, feed_watermark=watermark, runs=runs + 1))

    # ------------------------------------------------------------------ decisions
    def decide(self, vuln_id: str, *, device_id: int | None, firmware_id: int | None,
               decision: Decision, actor: str, now: datetime) -> dict[str, Any] | None:
        """Record (or, for ``open``, withdraw) a decision; returns the one it replaced."""
        fd = finding_decisions
        where = [fd.c.tenant_id == self._tid, fd.c.vulnerability_id == vuln_id,
                 fd.c.device_id == device_id if device_id is not None
                 else fd.c.firmware_id == firmware_id]
        old = self._conn.execute(select(fd).where(*where)).first()
        before = _decision_view(old) if old is not None else None
        self._conn.execute(delete(fd).where(*where))
        if decision.status is not FindingStatus.OPEN:
            self._conn.execute(insert(fd).values(
                tenant_id=self._tid, vulnerability_id=vuln_id, device_id=device_id,
                firmware_id=firmware_id, status=decision.status.value,
                justification=decision.justification.value if decision.justification
                else None, note=decision.note, approver=decision.approver,
                expires_at=decision.expires_at, decided_by=actor, decided_at=now))
        return before

    def unverified_decisions(self) -> list[tuple[int, str, int | None, int | None]]:
        """(id, vulnerability, device, firmware) of decisions not yet seen fixed."""
        fd = finding_decisions
        return [(r.id, r.vulnerability_id, r.device_id, r.firmware_id)
                for r in self._conn.execute(select(
                    fd.c.id, fd.c.vulnerability_id, fd.c.device_id, fd.c.firmware_id).where(
                    fd.c.tenant_id == self._tid, fd.c.fixed_at.is_(None)))]

    def still_matches(self, vuln_id: str, *, device_id: int | None,
                      firmware_id: int | None) -> bool:
        """Does the vulnerability still match the device (own or image components) or
        the image?"""
        m = vuln_matches
        live = [m.c.tenant_id == self._tid, m.c.vulnerability_id == vuln_id,
                m.c.fixed_at.is_(None)]
        if firmware_id is not None:
            return self._conn.execute(select(m.c.id).where(
                *live, m.c.firmware_id == firmware_id).limit(1)).first() is not None
        assert device_id is not None
        if self._conn.execute(select(m.c.id).where(
                *live, m.c.device_id == device_id).limit(1)).first() is not None:
            return True
        image = self.firmware_of_device(device_id)
        return image is not None and self._conn.execute(select(m.c.id).where(
            *live, m.c.firmware_id == image).limit(1)).first() is not None

    def mark_decisions_fixed(self, ids: Sequence[int], now: datetime) -> None:
        fd = finding_decisions
        for i in range(0, len(ids), CHUNK):
            self._conn.execute(update(fd).where(fd.c.tenant_id == self._tid,
                                                fd.c.id.in_(list(ids[i:i + CHUNK])))
                               .values(fixed_at=now))

    # ------------------------------------------------------------------ findings
    def findings(self, q: FindingQuery, now: datetime,
                 response_days: tuple[int, int, int, int]) -> list[dict[str, Any]]:
        """A page of findings in the order (priority, KEV first, first seen, match, device).

        Matches are few (per image), devices many: per priority level the page streams
        the matches that can reach it, in order (an index scan that stops when the page
        is full), and asks SQL only for the devices of one match at that level (an index
        range of the image's devices, their context points computed in SQL). One device's
        findings are worked out in Python from its context.
        """
        if q.device_id is not None:
            out = self._device_findings(q, now, response_days)
        else:
            out = self._estate_findings(q, now, response_days)
        return list(_decode(self._with_details(out)))

    def _estate_findings(self, q: FindingQuery, now: datetime,
                         days: tuple[int, int, int, int]) -> list[dict[str, Any]]:
        wanted = set(q.statuses)
        skip, need = q.offset, q.limit
        out: list[dict[str, Any]] = []
        for level in sorted(q.priorities or (1, 2, 3, 4)):
            for kev in ((True,) if q.kev else (True, False)):
                span = prio.points_range(level, kev)
                if span is None:
                    continue
                if q.overdue:
                    cutoff: datetime | None = now - timedelta(days=days[level - 1])
                else:
                    cutoff = None
                for m in self._stream_matches(q, kev, span, cutoff,
                                              FindingStatus.FIXED in wanted):
                    rows = self._devices_at(m, span, q, now, skip + need)
                    if len(rows) <= skip:
                        skip -= len(rows)
                        continue
                    rows, skip = rows[skip:], 0
                    out += [_finding_row(m, r, level, now, days) for r in rows[:need]]
                    need -= min(need, len(rows))
                    if need == 0:
                        return out
        if need and FindingStatus.FIXED in wanted and not q.kev:
            stmt = self._fixed_by_decision(now, q).order_by(
                finding_decisions.c.fixed_at, finding_decisions.c.id).limit(
                need).offset(skip)
            out += [{**dict(r._mapping), "_done": True} for r in self._conn.execute(stmt)]
        return out

    def _device_findings(self, q: FindingQuery, now: datetime,
                         days: tuple[int, int, int, int]) -> list[dict[str, Any]]:
        """One device: its context once, every match's level and status in Python."""
        d, s, st, dm, c, dd = (devices, segments, sites, device_models, device_data_classes,
                               finding_decisions)
        assert q.device_id is not None
        dev = self._conn.execute(
            select(d.c.id.label("device_id"), d.c.name.label("device_name"),
                   d.c.criticality, d.c.lifecycle_state, s.c.zone, c.c.classification,
                   st.c.name.label("site"), (dm.c.vendor + " " + dm.c.model).label("model"),
                   d.c.model_id, d.c.firmware_version)
            .select_from(d.outerjoin(s, s.c.id == d.c.segment_id)
                         .outerjoin(st, st.c.id == d.c.site_id)
                         .outerjoin(dm, dm.c.id == d.c.model_id)
                         .outerjoin(c, and_(c.c.tenant_id == self._tid,
                                            c.c.device_id == d.c.id)))
            .where(d.c.tenant_id == self._tid, d.c.id == q.device_id)).first()
        if dev is None or dev.lifecycle_state == LifecycleState.DISPOSED.value:
            return []
        if (q.site is not None and dev.site != q.site) or (
                q.model_id is not None and dev.model_id != q.model_id):
            return []
        ctx = prio.context_points(prio.DeviceContext(False, dev.zone, dev.criticality,
                                                     dev.classification))[0]
        own = {r.vulnerability_id: r for r in self._conn.execute(select(dd).where(
            dd.c.tenant_id == self._tid, dd.c.device_id == q.device_id))}
        wanted = {x.value for x in q.statuses} or {
            x.value for x in FindingStatus if x is not FindingStatus.FIXED}
        found = []
        for m in self._candidate_matches(q, include_fixed=FindingStatus.FIXED.value in wanted):
            points = m["signal_points"] + ctx + (prio.EXPOSED_POINTS if m["exposed"] else 0)
            level = prio.level_for(points, bool(m["kev"]))
            if q.priorities and level not in q.priorities:
                continue
            decision = own.get(m["vulnerability_id"])
            status = _device_status(m, decision, now)
            if status not in wanted:
                continue
            row = _DeviceRow(dev, decision, points, status)
            item = _finding_row(m, row, level, now, days)
            if q.overdue and not item["overdue"]:
                continue
            found.append(item)
        found.sort(key=lambda f: (f["priority"], not f["kev"], f["first_seen"],
                                  f["match_id"]))
        return found[q.offset:q.offset + q.limit]

    def _stream_matches(self, q: FindingQuery, kev: bool, span: tuple[int, int],
                        cutoff: datetime | None, include_fixed: bool) -> Any:
        """Matches with ``kev`` that some device could have at points in ``span``, in page
        order; read lazily, so a full page stops the scan."""
        m = vuln_matches
        base = m.c.signal_points + case((m.c.exposed, prio.EXPOSED_POINTS), else_=0)
        stmt = self._match_select().where(
            m.c.kev == kev, base + prio.CONTEXT_MAX >= span[0],
            base + prio.CONTEXT_MIN <= span[1])
        if cutoff is not None:
            stmt = stmt.where(m.c.first_seen < cutoff)
        stmt = self._narrow_matches(stmt, q, include_fixed).order_by(m.c.first_seen, m.c.id)
        result = self._conn.execution_options(yield_per=200).execute(stmt)
        try:
            for r in result:
                yield dict(r._mapping)
        finally:
            result.close()

    def _candidate_matches(self, q: FindingQuery, *, include_fixed: bool
                           ) -> list[dict[str, Any]]:
        """Every match a query can list (used for one device's few hundred)."""
        stmt = self._narrow_matches(self._match_select(), q, include_fixed)
        return [dict(r._mapping) for r in self._conn.execute(stmt)]

    def _match_select(self) -> Select[Any]:
        m, fw, fd = vuln_matches, firmware_images, finding_decisions
        return (select(m.c.id.label("match_id"), m.c.firmware_id,
                       m.c.device_id.label("own_device_id"), m.c.vulnerability_id,
                       m.c.signal_points, m.c.kev, m.c.exposed, m.c.vex_status,
                       m.c.first_seen, m.c.fixed_at, fw.c.model_id.label("image_model_id"),
                       fw.c.version.label("image_version"),
                       fd.c.status.label("image_status"),
                       fd.c.justification.label("image_justification"),
                       fd.c.note.label("image_note"), fd.c.approver.label("image_approver"),
                       fd.c.expires_at.label("image_expires_at"),
                       fd.c.decided_by.label("image_decided_by"))
                .select_from(m.outerjoin(fw, fw.c.id == m.c.firmware_id)
                             .outerjoin(fd, and_(fd.c.tenant_id == self._tid,
                                                 fd.c.firmware_id == m.c.firmware_id,
                                                 fd.c.vulnerability_id
                                                 == m.c.vulnerability_id)))
                .where(m.c.tenant_id == self._tid))

    def _narrow_matches(self, stmt: Select[Any], q: FindingQuery,
                        include_fixed: bool) -> Select[Any]:
        m, fw = vuln_matches, firmware_images
        if not include_fixed:
            stmt = stmt.where(m.c.fixed_at.is_(None))
        if q.kev:
            stmt = stmt.where(m.c.kev == True)  # noqa: E712 - SQL expression
        if q.vulnerability_id is not None:
            stmt = stmt.where(m.c.vulnerability_id == q.vulnerability_id)
        if q.model_id is not None:
            stmt = stmt.where(or_(fw.c.model_id == q.model_id, m.c.device_id.is_not(None)))
        if q.device_id is not None:
            image = self.firmware_of_device(q.device_id)
            stmt = stmt.where(or_(m.c.device_id == q.device_id,
                                  m.c.firmware_id == image if image is not None
                                  else literal(False)))
        return stmt

    def _with_details(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add what the page shows of each match and its vulnerability (one query)."""
        m, v = vuln_matches, vulnerabilities
        ids = sorted({r["match_id"] for r in rows if not r.get("_done")})
        details: dict[int, dict[str, Any]] = {}
        for i in range(0, len(ids), CHUNK):
            for r in self._conn.execute(
                    select(m.c.id, m.c.component_name, m.c.component_version,
                           m.c.component_purl, m.c.component_cpe, m.c.component_source,
                           m.c.basis, m.c.reasons, m.c.signal_reasons, m.c.epss,
                           m.c.vex_source, v.c.aliases, v.c.summary, v.c.cvss_version,
                           v.c.cvss_score, v.c.cvss_vector)
                    .select_from(m.outerjoin(v, v.c.id == m.c.vulnerability_id))
                    .where(m.c.tenant_id == self._tid, m.c.id.in_(ids[i:i + CHUNK]))):
                details[r.id] = {k: x for k, x in r._mapping.items() if k != "id"}
        return [r if r.get("_done") else {**r, **details[r["match_id"]]} for r in rows]

    def _devices_at(self, m: dict[str, Any], span: tuple[int, int],
                    q: FindingQuery, now: datetime, limit: int) -> list[Any]:
        """The devices a match reaches at ``level`` (in device order), with what the
        finding row needs of them."""
        d, s, st, dm, c = devices, segments, sites, device_models, device_data_classes
        dd = finding_decisions
        points = (literal(m["signal_points"] + (prio.EXPOSED_POINTS if m["exposed"] else 0))
                  + case(prio.CRITICALITY_POINTS, value=d.c.criticality, else_=0)
                  + case(prio.ZONE_POINTS, value=s.c.zone, else_=0)
                  + case(prio.CLASSIFICATION_POINTS, value=c.c.classification, else_=0))
        valid = and_(dd.c.status.is_not(None),
                     or_(dd.c.status != FindingStatus.RISK_ACCEPTED.value,
                         dd.c.expires_at.is_(None), dd.c.expires_at > now))
        status = (literal(FindingStatus.FIXED.value) if m["fixed_at"] is not None
                  else case((valid, dd.c.status), else_=_fallback_status(m, now)))
        stmt = (select(d.c.id.label("device_id"), d.c.name.label("device_name"),
                       d.c.criticality, s.c.zone, c.c.classification,
                       points.label("points"), status.label("status"),
                       st.c.name.label("site"), (dm.c.vendor + " " + dm.c.model)
                       .label("model"), d.c.model_id, d.c.firmware_version,
                       dd.c.status.label("own_status"), dd.c.justification, dd.c.note,
                       dd.c.approver, dd.c.expires_at, dd.c.decided_by)
                .select_from(d.outerjoin(s, s.c.id == d.c.segment_id)
                             .outerjoin(st, st.c.id == d.c.site_id)
                             .outerjoin(dm, dm.c.id == d.c.model_id)
                             .outerjoin(c, and_(c.c.tenant_id == self._tid,
                                                c.c.device_id == d.c.id))
                             .outerjoin(dd, and_(dd.c.tenant_id == self._tid,
                                                 dd.c.device_id == d.c.id,
                                                 dd.c.vulnerability_id
                                                 == m["vulnerability_id"])))
                .where(d.c.tenant_id == self._tid,
                       d.c.lifecycle_state != LifecycleState.DISPOSED.value,
                       points >= span[0], points <= span[1]))
        if m["own_device_id"] is not None:
            stmt = stmt.where(d.c.id == m["own_device_id"])
        else:
            stmt = stmt.where(d.c.model_id == m["image_model_id"],
                              d.c.firmware_version == m["image_version"])
        if q.device_id is not None:
            stmt = stmt.where(d.c.id == q.device_id)
        if q.site is not None:
            stmt = stmt.where(st.c.name == q.site)
        if q.model_id is not None:
            stmt = stmt.where(d.c.model_id == q.model_id)
        wanted = [x.value for x in q.statuses] or [
            x.value for x in FindingStatus if x is not FindingStatus.FIXED]
        if q.overdue:
            wanted = [x for x in wanted if x in (FindingStatus.OPEN.value,
                                                 FindingStatus.AFFECTED.value)]
        stmt = stmt.where(status.in_(wanted))
        return list(self._conn.execute(stmt.order_by(d.c.id).limit(limit)))

    def report(self, by: str, q: FindingQuery, now: datetime,
               response_days: tuple[int, int, int, int]) -> list[dict[str, Any]]:
        """Counts per vulnerability, model or site (fixed findings left out)."""
        u = self._union(now, response_days, q).subquery("f")
        key = {"cve": [u.c.vulnerability_id], "model": [u.c.model],
               "site": [u.c.site]}[by]
        active = u.c.status.in_([s.value for s in (FindingStatus.OPEN,
                                                    FindingStatus.AFFECTED)])
        stmt = (select(*key, func.count().label("findings"),
                       func.count(func.distinct(u.c.device_id)).label("devices"),
                       func.sum(case((active, 1), else_=0)).label("active"),
                       func.sum(case((and_(active, u.c.overdue == 1), 1), else_=0))
                       .label("overdue"),
                       func.sum(case((u.c.kev, 1), else_=0)).label("kev"),
                       func.min(case((active, u.c.priority), else_=None))
                       .label("top_priority"),
                       *[func.sum(case((and_(active, u.c.priority == lvl), 1), else_=0))
                         .label(f"p{lvl}") for lvl in (1, 2, 3, 4)])
                .where(u.c.status != FindingStatus.FIXED.value).group_by(*key))
        stmt = _filter(stmt, u, q)
        stmt = stmt.order_by(func.min(u.c.priority), func.count().desc(), *key)
        return [dict(r._mapping) for r in self._conn.execute(stmt)]

    def _union(self, now: datetime, response_days: tuple[int, int, int, int],
               q: FindingQuery) -> Any:
        image = self._fanout(now, response_days, q, via_image=True)
        own = self._fanout(now, response_days, q, via_image=False)
        return union_all(image, own, self._fixed_by_decision(now, q))

    def _fanout(self, now: datetime, days: tuple[int, int, int, int], q: FindingQuery, *,
                via_image: bool) -> Select[Any]:
        m, d, fw = vuln_matches, devices, firmware_images
        s, c, dm, st = segments, device_data_classes, device_models, sites
        v, dd = vulnerabilities, finding_decisions.alias("dd")
        fdec = finding_decisions.alias("fd")
        points = (m.c.signal_points
                  + case(prio.CRITICALITY_POINTS, value=d.c.criticality, else_=0)
                  + case(prio.ZONE_POINTS, value=s.c.zone, else_=0)
                  + case(prio.CLASSIFICATION_POINTS, value=c.c.classification, else_=0)
                  + case((m.c.exposed, prio.EXPOSED_POINTS), else_=0))
        raw = case(*[(points >= lowest, lvl) for lowest, lvl in prio.THRESHOLDS], else_=4)
        level = case((and_(m.c.kev, raw > prio.KEV_FLOOR), prio.KEV_FLOOR), else_=raw)
        if via_image:
            decided = func.coalesce(dd.c.status, fdec.c.status)
            expires = case((dd.c.status.is_not(None), dd.c.expires_at),
                           else_=fdec.c.expires_at)
        else:
            decided, expires = dd.c.status, dd.c.expires_at
        status = case(
            (m.c.fixed_at.is_not(None), FindingStatus.FIXED.value),
            (and_(decided.is_not(None), or_(decided != FindingStatus.RISK_ACCEPTED.value,
                                            expires.is_(None), expires > now)), decided),
            (m.c.vex_status.in_(SUPPRESSING), FindingStatus.SUPPRESSED.value),
            (m.c.vex_status == VexStatus.AFFECTED.value, FindingStatus.AFFECTED.value),
            else_=FindingStatus.OPEN.value)
        overdue = _overdue(status, level, m.c.first_seen, now, days)
        pick = (lambda a, b: case((dd.c.status.is_not(None), a), else_=b)) if via_image \
            else (lambda a, b: a)
        cols = [
            m.c.id.label("match_id"), d.c.id.label("device_id"),
            d.c.name.label("device_name"), m.c.vulnerability_id, v.c.aliases, v.c.summary,
            m.c.component_name, m.c.component_version, m.c.component_purl,
            m.c.component_cpe, m.c.component_source, m.c.basis, m.c.reasons,
            m.c.signal_reasons, v.c.cvss_version, v.c.cvss_score, v.c.cvss_vector,
            m.c.epss, m.c.kev, m.c.exposed, s.c.zone, d.c.criticality,
            c.c.classification, points.label("points"), level.label("priority"),
            m.c.first_seen, status.label("status"), overdue.label("overdue"),
            st.c.name.label("site"), (dm.c.vendor + " " + dm.c.model).label("model"),
            d.c.model_id, d.c.firmware_version,
            pick(dd.c.justification, fdec.c.justification).label("justification"),
            pick(dd.c.note, fdec.c.note).label("note"),
            pick(dd.c.approver, fdec.c.approver).label("approver"),
            expires.label("expires_at"),
            pick(dd.c.decided_by, fdec.c.decided_by).label("decided_by"),
            m.c.vex_source, m.c.fixed_at]
        if via_image:
            frm = (m.join(fw, fw.c.id == m.c.firmware_id)
                   .join(d, and_(d.c.tenant_id == self._tid, d.c.model_id == fw.c.model_id,
                                 d.c.firmware_version == fw.c.version)))
        else:
            frm = m.join(d, and_(d.c.id == m.c.device_id, d.c.tenant_id == self._tid))
        frm = (frm.outerjoin(s, s.c.id == d.c.segment_id)
               .outerjoin(st, st.c.id == d.c.site_id)
               .outerjoin(dm, dm.c.id == d.c.model_id)
               .outerjoin(c, and_(c.c.tenant_id == self._tid, c.c.device_id == d.c.id))
               .outerjoin(v, v.c.id == m.c.vulnerability_id)
               .outerjoin(dd, and_(dd.c.tenant_id == self._tid, dd.c.device_id == d.c.id,
                                   dd.c.vulnerability_id == m.c.vulnerability_id)))
        if via_image:
            frm = frm.outerjoin(fdec, and_(fdec.c.tenant_id == self._tid,
                                           fdec.c.firmware_id == m.c.firmware_id,
                                           fdec.c.vulnerability_id == m.c.vulnerability_id))
        where = [m.c.tenant_id == self._tid,
                 d.c.lifecycle_state != LifecycleState.DISPOSED.value,
                 m.c.firmware_id.is_not(None) if via_image else m.c.device_id.is_not(None)]
        where += _narrow(q, m, d, st)
        return select(*cols).select_from(frm).where(*where)

    def _fixed_by_decision(self, now: datetime, q: FindingQuery) -> Select[Any]:
        """Triaged findings that stopped matching (the device moved to a new firmware)."""
        fd, d, v, st, dm = finding_decisions, devices, vulnerabilities, sites, device_models
        none = null()
        cols = [
            (-fd.c.id).label("match_id"), d.c.id.label("device_id"),
            d.c.name.label("device_name"), fd.c.vulnerability_id, v.c.aliases, v.c.summary,
            *[none.label(n) for n in ("component_name", "component_version",
                                      "component_purl", "component_cpe", "component_source",
                                      "basis")],
            literal("[]").label("reasons"), literal("[]").label("signal_reasons"),
            v.c.cvss_version, v.c.cvss_score, v.c.cvss_vector,
            none.label("epss"), literal(False).label("kev"), literal(False).label("exposed"),
            none.label("zone"), d.c.criticality, none.label("classification"),
            literal(0).label("points"), literal(4).label("priority"),
            fd.c.decided_at.label("first_seen"), literal(FindingStatus.FIXED.value)
            .label("status"), literal(0).label("overdue"), st.c.name.label("site"),
            (dm.c.vendor + " " + dm.c.model).label("model"), d.c.model_id,
            d.c.firmware_version, fd.c.justification, fd.c.note, fd.c.approver,
            fd.c.expires_at, fd.c.decided_by, none.label("vex_source"), fd.c.fixed_at]
        frm = (fd.join(d, and_(d.c.id == fd.c.device_id, d.c.tenant_id == self._tid))
               .outerjoin(st, st.c.id == d.c.site_id).outerjoin(dm, dm.c.id == d.c.model_id)
               .outerjoin(v, v.c.id == fd.c.vulnerability_id))
        where = [fd.c.tenant_id == self._tid, fd.c.fixed_at.is_not(None)]
        where += _narrow(replace(q, kev=False), fd, d, st)
        if q.kev or (q.statuses and FindingStatus.FIXED not in q.statuses) or not q.statuses:
            where.append(literal(False))
        return select(*cols).select_from(frm).where(*where)


@dataclass(frozen=True, slots=True)
class _DeviceRow:
    """One device's part of a finding row, as ``_devices_at`` returns it."""

    dev: Any
    decision: Any
    points: int
    status: str

    def __getattr__(self, name: str) -> Any:
        if name in ("justification", "note", "approver", "expires_at", "decided_by"):
            return getattr(self.decision, name) if self.decision is not None else None
        if name == "own_status":
            return self.decision.status if self.decision is not None else None
        return getattr(self.dev, name)


def _device_status(m: dict[str, Any], decision: Any, now: datetime) -> str:
    """A finding's status on a device, given the device's own decision (if any)."""
    if m["fixed_at"] is not None:
        return FindingStatus.FIXED.value
    if decision is not None:
        own = effective(decision.status, as_utc(decision.expires_at), False, now)
        if own is not FindingStatus.OPEN:
            return own.value
    return _fallback_status(m, now)


def _fallback_status(m: dict[str, Any], now: datetime) -> str:
    """A finding's status when its device has no decision of its own: the image's
    decision, else what VEX says, else open."""
    status = effective(m["image_status"], as_utc(m["image_expires_at"]),
                       m["vex_status"] in SUPPRESSING, now)
    if status is FindingStatus.OPEN and m["vex_status"] == VexStatus.AFFECTED.value:
        return FindingStatus.AFFECTED.value
    return status.value


def _finding_row(m: dict[str, Any], r: Any, level: int, now: datetime,
                 days: tuple[int, int, int, int]) -> dict[str, Any]:
    own = r.own_status is not None
    first_seen = as_utc(m["first_seen"])
    assert first_seen is not None
    active = r.status in (FindingStatus.OPEN.value, FindingStatus.AFFECTED.value)
    return {
        "match_id": m["match_id"], "device_id": r.device_id, "device_name": r.device_name,
        "vulnerability_id": m["vulnerability_id"], "kev": m["kev"], "exposed": m["exposed"],
        "zone": r.zone, "criticality": r.criticality,
        "classification": r.classification, "points": r.points, "priority": level,
        "first_seen": first_seen, "status": r.status,
        "overdue": 1 if active and first_seen < now - timedelta(days=days[level - 1]) else 0,
        "site": r.site, "model": r.model, "model_id": r.model_id,
        "firmware_version": r.firmware_version,
        "justification": r.justification if own else m["image_justification"],
        "note": r.note if own else m["image_note"],
        "approver": r.approver if own else m["image_approver"],
        "expires_at": r.expires_at if own else m["image_expires_at"],
        "decided_by": r.decided_by if own else m["image_decided_by"],
        "fixed_at": m["fixed_at"]}


def _installed(r: Any) -> InstalledComponent:
    return InstalledComponent(SbomComponent(r.name, r.cversion, r.purl, r.ccpe, r.supplier),
                              r.source)


def _overdue(status: Any, level: Any, first_seen: Any, now: datetime,
             days: tuple[int, int, int, int]) -> ColumnElement[Any]:
    """1 when an active finding is past its due date (first seen + response time)."""
    active = status.in_([FindingStatus.OPEN.value, FindingStatus.AFFECTED.value])
    late = or_(*[and_(level == lvl, first_seen < now - timedelta(days=days[lvl - 1]))
                 for lvl in (1, 2, 3, 4)])
    return case((and_(active, late), 1), else_=0)


def _narrow(q: FindingQuery, m: Any, d: Any, st: Any) -> list[ColumnElement[bool]]:
    """Filters that can be applied before the fan-out (cheap, indexed)."""
    out: list[ColumnElement[bool]] = []
    if q.device_id is not None:
        out.append(d.c.id == q.device_id)
    if q.vulnerability_id is not None:
        out.append(m.c.vulnerability_id == q.vulnerability_id)
    if q.kev:
        out.append(m.c.kev == True)  # noqa: E712 - SQL expression
    if q.model_id is not None:
        out.append(d.c.model_id == q.model_id)
    if q.site is not None:
        out.append(st.c.name == q.site)
    return out


def _filter(stmt: Select[Any], u: Any, q: FindingQuery) -> Select[Any]:
    if q.priorities:
        stmt = stmt.where(u.c.priority.in_(list(q.priorities)))
    if q.overdue:
        stmt = stmt.where(u.c.overdue == 1)
    return stmt


def _decision_view(r: Any) -> dict[str, Any]:
    return {"status": r.status, "justification": r.justification, "note": r.note,
            "approver": r.approver,
            "expires_at": as_utc(r.expires_at).isoformat() if r.expires_at else None,
            "decided_by": r.decided_by}


def _decode(rows: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """JSON columns as lists and timestamps in UTC."""
    for r in rows:
        yield {**r, "reasons": json.loads(r["reasons"] or "[]"),
               "signal_reasons": json.loads(r["signal_reasons"] or "[]"),
               "first_seen": as_utc(r["first_seen"]), "expires_at": as_utc(r["expires_at"]),
               "fixed_at": as_utc(r["fixed_at"]), "kev": bool(r["kev"]),
               "exposed": bool(r["exposed"]), "overdue": bool(r["overdue"])}
