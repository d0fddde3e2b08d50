"""Matching: the tenant's software inventory against the feeds, kept up to date (R5).

Runs inside the caller's transaction, so a feed or SBOM import and the findings it
causes commit together. Subjects are firmware images (matched once, shared by every
device running them) and devices with components of their own. Each distinct component
is assessed once when no candidate's verdict depends on the platform (a plain OR of
version ranges, an OSV range); otherwise once per image, with the image's other CPEs and
the model's hardware CPE as the platform AND configurations need.

Only vulnerabilities sharing a match key with some component are loaded (the keys
table), so a run reads the few thousand candidates, not 300,000 records. ``scope``
limits a run to vulnerabilities that changed (a feed import, a catch-up after another
tenant imported feeds); without it the run is full and also fixes stale matches.

Must not: decide matches itself (``domain/vulnmatch`` does) or hide a suppressed one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleetwarden.domain import priority as prio
from fleetwarden.domain.cpe import parse_cpe
from fleetwarden.domain.findings import (
    InstalledComponent,
    NewMatch,
    StoredMatch,
    Subject,
    match_key,
    vex_applies,
)
from fleetwarden.domain.inventory import SEVERITY, Alert, AlertKind
from fleetwarden.domain.vulnmatch import CpeIndex, Match, VulnIndex, component_cpe
from fleetwarden.domain.vulnmatch.osv import package_from_purl
from fleetwarden.domain.vulns import Cpe, SbomComponent, VexStatus, Vulnerability, best_cvss
from fleetwarden.errors import InputError
from fleetwarden.ports import UnitOfWork

MAX_ALERT_DEVICES = 100
"""Device ids listed in one alert (the count is always exact)."""

SMALL_SCOPE = 20_000
"""Up to this many changed records, stored matches are read by record, not by subject."""

Progress = Callable[[int, int], None]
"""(subjects done, subjects in all)."""


@dataclass(slots=True)
class MatchRun:
    subjects: int = 0
    components: int = 0
    assessed: int = 0
    """Component assessments made (distinct components, plus per-image platform cases)."""
    candidates: int = 0
    new: int = 0
    fixed: int = 0
    reopened: int = 0
    alerts: int = 0
    verified_fixed: int = 0
    undecided: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {"subjects": self.subjects, "components": self.components,
                "assessed": self.assessed, "candidates": self.candidates, "new": self.new,
                "fixed": self.fixed, "reopened": self.reopened, "alerts": self.alerts,
                "verified_fixed": self.verified_fixed, "undecided": len(self.undecided)}


def component_keys(c: SbomComponent) -> set[tuple[str, str]]:
    """The (kind, key) pairs under which vulnerabilities for ``c`` are stored."""
    keys: set[tuple[str, str]] = set()
    try:
        cpe = component_cpe(c)
    except InputError:
        cpe = None
    if cpe is not None:
        keys.add(("cpe", f"{cpe.vendor}:{cpe.product}"))
    if c.purl:
        try:
            pkg = package_from_purl(c.purl)
        except InputError:
            pkg = None
        if pkg is not None and pkg.ecosystem:
            keys.add(("pkg", f"{pkg.ecosystem}:{pkg.shown.lower()}"))
            keys.add(("pkg", f"{pkg.ecosystem}:{pkg.name}"))
    return keys


def _platform(subject: Subject) -> CpeIndex:
    cpes: list[Cpe] = []
    for text in subject.platform:
        try:
            cpes.append(parse_cpe(text))
        except InputError:
            continue
    for ic in subject.components:
        try:
            cpe = component_cpe(ic.component)
        except InputError:
            continue
        if cpe is not None:
            cpes.append(cpe)
    return CpeIndex(cpes)


class Matcher:
    """One matching run in an open unit of work (see the module docstring)."""

    def __init__(self, uow: UnitOfWork, now: datetime, *, alerts: bool,
                 progress: Progress | None = None) -> None:
        self.uow = uow
        self.now = now
        self.alerts = alerts
        self.progress = progress
        self.run = MatchRun()
        self._cache: dict[SbomComponent, tuple[Match, ...]] = {}

    # ------------------------------------------------------------------- runs
    def match(self, subjects: Sequence[Subject], scope: Collection[str] | None) -> MatchRun:
        """Match ``subjects``; with ``scope``, only against those vulnerability ids."""
        keys: set[tuple[str, str]] = set()
        for s in subjects:
            for ic in s.components:
                keys |= component_keys(ic.component)
        ids = self.uow.feeds.ids_for_keys(keys)
        if scope is not None:
            ids &= set(scope)
        vulns = self.uow.feeds.vulnerabilities(sorted(ids))
        self.run.candidates = len(vulns)
        index = VulnIndex(vulns)
        by_id = {v.id: v for v in vulns}
        signals = self._signals(vulns)
        stored = self._stored(subjects, scope)
        new_by_vuln: dict[str, list[tuple[Subject, NewMatch]]] = {}
        for n, subject in enumerate(subjects):
            found = self._assess(index, subject)
            self._apply(subject, found, stored.get(_subject_key(subject), []), scope,
                        signals, new_by_vuln)
            if self.progress is not None:
                self.progress(n + 1, len(subjects))
        self.run.subjects += len(subjects)
        if scope is not None:
            # changed records: scores, KEV and EPSS may have moved for every match
            for vid in sorted(ids):
                points, reasons, kev, epss = signals[vid]
                self.uow.findings.set_signals(vid, points, reasons, kev, epss)
        self.apply_vex(sorted({vid for vid in new_by_vuln}))
        if self.alerts:
            self._alert_new(new_by_vuln, by_id)
        return self.run

    def refresh_signals(self, cve_ids: Iterable[str], kev_before: set[str]) -> None:
        """KEV or EPSS changed for ``cve_ids``: re-score their matches, alert new KEV."""
        ids = sorted(set(cve_ids))
        stored = self.uow.findings.stored(vulnerability_ids=ids) if ids else []
        vuln_ids = sorted({m.vulnerability_id for m in stored})
        vulns = self.uow.feeds.vulnerabilities(vuln_ids)
        signals = self._signals(vulns)
        for vid in vuln_ids:
            if vid in signals:
                points, reasons, kev, epss = signals[vid]
                self.uow.findings.set_signals(vid, points, reasons, kev, epss)
        if not self.alerts:
            return
        newly_kev: dict[str, list[StoredMatch]] = {}
        for m in stored:
            if not m.fixed and signals.get(m.vulnerability_id, (0, [], False, None))[2] \
                    and m.vulnerability_id not in kev_before:
                newly_kev.setdefault(m.vulnerability_id, []).append(m)
        for vid, matches in sorted(newly_kev.items()):
            devices = self._devices_of(matches)
            self._raise(AlertKind.VULN_KEV, vid,
                        f"{vid} is now in CISA KEV (exploited in the wild): "
                        f"{_count(len(devices), 'device')} affected", devices,
                        {"components": sorted({_shown(m) for m in matches})})

    def apply_vex(self, vuln_ids: Sequence[str]) -> None:
        """Mark matches of ``vuln_ids`` the tenant's VEX statements speak about."""
        if not vuln_ids:
            return
        statements = self.uow.findings.vex_statements(vuln_ids)
        if not statements:
            return
        by_vuln: dict[str, list[Any]] = {}
        for st in statements:
            by_vuln.setdefault(st.vulnerability_id, []).append(st)
        for m in self.uow.findings.stored(vulnerability_ids=sorted(by_vuln)):
            comp = SbomComponent("", None, m.component_purl, m.component_cpe)
            verdict = None
            for st in by_vuln[m.vulnerability_id]:  # oldest first: the latest word wins
                if st.status is VexStatus.UNDER_INVESTIGATION:
                    continue
                if any(vex_applies(p, comp) for p in st.products):
                    source = ", ".join(x for x in (st.author, st.document) if x) or "VEX"
                    just = f" ({st.justification.value})" if st.justification else ""
                    verdict = (st.status.value, f"{source}: {st.status.value}{just}")
            self.uow.findings.set_vex(m.id, *(verdict or (None, None)))

    def verify_fixes(self) -> int:
        """Decisions whose vulnerability no longer matches: the fix is verified."""
        fixed = [d[0] for d in self.uow.findings.unverified_decisions()
                 if not self.uow.findings.still_matches(d[1], device_id=d[2],
                                                         firmware_id=d[3])]
        if fixed:
            self.uow.findings.mark_decisions_fixed(fixed, self.now)
        self.run.verified_fixed += len(fixed)
        return len(fixed)

    # -------------------------------------------------------------- internals
    def _stored(self, subjects: Sequence[Subject], scope: Collection[str] | None
                ) -> dict[tuple[int | None, int | None], list[StoredMatch]]:
        fw = [s.firmware_id for s in subjects if s.firmware_id is not None]
        dev = [s.device_id for s in subjects if s.device_id is not None]
        found: list[StoredMatch] = []
        if scope is not None and len(scope) <= SMALL_SCOPE:
            # a few changed records: their matches, not every match of every subject
            subject_keys = {(s.firmware_id, s.device_id) for s in subjects}
            found = [m for m in self.uow.findings.stored(vulnerability_ids=sorted(scope))
                     if (m.firmware_id, m.device_id) in subject_keys]
        else:
            if fw:
                found += self.uow.findings.stored(firmware_ids=fw)
            if dev:
                found += self.uow.findings.stored(device_ids=dev)
        out: dict[tuple[int | None, int | None], list[StoredMatch]] = {}
        for m in found:
            if scope is None or m.vulnerability_id in scope:
                out.setdefault((m.firmware_id, m.device_id), []).append(m)
        return out

    def _assess(self, index: VulnIndex, subject: Subject) -> list[NewMatch]:
        platform: CpeIndex | None = None
        out: list[NewMatch] = []
        for ic in subject.components:
            self.run.components += 1
            c = ic.component
            matches = self._cache.get(c)
            if matches is None:
                if index.platform_free(c):
                    matches = self._assess_one(index, c, ())
                    self._cache[c] = matches
                else:
                    if platform is None:
                        platform = _platform(subject)
                    matches = self._assess_one(index, c, platform)
            out += [NewMatch(m.vulnerability_id, ic, m.basis.value, m.reasons)
                    for m in matches]
        return out

    def _assess_one(self, index: VulnIndex, c: SbomComponent,
                    platform: CpeIndex | tuple[()]) -> tuple[Match, ...]:
        self.run.assessed += 1
        found = []
        for a in index.assess(c, platform):
            if a.match is not None:
                found.append(a.match)
            elif a.undecided and len(self.run.undecided) < 1000:
                self.run.undecided.append(
                    f"{a.vulnerability_id} on {c.name} {c.version or ''}: {a.undecided[0]}")
        return tuple(found)

    def _apply(self, subject: Subject, found: list[NewMatch], stored: list[StoredMatch],
               scope: Collection[str] | None,
               signals: dict[str, tuple[int, list[str], bool, float | None]],
               new_by_vuln: dict[str, list[tuple[Subject, NewMatch]]]) -> None:
        by_key = {m.key: m for m in stored}
        wanted: dict[str, NewMatch] = {}
        for nm in found:
            key = match_key(subject.firmware_id, subject.device_id, nm.vulnerability_id,
                            nm.component.component)
            wanted.setdefault(key, nm)
        fresh = [nm for key, nm in wanted.items() if key not in by_key]
        gone = [m.id for key, m in by_key.items() if key not in wanted and not m.fixed]
        back = [m.id for key, m in by_key.items() if key in wanted and m.fixed]
        if scope is not None:
            self.uow.findings.set_reasons([(by_key[k].id, nm.reasons)
                                          for k, nm in wanted.items() if k in by_key])
        self.uow.findings.add_matches(subject, fresh, signals, self.now)
        self.uow.findings.set_fixed(gone, self.now)
        self.uow.findings.set_fixed(back, None)
        self.run.new += len(fresh)
        self.run.fixed += len(gone)
        self.run.reopened += len(back)
        for nm in fresh:
            new_by_vuln.setdefault(nm.vulnerability_id, []).append((subject, nm))

    def _signals(self, vulns: Sequence[Vulnerability]
                 ) -> dict[str, tuple[int, list[str], bool, float | None]]:
        """Per vulnerability: points, reasons, in KEV, EPSS (by its id or a CVE alias)."""
        cves = {v.id: [x for x in (v.id, *v.aliases) if x.startswith("CVE-")] for v in vulns}
        every = {c for ids in cves.values() for c in ids}
        kev = self.uow.feeds.kev_many(every)
        epss = self.uow.feeds.epss_many(every)
        out = {}
        for v in vulns:
            entry = next((kev[c] for c in cves[v.id] if c in kev), None)
            score = next((epss[c].epss for c in cves[v.id] if c in epss), None)
            best = best_cvss(v)
            sig = prio.VulnSignals(best.score if best else None, best.version if best else None,
                                   score, entry is not None,
                                   bool(entry and entry.known_ransomware))
            points, reasons = prio.signal_points(sig)
            out[v.id] = (points, reasons, entry is not None, score)
        return out

    def _devices_of(self, matches: Sequence[StoredMatch]) -> list[int]:
        fw = sorted({m.firmware_id for m in matches if m.firmware_id is not None})
        devices = {m.device_id for m in matches if m.device_id is not None}
        for ids in self.uow.findings.affected_devices(fw).values():
            devices.update(ids)
        return sorted(devices)

    def _alert_new(self, new_by_vuln: dict[str, list[tuple[Subject, NewMatch]]],
                   by_id: dict[str, Vulnerability]) -> None:
        images = sorted({s.firmware_id for items in new_by_vuln.values() for s, _ in items
                         if s.firmware_id is not None})
        on_image = self.uow.findings.affected_devices(images) if images else {}
        for vid, items in sorted(new_by_vuln.items()):
            devices: set[int] = set()
            for subject, _ in items:
                if subject.device_id is not None:
                    devices.add(subject.device_id)
                elif subject.firmware_id is not None:
                    devices.update(on_image.get(subject.firmware_id, ()))
            if not devices:
                continue
            vuln = by_id.get(vid)
            best = best_cvss(vuln) if vuln else None
            score = f" (CVSS {best.score:.1f})" if best else ""
            self._raise(AlertKind.VULN_NEW, vid,
                        f"{vid}{score} affects {_count(len(devices), 'device')}",
                        sorted(devices),
                        {"components": sorted({_shown_new(nm) for _, nm in items}),
                         "subjects": sorted({s.label for s, _ in items})[:20]})

    def _raise(self, kind: AlertKind, vid: str, title: str, devices: list[int],
               extra: dict[str, Any]) -> None:
        tid = self.uow.tenant.id
        assert tid is not None
        self.uow.discovery.add_alert(Alert(
            None, tid, kind, SEVERITY[kind], title[:512],
            {"vulnerability_id": vid, "device_count": len(devices),
             "devices": devices[:MAX_ALERT_DEVICES], **extra},
            self.now, device_id=devices[0] if len(devices) == 1 else None))
        self.run.alerts += 1


