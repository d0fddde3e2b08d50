"""Attestations with evidence files, waivers, model service profiles and the assessment
settings: what people decide about compliance, each change audited in its transaction.

Must not: keep an evidence file it has not hashed, accept a waiver its requester approves,
or let an attestation or waiver outlive its expiry (they lapse when read, by date).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fleetwarden.domain.compliance.catalogue import split_id
from fleetwarden.domain.compliance.exceptions import (
    Attestation,
    EvidenceFile,
    Method,
    SubjectType,
    Waiver,
    validate_attestation,
    validate_waiver,
)
from fleetwarden.domain.compliance.results import Status
from fleetwarden.domain.model import Tenant
from fleetwarden.domain.records import RecordKind, parse_service_profile
from fleetwarden.errors import InputError, NotFound
from fleetwarden.ports import UnitOfWork
from fleetwarden.services import audit
from fleetwarden.services.accounts import update_settings
from fleetwarden.services.context import Permission, Platform, Principal, require

#: One evidence file may be this large (reports, photos, supplier letters).
MAX_EVIDENCE_BYTES = 25 * 1024 * 1024
MAX_FILES = 20


@dataclass(frozen=True, slots=True)
class EvidenceUpload:
    name: str
    content: bytes
    media_type: str | None = None


def attest(platform: Platform, principal: Principal, requirement_id: str, *,
           subject_type: str, subject_id: int | None, status: str, statement: str,
           method: str, expires_at: datetime, files: Sequence[EvidenceUpload] = ()
           ) -> Attestation:
    """Record that a requirement is met (or not) on a device, a model or the organisation."""
    require(principal, Permission.WRITE)
    tools = platform.compliance_tools()
    requirement = _requirement(tools, requirement_id)
    stype = _subject_type(subject_type)
    try:
        parsed_status, parsed_method = Status(status.upper()), Method(method)
    except ValueError:
        raise InputError(f"status must be PASS, FAIL or NOT_APPLICABLE and method one of "
                         f"{', '.join(m.value for m in Method)}") from None
    if len(files) > MAX_FILES:
        raise InputError(f"at most {MAX_FILES} evidence files per attestation")
    for f in files:
        _check_file(f)
    now = platform.now()
    with platform.uow(principal.tenant, True) as uow:
        sid = _subject(uow, stype, subject_id)
        a = Attestation(id=None, requirement_id=requirement, subject_type=stype,
                        subject_id=sid, status=parsed_status, statement=statement.strip(),
                        method=parsed_method, attested_by=principal.actor, attested_at=now,
                        expires_at=expires_at)
        validate_attestation(a, now)
        new_id = uow.compliance.add_attestation(a)
        stored = []
        for f in files:
            digest = hashlib.sha256(f.content).hexdigest()
            fid = uow.compliance.add_evidence_file(new_id, _file_name(f.name), f.content, digest,
                                                   f.media_type, principal.actor, now)
            stored.append(EvidenceFile(id=fid, name=_file_name(f.name), sha256=digest,
                                       size=len(f.content), added_by=principal.actor,
                                       added_at=now, media_type=f.media_type))
        a = replace(a, id=new_id, files=tuple(stored))
        audit.record(platform, uow, principal.actor, "compliance.attest", "attestation",
                     new_id, after=attestation_view(a))
        uow.commit()
    return a


def revoke_attestation(platform: Platform, principal: Principal, attestation_id: int,
                       reason: str) -> Attestation:
    require(principal, Permission.WRITE)
    with platform.uow(principal.tenant, True) as uow:
        a = uow.compliance.attestation(attestation_id)
        if a is None:
            raise NotFound(f"attestation {attestation_id} not found")
        if a.revoked_at is not None:
            raise InputError(f"attestation {attestation_id} was already revoked")
        now = platform.now()
        uow.compliance.revoke_attestation(attestation_id, principal.actor, now)
        audit.record(platform, uow, principal.actor, "compliance.attest.revoke",
                     "attestation", attestation_id, before=attestation_view(a),
                     reason=_reason(reason))
        uow.commit()
    return replace(a, revoked_at=now, revoked_by=principal.actor)


def attestations(platform: Platform, principal: Principal, *,
                 requirement_id: str | None = None, active_only: bool = False
                 ) -> list[Attestation]:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return uow.compliance.attestations(
            requirement_id=requirement_id,
            active_at=platform.now() if active_only else None)


def evidence_file(platform: Platform, principal: Principal, file_id: int
                  ) -> tuple[EvidenceFile, bytes]:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        found = uow.compliance.evidence_content(file_id)
    if found is None:
        raise NotFound(f"evidence file {file_id} not found")
    return found


def waive(platform: Platform, principal: Principal, *, check_id: str | None,
          requirement_id: str | None, subject_type: str, subject_id: int | None,
          justification: str, approver: str, expires_at: datetime) -> Waiver:
    """Accept an exception to a check or a requirement, until ``expires_at``."""
    require(principal, Permission.WRITE)
    tools = platform.compliance_tools()
    if (check_id is None) == (requirement_id is None):
        raise InputError("waive either a check (--check ID) or a requirement "
                         "(--requirement FRAMEWORK/ID)")
    if check_id is not None:
        if check_id not in tools.checks():
            raise InputError(f"unknown check {check_id!r} (see `fleetwarden compliance checks`)")
        target = f"check:{check_id}"
    else:
        target = f"requirement:{_requirement(tools, requirement_id or '')}"
    stype = _subject_type(subject_type)
    now = platform.now()
    with platform.uow(principal.tenant, True) as uow:
        sid = _subject(uow, stype, subject_id)
        w = Waiver(id=None, target=target, subject_type=stype,
                   subject_id=None if stype is SubjectType.TENANT else sid,
                   justification=justification.strip(), approver=approver.strip(),
                   requested_by=principal.actor, created_at=now, expires_at=expires_at)
        validate_waiver(w, now)
        w = replace(w, id=uow.compliance.add_waiver(w))
        audit.record(platform, uow, principal.actor, "compliance.waive", "waiver", w.id,
                     after=waiver_view(w))
        uow.commit()
    return w


def revoke_waiver(platform: Platform, principal: Principal, waiver_id: int,
                  reason: str) -> Waiver:
    require(principal, Permission.WRITE)
    with platform.uow(principal.tenant, True) as uow:
        w = uow.compliance.waiver(waiver_id)
        if w is None:
            raise NotFound(f"waiver {waiver_id} not found")
        if w.revoked_at is not None:
            raise InputError(f"waiver {waiver_id} was already revoked")
        now = platform.now()
        uow.compliance.revoke_waiver(waiver_id, principal.actor, now)
        audit.record(platform, uow, principal.actor, "compliance.waive.revoke", "waiver",
                     waiver_id, before=waiver_view(w), reason=_reason(reason))
        uow.commit()
    return replace(w, revoked_at=now, revoked_by=principal.actor)


def waivers(platform: Platform, principal: Principal, *, active_only: bool = False
            ) -> list[Waiver]:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return uow.compliance.waivers(active_at=platform.now() if active_only else None)


def set_service_profile(platform: Platform, principal: Principal, model: str,
                        services: Sequence[str] | None) -> tuple[int, tuple[str, ...] | None]:
    """The model's approved services (``tcp/443``...); None removes the profile."""
    require(principal, Permission.WRITE)
    parsed = None if services is None else parse_service_profile(
        {"approved_services": list(services)})
    with platform.uow(principal.tenant, True) as uow:
        record = _model(uow, model)
        uow.compliance.set_model_profile(record[0], parsed)
        audit.record(platform, uow, principal.actor, "model.service_profile", "model",
                     record[0], before={"approved_services": record[1]},
                     after={"approved_services": list(parsed) if parsed is not None else None})
        uow.commit()
    return record[0], parsed


