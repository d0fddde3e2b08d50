"""``/api/v1`` compliance: assessments, catalogues, per-device compliance and risk,
attestations with evidence files, waivers, service profiles, assessment settings and the
compliance and summary reports (R6, R8, R9, R17).

``POST /assessments`` runs ``services.assessment.assess`` on a small pool of background
threads owned by this API process (``AssessmentJobs``, at most two at once; more is a
429), like discovery scans: 202 with the run id as soon as the service has checked its
input and recorded the run, so input, scope and role errors still come back
synchronously; ``?wait=true`` answers with the full run instead. Findings of recent runs
stay in memory for ``GET /assessments/{id}``; each device's results are stored, so
nothing is lost when they are evicted or the process restarts.

``POST /attestations`` takes JSON, or ``multipart/form-data`` with the same fields and one
``files`` part per evidence file. File names and declared media types are untrusted: the
service keeps the name without path or control characters, and ``GET /evidence/{id}``
serves every file as an attachment, typed ``application/octet-stream`` unless its
declared type is on a short list of inert ones, with ``nosniff`` and a sandboxing CSP.

Reports come from ``entrypoints.reports`` (html, pdf, csv, json, oscal) as downloads.

What it must not do: decide roles, statuses, scope or validity (the services and the
domain do), or run an assessment on the event loop.
"""

from __future__ import annotations

import email.message
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import (
    APIRouter,
    FastAPI,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from fleetwarden.domain.compliance.exceptions import Attestation, Waiver
from fleetwarden.domain.compliance.records import StoredResult
from fleetwarden.entrypoints.api.auth import CurrentPlatform, CurrentPrincipal
from fleetwarden.entrypoints.api.jobs import START_TIMEOUT, BackgroundJobs, Job
from fleetwarden.entrypoints.api.limits import DEFAULT_BODY_LIMIT, MIB
from fleetwarden.entrypoints.api.schemas import (
    MAX_ID,
    NOT_FOUND,
    AssessAccepted,
    AssessIn,
    AssessmentDetail,
    AssessmentList,
    AssessRunOut,
    AssessSettingsIn,
    AssessSettingsOut,
    AttestationIn,
    AttestationList,
    AttestationOut,
    CheckList,
    DeviceComplianceOut,
    DeviceRiskOut,
    ErrorBody,
    FrameworkList,
    RequirementList,
    RevokeIn,
    ServiceProfileIn,
    ServiceProfileOut,
    WaiverIn,
    WaiverList,
    WaiverOut,
)
from fleetwarden.errors import NotFound
from fleetwarden.ports import ScanOptions
from fleetwarden.services import attestations as decisions
from fleetwarden.services import compliance_report, risk
from fleetwarden.services.assessment import (
    AssessmentRun,
    AssessRequest,
    assess,
    device_results,
    recent_runs,
)
from fleetwarden.services.context import Permission, Principal, require

log = logging.getLogger("fleetwarden.api")

MAX_RUNNING = 2
"""Assessments one API process runs at once (each may scan, and TLS-scan, many hosts)."""
KEEP_RUNS = 16
"""Finished runs kept in memory for ``GET /assessments/{id}``."""
MAX_RUNS_SHOWN = 500
"""``GET /assessments`` pages no further back than this many runs."""
ATTESTATION_BODY_LIMIT = 64 * MIB
"""One attestation request carries at most this much evidence (the service limits each
file to ``attestations.MAX_EVIDENCE_BYTES`` and a request to ``MAX_FILES`` files)."""
MAX_FORM_FIELDS = 16
MAX_FORM_FIELD_BYTES = 64 * 1024
FILES_FIELD = "files"
MAX_REPORT_ENTRIES = 100_000

#: Declared media types served as themselves: none of them runs script in a browser.
#: Anything else (HTML, SVG, XML, unknown) is served as application/octet-stream.
INERT_MEDIA_TYPES = frozenset({
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp",
    "text/plain", "text/csv", "application/json",
})
OCTET_STREAM = "application/octet-stream"
REPORT_EXTENSIONS = {"html": "html", "pdf": "pdf", "csv": "csv", "json": "json",
                     "oscal": "oscal.json"}

DeviceId = Annotated[int, Path(ge=1, le=MAX_ID, description="Device id")]
ModelId = Annotated[int, Path(ge=1, le=MAX_ID, description="Device model id")]
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="Assessment run id")]
AttestationId = Annotated[int, Path(ge=1, le=MAX_ID, description="Attestation id")]
WaiverId = Annotated[int, Path(ge=1, le=MAX_ID, description="Waiver id")]
FileId = Annotated[int, Path(ge=1, le=MAX_ID, description="Evidence file id")]
FrameworkPath = Annotated[str, Path(min_length=1, max_length=64,
                                    description="Framework id, e.g. etsi-en-303-645")]
