"""``/ui/``: the estate at a glance: devices by type, state and site, the unregistered
queue, KEV exposure, findings by priority with overdue counts, inherent risk,
compliance % per framework and trends, each figure linking to the list behind it.

The figures come from ``services.overview.OverviewCache`` (one per app, computed in the
background, shown with their "as of" time); compliance and trends from the daily
summary snapshot. Read-only: no form on this page.

Must not: compute anything itself (the service does), or wait on a big estate (the
cache answers at once after a tenant's first request).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fleetwarden.entrypoints.api.auth import fleetwarden_app
from fleetwarden.entrypoints.web import charts
from fleetwarden.entrypoints.web.labels import label
from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import Session
from fleetwarden.services.overview import (
    TREND_DAYS,
    Overview,
    OverviewCache,
    Snapshot,
    Tally,
    refresh_age,
)

router = APIRouter(include_in_schema=False)

BARS_SHOWN = 12
"""Bars of a by-type or by-site chart; the rest are summed in a line under it, so the
panels of a row stay about as tall as each other."""
REFRESH_SECONDS = 5
"""How soon the "being computed" page reloads itself."""
SNAPSHOT_COMMAND = "fleetwarden report summary"
_STATE_COLOURS = {"planned": "#8a93a3", "procured": "#6b7f99", "commissioning": "#1f7a8c",
                  "in_service": "#2b7a3d", "maintenance": "#c9a227",
                  "quarantined": "#a8201a", "decommissioning": "#d0661a",
                  "disposed": "#5b6576"}
_PRIORITY_COLOURS = {1: "#a8201a", 2: "#d0661a", 3: "#c9a227", 4: "#5b6576"}
_RISK_COLOURS = {"low": "#2b7a3d", "medium": "#c9a227", "high": "#d0661a",
                 "critical": "#a8201a"}
_lock = threading.Lock()


def _cache(request: Request) -> OverviewCache:
    """This app's cache, made on first use (each app, e.g. each test's, has its own)."""
    state = request.app.state
    with _lock:
        cache = getattr(state, "overview_cache", None)
        if cache is None:
            cache = OverviewCache()
            state.overview_cache = cache
    assert isinstance(cache, OverviewCache)
    return cache


@router.get("/ui/", response_class=HTMLResponse)
def overview(request: Request, session: Session) -> HTMLResponse:
    figures = _cache(request).get(fleetwarden_app(request).platform, session.principal)
    if figures is None:
        return page(request, "ui/overview.html", {"computing": True,
                                                  "reload": REFRESH_SECONDS},
                    session=session)
    return page(request, "ui/overview.html", view(figures), session=session)


def _href(path: str, **query: str) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def view(o: Overview) -> dict[str, Any]:
    """The template's context: cards, charts (Markup) and the rows behind them."""
    overdue = sum(p.overdue for p in o.priorities)
    p1 = o.priorities[0]
    cards = [
        {"label": "Devices in the register", "value": o.devices, "href": "/ui/devices",
         "note": f"{charts.number(o.live)} not disposed"},
        {"label": "Unregistered devices seen", "value": o.unregistered,
         "href": "/ui/unregistered", "alert": o.unregistered > 0},
        {"label": "Devices with a KEV vulnerability", "value": o.kev_devices,
         "href": _href("/ui/vulns", kev="1"), "alert": o.kev_devices > 0},
        {"label": "Open P1 findings", "value": p1.active,
         "href": _href("/ui/vulns", priority="P1"), "alert": p1.active > 0},
        {"label": "Overdue findings", "value": overdue,
         "href": _href("/ui/vulns", overdue="1"), "alert": overdue > 0},
    ]
    types, more_types = o.by_type[:BARS_SHOWN], o.by_type[BARS_SHOWN:]
    sites, more_sites = o.by_site[:BARS_SHOWN], o.by_site[BARS_SHOWN:]
    return {
        "o": o,
        "cards": cards,
        "refresh_minutes": max(1, round(refresh_age(o.seconds) / 60)),
        "type_chart": charts.bars(
            [charts.Bar(label(t.key), t.count, _href("/ui/devices", type=t.key))
             for t in types], title="Devices by type"),
        "types_rest": (len(more_types), sum(t.count for t in more_types)),
        "state_chart": charts.bars(
            [charts.Bar(label(t.key), t.count, _href("/ui/devices", state=t.key),
                        colour=_STATE_COLOURS.get(t.key, charts.ACCENT))
             for t in o.by_state], title="Devices by lifecycle state"),
        "site_chart": charts.bars(
            [charts.Bar(t.label, t.count, _href("/ui/devices", site=t.key) if t.key else None)
             for t in sites], title="Devices by site"),
        "sites_rest": (len(more_sites), sum(t.count for t in more_sites)),
        "priority_chart": charts.bars(
            [charts.Bar(f"P{p.level}", p.active, _href("/ui/vulns", priority=f"P{p.level}"),
                        part=p.overdue, colour=_PRIORITY_COLOURS[p.level])
             for p in o.priorities], title="Active findings by priority, overdue darker",
            part_label="overdue"),
        "priorities": [{"level": p.level, "active": p.active, "overdue": p.overdue,
                        "href": _href("/ui/vulns", priority=f"P{p.level}"),
                        "overdue_href": _href("/ui/vulns", priority=f"P{p.level}",
                                              overdue="1")}
                       for p in o.priorities],
        "risk_chart": _risk_chart(o.risk, o.live),
        **_snapshot_view(o.snapshot),
    }


def _risk_chart(risk: Sequence[Tally], live: int) -> Any:
    return charts.donut([charts.Slice(label(t.key), t.count, _RISK_COLOURS[t.key])
                         for t in risk],
                        title="Inherent risk of the devices not disposed",
                        centre=charts.number(live))


def _snapshot_view(s: Snapshot | None) -> dict[str, Any]:
    if s is None:
        return {"snapshot": None, "snapshot_command": SNAPSHOT_COMMAND}
    frameworks = [
        {"id": f.id, "title": f.title, "percent": f.percent,
         "change": None if f.percent is None or f.previous is None
         else round(f.percent - f.previous, 1),
         "href": _href("/ui/compliance", framework=f.id)}
        for f in s.compliance]
    measured = [f for f in s.compliance if f.percent is not None]
    counts = [t for t in s.trends if not t.key.startswith("compliance_")]
    compliance = [t for t in s.trends if t.key.startswith("compliance_") and t.points]
    return {
        "snapshot": s,
        "trend_days": TREND_DAYS,
        "frameworks": frameworks,
        "compliance_chart": charts.bars(
            [charts.Bar(f.id, f.percent or 0.0, _href("/ui/compliance", framework=f.id),
                        text=f"{f.percent:.1f} %", colour=charts.PALETTE[2])
             for f in measured], title="Compliance by framework (device-requirement "
            "pairs met)", scale_to=100) if measured else None,
        "trend_charts": [{"label": t.label, "chart": charts.line(
            [charts.Series(t.label, t.points)], title=t.label, unit=t.unit),
            "latest": t.points[-1][1] if t.points else None, "unit": t.unit}
            for t in counts],
        "compliance_trend": charts.line(
            [charts.Series(t.label, t.points, charts.PALETTE[i % len(charts.PALETTE)])
             for i, t in enumerate(compliance)],
            title="Compliance % per framework over time", unit="%", width=560,
            height=150) if compliance else None,
        "compliance_legend": [{"label": t.label, "swatch": i % len(charts.PALETTE)}
                              for i, t in enumerate(compliance)],
    }
