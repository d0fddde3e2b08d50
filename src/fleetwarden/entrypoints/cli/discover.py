"""``fleetwarden discover ...``: scan or read files, list what was found, schedules (R4).

``discover TARGET... [OPTIONS]`` is short for ``discover run TARGET... [OPTIONS]``: the
group inserts the default sub-command when the first word is not one of its own (a
TARGET spelt like a sub-command, say a host named ``hosts``, needs ``discover run``).

Must not: decide anything. Scope, reconciliation, alerts and audit are the services';
this module parses options, calls them and renders what they return. Everything a
device sent (banners, titles, hostnames) is untrusted text and reaches the terminal only
through ``plain``/the table renderer, never as Rich markup or raw control characters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from fleetwarden.domain.discovery import Source
from fleetwarden.domain.durations import describe, parse_duration
from fleetwarden.domain.inventory import DiscoveredHost
from fleetwarden.entrypoints.cli.render import (
    OutputFormat,
    console,
    err_console,
    mapping,
    ok,
    rows,
)
from fleetwarden.entrypoints.cli.state import state
from fleetwarden.entrypoints.discovery_views import (
    host_row,
    host_view,
    scan_view,
    schedule_view,
)
from fleetwarden.errors import InputError
from fleetwarden.ports import ScanOptions
from fleetwarden.services import discovery, inventory, schedules
from fleetwarden.services.discovery import DiscoverRequest, DiscoveryReport

DEFAULT_COMMAND = "run"
PAGE = 1000  # inventory.MAX_PAGE: the most one call returns


class DefaultToRun(TyperGroup):
    """A group whose first word may be a TARGET or an option of ``run``.

    ``discover 127.20.4.0/24 --udp`` and ``discover --pcap f.pcap`` become
    ``discover run ...``; ``discover --help`` and ``discover hosts`` stay as they are.
    """

    def __init__(self, **attrs: Any) -> None:
        if attrs.get("subcommand_metavar") is None:
            attrs["subcommand_metavar"] = "[TARGET]... | COMMAND [ARGS]..."
        super().__init__(**attrs)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # ``ctx`` is Typer's vendored Click context: matched by interface, not class.
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=DefaultToRun,
    help="Find devices on the network or in files, and keep the register true.\n\n"
         "fleetwarden discover TARGET... \\[OPTIONS] is short for "
         "fleetwarden discover run TARGET... \\[OPTIONS]; for example "
         "fleetwarden discover 10.20.4.0/24 --udp, or fleetwarden discover --pcap site.pcap.",
    no_args_is_help=True)
schedule_app = typer.Typer(help="Scan a segment every so often (fleetwarden serve runs them).",
                           no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")

FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


class Profile(StrEnum):
    GENTLE = "gentle"
    NORMAL = "normal"
    FAST = "fast"


PortsOpt = Annotated[str, typer.Option(
    "--ports", help="iot-top, or a list such as 22,80,443,8000-8100,U:161.")]
UdpOpt = Annotated[bool, typer.Option(
    "--udp", help="Also probe UDP: SNMP, SSDP, mDNS (unicast), CoAP.")]
ProfileOpt = Annotated[Profile, typer.Option(
    "--profile", help="gentle: one connection per host at a time, for fragile OT kit.")]
RateOpt = Annotated[int | None, typer.Option(
    "--rate", min=1, help="Connections per second (default: the profile's).")]


# ------------------------------------------------------------------ rendering
def plain(value: Any) -> str:
    """Untrusted text for ``markup=False`` output: control characters become '?'."""
    if value is None:
        return ""
    return "".join(c if c.isprintable() else "?" for c in str(value))


def _short(value: Any, limit: int = 160) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


TIME_KEYS = frozenset({"created_at", "started_at", "finished_at", "next_run_at",
                       "last_run_at", "acknowledged_at", "delivered_at", "first_seen",
                       "last_seen", "missing_since"})


def _when(value: str) -> str:
    """``2026-03-02 09:01:05Z`` from an ISO time in UTC, for a table cell."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    if when.utcoffset() != timedelta(0):
        return value
    return f"{when:%Y-%m-%d %H:%M:%S}Z"


