"""``fleetwarden assess | attest | waive | risk | report | compliance``: baselines with
evidence (R8, R9), risk in context (R6) and reports for auditors and managers (R17).

Must not: decide anything. Checks, roll-up, risk and audit are the services'; this module
parses options, calls them and renders what they return. Device-supplied text (banners,
certificate subjects) reaches the terminal only through the table renderer or
``markup=False``.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fleetwarden.domain.risk import explain
from fleetwarden.entrypoints.cli.discover import (
    PortsOpt,
    Profile,
    ProfileOpt,
    RateOpt,
    ReportFormat,
    plain,
)
from fleetwarden.entrypoints.cli.render import (
    OutputFormat,
    console,
    err_console,
    mapping,
    ok,
    rows,
)
from fleetwarden.entrypoints.cli.state import state
from fleetwarden.entrypoints.cli.vulns import parse_expires
from fleetwarden.errors import InputError
from fleetwarden.ports import ScanOptions
from fleetwarden.services import assessment, attestations
from fleetwarden.services.attestations import EvidenceUpload, attestation_view, waiver_view
from fleetwarden.services.compliance_report import (
    DEFAULT_ENTRY_LIMIT,
    compliance_report,
    device_compliance,
    summary_report,
)
from fleetwarden.services.risk import risk_show

attest_app = typer.Typer(help="Attestations: controls a probe cannot see, with evidence.",
                         no_args_is_help=True)
waive_app = typer.Typer(help="Waivers: accepted exceptions with approver and expiry.",
                        no_args_is_help=True)
risk_app = typer.Typer(help="Risk in context: inherent and residual, with its factors.",
                       no_args_is_help=True)
report_app = typer.Typer(help="Reports: compliance for auditors, summary for managers.",
                         no_args_is_help=True)
compliance_app = typer.Typer(help="Frameworks, requirements, checks, device status, "
                                  "service profiles, assessment runs.",
                             no_args_is_help=True)

FINDING_COLUMNS = ("device_id", "ip", "check_id", "status", "severity", "reason")
"""The table's columns; ``--format json`` adds requirements, evidence, title, host_id."""
PAGED_ENTRIES = 25
"""Devices listed per requirement in documents people page through (html, pdf)."""
FrameworkOpt = Annotated[list[str] | None, typer.Option(
    "--framework", metavar="ID", help="ncsp-iot, etsi-en-303-645, dcms-cop, psti, "
                                      "owasp-iot-2018, nistir-8259a (repeatable).")]


class ReportOut(StrEnum):
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"
    JSON = "json"
    OSCAL = "oscal"


def _subject(device: int | None, model: int | None, organisation: bool) -> tuple[str, int | None]:
    given = [x for x in (device is not None, model is not None, organisation) if x]
    if len(given) != 1:
        raise InputError("say what it applies to: one of --device ID, --model ID, "
                         "--organisation")
    if device is not None:
        return "device", device
    if model is not None:
        return "model", model
    return "tenant", None


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}[/bold]"), BarColumn(),
                    TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                    console=err_console, disable=not err_console.is_terminal,
                    transient=True)


