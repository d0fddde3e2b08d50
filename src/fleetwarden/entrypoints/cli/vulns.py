"""``fleetwarden vulns ...``: findings (device x vulnerability), triage, reports, exports
and matching (R5).

Must not: decide anything. Matching, priority, triage rules and audit are
``services.vulns``'s; this module parses options, calls it and renders what it returns.
Feed and SBOM text (summaries, component names) and device names are untrusted: they
reach the terminal only through the table renderer or ``plain``/``markup=False``, never
as Rich markup or raw control characters.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from fleetwarden.domain.durations import parse_duration
from fleetwarden.domain.findings import TRIAGE_CHOICES, Finding, FindingQuery, FindingStatus
from fleetwarden.entrypoints.cli.discover import plain
from fleetwarden.entrypoints.cli.render import OutputFormat, console, err_console, rows
from fleetwarden.entrypoints.cli.state import state
from fleetwarden.entrypoints.vuln_exports import csv_text, cyclonedx_vdr, cyclonedx_vex
from fleetwarden.entrypoints.vulns_views import ROW_COLUMNS, finding_row, finding_view
from fleetwarden.errors import InputError, NotFound
from fleetwarden.services import vulns
from fleetwarden.services.context import Platform, Principal

app = typer.Typer(
    help="Vulnerability findings: list, explain, triage, report, export, match.",
    no_args_is_help=True)

EXPORT_PAGE = vulns.MAX_LIMIT
"""Exports read every matching finding, this many per call."""
MAX_EXPIRES = 10 * 366 * 86400
"""Longest --expires duration parsed; the service's own limit (730 days) is checked there."""
STALE = "feeds were imported since the last match: run `fleetwarden vulns match`"
TABLE_COLUMNS = ("priority", "due_date", "status", "kev", "epss", "cvss", "vulnerability_id",
                 "device_id", "device_name", "component", "version", "site", "overdue")
REPORT_COUNTS = ("devices", "findings", "active", "overdue", "kev", "top_priority", "p1",
                 "p2", "p3", "p4")


class ExportFormat(StrEnum):
    VDR = "vdr"
    VEX = "vex"
    CSV = "csv"


class ShowFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


# ------------------------------------------------------------------ options
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
DeviceOpt = Annotated[int | None, typer.Option("--device", metavar="ID",
                                               help="Only this device.")]
CveOpt = Annotated[str | None, typer.Option(
    "--cve", metavar="ID", help="Only this vulnerability (CVE-..., GHSA-..., OSV id).")]
KevOpt = Annotated[bool, typer.Option("--kev", help="Only those in CISA KEV.")]
PriorityOpt = Annotated[list[str] | None, typer.Option(
    "--priority", "-p", metavar="P", help="P1..P4 or 1..4 (repeatable).")]
OverdueOpt = Annotated[bool, typer.Option(
    "--overdue", help="Only open or affected findings past their due date.")]
StatusOpt = Annotated[list[str] | None, typer.Option(
    "--status", metavar="S",
    help="open, affected, not_affected, false_positive, risk_accepted, suppressed or fixed "
         "(repeatable; default: all but fixed).")]
SiteOpt = Annotated[str | None, typer.Option("--site", metavar="NAME",
                                             help="Only devices at this site.")]


def parse_priorities(values: Sequence[str] | None) -> tuple[int, ...]:
    """``P1``/``p1``/``1`` -> 1, each once, in the order given."""
    out: list[int] = []
    for value in values or ():
        text = value.strip().upper().removeprefix("P")
        if text not in ("1", "2", "3", "4"):
            raise InputError(f"--priority {plain(value[:16])!r}: P1, P2, P3 or P4")
        if int(text) not in out:
            out.append(int(text))
    return tuple(out)


def parse_statuses(values: Sequence[str] | None) -> tuple[FindingStatus, ...]:
    out: list[FindingStatus] = []
    for value in values or ():
        try:
            status = FindingStatus(value.strip().lower())
        except ValueError:
            raise InputError(f"--status {plain(value[:32])!r}: one of "
                             + ", ".join(s.value for s in FindingStatus)) from None
        if status not in out:
            out.append(status)
    return tuple(out)


def vulnerability_id(text: str) -> str:
    """As feeds write it (``vulns.normalise_id``): CVE ids in upper case, others as given."""
    value = vulns.normalise_id(text)
    if not value or len(value) > 64 or not value.isprintable():
        raise InputError(f"vulnerability id {plain(text[:64])!r}: e.g. CVE-2024-1234")
    return value