def flat(view: Mapping[str, Any], *, table: bool = False) -> dict[str, Any]:
    """A view for a table or CSV cell by cell: lists joined, objects as compact JSON;
    ``table`` also shortens times to the second."""
    out: dict[str, Any] = {}
    for k, v in view.items():
        if isinstance(v, Mapping) or (isinstance(v, list) and any(
                isinstance(x, Mapping | list) for x in v)):
            out[k] = json.dumps(v, ensure_ascii=False, sort_keys=True) if v else None
        elif isinstance(v, list | tuple):
            out[k] = ", ".join(str(x) for x in v)
        elif table and k in TIME_KEYS and isinstance(v, str):
            out[k] = _when(v)
        else:
            out[k] = v
    return out


def services_text(services: Sequence[Mapping[str, Any]]) -> str:
    """``80/http, 554/rtsp, 161/udp/snmp``."""
    return ", ".join(
        f"{s.get('port')}/{'' if s.get('transport', 'tcp') == 'tcp' else 'udp/'}"
        f"{s.get('service')}" for s in services)


def change_text(change: Mapping[str, Any]) -> str:
    field, before, after = change.get("field"), change.get("before"), change.get("after")
    if field == "service_opened":
        return f"opened {after}"
    if field == "service_closed":
        return f"closed {before}"
    if field == "reappeared":
        return "seen again"
    if field == "certificate":
        return f"new certificate {_short(after, 40)}"
    return f"{str(field).replace('_', ' ')} {before} → {after}"


def _inventory_text(inv: Mapping[str, Any], registered: bool) -> str:
    status = str(inv.get("status"))
    if inv.get("host_status") == "rogue":
        return f"{status}: ROGUE host {inv.get('host_id')}"
    if inv.get("device_id") is not None:
        return f"{status}: device {inv['device_id']}"
    if registered and inv.get("host_id") is not None:
        return f"{status}: host {inv['host_id']} (unregistered)"
    return status


def report_row(host: Mapping[str, Any], registered: bool) -> dict[str, Any]:
    fp = host.get("fingerprint") or {}
    inv = host.get("inventory") or {}
    confidence = fp.get("confidence")
    return {
        "ip": host.get("ip"), "mac": host.get("mac"), "hostname": host.get("hostname"),
        "vendor": fp.get("vendor"), "model": fp.get("model"),
        "device_type": fp.get("device_type"), "firmware": fp.get("firmware_version"),
        "confidence": f"{confidence:.2f}" if isinstance(confidence, int | float) else None,
        "services": services_text(host.get("services") or ()),
        "inventory": _inventory_text(inv, registered),
        "changes": "; ".join(change_text(c) for c in inv.get("changes") or ()),
    }


REPORT_COLUMNS = ("ip", "mac", "hostname", "vendor", "model", "device_type", "firmware",
                  "confidence", "services", "inventory", "changes")


def _summary(report: DiscoveryReport) -> str:
    scan, c = report.scan, report.counts
    took = ""
    if scan.finished_at is not None:
        took = f" in {(scan.finished_at - scan.started_at).total_seconds():.1f} s"
    n = len(report.hosts)
    line = (f"scan {scan.id} done{took}: {n} host{'' if n == 1 else 's'}: "
            f"{c.get('known', 0)} known, {c.get('changed', 0)} changed, "
            f"{c.get('new', 0)} new, {c.get('missing', 0)} missing; ")
    if scan.registered:
        line += f"{c.get('alerts', 0)} alerts raised"
    else:
        line += (f"--no-register: nothing was written ({c.get('alerts', 0)} alerts would "
                 "have been raised)")
    if report.warnings:
        line += f"; {len(report.warnings)} warnings"
    return line


