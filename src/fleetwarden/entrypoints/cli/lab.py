"""``fleetwarden lab``: a simulated live estate on loopback (R18), and its ground truth."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fleetwarden.adapters.lab import control
from fleetwarden.adapters.lab.catalogue import families, load_scenario, scenario_names
from fleetwarden.adapters.lab.plan import LabPlan
from fleetwarden.domain.lab import DEFAULT_BIND, DEFAULT_NETNS_BIND, PORT_OFFSET, truth_record
from fleetwarden.entrypoints.cli.render import console
from fleetwarden.entrypoints.cli.state import state
from fleetwarden.errors import InputError
from fleetwarden.settings import load_settings

app = typer.Typer(
    help="Simulated devices on loopback that speak real protocols: for the demo, tests, "
         "benchmarks and training. Synthetic data only.",
    no_args_is_help=True)

ScenarioOpt = Annotated[str, typer.Option(
    "--scenario", help="Scenario name (see `lab scenarios`) or a .toml file.")]
FileScenarioOpt = Annotated[str | None, typer.Option(
    "--scenario", help="Scenario to plan (default: the running lab's, else small-force).")]
CountOpt = Annotated[int | None, typer.Option(
    "--count", help="Number of devices (default: the scenario's).", min=1)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Same seed, same estate.")]
BindOpt = Annotated[str | None, typer.Option(
    "--bind", help=f"Network the devices live in, a /24 or larger (default {DEFAULT_BIND}; "
                   f"with --netns {DEFAULT_NETNS_BIND}).")]
NetnsOpt = Annotated[bool, typer.Option(
    "--netns", help="Root only: put each device in its own network namespace with a veth "
                    "and its real MAC (reach them with `ip netns exec <hub> ...`).")]


def _home(ctx: typer.Context) -> Path:
    return load_settings(db_url=state(ctx).db, home=state(ctx).home).home


def _options(scenario: str, count: int | None, seed: int, bind: str | None,
             ttl: str = "8h", netns: bool = False) -> control.LabOptions:
    default = DEFAULT_NETNS_BIND if netns else DEFAULT_BIND
    return control.LabOptions(scenario=scenario, count=count, seed=seed, bind=bind or default,
                              ttl_seconds=control.parse_duration(ttl), netns=netns)


@app.command("up")
def up(
    ctx: typer.Context,
    scenario: ScenarioOpt = "small-force",
    count: CountOpt = None,
    seed: SeedOpt = 7,
    bind: BindOpt = None,
    netns: NetnsOpt = False,
    ttl: Annotated[str, typer.Option(help="Stop by itself after this long (90s, 30m, 8h).")]
    = "8h",
    detach: Annotated[bool, typer.Option("--detach", help="Run in the background.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", hidden=True)] = False,
) -> None:
    """Start the simulated devices (foreground until Ctrl-C, or --detach)."""
    home = _home(ctx)
    options = _options(scenario, count, seed, bind, ttl, netns)
    plan = control.make_plan(options)  # bad options fail here, before anything starts
    if detach:
        with console.status("starting the lab ..."):
            lab_state = control.start_detached(home, options)
        _print_started(lab_state, detached=True)
        return
    if not quiet:
        console.print(f"starting {len(plan.devices)} devices in {plan.bind} ...",
                      markup=False)

    def ready(_: LabPlan, lab_state: dict[str, Any]) -> None:
        if not quiet:
            _print_started(lab_state, detached=False)

    control.run_foreground(home, options, plan=plan, on_ready=ready)
    if not quiet:
        console.print("lab stopped", markup=False)


def _print_started(lab_state: dict[str, Any], *, detached: bool) -> None:
    ports = ("real ports" if lab_state["real_ports"]
             else f"ports below 1024 moved up by {PORT_OFFSET} (e.g. 80 -> {80 + PORT_OFFSET})")
    console.print(
        f"lab up: {lab_state['devices']} devices, {lab_state['sockets']} sockets in "
        f"{lab_state['bind']} ({ports}), started in {lab_state['started_in_seconds']} s\n"
        f"  scenario {lab_state['scenario']}, stops by itself at {lab_state['expires_at']}\n"
        f"  truth:   fleetwarden lab truth --format json   ({lab_state['truth']})\n"
        f"  lab CA:  {lab_state['ca_certificate']}\n"
        + (f"  reach:   ip netns exec {lab_state['netns_hub']} <client> (devices are in "
           "their own namespaces)\n" if lab_state.get("netns_hub") else "")
        + ("  stop:    fleetwarden lab down" if detached else "  stop:    Ctrl-C"),
        markup=False, highlight=False)


@app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop the running lab (nothing is left behind)."""
    pid = control.stop(_home(ctx))
    console.print("no lab is running" if pid is None else f"lab stopped (pid {pid})",
                  markup=False)


