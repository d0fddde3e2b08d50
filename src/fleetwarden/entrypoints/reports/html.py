"""HTML renderer of the compliance and summary reports (also the source of the PDF).

One self-contained page per report: the stylesheet is inlined, nothing is loaded from
anywhere, there is no script, and the trend charts are SVG drawn here on the server.
Jinja2 autoescapes everything; text that devices wrote (names, banners, reasons,
evidence) also goes through ``inert`` first, so an ANSI sequence or a bidi override shows
as a visible symbol and a 5,000-character line is cut to a bounded length with the rest
counted (the CSV and JSON reports keep the full text).

Must not: compute anything the report values do not already say, emit markup built from
data outside the templates, or reference any URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from fleetwarden.domain.compliance.report import (
    ComplianceReport,
    FrameworkResult,
    RequirementResult,
)
from fleetwarden.domain.compliance.results import Status
from fleetwarden.domain.compliance.summary import Measure, SummaryReport
from fleetwarden.entrypoints.reports._common import STATUS_LABEL, STATUS_ORDER, inert, utc

TEMPLATES = Path(__file__).resolve().parent / "templates"

REASON_LIMIT = 600
"""Characters of a reason shown in HTML/PDF; the rest is counted, not shown."""
TEXT_LIMIT = 200
"""Characters of a name, summary, tool or other short device-supplied text."""
DETAIL_LIMIT = 160
"""Characters of one evidence detail value."""
DETAILS_SHOWN = 8
"""Evidence detail keys shown per evidence record."""
TREND_COLUMNS = 6
"""Most recent trend points in the summary's trend table (the charts show them all)."""

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


# ------------------------------------------------------------------------ filters
def _when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return utc(value).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _number(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = f"{value:,.1f}"
    return text[:-2] if text.endswith(".0") and unit != "%" else text


def _signed(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = _number(abs(value), unit)
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def _details(details: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The first ``DETAILS_SHOWN`` evidence details as short text pairs."""
    out = []
    for key, value in list(details.items())[:DETAILS_SHOWN]:
        text = value if isinstance(value, str) else json.dumps(
            value, ensure_ascii=False, sort_keys=True, default=str)
        out.append((inert(key, 60), inert(text, DETAIL_LIMIT)))
    return out


_env.filters.update(inert=inert, when=_when, number=_number, signed=_signed,
                    details=_details)


@cache
def _css() -> Markup:
    """Our own stylesheet, trusted (it is package data, not input)."""
    text = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    assert "</" not in text
    return Markup(text)  # noqa: S704 (package file, no data in it)


# -------------------------------------------------------------------- compliance
@dataclass(frozen=True, slots=True)
class _FrameworkView:
    fw: FrameworkResult
    percent: float | None
    requirements_by_status: dict[Status, int]
    checks_by_status: dict[Status, int]
    groups: list[tuple[str, list[RequirementResult]]]


def _framework_view(fw: FrameworkResult) -> _FrameworkView:
    by_req = dict.fromkeys(STATUS_ORDER, 0)
    by_check = dict.fromkeys(STATUS_ORDER, 0)
    groups: dict[str, list[RequirementResult]] = {}
    for r in fw.requirements:
        by_req[r.status] += 1
        for status, n in r.counts.items():
            by_check[status] += n
        groups.setdefault(r.group, []).append(r)
    return _FrameworkView(fw, fw.compliance_percent, by_req, by_check, list(groups.items()))


def compliance_html(report: ComplianceReport, *, note: str | None = None) -> str:
    """``note``: one sentence for the cover, e.g. that a PDF lists fewer entries."""
    return _env.get_template("compliance.html.j2").render(
        r=report, frameworks=[_framework_view(f) for f in report.frameworks],
        statuses=STATUS_ORDER, label=STATUS_LABEL, css=_css(), note=note,
        limits={"reason": REASON_LIMIT, "text": TEXT_LIMIT, "details": DETAILS_SHOWN})


def render_compliance(report: ComplianceReport) -> bytes:
    return compliance_html(report).encode("utf-8")


# ----------------------------------------------------------------------- summary
CHART_W, CHART_H = 320, 96
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 34, 8, 8, 18


@dataclass(frozen=True, slots=True)
class _Chart:
    """Coordinates of one measure's line chart, in SVG user units."""

    points: str
    """``x,y x,y ...`` for the polyline."""
    dots: list[tuple[float, float]]
    low: float
    high: float
    first: date
    last: date
    y_low: float
    y_high: float


def _chart(measure: Measure, trend: Iterable[tuple[date, Mapping[str, float]]]) -> _Chart | None:
    series = [(at, float(values[measure.key])) for at, values in trend if measure.key in values]
    if not series:
        return None
    vals = [v for _, v in series]
    low = min(0.0, min(vals))  # counts and percentages read honestly from zero
    high = 100.0 if measure.unit == "%" and max(vals) <= 100 else max(vals)
    if high <= low:
        high = low + 1
    first, last = series[0][0], series[-1][0]
    span = max((last - first).days, 1)
    width, height = CHART_W - _PAD_L - _PAD_R, CHART_H - _PAD_T - _PAD_B

    def xy(at: date, v: float) -> tuple[float, float]:
        x = _PAD_L + (width * (at - first).days / span if len(series) > 1 else width / 2)
        return round(x, 1), round(_PAD_T + height * (high - v) / (high - low), 1)

    dots = [xy(at, v) for at, v in series]
    return _Chart(" ".join(f"{x},{y}" for x, y in dots), dots, low, high, first, last,
                  float(_PAD_T + height), float(_PAD_T))


def summary_html(report: SummaryReport) -> str:
    trend = [(p.at, p.values) for p in report.trend]
    charts = [(m, _chart(m, trend)) for m in report.measures]
    return _env.get_template("summary.html.j2").render(
        r=report, charts=charts, columns=report.trend[-TREND_COLUMNS:],
        older=max(len(report.trend) - TREND_COLUMNS, 0), css=_css(),
        chart={"w": CHART_W, "h": CHART_H, "left": _PAD_L, "right": CHART_W - _PAD_R},
        limits={"text": TEXT_LIMIT})


def render_summary(report: SummaryReport) -> bytes:
    return summary_html(report).encode("utf-8")