Frameworks = Annotated[list[Annotated[str, Query(min_length=1, max_length=64)]], Query(
    alias="framework", max_length=16,
    description="Only these frameworks (repeatable; default: every framework)")]

BUSY: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "This server already runs as many assessments "
          "as it may; try again later (see Retry-After)"}}
UNSUPPORTED: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorBody, "description": "Unsupported Content-Type"}}

# ------------------------------------------------------------------ assessment jobs
class _AssessmentJob(Job[int, AssessmentRun]):
    @property
    def run_id(self) -> int | None:
        return self.first

    @property
    def run(self) -> AssessmentRun | None:
        return self.result


class AssessmentJobs(BackgroundJobs[int, AssessmentRun]):
    """The background assessments of one API process, and the findings of recent ones."""

    def __init__(self, max_running: int = MAX_RUNNING, keep: int = KEEP_RUNS) -> None:
        super().__init__(what="assessment", list_path="/api/v1/assessments",
                         key=lambda run_id: run_id, max_running=max_running, keep=keep,
                         job_type=_AssessmentJob)

    def start(self, tenant_id: int, run: Callable[[Callable[[int], None]], AssessmentRun],
              timeout: float = START_TIMEOUT) -> _AssessmentJob:
        job = super().start(tenant_id, run, timeout)
        assert isinstance(job, _AssessmentJob)
        return job

    def run_of(self, tenant_id: int, run_id: int, *, settle: float = 0.0
               ) -> AssessmentRun | None:
        """The findings of a run this process ran, if still held."""
        return self.result(tenant_id, run_id, settle=settle)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    jobs = _app_jobs(app)
    try:
        yield
    finally:
        await run_in_threadpool(jobs.close)


router = APIRouter(tags=["compliance"], lifespan=_lifespan)
_jobs_lock = threading.Lock()


def _app_jobs(app: Any) -> AssessmentJobs:
    with _jobs_lock:
        jobs: AssessmentJobs | None = getattr(app.state, "assessment_jobs", None)
        if jobs is None:
            jobs = AssessmentJobs()
            app.state.assessment_jobs = jobs
        return jobs


def _jobs(request: Request) -> AssessmentJobs:
    return _app_jobs(request.app)


def _tenant(principal: Principal) -> int:
    return principal.tenant.id or 0


def _iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).isoformat().replace("+00:00", "Z")


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _run_view(run: AssessmentRun) -> dict[str, Any]:
    return {"id": run.id, "scan_id": run.scan_id, "counts": dict(run.counts),
            "devices": run.devices, "unregistered": run.unregistered,
            "warnings": list(run.warnings), "findings": run.findings}


def _record_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "started_at": _iso(row.get("started_at")),
            "finished_at": _iso(row.get("finished_at"))}


# ---------------------------------------------------------------------- assessments
@router.post(
    "/assessments", status_code=status.HTTP_202_ACCEPTED, response_model=None,
    summary="Assess devices against the compliance checks",
    description="Give `targets`, a `device_id` or a `segment`. Discovers the targets "
    "(same scope rules and audit as discovery), scans TLS services in depth, tries default "
    "credentials only where the tenant authorised it, then runs every check (or those of "
    "`frameworks`) and keeps each device's results. `probe=false` sends nothing and "
    "assesses a device or segment from the latest observations. Engineers and admins. "
    "202 with the run id and a Location to poll; with `wait=true` 200 with the findings "
    "(the `assess --format json` contract).",
    responses={202: {"model": AssessAccepted, "description": "Assessment started"},
               200: {"model": AssessRunOut, "description": "With wait=true: the run"},
               **NOT_FOUND, **BUSY})