def build_query(*, device: int | None = None, cve: str | None = None, kev: bool = False,
                priority: Sequence[str] | None = None, overdue: bool = False,
                status: Sequence[str] | None = None, site: str | None = None,
                limit: int = 100, offset: int = 0) -> FindingQuery:
    return FindingQuery(device_id=device,
                        vulnerability_id=vulnerability_id(cve) if cve is not None else None,
                        kev=kev, priorities=parse_priorities(priority), overdue=overdue,
                        statuses=parse_statuses(status),
                        site=site.strip() if site and site.strip() else None,
                        limit=limit, offset=offset)


def parse_expires(text: str, now: datetime) -> datetime:
    """``30d``/``12h`` from ``now``, an ISO date (the end of that day, UTC), or an ISO
    date and time (UTC when it names no zone)."""
    value = text.strip()
    if value.isdigit():
        raise InputError(f"--expires {plain(text[:32])!r}: say a unit (30d) or a date "
                         "(2027-03-31)")
    if value[:1].isdigit() and value[-1:].lower() in ("s", "m", "h", "d") \
            and "-" not in value and ":" not in value:
        return now + timedelta(seconds=parse_duration(value, option="--expires",
                                                      maximum=MAX_EXPIRES))
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--expires {plain(text[:32])!r}: a duration such as 30d, or an "
                         "ISO date such as 2027-03-31") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# ------------------------------------------------------------------- paging
def all_findings(platform: Platform, principal: Principal, query: FindingQuery,
                 on_page: Callable[[int], None] | None = None
                 ) -> tuple[bool, Iterator[Finding]]:
    """(stale, every finding ``query`` selects), its limit and offset ignored.

    The first page is read now, so bad input fails before anything is written. Pages are
    separate reads: a match running at the same time may shift a few rows between them.
    """
    q = replace(query, limit=EXPORT_PAGE, offset=0)
    first = vulns.findings(platform, principal, q)

    def pages() -> Iterator[Finding]:
        page, done = first, 0
        while True:
            yield from page.items
            done += len(page.items)
            if on_page is not None:
                on_page(done)
            if not page.more:
                return
            page = vulns.findings(platform, principal, replace(q, offset=done))

    return first.stale, pages()


def _line(message: str) -> None:
    """``ok`` on one line whatever the terminal's width (scripts read it)."""
    console.print(f"[green]✓[/green] {escape(plain(message))}", soft_wrap=True)


def _warn_stale(stale: bool) -> None:
    if stale:
        err_console.print(f"[yellow]warning:[/yellow] {STALE}", highlight=False)


