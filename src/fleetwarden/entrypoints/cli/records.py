"""``fleetwarden sites|segments|suppliers|models|systems|data-items ...``.

One generic set of commands per record kind; fields are given as ``--set k=v``
(lists ';'-separated) or as JSON (``--json`` or ``--file``) for nested ones such as
an IoT system's RACI matrix and data flows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fleetwarden.domain.records import RecordKind
from fleetwarden.entrypoints.cli.devices import JsonOpt, SetOpt, _load_fields
from fleetwarden.entrypoints.cli.render import OutputFormat, mapping, ok, rows
from fleetwarden.entrypoints.cli.state import state
from fleetwarden.entrypoints.presenters import record_view
from fleetwarden.errors import InputError
from fleetwarden.services import registry

LIST_FIELDS = {"cidrs", "protected_by", "aggregate_of", "device_ids"}
COLUMNS: dict[RecordKind, tuple[str, ...]] = {
    RecordKind.SITE: ("id", "name", "code", "kind", "address"),
    RecordKind.SEGMENT: ("id", "name", "cidrs", "vlan", "zone", "site_id"),
    RecordKind.SUPPLIER: ("id", "name", "contact_email", "disclosure_url"),
    RecordKind.MODEL: ("id", "vendor", "model", "device_type", "category", "supplier_id",
                       "end_of_support", "cpe"),
    RecordKind.SYSTEM: ("id", "name", "description"),
    RecordKind.DATA_ITEM: ("id", "name", "classification", "system_id", "protected_by",
                           "aggregate_of"),
    RecordKind.COMPONENT: ("id", "name", "version", "purl", "cpe", "device_id", "model_id"),
}
HELP = {
    RecordKind.SITE: "Sites and locations.",
    RecordKind.SEGMENT: "Network segments (CIDRs, VLAN, zone).",
    RecordKind.SUPPLIER: "Suppliers, their contacts and disclosure policies.",
    RecordKind.MODEL: "Device models (vendor, model, type, end of support).",
    RecordKind.SYSTEM: "IoT systems: scope, data flows, RACI matrix, member devices.",
    RecordKind.DATA_ITEM: "Data items and their security classification.",
    RecordKind.COMPONENT: "Software components installed on a device or a model.",
}
FileOpt = Annotated[Path | None, typer.Option("--file", help="Fields as a JSON file.")]


def _body(fields: list[str] | None, json_text: str | None, file: Path | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {file}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{file.name}: invalid JSON ({exc.msg})") from None
        if not isinstance(loaded, dict):
            raise InputError(f"{file.name}: expected a JSON object")
        body.update(loaded)
    body.update(_load_fields(fields, json_text))
    for key in LIST_FIELDS & body.keys():
        if isinstance(body[key], str):
            parts = [p.strip() for p in body[key].split(";") if p.strip()]
            body[key] = [int(p) if key == "device_ids" and p.isdigit() else p for p in parts]
    for key in ("vlan", "device_id", "model_id"):
        if isinstance(body.get(key), str) and body[key].isdigit():
            body[key] = int(body[key])
    return body


def make_app(kind: RecordKind) -> typer.Typer:
    app = typer.Typer(help=HELP[kind], no_args_is_help=True)
    label = kind.value.replace("_", " ")

    @app.command("add")
    def add(ctx: typer.Context, fields: SetOpt = None, json_text: JsonOpt = None,
            file: FileOpt = None) -> None:
        """Add one (fields with --set k=v, --json or --file)."""
        st = state(ctx)
        body = _body(fields, json_text, file)
        rec = registry.create(st.app().platform, st.principal(), kind, body)
        ok(f"{label} {rec.id} added")

    @app.command("list")
    def list_(ctx: typer.Context,
              fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
              limit: int = 1000, offset: int = 0) -> None:
        """List them."""
        st = state(ctx)
        items, total = registry.list_records(st.app().platform, st.principal(), kind,
                                             limit=limit, offset=offset)
        rows((record_view(r) for r in items), fmt, COLUMNS[kind],
             title=f"{len(items)} of {total}" if fmt is OutputFormat.TABLE else None)

    @app.command("show")
    def show(ctx: typer.Context, ref: Annotated[str, typer.Argument(help="Id or name.")],
             fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
             ) -> None:
        """Show one, by id or name (vendor/model for models)."""
        st = state(ctx)
        mapping(record_view(registry.find(st.app().platform, st.principal(), kind, ref)), fmt)

    @app.command("update")
    def update(ctx: typer.Context, ref: Annotated[str, typer.Argument(help="Id or name.")],
               fields: SetOpt = None, json_text: JsonOpt = None, file: FileOpt = None) -> None:
        """Change some fields."""
        st = state(ctx)
        p = st.principal()
        rec = registry.find(st.app().platform, p, kind, ref)
        body = _body(fields, json_text, file)
        if not body:
            raise InputError("nothing to change: give --set, --json or --file")
        assert rec.id is not None
        registry.update(st.app().platform, p, kind, rec.id, body)
        ok(f"{label} {rec.id} updated")

    @app.command("delete")
    def delete(ctx: typer.Context, ref: Annotated[str, typer.Argument(help="Id or name.")]) -> None:
        """Delete one that nothing refers to."""
        st = state(ctx)
        p = st.principal()
        rec = registry.find(st.app().platform, p, kind, ref)
        assert rec.id is not None
        registry.delete(st.app().platform, p, kind, rec.id)
        ok(f"{label} {rec.id} deleted")

    return app


COMMAND_NAMES = {
    RecordKind.SITE: "sites",
    RecordKind.SEGMENT: "segments",
    RecordKind.SUPPLIER: "suppliers",
    RecordKind.MODEL: "models",
    RecordKind.SYSTEM: "systems",
    RecordKind.DATA_ITEM: "data-items",
    RecordKind.COMPONENT: "components",
}