def start_assessment(
    platform: CurrentPlatform, principal: CurrentPrincipal, body: AssessIn, request: Request,
    wait: Annotated[bool, Query(description="Answer when the assessment is done, with its "
                                "findings")] = False,
) -> JSONResponse:
    assess_request = AssessRequest(
        targets=tuple(t.strip() for t in body.targets), device_id=body.device_id,
        segment=body.segment.strip() if body.segment is not None else None,
        frameworks=tuple(dict.fromkeys(f.strip() for f in body.frameworks)),
        options=ScanOptions(ports=body.ports.strip(), udp=body.udp, profile=body.profile,
                            rate=body.rate),
        probe=body.probe, tls=body.tls, credentials=body.credentials,
        allow_outside_scope=body.allow_outside_scope)

    def run(on_start: Callable[[int], None]) -> AssessmentRun:
        return assess(platform, principal, assess_request, on_start=on_start)

    job = _jobs(request).start(_tenant(principal), run)
    assert job.run_id is not None
    if wait:
        job.finished.wait()
        if job.error is not None:
            raise job.error
        assert job.run is not None
        return JSONResponse(jsonable_encoder(_run_view(job.run)))
    return JSONResponse(
        {"id": job.run_id, "status": "running"}, status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"{request.url.path.rstrip('/')}/{job.run_id}"})


@router.get("/assessments", response_model=AssessmentList,
            summary="Recent assessment runs, newest first")
def list_assessments(
    platform: CurrentPlatform, principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=MAX_RUNS_SHOWN)] = 50,
) -> dict[str, Any]:
    return {"items": [_record_view(r) for r in recent_runs(platform, principal, limit)]}


@router.get("/assessments/{run_id}", response_model=AssessmentDetail,
            summary="Show an assessment run",
            description="`status` is running, done or failed. `run` holds the findings "
            "while this server still has them (recent runs it ran). Only the "
            f"{MAX_RUNS_SHOWN} most recent runs are found.", responses=NOT_FOUND)
def get_assessment(
    platform: CurrentPlatform, principal: CurrentPrincipal, run_id: RunId, request: Request,
) -> dict[str, Any]:
    row = next((r for r in recent_runs(platform, principal, MAX_RUNS_SHOWN)
                if r["id"] == run_id), None)
    if row is None:
        raise NotFound(f"assessment {run_id} not found")
    run = _jobs(request).run_of(_tenant(principal), run_id,
                                settle=5.0 if row["status"] != "running" else 0.0)
    return _record_view(row) | {"run": _run_view(run) if run is not None else None}


# ----------------------------------------------------------------------- catalogues
@router.get("/compliance/frameworks", response_model=FrameworkList,
            summary="The control catalogues",
            description="Every framework fleetwarden assesses against, with how many of "
            "its requirements an automated check evidences (the rest are attested).")
def list_frameworks(platform: CurrentPlatform, principal: CurrentPrincipal
                    ) -> dict[str, Any]:
    require(principal, Permission.READ)
    tools = platform.compliance_tools()
    mapped = {rid for rid, checks in tools.requirement_checks().items() if checks}
    return {"items": [
        {"id": f.id, "title": f.title, "version": f.version, "source": f.source,
         "requirements": len(f.requirements),
         "automated": sum(1 for r in f.requirements if r.id in mapped)}
        for f in tools.frameworks()]}


@router.get("/compliance/frameworks/{framework_id}/requirements",
            response_model=RequirementList, summary="A framework's requirements",
            description="Every requirement, automated or not, with the checks that "
            "evidence it.", responses=NOT_FOUND)