@app.command("status")
def status(ctx: typer.Context,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show whether a lab is running, with what."""
    lab_state = control.read_state(_home(ctx))
    if as_json:
        print(json.dumps(lab_state, indent=1))
        return
    if lab_state is None:
        console.print("no lab is running", markup=False)
        return
    for key in ("status", "pid", "scenario", "devices", "sockets", "bind", "real_ports",
                "netns_hub", "started_at", "expires_at", "truth"):
        console.print(f"{key:>11}: {lab_state.get(key)}", markup=False, highlight=False)


@app.command("truth")
def truth(
    ctx: typer.Context,
    output_format: Annotated[str, typer.Option("--format", help="json or table.")] = "table",
    scenario: Annotated[str | None, typer.Option(
        "--scenario", help="Plan this scenario instead of reading the running lab.")] = None,
    count: CountOpt = None,
    seed: SeedOpt = 7,
    bind: BindOpt = None,
    netns: NetnsOpt = False,
) -> None:
    """Print the ground truth: every device, its services, weaknesses and credentials."""
    if output_format not in {"json", "table"}:
        raise InputError(f"--format {output_format!r}: use json or table")
    records = None if scenario else control.read_truth(_home(ctx))
    if records is None:
        if scenario is None:
            raise InputError("no lab is running; start one (`fleetwarden lab up --detach`) "
                             "or give --scenario to print a planned estate")
        plan = control.make_plan(_options(scenario, count, seed, bind, netns=netns))
        records = [truth_record(d) for d in plan.devices]
    if output_format == "json":
        sys.stdout.write(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
        return
    table = Table("ip", "vendor", "model", "firmware", "services", "weaknesses", "reg",
                  title=f"{len(records)} lab devices")
    for r in records:
        table.add_row(
            r["ip"], r["vendor"], r["model"], r["firmware_version"],
            " ".join(f"{s['service']}/{s['port']}" for s in r["services"]),
            " ".join(r["weaknesses"]), "yes" if r["registered"] else "SHADOW")
    console.print(table)


@app.command("scenarios")
def scenarios() -> None:
    """List the scenarios and device families the lab knows."""
    for name in scenario_names():
        scen = load_scenario(name)
        console.print(f"{name}: {scen.title} (default {scen.count} devices)", markup=False)
    console.print("families: " + ", ".join(
        f"{name} ({fam.title})" for name, fam in families().items()), markup=False)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


@app.command("sboms")
def sboms(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Where to write the SBOM files.")],
    scenario: FileScenarioOpt = None,
    count: CountOpt = None,
    seed: SeedOpt = 7,
) -> None:
    """Write the SBOM each simulated model's supplier publishes, per firmware version."""
    from fleetwarden.adapters.lab.sbom import write_sboms

    plan, _ = _plan_for_files(ctx, scenario, count, seed)
    with _progress() as progress:
        task = progress.add_task("writing SBOMs", total=None)
        written = write_sboms(plan, directory, progress=lambda done, total: progress.update(
            task, completed=done, total=total))
    console.print(f"wrote {len(written)} SBOMs to {directory} (index.json lists them)",
                  markup=False)


@app.command("pcap")
def pcap(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The .pcap file to write.")],
    scenario: FileScenarioOpt = None,
    count: CountOpt = None,
    seed: SeedOpt = 7,
) -> None:
    """Write a packet capture of the estate's background traffic (ARP, DHCP, mDNS, ...)."""
    from fleetwarden.adapters.lab.certs import LabCertificates
    from fleetwarden.adapters.lab.pcap import write_pcap

    plan, running = _plan_for_files(ctx, scenario, count, seed)
    if file.is_dir():
        raise InputError(f"{file} is a directory; give a file name such as estate.pcap")
    # The running lab's certificates when the capture is of it; else a scratch set.
    cert_dir = (control.lab_dir(_home(ctx)) if running
                else Path(tempfile.mkdtemp(prefix="fleetwarden-pcap-")))
    certificates = LabCertificates(cert_dir)
    with _progress() as progress:
        task = progress.add_task("writing packets", total=None)
        try:
            packets = write_pcap(plan, file, certificates, progress=lambda done, total:
                                 progress.update(task, completed=done, total=total))
        finally:
            if not running:
                shutil.rmtree(cert_dir, ignore_errors=True)
    console.print(f"wrote {packets} packets from {len(plan.devices)} devices to {file}",
                  markup=False)


def _plan_for_files(ctx: typer.Context, scenario: str | None, count: int | None,
                    seed: int) -> tuple[LabPlan, bool]:
    """The running lab's plan unless --scenario is given (so files match the lab), and
    whether it is the running lab's."""
    lab_state = None if scenario else control.read_state(_home(ctx))
    if lab_state is not None:
        return control.running_plan(lab_state), True
    return control.make_plan(_options(scenario or "small-force", count, seed, DEFAULT_BIND)), False