# ------------------------------------------------------------------- assess
def assess(
    ctx: typer.Context,
    targets: Annotated[list[str] | None, typer.Argument(
        metavar="TARGET", help="Addresses, CIDRs or ranges, as for discover.",
        show_default=False)] = None,
    device: Annotated[int | None, typer.Option("--device", metavar="ID",
                                               help="Assess this device.")] = None,
    segment: Annotated[str | None, typer.Option(
        "--segment", metavar="NAME", help="Assess this segment (its CIDRs and every "
                                          "registered device in it).")] = None,
    framework: FrameworkOpt = None,
    fmt: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="table, or json: the array of findings only, on stdout.")]
    = ReportFormat.TABLE,
    ports: PortsOpt = "iot-top",
    profile: ProfileOpt = Profile.NORMAL,
    rate: RateOpt = None,
    no_udp: Annotated[bool, typer.Option(
        "--no-udp", help="Skip UDP (SNMP, SSDP, mDNS): faster, but those checks say "
                         "NOT_APPLICABLE.")] = False,
    no_probe: Annotated[bool, typer.Option(
        "--no-probe", help="Send nothing: use the latest discovery observations.")] = False,
    no_tls: Annotated[bool, typer.Option("--no-tls", help="Skip the full TLS scans.")]
    = False,
    no_credentials: Annotated[bool, typer.Option(
        "--no-credentials", help="Do not try default credentials, even where the tenant "
                                 "authorised it.")] = False,
    allow_outside_scope: Annotated[bool, typer.Option(
        "--allow-outside-scope", help="Probe targets outside the tenant's segments (admin; "
                                      "audited).")] = False,
    show: Annotated[str, typer.Option(
        "--show", help="Table rows to show: failing (FAIL and ERROR), open (also MANUAL), "
                       "all.")] = "failing",
) -> None:
    """Run every compliance check against devices, with evidence; results are stored.

    Discovers TARGET... (same scope rules and audit as `discover`), scans every TLS
    service in depth (sslyze, graded against Mozilla's profiles), tries a few well-known
    default credentials only on segments the tenant authorised (`settings assess`), then
    runs the checks with the register and vulnerability findings.

    Examples: fleetwarden assess --device 42; fleetwarden assess --segment cctv-hq
    --framework etsi-en-303-645; fleetwarden assess 127.20.4.0/24 --format json
    """
    if show not in ("failing", "open", "all"):
        raise InputError("--show: failing, open or all")
    st = state(ctx)
    request = assessment.AssessRequest(
        targets=tuple(targets or ()), device_id=device, segment=segment,
        frameworks=tuple(framework or ()),
        options=ScanOptions(ports=ports, udp=not no_udp, profile=profile.value, rate=rate),
        probe=not no_probe, tls=not no_tls, credentials=not no_credentials,
        allow_outside_scope=allow_outside_scope)
    labels = {"scan": "discovering", "tls": "TLS scans", "credentials": "default credentials",
              "checks": "checks"}
    with _progress() as progress:
        tasks: dict[str, Any] = {}

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(labels.get(phase, phase), total=total or None,
                                                 detail="")
            progress.update(tasks[phase], completed=done, total=total or None,
                            detail=f"{done}/{total}")

        run = assessment.assess(st.app().platform, st.principal(), request,
                                progress=on_progress)
    if fmt is ReportFormat.JSON:
        rows(run.findings, OutputFormat.JSON, ())
        out = err_console
    else:
        wanted = {"failing": ("FAIL", "ERROR"), "open": ("FAIL", "ERROR", "MANUAL"),
                  "all": None}[show]
        shown = [f for f in run.findings if wanted is None or f["status"] in wanted]
        rows(shown, OutputFormat.TABLE, FINDING_COLUMNS)
        out = console
    counts = ", ".join(f"{n} {s}" for s, n in sorted(run.counts.items()))
    out.print(f"assessment {run.id}: {run.devices} devices, {run.unregistered} unregistered "
              f"hosts; {counts or 'no results'}"
              + (f" (scan {run.scan_id})" if run.scan_id else ""),
              markup=False, highlight=False)
    for warning in run.warnings:
        err_console.print(f"warning: {plain(warning)}", markup=False, highlight=False)