def rematch_subject(uow: UnitOfWork, now: datetime, *, firmware_id: int | None = None,
                    device_id: int | None = None) -> MatchRun:
    """Re-match one image or device after its components changed (caller's transaction)."""
    if firmware_id is not None:
        subjects = uow.findings.firmware_subjects([firmware_id])
    else:
        assert device_id is not None
        subjects = uow.findings.device_subjects([device_id])
    matcher = Matcher(uow, now, alerts=False)
    if subjects:
        matcher.match(subjects, None)
    else:  # no components left: whatever matched before is gone
        stale = uow.findings.stored(firmware_ids=[firmware_id]) if firmware_id is not None \
            else uow.findings.stored(device_ids=[device_id] if device_id is not None else [])
        gone = [m.id for m in stale if not m.fixed]
        uow.findings.set_fixed(gone, now)
        matcher.run.fixed = len(gone)
    matcher.verify_fixes()
    if uow.findings.state()[2] == 0:
        # the tenant's first subject has now seen every record: later feeds are its news
        uow.findings.save_state(now, uow.feeds.newest_import())
    return matcher.run


def after_feeds(uow: UnitOfWork, now: datetime, *, changed: Sequence[str],
                signal_ids: Sequence[str], kev_before: set[str],
                vex_ids: Sequence[str]) -> MatchRun | None:
    """Findings after a feed import (caller's transaction): match what changed, re-score
    KEV/EPSS changes, apply VEX. Alerts are raised once the tenant has matched feed data
    before, so a first import of the whole NVD is a baseline, not 300,000 pieces of news."""
    _, watermark, runs = uow.findings.state()
    subjects = uow.findings.firmware_subjects() + uow.findings.device_subjects()
    if not subjects and runs == 0:
        return None
    # news only for a tenant that had matched feed data before (not its first feeds)
    matcher = Matcher(uow, now, alerts=runs > 0 and watermark is not None)
    if runs == 0:
        matcher.match(subjects, None)
    else:
        # also what other tenants imported since this one last matched
        scope = set(changed) | set(uow.feeds.ids_imported_after(watermark))
        if scope:
            matcher.match(subjects, scope)
    if signal_ids:
        matcher.refresh_signals(signal_ids, kev_before)
    matcher.apply_vex(sorted(set(vex_ids)))
    matcher.verify_fixes()
    uow.findings.save_state(now, uow.feeds.newest_import())
    return matcher.run


def _subject_key(s: Subject) -> tuple[int | None, int | None]:
    return s.firmware_id, s.device_id


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _shown(m: StoredMatch) -> str:
    return m.component_purl or m.component_cpe or "?"


def _shown_new(nm: NewMatch) -> str:
    c: InstalledComponent = nm.component
    return f"{c.component.name} {c.component.version or ''}".strip()
