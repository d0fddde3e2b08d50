"""``fleetwarden devices ...``: import, list, show, add, update, transition, delete."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from fleetwarden.adapters.files.devices import count_lines, detect_format, read_rows
from fleetwarden.domain.device_input import LIST_COLUMNS
from fleetwarden.domain.records import RecordKind
from fleetwarden.entrypoints.cli.render import OutputFormat, console, err_console, mapping, ok, rows
from fleetwarden.entrypoints.cli.state import state
from fleetwarden.entrypoints.presenters import device_detail, device_row, event_view
from fleetwarden.errors import InputError
from fleetwarden.ports import DeviceQuery
from fleetwarden.services import audit, devices, importing
from fleetwarden.services.digests import file_sha256

app = typer.Typer(help="The device register: import, list, inspect and move devices.",
                  no_args_is_help=True)

TABLE_COLUMNS = ("id", "name", "device_type", "vendor", "model", "serial", "site",
                 "lifecycle_state", "firmware_version", "last_seen")
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]



@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, JSON array or JSON Lines file.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check everything, write nothing.")]
    = False,
    fmt: Annotated[str, typer.Option("--format", help="auto, csv, json or jsonl.")] = "auto",
) -> None:
    """Import devices, all or nothing: one bad row and nothing is written."""
    st = state(ctx)
    if not file.is_file():
        raise InputError(f"no such file: {file}")
    kind = detect_format(file, fmt)
    principal = st.principal()
    total = max(count_lines(file) - (1 if kind == "csv" else 0), 1)
    source = {"file": file.name, "format": kind, "sha256": file_sha256(file)}
    with Progress(
        TextColumn("[bold]importing[/bold]"), BarColumn(), MofNCompleteColumn(),
        TextColumn("rows"), TimeRemainingColumn(), console=err_console,
        disable=total < 2000 or not err_console.is_terminal, transient=True,
    ) as progress:
        task = progress.add_task("import", total=total)
        report = importing.import_devices(
            st.app().platform, principal, read_rows(file, kind), source=source,
            dry_run=dry_run, on_progress=lambda n: progress.advance(task, n),
        )
    if report.error_count:
        for row, message in report.errors:
            err_console.print(f"row {row}: {message}", markup=False, highlight=False)
        more = report.error_count - len(report.errors)
        if more > 0:
            err_console.print(f"... and {more} more errors", markup=False)
        raise InputError(
            f"{report.error_count} of {report.rows} rows have errors; nothing was imported"
        )
    if dry_run:
        ok(f"dry run: {report.rows} rows are valid; nothing was written")
        return
    extra = f", {report.models_created} new models" if report.models_created else ""
    ok(f"imported {report.created} devices{extra}")


def _query(ctx: typer.Context, state_: str | None, type_: str | None, site: str | None,
           segment: str | None, search: str | None, limit: int) -> DeviceQuery:
    st = state(ctx)
    p = st.principal()
    site_id = (devices.resolve_site_or_segment(st.app().platform, p, RecordKind.SITE, site)
               if site else None)
    seg_id = (devices.resolve_site_or_segment(st.app().platform, p, RecordKind.SEGMENT, segment)
              if segment else None)
    return DeviceQuery(state=state_, device_type=type_, site_id=site_id, segment_id=seg_id,
                       search=search, limit=limit)


@app.command("list")
def list_(
    ctx: typer.Context,
    state_: Annotated[str | None, typer.Option("--state", help="Lifecycle state.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Device type.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Site name or id.")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Segment name or id.")] = None,
    search: Annotated[str | None, typer.Option("--search", "-q",
                                               help="Part of name, serial or hostname.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many (default: all).")] = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """List devices. JSON and CSV output can be imported again."""
    st = state(ctx)
    p = st.principal()
    q = _query(ctx, state_, type_, site, segment, search, 1000)
    platform = st.app().platform

    def stream() -> Any:
        n = 0
        page = devices.list_devices(platform, p, q)
        while True:
            for d in page.items:
                if limit is not None and n >= limit:
                    return
                n += 1
                yield device_row(d, p.tenant.name)
            if page.next_cursor is None:
                return
            page = devices.list_devices(
                platform, p, replace(q, after=page.next_cursor))

    rows(stream(), fmt, LIST_COLUMNS, table_columns=TABLE_COLUMNS)


@app.command("show")
def show(ctx: typer.Context, device_id: Annotated[int, typer.Argument(metavar="ID")],
         fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """One device in full, with its lifecycle history."""
    st = state(ctx)
    p = st.principal()
    d = devices.get_device(st.app().platform, p, device_id)
    detail = device_detail(d, p.tenant.name)
    history = [event_view(e) for e in audit.history(st.app().platform, p, "device", device_id)]
    if fmt is OutputFormat.JSON:
        mapping(detail | {"history": history}, fmt)
        return
    mapping(detail, fmt, title=f"device {device_id}")
    rows(({"seq": e["seq"], "at": e["at"], "actor": e["actor"], "action": e["action"],
           "change": json.dumps(e["after"]) if e["after"] else "", "reason": e["reason"]}
          for e in history), OutputFormat.TABLE,
         ("seq", "at", "actor", "action", "change", "reason"), title="history")


def _load_fields(fields: list[str] | None, json_text: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if json_text:
        try:
            loaded = json.loads(json_text)
        except json.JSONDecodeError as exc:
            raise InputError(f"--json: invalid JSON ({exc.msg})") from None
        if not isinstance(loaded, dict):
            raise InputError("--json: expected an object")
        body.update(loaded)
    for item in fields or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--set: expected FIELD=VALUE, got {item[:40]!r}")
        body[key.strip()] = value
    return body


SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-s", help="FIELD=VALUE (repeatable; lists are ';'-separated).")]
JsonOpt = Annotated[str | None, typer.Option("--json", help="Fields as a JSON object.")]


@app.command("add")
def add(ctx: typer.Context, name: str, fields: SetOpt = None, json_text: JsonOpt = None) -> None:
    """Register one device: fleetwarden devices add cam-01 -s device_type=cctv_camera ..."""
    st = state(ctx)
    body = _load_fields(fields, json_text) | {"name": name}
    d = devices.create_device(st.app().platform, st.principal(), body)
    ok(f"device {d.id} {d.name} registered ({d.lifecycle_state.value})")


@app.command("update")
def update(
    ctx: typer.Context, device_id: Annotated[int, typer.Argument(metavar="ID")],
    fields: SetOpt = None, json_text: JsonOpt = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
    change_request: Annotated[int | None, typer.Option(help="Approved change request id.")]
    = None,
) -> None:
    """Change some fields of a device (not its lifecycle state: use transition)."""
    st = state(ctx)
    body = _load_fields(fields, json_text)
    if not body:
        raise InputError("nothing to change: give --set FIELD=VALUE or --json")
    d = devices.update_device(st.app().platform, st.principal(), device_id, body,
                              change_request=change_request, reason=reason)
    ok(f"device {d.id} updated")


@app.command("transition")
def transition(
    ctx: typer.Context, device_id: Annotated[int, typer.Argument(metavar="ID")],
    target: Annotated[str, typer.Argument(metavar="STATE")],
    reason: Annotated[str, typer.Option(help="Why (required; kept in the audit log).")],
    change_request: Annotated[int | None, typer.Option(help="Approved change request id.")]
    = None,
) -> None:
    """Move a device through its lifecycle (planned → procured → commissioning → in_service ...)."""
    st = state(ctx)
    d = devices.transition(st.app().platform, st.principal(), device_id, target, reason,
                           change_request=change_request)
    ok(f"device {d.id} is now {d.lifecycle_state.value}")


@app.command("transfer")
def transfer(
    ctx: typer.Context, device_id: Annotated[int, typer.Argument(metavar="ID")],
    owner: Annotated[str, typer.Argument(help="The new Information Asset Owner.")],
    reason: Annotated[str, typer.Option(help="Why (required).")],
    change_request: Annotated[int | None, typer.Option(help="Approved change request id.")]
    = None,
) -> None:
    """Change of ownership: hand the device to a new Information Asset Owner."""
    st = state(ctx)
    d = devices.transfer_ownership(st.app().platform, st.principal(), device_id, owner, reason,
                                   change_request=change_request)
    ok(f"device {d.id} now owned by {d.owner}")


@app.command("delete")
def delete(ctx: typer.Context, device_id: Annotated[int, typer.Argument(metavar="ID")],
           reason: Annotated[str, typer.Option(help="Why (required).")]) -> None:
    """Delete a device that was never in service (others are decommissioned and disposed)."""
    st = state(ctx)
    devices.delete_device(st.app().platform, st.principal(), device_id, reason)
    ok(f"device {device_id} deleted")


@app.command("lookup")
def lookup(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="serial, mac, imei, iccid, vin, cert_sha256, ip, "
                                             "hostname")],
    value: str, fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Find devices by an identifier."""
    st = state(ctx)
    p = st.principal()
    found = devices.lookup(st.app().platform, p, kind, value)
    rows((device_row(d, p.tenant.name) for d in found), fmt, LIST_COLUMNS,
         table_columns=TABLE_COLUMNS)
    if not found and fmt is OutputFormat.TABLE:
        console.print(f"no device has {kind} {value}", markup=False)