# --------------------------------------------------------------------- list
@app.command("list")
def list_(
    ctx: typer.Context,
    device: DeviceOpt = None,
    cve: CveOpt = None,
    kev: KevOpt = False,
    priority: PriorityOpt = None,
    overdue: OverdueOpt = False,
    status: StatusOpt = None,
    site: SiteOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1 to 10,000).")]
    = 100,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many first.")] = 0,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Findings, most urgent first: priority, due date, status, KEV, EPSS, CVSS.

    --format json prints exactly a JSON array of findings (warnings go to stderr).

    Examples: fleetwarden vulns list --kev --priority P1 --priority P2;
    fleetwarden vulns list --overdue --site HQ --format csv > overdue.csv
    """
    query = build_query(device=device, cve=cve, kev=kev, priority=priority, overdue=overdue,
                        status=status, site=site, limit=limit, offset=offset)
    st = state(ctx)
    page = vulns.findings(st.app().platform, st.principal(), query)
    _warn_stale(page.stale)
    more = f"more: --offset {page.offset + len(page.items)}" if page.more else ""
    if fmt is OutputFormat.JSON:
        rows((finding_view(f) for f in page.items), fmt, ())
    elif fmt is OutputFormat.CSV:
        sys.stdout.write(csv_text(page.items))
    else:
        rows((finding_row(f) for f in page.items), fmt, ROW_COLUMNS,
             table_columns=TABLE_COLUMNS)
        if page.items:
            first, last = page.offset + 1, page.offset + len(page.items)
            console.print(f"showing {first}–{last}" + (f"; {more}" if more else ""),
                          markup=False, highlight=False)
        return
    if more:
        err_console.print(more, markup=False, highlight=False)


# --------------------------------------------------------------------- show
def _component_text(f: Finding) -> str:
    c = f.component
    if c is None:
        return "(none: it no longer matches)"
    ids = ", ".join(x for x in (c.purl, c.cpe) if x)
    return (f"{c.name} {c.version or ''}".rstrip() + (f" ({ids})" if ids else "")
            + (f", from {f.source}" if f.source else ""))


def _triage_text(f: Finding) -> str | None:
    if f.decided_by is None and f.status not in (FindingStatus.NOT_AFFECTED,
                                                 FindingStatus.FALSE_POSITIVE,
                                                 FindingStatus.RISK_ACCEPTED,
                                                 FindingStatus.AFFECTED):
        return None
    parts = [f.status.value]
    if f.justification:
        parts.append(f"({f.justification})")
    if f.approver:
        parts.append(f"approved by {f.approver}")
    if f.expires_at is not None:
        parts.append(f"until {f.expires_at.isoformat()}")
    if f.decided_by:
        parts.append(f"decided by {f.decided_by}")
    if f.note:
        parts.append(f"— {f.note}")
    return " ".join(parts)


def _print_header(f: Finding) -> None:
    console.print(plain(f.vulnerability_id), style="bold", markup=False, highlight=False)
    lines = []
    if f.aliases:
        lines.append("aliases: " + ", ".join(f.aliases))
    if f.summary:
        lines.append(f.summary)
    scores = []
    if f.cvss_score is not None:
        scores.append(f"CVSS {f.cvss_version or '?'} {f.cvss_score:.1f}"
                      + (f" {f.cvss_vector}" if f.cvss_vector else ""))
    if f.epss is not None:
        scores.append(f"EPSS {f.epss:.3f}")
    scores.append("in CISA KEV" if f.kev else "not in KEV")
    lines.append("; ".join(scores))
    for line in lines:
        console.print("  " + plain(line), markup=False, highlight=False)


def _print_finding(f: Finding) -> None:
    due = f"due {f.due_date.isoformat()}" + (" (OVERDUE)" if f.overdue else "")
    console.print()
    console.print(plain(f"device {f.device_id} {f.device_name}: P{f.priority} "
                        f"{f.status.value}, {due}"), style="bold", markup=False,
                  highlight=False)
    where = ", ".join(x for x in (f.model and f"model {f.model}",
                                  f.firmware_version and f"firmware {f.firmware_version}",
                                  f.site and f"site {f.site}") if x)
    facts = [("component", _component_text(f)), ("device", where),
             ("first seen", f.first_seen.isoformat()),
             ("priority", "; ".join(f.reasons)),
             ("match", "; ".join(x for x in (f.basis, *f.match_reasons) if x)),
             ("triage", _triage_text(f)), ("VEX", f.vex),
             ("fixed", f.fixed_at.isoformat() if f.fixed_at else None)]
    for label, text in facts:
        if text:
            console.print(f"  {label}: " + plain(text), markup=False, highlight=False)


@app.command("show")
def show(
    ctx: typer.Context,
    cve: Annotated[str, typer.Argument(metavar="ID", help="CVE-..., GHSA-... or OSV id.")],
    device: DeviceOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many devices.")] = 100,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many first.")] = 0,
    fmt: Annotated[ShowFormat, typer.Option("--format", "-f", help="text or json.")]
    = ShowFormat.TEXT,
) -> None:
    """One vulnerability on every device it was found on (fixed ones too), with why:
    priority factors, what matched, triage decisions and VEX statements.

    Example: fleetwarden vulns show CVE-2021-36260 --device 12
    """
    query = FindingQuery(device_id=device, vulnerability_id=vulnerability_id(cve),
                         statuses=tuple(FindingStatus), limit=limit, offset=offset)
    st = state(ctx)
    page = vulns.findings(st.app().platform, st.principal(), query)
    _warn_stale(page.stale)
    if not page.items and offset == 0:
        where = f" on device {device}" if device is not None else ""
        raise NotFound(f"{query.vulnerability_id}: no finding{where}")
    if fmt is ShowFormat.JSON:
        rows((finding_view(f) for f in page.items), OutputFormat.JSON, ())
        return
    if page.items:
        _print_header(page.items[0])
    for f in page.items:
        _print_finding(f)
    if page.more:
        console.print(f"\nmore: --offset {page.offset + len(page.items)}", markup=False,
                      highlight=False)


# ------------------------------------------------------------------- triage
@app.command("triage")
def triage(
    ctx: typer.Context,
    cve: Annotated[str, typer.Argument(metavar="ID", help="CVE-..., GHSA-... or OSV id.")],
    status: Annotated[str, typer.Option(
        "--status", metavar="S",
        help=", ".join(s.value for s in TRIAGE_CHOICES) + " (open withdraws a decision).")],
    device: Annotated[int | None, typer.Option(
        "--device", metavar="ID", help="Decide for this device.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", metavar="VENDOR/MODEL",
        help="Decide for every device of this model running --firmware.")] = None,
    firmware: Annotated[str | None, typer.Option(
        "--firmware", metavar="VERSION", help="The firmware release (with --model).")] = None,
    justification: Annotated[str | None, typer.Option(
        "--justification", metavar="J",
        help="For not_affected: component_not_present, vulnerable_code_not_present, "
             "vulnerable_code_not_in_execute_path, "
             "vulnerable_code_cannot_be_controlled_by_adversary or "
             "inline_mitigations_already_exist.")] = None,
    note: Annotated[str | None, typer.Option(
        "--note", metavar="TEXT", help="Why (required for false_positive).")] = None,
    approver: Annotated[str | None, typer.Option(
        "--approver", metavar="NAME",
        help="For risk_accepted: who accepted the risk (not you).")] = None,
    expires: Annotated[str | None, typer.Option(
        "--expires", metavar="WHEN",
        help="For risk_accepted: 30d, or a date (end of that day, UTC); at most 730 days.")]
    = None,
) -> None:
    """Record a decision about a vulnerability on one device, or on every device running a
    firmware release (a device's own decision wins over its firmware's).

    Examples: fleetwarden vulns triage CVE-2022-0778 --device 12 --status not_affected
    --justification vulnerable_code_not_in_execute_path --note "TLS server disabled";
    fleetwarden vulns triage CVE-2021-36260 --model Hikvision/DS-2CD2026G2-IU/SL
    --firmware "V5.5.0 build 200101" --status risk_accepted --approver "CISO" --expires 30d
    """
    if firmware is not None and model is None:
        raise InputError("--firmware goes with --model VENDOR/MODEL")
    if device is not None and model is not None:
        raise InputError("say where: --device ID, or --model and --firmware, not both")
    st = state(ctx)
    platform = st.app().platform
    expires_at = parse_expires(expires, platform.now()) if expires is not None else None
    done = vulns.triage(platform, st.principal(), cve, status.strip().lower(),
                        device_id=device, model=model, firmware=firmware,
                        justification=justification, note=note, approver=approver,
                        expires_at=expires_at)
    d = done.decision
    what = d.status.value
    if d.justification is not None:
        what += f" ({d.justification.value})"
    if d.approver and d.expires_at is not None:
        what += f", accepted by {d.approver} until {d.expires_at.isoformat(timespec='seconds')}"
    was = (done.before or {}).get("status") or "open"
    _line(f"{done.vulnerability_id} on {done.subject}: {what} (was {was})")


# ------------------------------------------------------------------- report
@app.command("report")
def report(
    ctx: typer.Context,
    by: Annotated[str, typer.Option("--by", help="cve, model or site.")] = "cve",
    kev: KevOpt = False,
    priority: PriorityOpt = None,
    overdue: OverdueOpt = False,
    site: SiteOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Findings counted per vulnerability, model or site: devices, active (open or
    affected), overdue, KEV, and active findings per priority. Fixed ones are left out.

    Example: fleetwarden vulns report --by model --kev --format csv
    """
    query = build_query(kev=kev, priority=priority, overdue=overdue, site=site)
    key = by.strip().lower()
    st = state(ctx)
    items = vulns.report(st.app().platform, st.principal(), key, query)
    if fmt is OutputFormat.TABLE:
        items = [{**i, "kev": "yes" if i["kev"] else ""} for i in items]
    rows(items, fmt, (key, *REPORT_COUNTS))