def set_assess_settings(platform: Platform, principal: Principal, *,
                        allow_segments: Sequence[str] = (), deny_segments: Sequence[str] = (),
                        update_max_age_days: int | None = None,
                        cert_expiry_warning_days: int | None = None) -> Tenant:
    """Where default credentials may be tried, and the age limits of two checks."""
    require(principal, Permission.ADMIN)
    if update_max_age_days is not None and not 1 <= update_max_age_days <= 3650:
        raise InputError("--update-max-age must be 1..3650 days")
    if cert_expiry_warning_days is not None and not 1 <= cert_expiry_warning_days <= 365:
        raise InputError("--cert-warning must be 1..365 days")
    with platform.uow(principal.tenant, False) as uow:
        known = set(uow.discovery.segment_cidrs())
    for name in (*allow_segments, *deny_segments):
        if name not in known:
            raise NotFound(f"segment {name!r} not found")

    def change(s: Any) -> Any:
        segs = [x for x in s.credential_test_segments if x not in deny_segments]
        segs += [x for x in allow_segments if x not in segs]
        return replace(s, credential_test_segments=tuple(segs),
                       update_max_age_days=update_max_age_days or s.update_max_age_days,
                       cert_expiry_warning_days=cert_expiry_warning_days
                       or s.cert_expiry_warning_days)

    return update_settings(platform, principal, change, lambda s: {
        "credential_test_segments": list(s.credential_test_segments),
        "update_max_age_days": s.update_max_age_days,
        "cert_expiry_warning_days": s.cert_expiry_warning_days})


