"""Report renderers: the compliance report (html, pdf, csv, json, oscal) and the
management summary (html, pdf, csv, json) as bytes, one module per format.

Dispatch is two explicit dicts keyed by ``ReportFormat``. The PDF and OSCAL renderers are
imported when first used: WeasyPrint and trestle's models take most of a second each to
import, which a CLI asking for CSV should not pay.

Must not: fetch, query or compute anything; the services build the report values.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from fleetwarden.domain.compliance.report import ComplianceReport
from fleetwarden.domain.compliance.summary import SummaryReport
from fleetwarden.entrypoints.reports import csv_report, html, json_report
from fleetwarden.errors import InputError

__all__ = ["MEDIA_TYPE", "ReportFormat", "render_compliance", "render_summary"]


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"
    JSON = "json"
    OSCAL = "oscal"


MEDIA_TYPE: dict[ReportFormat, str] = {
    ReportFormat.HTML: "text/html; charset=utf-8",
    ReportFormat.PDF: "application/pdf",
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.JSON: "application/json",
    ReportFormat.OSCAL: "application/oscal+json",
}


def _pdf_compliance(report: ComplianceReport) -> bytes:
    from fleetwarden.entrypoints.reports import pdf

    return pdf.render_compliance(report)


def _pdf_summary(report: SummaryReport) -> bytes:
    from fleetwarden.entrypoints.reports import pdf

    return pdf.render_summary(report)


def _oscal_compliance(report: ComplianceReport) -> bytes:
    from fleetwarden.entrypoints.reports import oscal

    return oscal.render_compliance(report)


COMPLIANCE_RENDERERS: dict[ReportFormat, Callable[[ComplianceReport], bytes]] = {
    ReportFormat.HTML: html.render_compliance,
    ReportFormat.PDF: _pdf_compliance,
    ReportFormat.CSV: csv_report.render_compliance,
    ReportFormat.JSON: json_report.render_compliance,
    ReportFormat.OSCAL: _oscal_compliance,
}

SUMMARY_RENDERERS: dict[ReportFormat, Callable[[SummaryReport], bytes]] = {
    ReportFormat.HTML: html.render_summary,
    ReportFormat.PDF: _pdf_summary,
    ReportFormat.CSV: csv_report.render_summary,
    ReportFormat.JSON: json_report.render_summary,
}


_R = TypeVar("_R")


def _renderer(fmt: ReportFormat | str, renderers: dict[ReportFormat, _R], what: str) -> _R:
    try:
        return renderers[ReportFormat(str(fmt).strip().lower())]
    except (ValueError, KeyError):
        choices = ", ".join(renderers)
        shown = str(fmt)[:40].encode("unicode_escape").decode("ascii")
        raise InputError(f"unknown {what} format {shown!r} (choose from {choices})") from None


def render_compliance(report: ComplianceReport, fmt: ReportFormat | str) -> bytes:
    """The compliance report in ``fmt`` (html, pdf, csv, json, oscal)."""
    return _renderer(fmt, COMPLIANCE_RENDERERS, "compliance report")(report)


def render_summary(report: SummaryReport, fmt: ReportFormat | str) -> bytes:
    """The summary in ``fmt`` (html, pdf, csv, json)."""
    return _renderer(fmt, SUMMARY_RENDERERS, "summary report")(report)