def _progress() -> Progress:
    """One live display (Rich allows no more) for both the scan and the file reading."""
    return Progress(
        TextColumn("[bold]{task.description}[/bold]"), BarColumn(),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=err_console,
        disable=not err_console.is_terminal, transient=True)


def _files(groups: Sequence[tuple[Source, str, Sequence[Path] | None]]
           ) -> tuple[tuple[Source, str], ...]:
    out = []
    for source, option, paths in groups:
        for path in paths or ():
            if not path.is_file():
                raise InputError(f"{option} {plain(path)}: no such file")
            out.append((source, str(path)))
    return tuple(out)


# ----------------------------------------------------------------------- run
@app.command(DEFAULT_COMMAND)
def run(
    ctx: typer.Context,
    targets: Annotated[list[str] | None, typer.Argument(
        metavar="TARGET", help="Addresses, CIDRs or ranges (127.20.4.1-127.20.4.50).",
        show_default=False)] = None,
    ports: PortsOpt = "iot-top",
    udp: UdpOpt = False,
    profile: ProfileOpt = Profile.NORMAL,
    rate: RateOpt = None,
    segment: Annotated[str | None, typer.Option(
        "--segment", help="Scan this segment's CIDRs (when no TARGET); file new hosts "
                          "under it.")] = None,
    fmt: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="table, or json: the array of hosts only, on stdout.")]
    = ReportFormat.TABLE,
    no_register: Annotated[bool, typer.Option(
        "--no-register", help="Compare with the register and report; change nothing.")]
    = False,
    allow_outside_scope: Annotated[bool, typer.Option(
        "--allow-outside-scope", help="Scan targets outside the tenant's segments (admin; "
                                      "audited).")] = False,
    pcap: Annotated[list[Path] | None, typer.Option(
        "--pcap", metavar="FILE", help="Read a packet capture (repeatable).")] = None,
    nmap_xml: Annotated[list[Path] | None, typer.Option(
        "--nmap-xml", metavar="FILE", help="Read an nmap -oX report (repeatable).")] = None,
    dhcp_leases: Annotated[list[Path] | None, typer.Option(
        "--dhcp-leases", metavar="FILE", help="Read ISC dhcpd or dnsmasq leases "
                                              "(repeatable).")] = None,
    arp_table: Annotated[list[Path] | None, typer.Option(
        "--arp-table", metavar="FILE", help="Read an ARP table: ip neigh, arp -a, "
                                            "/proc/net/arp (repeatable).")] = None,
) -> None:
    """Scan TARGET... and/or read files, fingerprint, and reconcile with the register.

    Example: fleetwarden discover 10.20.4.0/24 --udp --profile gentle --segment cctv
    """
    st = state(ctx)
    files = _files(((Source.PCAP, "--pcap", pcap), (Source.NMAP_XML, "--nmap-xml", nmap_xml),
                    (Source.DHCP_LEASES, "--dhcp-leases", dhcp_leases),
                    (Source.ARP_TABLE, "--arp-table", arp_table)))
    request = DiscoverRequest(
        targets=tuple(targets or ()), segment=segment,
        options=ScanOptions(ports=ports, udp=udp, profile=profile.value, rate=rate),
        files=files, register=not no_register, allow_outside_scope=allow_outside_scope)
    principal = st.principal()
    platform = st.app().platform
    with _progress() as progress:
        read_task = progress.add_task("reading", total=None, visible=False, detail="")
        scan_task = progress.add_task("scanning", total=None, visible=False, detail="")

        def on_read(done: int, total: int) -> None:
            progress.update(read_task, completed=done, total=total or None, visible=True,
                            detail=f"{decimal(done)} of {decimal(total)}")

        def on_scan(done: int, total: int, found: int) -> None:
            progress.update(scan_task, completed=done, total=total or None, visible=True,
                            detail=f"{done}/{total} hosts, {found} found")

        report = discovery.discover(platform, principal, request, progress=on_scan,
                                    read_progress=on_read)
    registered = report.scan.registered
    if fmt is ReportFormat.JSON:
        rows(report.hosts, OutputFormat.JSON, ())
        out = err_console
    else:
        rows((report_row(h, registered) for h in report.hosts), OutputFormat.TABLE,
             REPORT_COLUMNS)
        out = console
    out.print(_summary(report), markup=False, highlight=False)
    for warning in report.warnings:
        err_console.print(f"warning: {plain(warning)}", markup=False, highlight=False)