def list_requirements(
    platform: CurrentPlatform, principal: CurrentPrincipal, framework_id: FrameworkPath,
) -> dict[str, Any]:
    require(principal, Permission.READ)
    tools = platform.compliance_tools()
    framework = next((f for f in tools.frameworks() if f.id == framework_id), None)
    if framework is None:
        raise NotFound(f"framework {framework_id!r} not found "
                       "(see GET /api/v1/compliance/frameworks)")
    checks = tools.requirement_checks()
    return {"framework": framework.id, "items": [
        {"id": r.id, "framework": r.framework, "local_id": r.local_id, "title": r.title,
         "reference": r.reference, "group": r.group, "mandatory": r.mandatory,
         "applies_to": r.applies_to, "checks": list(checks.get(r.id, ()))}
        for r in framework.requirements]}


@router.get("/compliance/checks", response_model=CheckList, summary="The check plug-ins",
            description="Each check's sidecar: what it looks at, how bad a FAIL is, how to "
            "fix it, and the requirements it evidences.")
def list_checks(platform: CurrentPlatform, principal: CurrentPrincipal) -> dict[str, Any]:
    require(principal, Permission.READ)
    tools = platform.compliance_tools()
    evidences: dict[str, list[str]] = {}
    for rid, checks in tools.requirement_checks().items():
        for c in checks:
            evidences.setdefault(c, []).append(rid)
    return {"items": [
        {"id": cid, "title": c.meta.title, "severity": c.meta.severity.value,
         "rationale": c.meta.rationale, "remediation": c.meta.remediation,
         "needs": list(c.meta.needs), "requirements": sorted(evidences.get(cid, ()))}
        for cid, c in sorted(tools.checks().items())]}


# ------------------------------------------------------------------- device views
def _result_view(r: StoredResult) -> dict[str, Any]:
    return {"check_id": r.check_id, "status": r.status.value, "severity": r.severity.value,
            "reason": r.reason, "evidence": dict(r.evidence), "ip": r.ip,
            "assessment_id": r.assessment_id, "assessed_at": _iso(r.assessed_at),
            "tool": r.tool}


@router.get("/devices/{device_id}/compliance", response_model=DeviceComplianceOut,
            summary="A device's compliance",
            description="Every requirement's status for the device (from its latest check "
            "results, the attestations and waivers that apply to it), and those results.",
            responses=NOT_FOUND)
def device_compliance(
    platform: CurrentPlatform, principal: CurrentPrincipal, device_id: DeviceId,
    frameworks: Frameworks = [],  # noqa: B006 - FastAPI query list
) -> dict[str, Any]:
    rows = compliance_report.device_compliance(platform, principal, device_id,
                                               frameworks=tuple(frameworks))
    results = device_results(platform, principal, device_id)
    return {"device_id": device_id, "counts": dict(Counter(r["status"] for r in rows)),
            "requirements": rows, "results": [_result_view(r) for r in results]}


@router.get("/devices/{device_id}/risk", response_model=DeviceRiskOut,
            summary="A device's risk in context",
            description="Inherent risk (from where it sits, what it handles and how much "
            "depends on it) and residual risk (after what its checks and findings say), "
            "0..100. Every point belongs to a factor with its weight and evidence: the "
            "inherent factors' points add up to `inherent`, all of them to `residual`.",
            responses=NOT_FOUND)
def device_risk(
    platform: CurrentPlatform, principal: CurrentPrincipal, device_id: DeviceId,
) -> dict[str, Any]:
    found = risk.risk_show(platform, principal, device_id)
    score, inp = found.score, found.inputs
    return {
        "device_id": found.device_id, "device_name": found.device_name,
        "device_type": found.device_type, "systems": list(found.systems),
        "inherent": score.inherent, "residual": score.residual,
        "inherent_level": score.inherent_level, "residual_level": score.residual_level,
        "impact": score.impact, "likelihood": score.likelihood,
        "factors": [{"name": f.name, "value": f.value, "weight": f.weight,
                     "points": f.points, "evidence": f.evidence, "stage": str(f.stage)}
                    for f in score.factors],
        "threats": [{"id": t.id, "stride": t.stride, "title": t.title,
                     "status": str(t.status), "because": t.because} for t in score.threats],
        "inputs": {
            "device_type": inp.device_type, "criticality": inp.criticality,
            "zone": inp.zone,
            "data_classification": inp.data_classification.value
            if inp.data_classification is not None else None,
            "data_items": list(inp.data_items),
            "business_impact": [{"system": b.system,
                                 "confidentiality": b.confidentiality.value,
                                 "integrity": b.integrity.value,
                                 "availability": b.availability.value}
                                for b in inp.business_impact],
            "open_services": list(inp.open_services)
            if inp.open_services is not None else None,
            "checks": dict(Counter(c.status.value for c in inp.checks)),
            "vulns_by_priority": {f"P{p}": n for p, n in sorted(inp.vulns_by_priority.items())},
            "kev": inp.kev, "overdue": inp.overdue},
    }