# ------------------------------------------------------------------- export
@contextmanager
def _output(out: Path | None) -> Iterator[TextIO]:
    """stdout, or a temporary file beside ``out`` that replaces it only when complete."""
    if out is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    target = out.expanduser()
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent,
                                   prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"--out {plain(out)}: cannot write there "
                         f"({exc.strerror or type(exc).__name__})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise InputError(f"--out {plain(out)}: cannot write it "
                         f"({exc.strerror or type(exc).__name__})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: Annotated[ExportFormat, typer.Option(
        "--format", "-f", help="vdr (CycloneDX 1.5 vulnerability disclosure report), vex "
                               "(CycloneDX 1.5 VEX) or csv.")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", metavar="FILE", help="Write here (atomically); default stdout.")]
    = None,
    device: DeviceOpt = None,
    cve: CveOpt = None,
    kev: KevOpt = False,
    priority: PriorityOpt = None,
    overdue: OverdueOpt = False,
    status: StatusOpt = None,
    site: SiteOpt = None,
) -> None:
    """Every finding the filters select, as a CycloneDX VDR or VEX (JSON) or CSV.

    Examples: fleetwarden vulns export --format vex --out estate.vex.json;
    fleetwarden vulns export --format csv --kev --status open --status affected
    """
    query = build_query(device=device, cve=cve, kev=kev, priority=priority, overdue=overdue,
                        status=status, site=site)
    st = state(ctx)
    platform, principal = st.app().platform, st.principal()
    # stdout is taken before the progress display starts, and the display never redirects
    # it: Rich would otherwise send what is written to stdout to its own (stderr) console.
    shown = err_console.is_terminal and not (out is None and sys.stdout.isatty())
    summary = ""
    with _output(out) as fh, Progress(
            SpinnerColumn(), TextColumn("[bold]reading findings[/bold]"),
            TextColumn("{task.completed:,.0f}"), TimeElapsedColumn(), console=err_console,
            transient=True, disable=not shown, redirect_stdout=False,
            redirect_stderr=False) as progress:
        task = progress.add_task("read", total=None)
        stale, found = all_findings(platform, principal, query,
                                    lambda done: progress.update(task, completed=done))
        _warn_stale(stale)
        counted = _Counted(found)
        if fmt is ExportFormat.CSV:
            header = True
            for batch in _batches(counted, EXPORT_PAGE):
                fh.write(csv_text(batch, header=header))
                header = False
            if header:
                fh.write(csv_text((), header=True))
        else:
            make = cyclonedx_vdr if fmt is ExportFormat.VDR else cyclonedx_vex
            doc = make(counted, tenant=principal.tenant.name, now=platform.now())
            json.dump(doc, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
            summary = f"{len(doc['vulnerabilities'])} vulnerability entries, "
    if out is not None:
        err_console.print(plain(f"wrote {out}: {fmt.value}, {summary}"
                                f"{counted.n:,} findings"), markup=False, highlight=False)


class _Counted:
    """Findings passed through, counted."""

    def __init__(self, items: Iterator[Finding]) -> None:
        self.items, self.n = items, 0

    def __iter__(self) -> Iterator[Finding]:
        for f in self.items:
            self.n += 1
            yield f


def _batches(items: Iterable[Finding], size: int) -> Iterator[list[Finding]]:
    batch: list[Finding] = []
    for f in items:
        batch.append(f)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -------------------------------------------------------------------- match
@app.command("match")
def match(
    ctx: typer.Context,
    full: Annotated[bool, typer.Option(
        "--full", help="Match everything again, not only what changed since the last run.")]
    = False,
) -> None:
    """Bring findings up to date with the feeds and SBOMs (feed and SBOM imports already
    match what they changed; run this after importing into another tenant, or with --full
    after changing models' CPEs).

    Example: fleetwarden vulns match --full
    """
    st = state(ctx)
    platform, principal = st.app().platform, st.principal()
    with Progress(TextColumn("[bold]matching[/bold]"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("subjects"), TimeElapsedColumn(), console=err_console,
                  transient=True, disable=not err_console.is_terminal) as progress:
        task = progress.add_task("match", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        run, mode = vulns.match(platform, principal, full=full, progress=advance)
    _line(f"match ({mode}): " + ", ".join(f"{v} {k.replace('_', ' ')}"
                                          for k, v in run.view().items()))
    for item in run.undecided[:10]:
        err_console.print(f"  undecided: {plain(item)}", markup=False, highlight=False)
    if len(run.undecided) > 10:
        err_console.print(f"  ... and {len(run.undecided) - 10} more", markup=False)