# --------------------------------------------------------------------- hosts
HOST_COLUMNS = ("id", "status", "device_id", "ip", "mac", "hostname", "vendor", "model",
                "device_type", "firmware_version", "confidence", "services", "first_seen",
                "last_seen")
HOST_TABLE_COLUMNS = tuple(c for c in HOST_COLUMNS if c != "first_seen")


def iter_hosts(ctx: typer.Context, status: str, limit: int | None) -> Iterator[DiscoveredHost]:
    """Every host with ``status``, page by page (at most ``limit``).

    The first page is fetched now, so bad input fails before anything is printed.
    """
    st = state(ctx)
    principal, platform = st.principal(), st.app().platform

    def size(offset: int) -> int:
        return PAGE if limit is None else min(PAGE, limit - offset)

    first = inventory.list_hosts(platform, principal, status, limit=size(0), offset=0)

    def pages() -> Iterator[DiscoveredHost]:
        page, offset = first, 0
        while True:
            yield from page
            wanted = size(offset)
            offset += len(page)
            if len(page) < wanted or (limit is not None and offset >= limit):
                return
            page = inventory.list_hosts(platform, principal, status, limit=size(offset),
                                        offset=offset)

    return pages()


def render_hosts(hosts: Iterator[DiscoveredHost], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.JSON:
        rows((host_view(h) for h in hosts), fmt, ())
        return
    table = fmt is OutputFormat.TABLE
    rows((flat(host_row(h), table=table) for h in hosts), fmt, HOST_COLUMNS,
         table_columns=HOST_TABLE_COLUMNS)


LimitOpt = Annotated[int | None, typer.Option(
    "--limit", min=1, help="At most this many (default: all).")]


@app.command("hosts")
def hosts(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(
        "--status", help="unregistered, registered, rogue or all.")] = "all",
    limit: LimitOpt = None,
    fmt: FormatOpt = OutputFormat.TABLE,
) -> None:
    """Hosts discovery knows, in the order it first saw them.

    Example: fleetwarden discover hosts --status rogue --format csv
    """
    render_hosts(iter_hosts(ctx, status, limit), fmt)


def _host_summary(h: DiscoveredHost) -> dict[str, Any]:
    view = host_view(h)
    fp = view["fingerprint"]
    keep = ("id", "status", "device_id", "ip", "mac", "hostname", "serial", "ssh_host_key",
            "certificates")
    summary = {k: view[k] for k in keep}
    summary |= {"vendor": h.vendor, "model": h.model, "device_type": h.device_type,
                "firmware_version": h.firmware_version, "os": h.os,
                "cpe": fp.get("cpe"), "software": fp.get("software") or [],
                "confidence": round(h.confidence, 2),
                "overrides": ", ".join(f"{k}={v}" for k, v in sorted(h.overrides.items())),
                "sources": view["sources"], "segment_id": h.segment_id,
                "first_seen": view["first_seen"], "last_seen": view["last_seen"],
                "missing_since": view["missing_since"], "last_scan_id": h.last_scan_id,
                "note": h.note}
    return flat(summary, table=True)