# ---------------------------------------------------------------------- attestations
def _attestation_out(a: Attestation, now: datetime) -> dict[str, Any]:
    view = decisions.attestation_view(a)
    view["active"] = a.active(now)
    view["files"] = [f | {"download": f"/api/v1/evidence/{f['id']}"} for f in view["files"]]
    return view


def _waiver_out(w: Waiver, now: datetime) -> dict[str, Any]:
    return decisions.waiver_view(w) | {"active": w.active(now)}


def _content_type(request: Request) -> str:
    msg = email.message.Message()
    msg["content-type"] = request.headers.get("content-type", "")
    return msg.get_content_type()


def _invalid(err: ValidationError) -> RequestValidationError:
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in err.errors()])


async def _json_body(request: Request, model: type[BaseModel]) -> Any:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > DEFAULT_BODY_LIMIT:
            raise HTTPException(413, f"request body too large (limit {DEFAULT_BODY_LIMIT} "
                                "bytes; evidence files go as multipart/form-data)")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        pos = getattr(exc, "pos", 0)
        raise RequestValidationError([{
            "type": "json_invalid", "loc": ("body", pos), "msg": "JSON decode error",
            "input": {}, "ctx": {"error": getattr(exc, "msg", "not UTF-8 text")}}]) from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise _invalid(err) from None


def _media_type(declared: str | None) -> str | None:
    """The declared type without parameters, when it looks like one (still untrusted)."""
    if not declared:
        return None
    msg = email.message.Message()
    msg["content-type"] = declared[:200]
    kind = msg.get_content_type()
    return kind if re.fullmatch(r"[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*", kind) else None


async def _form_body(request: Request) -> tuple[AttestationIn, list[decisions.EvidenceUpload]]:
    form = await request.form(max_files=decisions.MAX_FILES, max_fields=MAX_FORM_FIELDS,
                              max_part_size=MAX_FORM_FIELD_BYTES)
    try:
        fields: dict[str, str] = {}
        uploads: list[decisions.EvidenceUpload] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != FILES_FIELD:
                    raise RequestValidationError([{
                        "type": "value_error", "loc": ("body", name),
                        "msg": f"expected text (evidence files go in `{FILES_FIELD}` parts)"}])
                uploads.append(decisions.EvidenceUpload(
                    name=value.filename or "", content=await value.read(),
                    media_type=_media_type(value.content_type)))
            elif name == FILES_FIELD:
                raise RequestValidationError([{
                    "type": "value_error", "loc": ("body", name),
                    "msg": "expected a file part (with a filename)"}])
            elif name in fields:
                raise RequestValidationError([{
                    "type": "value_error", "loc": ("body", name), "msg": "given twice"}])
            else:
                fields[name] = value
    finally:
        await form.close()
    try:
        return AttestationIn.model_validate_strings(fields), uploads
    except ValidationError as err:
        raise _invalid(err) from None


_ATTEST_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/AttestationIn"}},
            "multipart/form-data": {"schema": {
                "type": "object",
                "required": ["requirement_id", "status", "statement", "method", "expires_at"],
                "properties": {
                    "requirement_id": {"type": "string"},
                    "subject_type": {"type": "string", "enum": ["device", "model", "tenant"]},
                    "subject_id": {"type": "integer"},
                    "status": {"type": "string"},
                    "statement": {"type": "string"},
                    "method": {"type": "string"},
                    "expires_at": {"type": "string", "format": "date-time"},
                    FILES_FIELD: {"type": "array",
                                  "items": {"type": "string", "format": "binary"}},
                }}},
        },
    }
}


