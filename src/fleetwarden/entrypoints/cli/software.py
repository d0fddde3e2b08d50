"""``fleetwarden sbom ...`` and ``fleetwarden feeds ...``: software inventory and offline
vulnerability data (R5)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from fleetwarden.entrypoints.cli.render import OutputFormat, console, err_console, ok, rows
from fleetwarden.entrypoints.cli.state import state
from fleetwarden.errors import InputError
from fleetwarden.services import feeds, software

sbom_app = typer.Typer(help="Software inventory: SBOMs of devices and firmware releases.",
                       no_args_is_help=True)
feeds_app = typer.Typer(help="Offline vulnerability data: NVD, OSV, CISA KEV, EPSS, VEX.",
                        no_args_is_help=True)
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


@sbom_app.command("import")
def sbom_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CycloneDX 1.4-1.6 (JSON or XML) or SPDX 2.3 "
                                              "(JSON or tag-value).")],
    device: Annotated[int | None, typer.Option("--device", help="The device it describes.")]
    = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="The model it describes (id or VENDOR/MODEL), with --firmware.")]
    = None,
    firmware: Annotated[str | None, typer.Option(
        "--firmware", help="The firmware release it describes (every device running it).")]
    = None,
) -> None:
    """Import an SBOM as the software of one device or of a model's firmware release.

    Example: fleetwarden sbom import hik-5.7.3.cdx.json --model Hikvision/DS-2CD2143G2-I
    --firmware "V5.7.3 build 220112"
    """
    st = state(ctx)
    done = software.import_sbom(st.app().platform, st.principal(), str(file),
                                device_id=device, model=model, firmware=firmware)
    ok(f"SBOM {done.sbom_id} ({done.format}): {done.components} components for "
       f"{done.subject}; {len(done.added)} added, {len(done.removed)} removed, "
       f"{len(done.changed)} changed version")
    for line in done.changed[:20]:
        console.print(f"  changed: {line}", markup=False)


@sbom_app.command("components")
def sbom_components(
    ctx: typer.Context,
    device: Annotated[int | None, typer.Option("--device")] = None,
    model: Annotated[str | None, typer.Option("--model")] = None,
    firmware: Annotated[str | None, typer.Option("--firmware")] = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """List the software a device runs (its own and its firmware's), or a firmware's."""
    st = state(ctx)
    found = software.components(st.app().platform, st.principal(), device_id=device,
                                model=model, firmware=firmware)
    rows(({"name": c.name, "version": c.version, "purl": c.purl, "cpe": c.cpe,
           "supplier": c.supplier} for c in found), fmt,
         ("name", "version", "purl", "cpe", "supplier"))


@feeds_app.command("import")
def feeds_import(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        help="NVD CVE JSON 2.0 (.json/.gz/.xz), OSV (.json or .zip), CISA KEV JSON, EPSS "
             "CSV (.csv/.gz), CycloneDX VEX, OpenVEX or CSAF 2.0 VEX; detected by content.")],
    skip_bad_records: Annotated[bool, typer.Option(
        "--skip-bad-records", help="Skip (and report) bad records instead of refusing the "
                                   "file.")] = False,
) -> None:
    """Import vulnerability data files, all or nothing; newer data replaces older.

    Example: fleetwarden feeds import nvdcve-2.0-2024.json.gz known_exploited.json
    epss_scores-2026-11-22.csv.gz
    """
    if not files:
        raise InputError("give at least one feed file")
    st = state(ctx)
    with Progress(TextColumn("[bold]reading[/bold]"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=err_console, transient=True,
                  disable=not err_console.is_terminal) as progress:
        task = progress.add_task("read", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = feeds.import_feeds(st.app().platform, st.principal(), [str(f) for f in files],
                                    skip_bad_records=skip_bad_records, progress=advance)
    for f in result.files:
        extra = f", {f.updated} replaced" if f.updated else ""
        extra += f", {f.skipped} bad records skipped" if f.skipped else ""
        ok(f"{f.file}: {f.records} {f.source} records{extra}")
        for warning in f.warnings[:20]:
            err_console.print(f"  warning: {warning}", markup=False)
        if len(f.warnings) > 20:
            err_console.print(f"  ... and {len(f.warnings) - 20} more", markup=False)


@feeds_app.command("status")
def feeds_status(ctx: typer.Context, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Each source's stored records, last import and the age of its data."""
    st = state(ctx)
    items = feeds.status(st.app().platform, st.principal())
    rows(({**i, "last_import": i["last_import"].isoformat() if i["last_import"] else None,
           "data_date": i["data_date"].isoformat() if i["data_date"] else None}
          for i in items), fmt,
         ("source", "stored", "age_days", "data_date", "last_import", "file", "records"))