# ------------------------------------------------------------------- helpers
def attestation_view(a: Attestation) -> dict[str, Any]:
    return {"id": a.id, "requirement_id": a.requirement_id,
            "subject_type": a.subject_type.value, "subject_id": a.subject_id,
            "status": a.status.value, "statement": a.statement, "method": a.method.value,
            "attested_by": a.attested_by, "attested_at": _iso(a.attested_at),
            "expires_at": _iso(a.expires_at), "revoked_at": _iso(a.revoked_at),
            "revoked_by": a.revoked_by,
            "files": [{"id": f.id, "name": f.name, "sha256": f.sha256, "size": f.size,
                       "media_type": f.media_type, "added_by": f.added_by,
                       "added_at": _iso(f.added_at)} for f in a.files]}


def waiver_view(w: Waiver) -> dict[str, Any]:
    return {"id": w.id, "target": w.target, "subject_type": w.subject_type.value,
            "subject_id": w.subject_id, "justification": w.justification,
            "approver": w.approver, "requested_by": w.requested_by,
            "created_at": _iso(w.created_at), "expires_at": _iso(w.expires_at),
            "revoked_at": _iso(w.revoked_at), "revoked_by": w.revoked_by}


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts else None


def _requirement(tools: Any, requirement_id: str) -> str:
    split_id(requirement_id)
    for f in tools.frameworks():
        if f.get(requirement_id) is not None:
            return requirement_id
    raise NotFound(f"requirement {requirement_id!r} is in no catalogue "
                   "(see `fleetwarden compliance requirements`)")


def _subject_type(text: str) -> SubjectType:
    try:
        return SubjectType(text)
    except ValueError:
        raise InputError("subject must be device, model or tenant") from None


def _subject(uow: UnitOfWork, stype: SubjectType, subject_id: int | None) -> int:
    if stype is SubjectType.TENANT:
        return uow.tenant.id or 0
    if subject_id is None:
        raise InputError(f"give the {stype.value} (--{stype.value} ID)")
    if stype is SubjectType.DEVICE:
        if uow.devices.get(subject_id) is None:
            raise NotFound(f"device {subject_id} not found")
    elif uow.records.get(RecordKind.MODEL, subject_id) is None:
        raise NotFound(f"model {subject_id} not found")
    return subject_id


def _model(uow: UnitOfWork, ref: str) -> tuple[int, list[str] | None]:
    record: Any = (uow.records.get(RecordKind.MODEL, int(ref)) if ref.isdigit()
                   else uow.records.by_name(RecordKind.MODEL, ref))
    if record is None:
        raise NotFound(f"model {ref!r} not found (give its id or its model name)")
    current = record.approved_services
    return record.id, list(current) if current is not None else None


def _check_file(f: EvidenceUpload) -> None:
    if not f.name.strip():
        raise InputError("an evidence file needs a name")
    if len(f.content) > MAX_EVIDENCE_BYTES:
        raise InputError(f"evidence file {_file_name(f.name)!r} is larger than "
                         f"{MAX_EVIDENCE_BYTES // (1024 * 1024)} MB")
    if not f.content:
        raise InputError(f"evidence file {_file_name(f.name)!r} is empty")


def _file_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(c for c in base if c.isprintable()).strip()
    return clean[:200] or "evidence"


def _reason(text: str) -> str:
    if len(text.strip()) < 3:
        raise InputError("--reason is required when revoking")
    return text.strip()[:500]