@router.post(
    "/attestations", response_model=AttestationOut, status_code=status.HTTP_201_CREATED,
    summary="Attest a requirement",
    description="State that a requirement is met (PASS), not met (FAIL) or does not "
    "apply, on a device, a model or the whole organisation, with how it was established "
    "and until when (at most 3 years). Send JSON, or multipart/form-data with the same "
    "fields and one `files` part per evidence file (each hashed with SHA-256; at most "
    f"{decisions.MAX_FILES} files of {decisions.MAX_EVIDENCE_BYTES // MIB} MB, "
    f"{ATTESTATION_BODY_LIMIT // MIB} MiB a request). Engineers and admins. Audited.",
    max_body_size=ATTESTATION_BODY_LIMIT, openapi_extra=_ATTEST_BODY_DOC,
    responses=NOT_FOUND | UNSUPPORTED)
async def create_attestation(
    request: Request, platform: CurrentPlatform, principal: CurrentPrincipal,
    response: Response,
) -> dict[str, Any]:
    kind = _content_type(request)
    uploads: list[decisions.EvidenceUpload] = []
    if kind == "application/json":
        body: AttestationIn = await _json_body(request, AttestationIn)
    elif kind == "multipart/form-data":
        body, uploads = await _form_body(request)
    else:
        raise HTTPException(415, "send the attestation as application/json, or as "
                                 "multipart/form-data with evidence files")
    stored = await run_in_threadpool(
        decisions.attest, platform, principal, body.requirement_id.strip(),
        subject_type=body.subject_type.strip(), subject_id=body.subject_id,
        status=body.status.strip(), statement=body.statement, method=body.method.strip(),
        expires_at=_utc(body.expires_at), files=uploads)
    response.headers["Location"] = f"/api/v1/attestations/{stored.id}"
    return _attestation_out(stored, platform.now())


@router.get("/attestations", response_model=AttestationList, summary="Attestations",
            description="Newest first; revoked and expired ones too unless `active=true`.")
def list_attestations(
    platform: CurrentPlatform, principal: CurrentPrincipal,
    requirement_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    active: Annotated[bool, Query(description="Only those in force now")] = False,
) -> dict[str, Any]:
    found = decisions.attestations(platform, principal, requirement_id=requirement_id,
                                   active_only=active)
    now = platform.now()
    return {"items": [_attestation_out(a, now) for a in found]}


@router.get("/attestations/{attestation_id}", response_model=AttestationOut,
            summary="Show an attestation", responses=NOT_FOUND)
def get_attestation(
    platform: CurrentPlatform, principal: CurrentPrincipal, attestation_id: AttestationId,
) -> dict[str, Any]:
    found = next((a for a in decisions.attestations(platform, principal)
                  if a.id == attestation_id), None)
    if found is None:
        raise NotFound(f"attestation {attestation_id} not found")
    return _attestation_out(found, platform.now())


@router.post("/attestations/{attestation_id}/revoke", response_model=AttestationOut,
             summary="Revoke an attestation",
             description="It stops applying at once; it and its files are kept. Audited.",
             responses=NOT_FOUND)
def revoke_attestation(
    platform: CurrentPlatform, principal: CurrentPrincipal, attestation_id: AttestationId,
    body: RevokeIn,
) -> dict[str, Any]:
    done = decisions.revoke_attestation(platform, principal, attestation_id, body.reason)
    return _attestation_out(done, platform.now())


def _ascii_name(name: str) -> str:
    """A filename= value no client can misread: printable ASCII, no quote or backslash."""
    text = "".join(c if " " <= c <= "~" and c not in '"\\;' else "_" for c in name)
    text = text.strip(" .") or "evidence"
    return text[:150]


def _disposition(name: str) -> str:
    return (f'attachment; filename="{_ascii_name(name)}"; '
            f"filename*=UTF-8''{quote(name[:200], safe='')}")