# ------------------------------------------------------------------- attest
@attest_app.command("add")
def attest_add(
    ctx: typer.Context,
    requirement: Annotated[str, typer.Argument(metavar="REQUIREMENT",
                                               help="FRAMEWORK/ID, e.g. etsi-en-303-645/5.7-1")],
    status: Annotated[str, typer.Option("--status", help="PASS, FAIL or NOT_APPLICABLE.")],
    statement: Annotated[str, typer.Option(
        "--statement", help="What was checked, how, and what was found.")],
    expires: Annotated[str, typer.Option(
        "--expires", help="When to look again: 365d, or a date (at most 3 years).")],
    device: Annotated[int | None, typer.Option("--device", metavar="ID")] = None,
    model: Annotated[int | None, typer.Option("--model", metavar="ID")] = None,
    organisation: Annotated[bool, typer.Option(
        "--organisation", help="For the whole organisation (policies, processes).")] = False,
    method: Annotated[str, typer.Option(
        "--method", help="inspection, test, supplier-statement, certification, interview.")]
    = "inspection",
    evidence: Annotated[list[Path] | None, typer.Option(
        "--evidence", metavar="FILE", help="Evidence file, stored with its SHA-256 "
                                           "(repeatable).")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Attest a requirement no probe can see (secure boot, physical hardening, side
    channels, secure OS, application security, supplier statements).

    Example: fleetwarden attest add etsi-en-303-645/5.7-1 --model 3 --status PASS
    --method supplier-statement --statement "Supplier letter: secure boot with ..."
    --evidence letter.pdf --expires 365d
    """
    st = state(ctx)
    platform = st.app().platform
    stype, sid = _subject(device, model, organisation)
    files = [_read_evidence(p) for p in evidence or ()]
    a = attestations.attest(platform, st.principal(), requirement, subject_type=stype,
                            subject_id=sid, status=status, statement=statement,
                            method=method, expires_at=parse_expires(expires, platform.now()),
                            files=files)
    if fmt is OutputFormat.JSON:
        mapping(attestation_view(a), fmt)
        return
    ok(f"attestation {a.id}: {a.requirement_id} {a.status} for {a.subject_type} "
       f"{a.subject_id} until {a.expires_at.date().isoformat()}"
       + (f"; {len(a.files)} evidence file(s)" if a.files else ""))


def _read_evidence(path: Path) -> EvidenceUpload:
    if not path.is_file():
        raise InputError(f"--evidence {plain(str(path))[:200]!r}: no such file")
    if path.stat().st_size > attestations.MAX_EVIDENCE_BYTES:
        raise InputError(f"--evidence {plain(path.name)[:200]!r}: larger than "
                         f"{attestations.MAX_EVIDENCE_BYTES // (1024 * 1024)} MB")
    return EvidenceUpload(name=path.name, content=path.read_bytes(),
                          media_type=mimetypes.guess_type(path.name)[0])


@attest_app.command("list")
def attest_list(
    ctx: typer.Context,
    requirement: Annotated[str | None, typer.Option("--requirement", metavar="ID")] = None,
    active: Annotated[bool, typer.Option("--active", help="Only unexpired, unrevoked.")]
    = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Attestations, with who, when, until when and evidence hashes."""
    st = state(ctx)
    found = attestations.attestations(st.app().platform, st.principal(),
                                      requirement_id=requirement, active_only=active)
    now = st.app().platform.now()
    views = []
    for a in found:
        v = attestation_view(a)
        v["state"] = "revoked" if a.revoked_at else ("active" if a.active(now) else "expired")
        v["evidence"] = ", ".join(f"{f['name']} sha256:{f['sha256'][:16]}…" for f in v["files"])
        views.append(v)
    rows(views, fmt, ("id", "requirement_id", "subject_type", "subject_id", "status", "state",
                      "method", "attested_by", "attested_at", "expires_at", "evidence"))


@attest_app.command("revoke")
def attest_revoke(ctx: typer.Context, attestation_id: Annotated[int, typer.Argument(
        metavar="ID")], reason: Annotated[str, typer.Option("--reason")]) -> None:
    """Withdraw an attestation (it stays in the record, marked revoked)."""
    st = state(ctx)
    a = attestations.revoke_attestation(st.app().platform, st.principal(), attestation_id,
                                        reason)
    ok(f"attestation {a.id} revoked")


@attest_app.command("evidence")
def attest_evidence(
    ctx: typer.Context,
    file_id: Annotated[int, typer.Argument(metavar="FILE_ID")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the file.")],
) -> None:
    """Write a stored evidence file; its SHA-256 is checked against the record."""
    st = state(ctx)
    meta, content = attestations.evidence_file(st.app().platform, st.principal(), file_id)
    if hashlib.sha256(content).hexdigest() != meta.sha256:
        raise InputError(f"evidence file {file_id} does not match its recorded SHA-256")
    out.write_bytes(content)
    ok(f"{meta.name} ({meta.size} bytes, sha256 {meta.sha256}) written to {out}")


# -------------------------------------------------------------------- waive
@waive_app.command("add")
def waive_add(
    ctx: typer.Context,
    justification: Annotated[str, typer.Option("--justification", help="Why the exception "
                                                                        "is acceptable.")],
    approver: Annotated[str, typer.Option("--approver", help="Who accepted the risk (not "
                                                             "you).")],
    expires: Annotated[str, typer.Option("--expires", help="90d, or a date (at most 1 "
                                                           "year).")],
    check: Annotated[str | None, typer.Option("--check", metavar="ID")] = None,
    requirement: Annotated[str | None, typer.Option("--requirement", metavar="ID")] = None,
    device: Annotated[int | None, typer.Option("--device", metavar="ID")] = None,
    model: Annotated[int | None, typer.Option("--model", metavar="ID")] = None,
    organisation: Annotated[bool, typer.Option("--organisation",
                                               help="For every device.")] = False,
) -> None:
    """Accept an exception: the check or requirement shows WAIVED until it lapses.

    Example: fleetwarden waive add --check telnet-open --device 42 --approver "J. Smith
    (SIRO)" --justification "Legacy panel, isolated VLAN, replacement ordered" --expires 90d
    """
    st = state(ctx)
    platform = st.app().platform
    stype, sid = _subject(device, model, organisation)
    w = attestations.waive(platform, st.principal(), check_id=check,
                           requirement_id=requirement, subject_type=stype, subject_id=sid,
                           justification=justification, approver=approver,
                           expires_at=parse_expires(expires, platform.now()))
    ok(f"waiver {w.id}: {w.target} for {w.subject_type} {w.subject_id or ''} until "
       f"{w.expires_at.date().isoformat()}, approved by {w.approver}")


@waive_app.command("list")
def waive_list(
    ctx: typer.Context,
    active: Annotated[bool, typer.Option("--active")] = False,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Waivers, with justification, approver and expiry."""
    st = state(ctx)
    now = st.app().platform.now()
    views = []
    for w in attestations.waivers(st.app().platform, st.principal(), active_only=active):
        v = waiver_view(w)
        v["state"] = "revoked" if w.revoked_at else ("active" if w.active(now) else "lapsed")
        views.append(v)
    rows(views, fmt, ("id", "target", "subject_type", "subject_id", "state", "approver",
                      "requested_by", "created_at", "expires_at", "justification"))


@waive_app.command("revoke")
def waive_revoke(ctx: typer.Context, waiver_id: Annotated[int, typer.Argument(metavar="ID")],
                 reason: Annotated[str, typer.Option("--reason")]) -> None:
    """End a waiver early."""
    st = state(ctx)
    w = attestations.revoke_waiver(st.app().platform, st.principal(), waiver_id, reason)
    ok(f"waiver {w.id} revoked")


# --------------------------------------------------------------------- risk
@risk_app.command("show")
def risk_show_cmd(
    ctx: typer.Context,
    device_id: Annotated[int, typer.Argument(metavar="ID")],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """A device's inherent and residual risk, every factor with weight, points, evidence."""
    st = state(ctx)
    r = risk_show(st.app().platform, st.principal(), device_id)
    s = r.score
    if fmt is OutputFormat.JSON:
        print(json.dumps(risk_view(r), ensure_ascii=False, indent=2))
        return
    console.print(f"device {r.device_id} {escape(plain(r.device_name))} ({r.device_type}): "
                  f"inherent {s.inherent:.1f} {s.inherent_level}, residual "
                  f"{s.residual:.1f} {s.residual_level}", highlight=False)
    rows(({"stage": f.stage, "factor": f.name, "value": f.value, "weight": f.weight,
           "points": f.points, "evidence": f.evidence} for f in s.factors),
         OutputFormat.TABLE, ("stage", "factor", "value", "weight", "points", "evidence"))
    rows(({"stride": t.stride, "threat": t.title, "status": t.status, "because": t.because}
          for t in s.threats), OutputFormat.TABLE, ("stride", "threat", "status", "because"),
         title="threats")


def risk_view(r: Any) -> dict[str, Any]:
    s = r.score
    return {"device_id": r.device_id, "device_name": r.device_name,
            "device_type": r.device_type, "inherent": s.inherent,
            "inherent_level": s.inherent_level, "residual": s.residual,
            "residual_level": s.residual_level, "impact": s.impact,
            "likelihood": s.likelihood, "systems": list(r.systems),
            "factors": [{"stage": f.stage, "name": f.name, "value": f.value,
                         "weight": f.weight, "points": f.points, "evidence": f.evidence}
                        for f in s.factors],
            "threats": [{"id": t.id, "stride": t.stride, "title": t.title,
                         "status": t.status, "because": t.because} for t in s.threats],
            "explanation": list(explain(s))}


# ------------------------------------------------------------------- report
def _write(out: Path, data: bytes) -> None:
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InputError(f"--out {plain(str(out))[:200]!r}: {exc.strerror}") from None


@report_app.command("compliance")
def report_compliance(
    ctx: typer.Context,
    fmt: Annotated[ReportOut, typer.Option("--format", "-f", help="html, pdf (auditors), "
                                                                  "csv, json, oscal.")],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    framework: FrameworkOpt = None,
    site: Annotated[str | None, typer.Option("--site", metavar="NAME")] = None,
    entries: Annotated[int | None, typer.Option(
        "--entries", help="Devices listed per requirement, worst first (counts are always "
                          "complete); default 25 in html/pdf, 100 otherwise.")] = None,
    list_manual: Annotated[bool, typer.Option(
        "--list-manual", help="Also list devices whose status is MANUAL (by default they "
                              "are counted only).")] = False,
) -> None:
    """Compliance by requirement: status, evidence, timestamps, who generated it and the
    audit-chain head it was made at.

    Example: fleetwarden report compliance --framework etsi-en-303-645 --format pdf
    --out etsi.pdf
    """
    from fleetwarden.entrypoints.reports import render_compliance

    st = state(ctx)
    with _progress() as progress:
        progress.add_task("building report", total=None, detail="")
        report = compliance_report(st.app().platform, st.principal(),
                                   frameworks=tuple(framework or ()), site=site,
                                   entry_limit=entries if entries is not None else (
                                       PAGED_ENTRIES if fmt in (ReportOut.HTML, ReportOut.PDF)
                                       else DEFAULT_ENTRY_LIMIT),
                                   list_manual=list_manual)
        data = render_compliance(report, fmt.value)
    _write(out, data)
    pct = "; ".join(f"{f.id} {f.compliance_percent if f.compliance_percent is not None else '-'}%"
                    for f in report.frameworks)
    ok(f"{fmt.value} report of {report.device_count} devices written to {out} ({pct})")


@report_app.command("summary")
def report_summary(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, html, pdf, csv, json.")]
    = "table",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (not for "
                                                           "table).")] = None,
    days: Annotated[int, typer.Option("--days", help="Trend window.")] = 90,
) -> None:
    """Measurables for cyber management reporting: exposure, compliance %, overdue
    remediation, trends (a snapshot is kept per day)."""
    st = state(ctx)
    report = summary_report(st.app().platform, st.principal(), days=days)
    if fmt == "table":
        rows(({"measure": m.label, "value": m.value, "unit": m.unit,
               "previous": m.previous, "trend": _trend(m.value, m.previous, m.better)}
              for m in report.measures), OutputFormat.TABLE,
             ("measure", "value", "unit", "previous", "trend"))
        return
    if out is None:
        raise InputError("--out FILE is required with --format " + fmt[:10])
    from fleetwarden.entrypoints.reports import render_summary

    _write(out, render_summary(report, fmt))
    ok(f"{fmt} summary written to {out}")


def _trend(value: float | None, previous: float | None, better: str) -> str:
    if value is None or previous is None or value == previous:
        return "="
    up = value > previous
    good = up == (better == "up")
    return ("▲" if up else "▼") + (" better" if good else " worse")


# --------------------------------------------------------------- compliance
@compliance_app.command("frameworks")
def frameworks_cmd(ctx: typer.Context, fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f")] = OutputFormat.TABLE) -> None:
    """The control catalogues and how many requirements each has."""
    tools = state(ctx).app().platform.compliance_tools()
    mapped = tools.requirement_checks()
    rows(({"id": f.id, "title": f.title, "version": f.version,
           "requirements": len(f.requirements),
           "automated": sum(1 for r in f.requirements if mapped.get(r.id))}
          for f in tools.frameworks()), fmt,
         ("id", "title", "version", "requirements", "automated"))


@compliance_app.command("requirements")
def requirements_cmd(
    ctx: typer.Context,
    framework: Annotated[str, typer.Argument(metavar="FRAMEWORK")],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
) -> None:
    """Every requirement of a framework, with the checks that evidence it (none: attest)."""
    tools = state(ctx).app().platform.compliance_tools()
    found = [f for f in tools.frameworks() if f.id == framework]
    if not found:
        raise InputError(f"unknown framework {plain(framework)[:40]!r}; known: "
                         + ", ".join(f.id for f in tools.frameworks()))
    mapped = tools.requirement_checks()
    rows(({"id": r.id, "group": r.group, "title": r.title, "mandatory": r.mandatory,
           "applies_to": r.applies_to, "checks": list(mapped.get(r.id, ())),
           "reference": r.reference} for r in found[0].requirements), fmt,
         ("id", "group", "title", "mandatory", "applies_to", "checks", "reference"))


@compliance_app.command("checks")
def checks_cmd(ctx: typer.Context, fmt: Annotated[OutputFormat, typer.Option(
        "--format", "-f")] = OutputFormat.TABLE) -> None:
    """The automated checks (plug-ins) and their metadata."""
    tools = state(ctx).app().platform.compliance_tools()
    rows(({"id": c.meta.id, "title": c.meta.title, "severity": c.meta.severity.value,
           "needs": list(c.meta.needs), "requirements": list(c.meta.requirements),
           "remediation": c.meta.remediation} for c in tools.checks().values()), fmt,
         ("id", "title", "severity", "needs", "requirements", "remediation"))


@compliance_app.command("show")
def show_cmd(
    ctx: typer.Context,
    device_id: Annotated[int, typer.Argument(metavar="DEVICE_ID")],
    framework: FrameworkOpt = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
    all_: Annotated[bool, typer.Option("--all", help="Also PASS and NOT_APPLICABLE.")]
    = False,
) -> None:
    """One device's status for every requirement, and why."""
    st = state(ctx)
    found = device_compliance(st.app().platform, st.principal(), device_id,
                              frameworks=tuple(framework or ()))
    if not all_ and fmt is OutputFormat.TABLE:
        found = [f for f in found if f["status"] not in ("PASS", "NOT_APPLICABLE")]
    rows(found, fmt, ("requirement_id", "status", "decided_by", "check_id", "title",
                      "reason", "assessed_at"))


@compliance_app.command("profile")
def profile_cmd(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model id or model name.")],
    allow: Annotated[str | None, typer.Option(
        "--allow", metavar="LIST", help="Approved services, e.g. tcp/443,tcp/554,udp/161.")]
    = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the profile.")] = False,
) -> None:
    """Set a model's approved service profile (services-unapproved compares with it)."""
    if (allow is None) == (not clear):
        raise InputError("give --allow LIST or --clear")
    st = state(ctx)
    services = None if clear else [x for x in (allow or "").split(",") if x.strip()]
    model_id, parsed = attestations.set_service_profile(st.app().platform, st.principal(),
                                                        model, services)
    ok(f"model {model_id}: " + ("no service profile" if parsed is None
                                else "approved " + (", ".join(parsed) or "(nothing)")))


@compliance_app.command("assessments")
def assessments_cmd(ctx: typer.Context, limit: Annotated[int, typer.Option("--limit")] = 20,
                    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")]
                    = OutputFormat.TABLE) -> None:
    """Recent assessment runs with their counts."""
    st = state(ctx)
    runs = assessment.recent_runs(st.app().platform, st.principal(), limit)
    rows(({**r, "targets": ", ".join(r["targets"][:5]),
           "counts": ", ".join(f"{k} {v}" for k, v in sorted(
               r["summary"].get("counts", {}).items())),
           "devices": r["summary"].get("devices"),
           "started_at": _iso(r["started_at"]), "finished_at": _iso(r["finished_at"])}
          for r in runs), fmt,
         ("id", "status", "actor", "targets", "devices", "counts", "started_at",
          "finished_at", "error"))


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat(timespec="seconds") if ts else None


# ----------------------------------------------------------------- settings
def assess_settings(
    ctx: typer.Context,
    allow_credential_tests: Annotated[list[str] | None, typer.Option(
        "--allow-credential-tests", metavar="SEGMENT",
        help="Let assessments try well-known default credentials on this segment "
             "(repeatable).")] = None,
    deny_credential_tests: Annotated[list[str] | None, typer.Option(
        "--deny-credential-tests", metavar="SEGMENT", help="Stop trying them there.")]
    = None,
    update_max_age: Annotated[int | None, typer.Option(
        "--update-max-age", metavar="DAYS", help="update-stale fails past this firmware "
                                                 "age.")] = None,
    cert_warning: Annotated[int | None, typer.Option(
        "--cert-warning", metavar="DAYS", help="cert-expiring fails this close to "
                                               "expiry.")] = None,
) -> None:
    """Assessment settings: where default credentials may be tried, and age limits.

    With no option, shows them. Example: fleetwarden settings assess
    --allow-credential-tests cctv-hq --update-max-age 365
    """
    st = state(ctx)
    principal = st.principal()
    settings = principal.tenant.settings
    changing = any(x for x in (allow_credential_tests, deny_credential_tests)) or \
        update_max_age is not None or cert_warning is not None
    if changing:
        settings = attestations.set_assess_settings(
            st.app().platform, principal, allow_segments=allow_credential_tests or (),
            deny_segments=deny_credential_tests or (), update_max_age_days=update_max_age,
            cert_expiry_warning_days=cert_warning).settings
    segs = ", ".join(settings.credential_test_segments) or "(none)"
    line = (f"credential tests on: {segs}; update-max-age {settings.update_max_age_days} "
            f"days; cert warning {settings.cert_expiry_warning_days} days")
    if changing:
        ok(line)
    else:
        console.print(line, markup=False)