def _service_rows(h: DiscoveredHost) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A row per service, and the TLS details (certificate in full) of those with TLS."""
    services, tls_views = [], []
    for s in h.services:
        banner = s.get("banner")
        if isinstance(banner, str):
            banner = banner.replace("\r\n", "\n").replace("\n", " ↵ ")
        services.append({k: s.get(k) for k in ("port", "transport", "service", "product",
                                                 "version")} | {"banner": _short(banner)})
        tls = s.get("tls")
        if isinstance(tls, Mapping):
            cert = tls.get("certificate")
            cert = cert if isinstance(cert, Mapping) else {}
            tls_views.append(flat({
                "service": f"{s.get('port')}/{s.get('transport')} {s.get('service')}",
                "version": tls.get("version"), "cipher": tls.get("cipher"),
                **{k: cert.get(k) for k in ("subject", "issuer", "sans", "not_before",
                                            "not_after", "self_signed", "sha256", "key_type",
                                            "key_bits", "signature_algorithm")}}))
    return services, tls_views


@app.command("show")
def show(ctx: typer.Context, host_id: Annotated[int, typer.Argument(metavar="HOST_ID")],
         fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.TABLE,
         ) -> None:
    """One host: what it is, the evidence for each conclusion, its services and TLS.

    Example: fleetwarden discover show 12
    """
    st = state(ctx)
    h = inventory.get_host(st.app().platform, st.principal(), host_id)
    if fmt is ReportFormat.JSON:
        mapping(host_view(h), OutputFormat.JSON)
        return
    mapping(_host_summary(h), OutputFormat.TABLE, title=f"host {host_id}")
    evidence = [{"attribute": e.get("attribute"), "value": e.get("value"),
                 "certainty": e.get("certainty"), "rule": e.get("rule"),
                 "source": e.get("source"), "matched": _short(e.get("matched"), 80)}
                for e in h.fingerprint.get("evidence") or ()]
    rows(evidence, OutputFormat.TABLE,
         ("attribute", "value", "certainty", "rule", "source", "matched"), title="evidence")
    services, tls_views = _service_rows(h)
    rows(services, OutputFormat.TABLE,
         ("port", "transport", "service", "product", "version", "banner"), title="services")
    for view in tls_views:
        mapping(view, OutputFormat.TABLE, title="TLS and certificate")


@app.command("override")
def override(
    ctx: typer.Context, host_id: Annotated[int, typer.Argument(metavar="HOST_ID")],
    values: Annotated[list[str] | None, typer.Option(
        "--set", "-s", help="ATTRIBUTE=VALUE (repeatable): vendor, model, device_type, "
                            "firmware_version, os, cpe, serial, software.")] = None,
    clear: Annotated[list[str] | None, typer.Option(
        "--clear", metavar="ATTRIBUTE", help="Drop an override (repeatable).")] = None,
) -> None:
    """Correct a fingerprint by hand; overrides win over every rule and are audited.

    Example: fleetwarden discover override 12 --set model=DS-2CD2143G2-I --clear os
    """
    parsed: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set: expected ATTRIBUTE=VALUE, got {plain(item[:40])!r}")
        parsed[key.strip()] = value
    if not parsed and not clear:
        raise InputError("nothing to change: give --set ATTRIBUTE=VALUE or --clear ATTRIBUTE")
    st = state(ctx)
    h = inventory.set_overrides(st.app().platform, st.principal(), host_id, parsed,
                                [c.strip() for c in clear or ()])
    shown = ", ".join(f"{k}={v}" for k, v in sorted(h.overrides.items())) or "none"
    ok(f"host {host_id} overrides: {plain(shown)}")


# --------------------------------------------------------------------- scans
SCAN_COLUMNS = ("id", "status", "started_at", "finished_at", "actor", "sources", "targets",
                "registered", "outside_scope", "schedule_id", "summary", "error")


def _scan_row(view: dict[str, Any], table: bool) -> dict[str, Any]:
    targets, more = view["targets"], ""
    if table and len(targets) > 4:
        targets, more = targets[:4], f" (+{len(targets) - 4} more)"
    return flat(view | {"targets": ", ".join(targets) + more,
                        "summary": " ".join(f"{k}={v}" for k, v in view["summary"].items())},
                table=table)


@app.command("scans")
def scans(ctx: typer.Context,
          limit: Annotated[int, typer.Option("--limit", min=1, max=PAGE,
                                             help="At most this many.")] = 50,
          fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """Recent scans, newest first: who ran them, on what, and what they found.

    Example: fleetwarden discover scans --limit 10
    """
    st = state(ctx)
    views = [scan_view(s) for s in inventory.list_scans(st.app().platform, st.principal(),
                                                         limit)]
    rows(views if fmt is OutputFormat.JSON else
         (_scan_row(v, fmt is OutputFormat.TABLE) for v in views), fmt, SCAN_COLUMNS)


@app.command("scan")
def scan(ctx: typer.Context, scan_id: Annotated[int, typer.Argument(metavar="ID")],
         fmt: Annotated[ReportFormat, typer.Option("--format", "-f")] = ReportFormat.TABLE,
         ) -> None:
    """One scan in full: targets or files, options, scope, outcome counts.

    Example: fleetwarden discover scan 7
    """
    st = state(ctx)
    view = scan_view(inventory.get_scan(st.app().platform, st.principal(), scan_id))
    if fmt is ReportFormat.JSON:
        mapping(view, OutputFormat.JSON)
        return
    mapping(flat(view, table=True), OutputFormat.TABLE, title=f"scan {scan_id}")


# ----------------------------------------------------------------- schedules
@schedule_app.command("add")
def schedule_add(
    ctx: typer.Context,
    segment: Annotated[str, typer.Option("--segment", help="The segment to scan.")],
    every: Annotated[str, typer.Option("--every", help="How often: 30m, 1h, 1d ...")],
    ports: PortsOpt = "iot-top",
    udp: UdpOpt = False,
    profile: ProfileOpt = Profile.NORMAL,
    rate: RateOpt = None,
) -> None:
    """Scan a segment every so often (fleetwarden serve runs the schedules).

    Example: fleetwarden discover schedule add --segment cctv --every 1h --udp
    """
    seconds = parse_duration(every, option="--every", minimum=schedules.MIN_EVERY,
                             maximum=schedules.MAX_EVERY)
    st = state(ctx)
    s = schedules.add_schedule(st.app().platform, st.principal(), segment, seconds,
                               ScanOptions(ports=ports, udp=udp, profile=profile.value,
                                           rate=rate))
    ok(f"schedule {s.id}: segment {s.segment} every {describe(seconds)}, first run "
       f"{s.next_run_at:%Y-%m-%d %H:%M} (UTC)")


SCHEDULE_COLUMNS = ("id", "segment", "every", "options", "enabled", "next_run_at",
                    "last_run_at", "last_scan_id", "last_error", "created_by")


@schedule_app.command("list")
def schedule_list(ctx: typer.Context, fmt: FormatOpt = OutputFormat.TABLE) -> None:
    """The schedules, one per segment.

    Example: fleetwarden discover schedule list --format json
    """
    st = state(ctx)
    views = [schedule_view(s) for s in schedules.list_schedules(st.app().platform,
                                                                 st.principal())]
    if fmt is OutputFormat.JSON:
        rows(views, fmt, ())
        return
    rows((flat(v | {"every": describe(v["every_seconds"]),
                    "options": " ".join(f"{k}={x}" for k, x in v["options"].items()
                                        if x is not None)}, table=fmt is OutputFormat.TABLE)
          for v in views), fmt, SCHEDULE_COLUMNS)


@schedule_app.command("remove")
def schedule_remove(ctx: typer.Context,
                    schedule_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Stop scanning a segment on a schedule.

    Example: fleetwarden discover schedule remove 3
    """
    st = state(ctx)
    schedules.remove_schedule(st.app().platform, st.principal(), schedule_id)
    ok(f"schedule {schedule_id} removed")