@router.get("/evidence/{file_id}", response_class=Response,
            summary="Download an evidence file",
            description="The file as uploaded, as an attachment. Its declared type is used "
            "only when inert (PDF, PNG, JPEG, GIF, WebP, plain text, CSV, JSON); anything "
            "else is application/octet-stream. The `ETag` is its SHA-256.",
            responses={200: {"description": "The file",
                             "content": {OCTET_STREAM: {"schema": {"type": "string",
                                                                   "format": "binary"}}}},
                       **NOT_FOUND})
def download_evidence(
    platform: CurrentPlatform, principal: CurrentPrincipal, file_id: FileId,
) -> Response:
    meta, content = decisions.evidence_file(platform, principal, file_id)
    declared = _media_type(meta.media_type)
    media_type = declared if declared in INERT_MEDIA_TYPES else OCTET_STREAM
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": _disposition(meta.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
        "ETag": f'"{meta.sha256}"'})


# --------------------------------------------------------------------------- waivers
@router.post("/waivers", response_model=WaiverOut, status_code=status.HTTP_201_CREATED,
             summary="Waive a check or a requirement",
             description="An accepted exception, on a device, a model or the estate, "
             "approved by someone other than you, for at most a year: the check's or "
             "requirement's FAIL, ERROR or MANUAL shows as WAIVED until then. Engineers "
             "and admins. Audited.", responses=NOT_FOUND)
def create_waiver(
    platform: CurrentPlatform, principal: CurrentPrincipal, body: WaiverIn,
    response: Response,
) -> dict[str, Any]:
    w = decisions.waive(
        platform, principal, check_id=body.check_id.strip() if body.check_id else None,
        requirement_id=body.requirement_id.strip() if body.requirement_id else None,
        subject_type=body.subject_type.strip(), subject_id=body.subject_id,
        justification=body.justification, approver=body.approver,
        expires_at=_utc(body.expires_at))
    response.headers["Location"] = f"/api/v1/waivers/{w.id}"
    return _waiver_out(w, platform.now())


@router.get("/waivers", response_model=WaiverList, summary="Waivers",
            description="Revoked and expired ones too unless `active=true`.")
def list_waivers(
    platform: CurrentPlatform, principal: CurrentPrincipal,
    active: Annotated[bool, Query(description="Only those in force now")] = False,
) -> dict[str, Any]:
    now = platform.now()
    return {"items": [_waiver_out(w, now) for w in
                      decisions.waivers(platform, principal, active_only=active)]}


@router.post("/waivers/{waiver_id}/revoke", response_model=WaiverOut,
             summary="Revoke a waiver", description="Audited.", responses=NOT_FOUND)
def revoke_waiver(
    platform: CurrentPlatform, principal: CurrentPrincipal, waiver_id: WaiverId,
    body: RevokeIn,
) -> dict[str, Any]:
    return _waiver_out(decisions.revoke_waiver(platform, principal, waiver_id, body.reason),
                       platform.now())


# -------------------------------------------------------------------------- settings
@router.put("/models/{model_id}/service-profile", response_model=ServiceProfileOut,
            summary="Set a model's approved services",
            description="The services (`tcp/443`, `udp/161`, ...) devices of the model may "
            "expose; anything else fails the services check. `null` removes the profile. "
            "Engineers and admins. Audited.", responses=NOT_FOUND)
def set_service_profile(
    platform: CurrentPlatform, principal: CurrentPrincipal, model_id: ModelId,
    body: ServiceProfileIn,
) -> dict[str, Any]:
    services = None if body.services is None else [s.strip() for s in body.services]
    mid, approved = decisions.set_service_profile(platform, principal, str(model_id),
                                                  services)
    return {"model_id": mid, "approved_services": list(approved) if approved is not None
            else None}


@router.put("/settings/assess", response_model=AssessSettingsOut, tags=["settings"],
            summary="Set where credentials may be tried, and two age limits",
            description="`allow_segments` / `deny_segments` add to or remove from the "
            "segments where assessments try default credentials; `update_max_age_days` "
            "and `cert_expiry_warning_days` change two checks' limits (absent: unchanged). "
            "Admins only. Audited.", responses=NOT_FOUND)
