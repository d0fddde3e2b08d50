"""The compliance and summary report renderers (HTML, PDF, CSV, JSON, OSCAL) on small
hand-built reports: two frameworks, all six statuses, a device whose name is a script tag
with an ANSI escape, a 5,000-character reason and evidence with files.

Each PDF is rendered once per module (WeasyPrint takes about a second per report)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pypdfium2 as pdfium
import pytest
from PIL import ImageStat
from trestle.oscal import assessment_results as ar

from fleetwarden.domain.compliance.report import (
    ComplianceReport,
    Entry,
    EvidenceRecord,
    FrameworkResult,
    RequirementResult,
)
from fleetwarden.domain.compliance.results import Severity, Status
from fleetwarden.domain.compliance.summary import Measure, SummaryReport, TrendPoint
from fleetwarden.entrypoints.reports import (
    ReportFormat,
    csv_report,
    json_report,
    render_compliance,
    render_summary,
)
from fleetwarden.entrypoints.reports._common import inert, limit_entries
from fleetwarden.entrypoints.reports.oscal import NS, control_id
from fleetwarden.errors import InputError

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>\x1b[31m"
LONG = "A" * 5000


def _counts(**kw: int) -> dict[Status, int]:
    return {s: kw.get(s.name.lower(), 0) for s in Status}


def compliance_report() -> ComplianceReport:
    probe = EvidenceRecord(
        kind="check", summary="TLS 1.0 accepted on 443/tcp", method="automated-probe",
        tool="fleetwarden 0.1.0 / sslyze 6.3.1", collected_at=T0 - timedelta(hours=3),
        expires_at=T0 + timedelta(days=30), by="scanner",
        files=(("tls-scan.json", "ab" * 32),),
        details={"port": 443, "protocols": ["TLSv1.0", "TLSv1.2"], "banner": HOSTILE})
    attestation = EvidenceRecord(
        kind="attestation", summary="Supplier states a disclosure policy exists",
        method="attestation", collected_at=T0 - timedelta(days=10),
        expires_at=T0 + timedelta(days=355), by="a.jones@police.example",
        files=(("vdp.pdf", "cd" * 32), ("=cmd|' /C calc'!A0.txt", "ef" * 32)))
    waiver = EvidenceRecord(
        kind="waiver", summary="Legacy ANPR camera, replacement ordered (CR-1042)",
        method="waiver", collected_at=T0 - timedelta(days=2),
        expires_at=T0 + timedelta(days=60), by="ciso@police.example")
    hostile = Entry("device", 17, HOSTILE, Status.FAIL, LONG, ip="10.20.0.17", site="HQ",
                    check_id="tls.legacy_protocols", severity=Severity.HIGH, evidence=(probe,))
    formula = Entry("device", 18, '=HYPERLINK("http://evil.example")', Status.FAIL,
                    "-2+3 default password accepted", ip="10.20.0.18", site="@SUM(A1)",
                    check_id="cred.default", severity=Severity.CRITICAL)
    error = Entry("device", 19, "cam-north-2", Status.ERROR, "probe timed out after 10 s",
                  ip="fe80::1", site="North", check_id="tls.legacy_protocols",
                  severity=Severity.MEDIUM)
    manual = Entry("model", 4, "Axis P1465-LE", Status.MANUAL, "No attestation on file")
    waived = Entry("device", 21, "anpr-m4-03", Status.WAIVED, "Waived until 2025-04-30",
                   ip="10.30.1.3", site="M4", check_id="fw.supported", severity=Severity.LOW,
                   evidence=(waiver,))
    attested = Entry("model", 5, "Hikvision DS-2CD", Status.PASS, "Attested",
                     evidence=(attestation,))
    ncsp = FrameworkResult("ncsp-iot", "NCSP IoT baseline", "2024.1", "NCSP IoT baseline", (
        RequirementResult("ncsp-iot/1.1", "No universal default passwords",
                          "Credential management", "§1.1", True, Status.FAIL,
                          _counts(**{"pass": 40, "fail": 2}), ("cred.default",), (formula,),
                          entries_omitted=1),
        RequirementResult("ncsp-iot/2.3", "Only current TLS versions", "Secure communication",
                          "§2.3", True, Status.FAIL,
                          _counts(**{"pass": 30, "fail": 1, "error": 1}),
                          ("tls.legacy_protocols",), (hostile, error)),
        RequirementResult("ncsp-iot/3.1", "Vulnerability disclosure policy",
                          "Vulnerability management", "§3.1", True, Status.MANUAL,
                          _counts(manual=1, **{"pass": 1}), (), (manual,)),
        RequirementResult("ncsp-iot/4.2", "Supported firmware", "Software updates", "§4.2",
                          False, Status.WAIVED, _counts(waived=1, **{"pass": 41}),
                          ("fw.supported",), (waived,)),
        RequirementResult("ncsp-iot/4.3", "Signed firmware updates", "Software updates",
                          "§4.3", True, Status.PASS, _counts(**{"pass": 42}), ("fw.signed",)),
    ))
    etsi = FrameworkResult("etsi-en-303-645", "ETSI EN 303 645", "V2.1.1",
                           "ETSI EN 303 645 V2.1.1 (2020-06)", (
        RequirementResult("etsi-en-303-645/5.1-1", "Unique per-device passwords",
                          "5.1 No universal default passwords", "5.1-1", True, Status.PASS,
                          _counts(**{"pass": 42}), ("cred.default",), (attested,)),
        RequirementResult("etsi-en-303-645/5.13-1a", "Validate input via user interfaces",
                          "5.13 Validate input data", "5.13-1A", False,
                          Status.NOT_APPLICABLE, _counts(not_applicable=42), ()),
        RequirementResult("etsi-en-303-645/5.5-1", "Use best-practice cryptography",
                          "5.5 Communicate securely", "5.5-1", True, Status.ERROR,
                          _counts(error=1, **{"pass": 41}), ("tls.legacy_protocols",),
                          (error,)),
    ))
    return ComplianceReport(
        tenant="Northshire Police", generated_at=T0, generated_by="j.smith@police.example",
        audit_head_seq=4711, audit_head_hash="9f" * 32, tool="fleetwarden 0.1.0",
        device_count=42, frameworks=(ncsp, etsi), assessed_from=T0 - timedelta(days=1),
        assessed_to=T0 - timedelta(hours=1))


def summary_report() -> SummaryReport:
    days = [date(2025, 1, 1) + timedelta(days=7 * i) for i in range(9)]
    kev = [3, 3, 4, 5, 4, 3, 2, 2, 1]
    trend = tuple(TrendPoint(d, {"devices_total": 40 + i, "kev_devices": kev[i],
                                 "findings_overdue": 7 - i // 2,
                                 "compliance_ncsp-iot": 61.0 + 3 * i})
                  for i, d in enumerate(days))
    measures = (
        Measure("devices_total", "Devices in inventory", 49, "devices", 48, better="up"),
        Measure("kev_devices", "Devices with a known-exploited vulnerability", 1, "devices", 1),
        Measure("findings_overdue", "Findings past their due date", 3, "findings", 4),
        Measure("findings_open_p1", "Open P1 findings", 4, "findings", 2),
        Measure("compliance_ncsp-iot", "NCSP IoT baseline compliance", 85.0, "%", 82.5,
                better="up"),
        Measure("devices_unregistered", "@unregistered devices", None, "devices"),
    )
    return SummaryReport(tenant="Northshire Police", generated_at=T0,
                         generated_by="j.smith@police.example", audit_head_seq=4711,
                         audit_head_hash="9f" * 32, tool="fleetwarden 0.1.0",
                         measures=measures, trend=trend)


def _requirements(report: ComplianceReport) -> list[RequirementResult]:
    return [r for fw in report.frameworks for r in fw.requirements]


# -------------------------------------------------------------------- dispatch
def test_unknown_format_is_a_one_line_input_error() -> None:
    with pytest.raises(InputError) as caught:
        render_compliance(compliance_report(), "docx\nInjected: yes")
    message = str(caught.value)
    assert "\n" not in message and "html, pdf, csv, json, oscal" in message
    with pytest.raises(InputError, match="summary report format 'oscal'"):
        render_summary(summary_report(), "oscal")


def test_formats_are_case_insensitive_and_take_the_enum() -> None:
    report = compliance_report()
    assert render_compliance(report, "JSON") == render_compliance(report, ReportFormat.JSON)


def test_inert_shows_control_characters_and_bounds_length() -> None:
    assert inert("a\x1b[31mb\u202ec\nd") == "a\\x1b[31mb\\u202ec d"
    assert inert("x" * 50, 10) == "x" * 10 + " … [40 more characters]"
    assert inert(None) == ""


def test_limit_entries_keeps_the_worst_and_counts_the_rest() -> None:
    report = compliance_report()
    shown, cut = limit_entries(report, per_requirement=1, total=3)
    listed = [len(r.entries) for r in _requirements(shown)]
    assert listed == [1, 1, 1, 0, 0, 0, 0, 0] and cut == 4
    tls = _requirements(shown)[1]
    assert tls.entries[0].subject_id == 17 and tls.entries_omitted == 1
    assert _requirements(shown)[0].entries_omitted == 1  # unchanged: nothing cut there
    assert limit_entries(report, 10, 1000) == (report, 0)


# ------------------------------------------------------------------------ HTML
@pytest.fixture(scope="module")
def compliance_html() -> str:
    return render_compliance(compliance_report(), "html").decode("utf-8")


def _no_external_references(page: str) -> None:
    assert "<script" not in page.lower()
    assert re.search(r"\b(?:src|href|srcset|action|formaction)\s*=", page, re.I) is None
    assert "url(" not in page and "@import" not in page
    assert "<link" not in page.lower()


def test_compliance_html_is_inert_and_self_contained(compliance_html: str) -> None:
    _no_external_references(compliance_html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m" in compliance_html
    assert "\x1b" not in compliance_html
    assert "A" * 601 not in compliance_html and "4,400 more characters" in compliance_html
    assert "<style>" in compliance_html


def test_compliance_html_shows_every_requirement_and_the_provenance(
        compliance_html: str) -> None:
    report = compliance_report()
    for r in _requirements(report):
        assert r.requirement_id in compliance_html
    for text in ("Northshire Police", "audit #4711", "9f" * 32, "fleetwarden 0.1.0",
                 "j.smith@police.example", "2025-02-28 09:30 UTC", "all sites",
                 "tls-scan.json", "ab" * 32, "and 1 more entry not listed",
                 "No automated check: attestation"):
        assert text in compliance_html, text
    for status in ("FAIL", "ERROR", "MANUAL", "WAIVED", "PASS", "NOT_APPLICABLE"):
        assert f'class="badge s-{status}"' in compliance_html


def test_summary_html_has_tiles_trend_and_svg_charts() -> None:
    page = render_summary(summary_report(), "html").decode("utf-8")
    _no_external_references(page)
    assert page.count("<svg") == 4  # one per measure with trend data
    assert page.count("<polyline") == 4
    assert "Not measured in any earlier snapshot." in page
    assert "▲ +1 since previous (48)" in page            # devices_total up: better
    assert "▲ +2 since previous (2)" in page             # P1 findings up: worse
    assert 'class="delta bad"' in page and 'class="delta good"' in page
    assert "no previous value" in page
    assert "3 older snapshots not in the table" in page


# ------------------------------------------------------------------------- PDF
def _pdf_pages(data: bytes, stem: str, out_dir) -> list[str]:
    """Texts of every page; page 1 rendered to a PNG that must not be blank."""
    assert data.startswith(b"%PDF-")
    pdf = pdfium.PdfDocument(data)
    assert len(pdf) >= 1
    image = pdf[0].render(scale=1).to_pil().convert("L")
    image.save(out_dir / f"{stem}-1.png")
    assert ImageStat.Stat(image).stddev[0] > 10, "page 1 looks blank"
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


@pytest.fixture(scope="module")
def compliance_pdf_text(tmp_path_factory) -> list[str]:
    data = render_compliance(compliance_report(), "pdf")
    return _pdf_pages(data, "compliance", tmp_path_factory.mktemp("pdf"))


@pytest.fixture(scope="module")
def summary_pdf_text(tmp_path_factory) -> list[str]:
    data = render_summary(summary_report(), "pdf")
    return _pdf_pages(data, "summary", tmp_path_factory.mktemp("pdf"))


def test_compliance_pdf_has_page_numbers_header_and_inert_text(
        compliance_pdf_text: list[str]) -> None:
    pages = len(compliance_pdf_text)
    for n, text in enumerate(compliance_pdf_text, 1):
        assert f"page {n} of {pages}" in text
        assert "Northshire Police" in text and "2025-03-01 09:30 UTC" in text
    everything = "\n".join(compliance_pdf_text)
    assert "<script>alert(1)</script>\\x1b[31m" in everything.replace("\r\n", "").replace(
        "\n", "")
    assert "4,400 more characters" in everything


def test_summary_pdf_renders(summary_pdf_text: list[str]) -> None:
    assert "Security summary" in summary_pdf_text[0]
    assert f"page 1 of {len(summary_pdf_text)}" in summary_pdf_text[0]


def test_pdf_rendering_does_not_write_to_stderr(capfd, compliance_pdf_text) -> None:
    render_summary(replace(summary_report(), trend=()), "pdf")
    assert capfd.readouterr().err == ""


# ------------------------------------------------------------------------- CSV
def test_compliance_csv_rows_counts_and_neutralised_cells() -> None:
    report = compliance_report()
    rows = list(csv.reader(io.StringIO(render_compliance(report, "csv").decode("utf-8"))))
    assert tuple(rows[0]) == csv_report.COMPLIANCE_COLUMNS
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(body) == sum(max(len(r.entries), 1) for r in _requirements(report)) == 9
    assert {b["requirement_id"] for b in body} == {r.requirement_id for r in _requirements(report)}
    tls = [b for b in body if b["requirement_id"] == "ncsp-iot/2.3"]
    assert [(b["pass"], b["fail"], b["error"], b["manual"]) for b in tls] == [("30", "1", "1", "0")] * 2
    assert tls[0]["reason"] == LONG  # the CSV keeps the whole text
    assert tls[0]["subject_name"] == "<script>alert(1)</script>?[31m"
    assert tls[0]["collected_at"] == "2025-03-01T06:30:00Z"
    assert tls[0]["evidence_summary"] == "check/automated-probe: TLS 1.0 accepted on 443/tcp"
    formula = next(b for b in body if b["subject_id"] == "18")
    assert formula["subject_name"].startswith("'=")
    assert formula["site"] == "'@SUM(A1)"
    assert formula["reason"].startswith("'-2+3")
    na = next(b for b in body if b["requirement_id"] == "etsi-en-303-645/5.13-1a")
    assert na["subject_id"] == "" and na["not_applicable"] == "42" and na["mandatory"] == "false"
    assert all(b["audit_head_hash"] == "9f" * 32 for b in body)
    assert all(b["generated_at"] == "2025-03-01T09:30:00Z" for b in body)


def test_summary_csv_has_one_row_per_measure_and_keeps_numbers() -> None:
    report = summary_report()
    rows = list(csv.DictReader(io.StringIO(render_summary(report, "csv").decode("utf-8"))))
    assert [r["key"] for r in rows] == [m.key for m in report.measures]
    overdue = rows[2]
    assert (overdue["value"], overdue["previous"], overdue["change"]) == ("3", "4", "-1")
    assert (overdue["direction"], overdue["improved"]) == ("down", "true")
    assert rows[-1]["label"] == "'@unregistered devices" and rows[-1]["value"] == ""


# ------------------------------------------------------------------------ JSON
def test_compliance_json_round_trips_and_is_documented() -> None:
    report = compliance_report()
    data = render_compliance(report, "json")
    doc = json.loads(data)
    assert doc["format"] == "fleetwarden-compliance-report" and doc["format_version"] == 1
    assert doc["generated_at"] == "2025-03-01T09:30:00Z"
    assert doc["frameworks"][0]["compliance_percent"] == report.frameworks[0].compliance_percent
    entry = doc["frameworks"][0]["requirements"][1]["entries"][0]
    assert entry["subject_name"] == HOSTILE and entry["reason"] == LONG
    assert entry["evidence"][0]["files"] == [{"name": "tls-scan.json", "sha256": "ab" * 32}]
    assert json_report.load_compliance(data) == report


def test_summary_json_round_trips() -> None:
    report = summary_report()
    data = render_summary(report, "json")
    doc = json.loads(data)
    assert doc["trend"][0] == {"at": "2025-01-01", "values": {
        "devices_total": 40, "kev_devices": 3, "findings_overdue": 7,
        "compliance_ncsp-iot": 61.0}}
    assert doc["measures"][2]["change"] == -1 and doc["measures"][2]["direction"] == "down"
    assert json_report.load_summary(data) == report


def test_json_reader_refuses_other_documents() -> None:
    with pytest.raises(InputError):
        json_report.load_compliance(b'{"format": "something-else"}')
    with pytest.raises(InputError):
        json_report.load_summary(b"not json")


# ----------------------------------------------------------------------- OSCAL
def _plain(value: object) -> str:
    """A trestle union field (enum, token model or str) as its text."""
    for attr in ("value", "root"):
        value = getattr(value, attr, value)
    return str(value)


@pytest.fixture(scope="module")
def oscal_bytes() -> bytes:
    return render_compliance(compliance_report(), "oscal")


def test_oscal_parses_back_into_trestle_with_a_finding_per_requirement(
        oscal_bytes: bytes) -> None:
    report = compliance_report()
    model = ar.AssessmentResults.model_validate(json.loads(oscal_bytes)["assessment-results"])
    (result,) = model.results
    findings = {f.target.target_id: f for f in result.findings}
    assert len(findings) == len(_requirements(report)) == 8
    expected = {Status.PASS: "satisfied", Status.NOT_APPLICABLE: "satisfied",
                Status.WAIVED: "satisfied", Status.FAIL: "not-satisfied",
                Status.MANUAL: "not-satisfied", Status.ERROR: "not-satisfied"}
    for r in _requirements(report):
        f = findings[control_id(r.requirement_id)]
        assert f.target.type.value == "objective-id"
        assert f.target.status.state.value == expected[r.status]
        status_prop = next(p for p in f.props if p.name == "status")
        assert status_prop.value == r.status.value and str(status_prop.ns) == NS
    def reason(rid: str) -> str:
        return _plain(findings[control_id(rid)].target.status.reason)

    assert reason("ncsp-iot/1.1") == "fail"
    assert reason("etsi-en-303-645/5.1-1") == "pass"
    assert reason("ncsp-iot/3.1") == "other"
    selected = {c.control_id for s in result.reviewed_controls.control_selections
                for c in s.include_controls}
    assert selected == set(findings)
    n_obs = sum(max(len(e.evidence), 1) for r in _requirements(report) for e in r.entries)
    assert len(result.observations) == n_obs
    methods = {_plain(m) for o in result.observations for m in o.methods}
    assert methods == {"TEST", "EXAMINE"}
    subjects = {_plain(s.type) for o in result.observations for s in o.subjects}
    assert subjects == {"inventory-item", "component"}
    assert model.import_ap.href.startswith("#")
    plan = model.import_ap.href[1:]
    assert plan in {res.uuid for res in model.back_matter.resources}
    assert model.metadata.parties and model.metadata.responsible_parties


def test_oscal_is_deterministic_and_escapes_device_text(oscal_bytes: bytes) -> None:
    assert render_compliance(compliance_report(), "oscal") == oscal_bytes
    text = oscal_bytes.decode("utf-8")
    assert "<script" not in text and "\\u001b" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    later = replace(compliance_report(), generated_at=T0 + timedelta(days=1))
    other = json.loads(render_compliance(later, "oscal"))["assessment-results"]
    this = json.loads(oscal_bytes)["assessment-results"]
    assert other["uuid"] != this["uuid"]
    # the same device keeps its uuid from one report to the next
    items = {i["uuid"] for i in this["results"][0]["local-definitions"]["inventory-items"]}
    assert items == {i["uuid"] for i in other["results"][0]["local-definitions"]["inventory-items"]}


def test_oscal_refuses_an_empty_report() -> None:
    with pytest.raises(InputError, match="no requirements"):
        render_compliance(replace(compliance_report(), frameworks=()), "oscal")
