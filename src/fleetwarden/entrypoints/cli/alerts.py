"""``fleetwarden alerts ...``: what discovery raised (new, changed, missing, rogue seen).

Must not: raise, filter or deliver alerts itself (``services.alerts`` does).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from fleetwarden.domain.durations import parse_duration
from fleetwarden.entrypoints.cli.discover import flat, plain
from fleetwarden.entrypoints.cli.render import OutputFormat, ok, rows
from fleetwarden.entrypoints.cli.state import state
from fleetwarden.errors import InputError
from fleetwarden.services import alerts

app = typer.Typer(help="Alerts from discovery: new, changed, missing and rogue devices.",
                  no_args_is_help=True)

COLUMNS = ("id", "created_at", "kind", "severity", "title", "device_id", "host_id",
           "scan_id", "acknowledged_at", "acknowledged_by", "delivered_at", "details")
TABLE_COLUMNS = ("id", "created_at", "kind", "severity", "title", "device_id", "host_id",
                 "scan_id", "acknowledged_by")
MAX_SINCE = 10 * 366 * 86400


def parse_since(text: str, now: datetime) -> datetime:
    """``24h``, ``7d`` (that long before ``now``) or an ISO 8601 time (UTC if no zone)."""
    value = text.strip()
    if value[-1:].lower() in ("s", "m", "h", "d") and value[:1].isdigit():
        return now - timedelta(seconds=parse_duration(value, option="--since", minimum=1,
                                                      maximum=MAX_SINCE))
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--since {plain(text[:40])!r}: a duration such as 24h or 7d, or "
                         "an ISO 8601 time such as 2026-03-01T08:00") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: Annotated[list[str] | None, typer.Option(
        "--kind",
        help="new, changed, missing, rogue_seen, vuln.new or vuln.kev (repeatable).")] = None,
    unacknowledged: Annotated[bool, typer.Option(
        "--unacknowledged", help="Only those nobody has acknowledged.")] = False,
    since: Annotated[str | None, typer.Option(
        "--since", help="Raised in the last 24h / 7d ..., or after an ISO 8601 time.")]
    = None,
    device: Annotated[int | None, typer.Option("--device", metavar="ID",
                                               help="About this device.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
    = OutputFormat.TABLE,
) -> None:
    """Alerts, newest first.

    Example: fleetwarden alerts list --kind new --kind rogue_seen --since 24h --unacknowledged
    """
    st = state(ctx)
    platform = st.app().platform
    after = parse_since(since, platform.now()) if since else None
    found = alerts.list_alerts(platform, st.principal(), kinds=kind or (),
                               unacknowledged=unacknowledged, since=after, device_id=device,
                               limit=limit)
    views = [alerts.alert_view(a) for a in found]
    if fmt is OutputFormat.JSON:
        rows(views, fmt, ())
        return
    rows((flat(v, table=fmt is OutputFormat.TABLE) for v in views), fmt, COLUMNS,
         table_columns=TABLE_COLUMNS)


@app.command("ack")
def ack(ctx: typer.Context, alert_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Acknowledge an alert (recorded with your name in the audit log).

    Example: fleetwarden alerts ack 42
    """
    st = state(ctx)
    a = alerts.acknowledge(st.app().platform, st.principal(), alert_id)
    ok(plain(f"alert {alert_id} acknowledged by {a.acknowledged_by}"))