def set_assess_settings(
    platform: CurrentPlatform, principal: CurrentPrincipal, body: AssessSettingsIn,
) -> dict[str, Any]:
    tenant = decisions.set_assess_settings(
        platform, principal, allow_segments=[s.strip() for s in body.allow_segments],
        deny_segments=[s.strip() for s in body.deny_segments],
        update_max_age_days=body.update_max_age_days,
        cert_expiry_warning_days=body.cert_expiry_warning_days)
    s = tenant.settings
    return {"credential_test_segments": list(s.credential_test_segments),
            "update_max_age_days": s.update_max_age_days,
            "cert_expiry_warning_days": s.cert_expiry_warning_days}


# --------------------------------------------------------------------------- reports
def _download(content: bytes, fmt: str, what: str, now: datetime) -> Response:
    from fleetwarden.entrypoints.reports import MEDIA_TYPE, ReportFormat

    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"fleetwarden-{what}-{stamp}.{REPORT_EXTENSIONS[fmt]}"
    return Response(content, media_type=MEDIA_TYPE[ReportFormat(fmt)], headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff"})


_REPORT_CONTENT = {"text/html": {"schema": {"type": "string"}},
                   "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                   "text/csv": {"schema": {"type": "string"}},
                   "application/json": {"schema": {"type": "object"}}}


@router.get(
    "/reports/compliance", response_class=Response, summary="The compliance report",
    description="Every requirement of the chosen frameworks with its status over the "
    "devices in scope (every device not disposed, or one site's), the counts per status "
    "and, for the worst `entries` devices per requirement, the evidence behind them; "
    "tied to the audit log by its head. As JSON, CSV, HTML, PDF or an OSCAL assessment "
    "result, with a download file name.",
    responses={200: {"description": "The report",
                     "content": _REPORT_CONTENT
                     | {"application/oscal+json": {"schema": {"type": "object"}}}},
               **NOT_FOUND})
def compliance_report_download(
    platform: CurrentPlatform, principal: CurrentPrincipal,
    frameworks: Frameworks = [],  # noqa: B006 - FastAPI query list
    site: Annotated[str | None, Query(min_length=1, max_length=128,
                                      description="Only devices at this site (its name)")]
    = None,
    fmt: Annotated[Literal["json", "csv", "html", "pdf", "oscal"], Query(
        alias="format", description="json, csv, html, pdf or oscal")] = "json",
    entries: Annotated[int, Query(ge=0, le=MAX_REPORT_ENTRIES, description="Devices listed "
                                  "per requirement and status (the counts are always "
                                  "complete)")] = compliance_report.DEFAULT_ENTRY_LIMIT,
) -> Response:
    from fleetwarden.entrypoints.reports import render_compliance

    report = compliance_report.compliance_report(
        platform, principal, frameworks=tuple(dict.fromkeys(frameworks)),
        site=site.strip() if site else None, entry_limit=entries)
    return _download(render_compliance(report, fmt), fmt, "compliance", report.generated_at)


@router.get(
    "/reports/summary", response_class=Response, summary="The management summary",
    description="Headline measures (devices, exposure, findings, compliance per "
    "framework) with their previous value and a dated trend. Making it records today's "
    "snapshot for later trends. As JSON, CSV, HTML or PDF.",
    responses={200: {"description": "The summary", "content": _REPORT_CONTENT}})
def summary_report_download(
    platform: CurrentPlatform, principal: CurrentPrincipal,
    fmt: Annotated[Literal["json", "csv", "html", "pdf"], Query(
        alias="format", description="json, csv, html or pdf")] = "json",
    days: Annotated[int, Query(ge=1, le=3660, description="Days of trend")] = 90,
) -> Response:
    from fleetwarden.entrypoints.reports import render_summary

    report = compliance_report.summary_report(platform, principal, days=days)
    return _download(render_summary(report, fmt), fmt, "summary", report.generated_at)

