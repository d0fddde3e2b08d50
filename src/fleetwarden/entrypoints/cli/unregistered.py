"""``fleetwarden unregistered ...``: the queue of hosts discovery found and the register
does not know: approve into the register, merge into a device, or mark rogue.

Must not: decide what a host is or check anything itself (``services.inventory`` does).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fleetwarden.entrypoints.cli.discover import LimitOpt, iter_hosts, plain, render_hosts
from fleetwarden.entrypoints.cli.render import OutputFormat, ok
from fleetwarden.entrypoints.cli.state import state
from fleetwarden.services import inventory

app = typer.Typer(help="New hosts waiting for a decision: approve, merge or mark rogue.",
                  no_args_is_help=True)

HostArg = Annotated[int, typer.Argument(metavar="HOST_ID", help="From unregistered list.")]


@app.command("list")
def list_(ctx: typer.Context, limit: LimitOpt = None,
          fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
          = OutputFormat.TABLE) -> None:
    """The hosts in the queue, in the order they were found.

    Example: fleetwarden unregistered list --format csv
    """
    render_hosts(iter_hosts(ctx, "unregistered", limit), fmt)


@app.command("approve")
def approve(
    ctx: typer.Context, host_id: HostArg,
    model: Annotated[str | None, typer.Option(
        "--model", metavar="VENDOR/MODEL",
        help="The model (default: the fingerprint's vendor and model).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Device name (default: the "
                                                            "hostname).")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Device type.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Site name or id.")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Segment name or id.")]
    = None,
    state_: Annotated[str | None, typer.Option(
        "--state", help="Lifecycle state (default: in_service).")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="Information Asset Owner.")]
    = None,
    criticality: Annotated[str | None, typer.Option("--criticality")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Kept with the host.")] = None,
) -> None:
    """Register the host as a new device, with what was seen plus what you give.

    Example: fleetwarden unregistered approve 12 --model Hikvision/DS-2CD2143G2-I --site HQ
    """
    given = {"model": model, "name": name, "device_type": type_, "site": site,
             "segment": segment, "lifecycle_state": state_, "owner": owner,
             "criticality": criticality, "note": note}
    fields: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    st = state(ctx)
    d = inventory.approve(st.app().platform, st.principal(), host_id, fields)
    ok(plain(f"host {host_id} registered as device {d.id} {d.name} ({d.vendor} {d.model}, "
             f"{d.lifecycle_state.value})"))


@app.command("merge")
def merge(
    ctx: typer.Context, host_id: HostArg,
    into: Annotated[int, typer.Option("--into", metavar="DEVICE_ID",
                                      help="The registered device it is.")],
    note: Annotated[str | None, typer.Option("--note", help="Kept with the host.")] = None,
) -> None:
    """The host is a device already in the register: tie them together.

    Example: fleetwarden unregistered merge 12 --into 40
    """
    st = state(ctx)
    d = inventory.merge(st.app().platform, st.principal(), host_id, into, note)
    ok(plain(f"host {host_id} merged into device {d.id} {d.name}"))


@app.command("rogue")
def rogue(
    ctx: typer.Context, host_id: HostArg,
    reason: Annotated[str, typer.Option("--reason", help="Why it is not allowed (required).")],
) -> None:
    """Mark the host as not allowed on the network: every sighting raises an alert.

    Example: fleetwarden unregistered rogue 12 --reason "personal hotspot in the plant room"
    """
    st = state(ctx)
    h = inventory.mark_rogue(st.app().platform, st.principal(), host_id, reason)
    ok(plain(f"host {host_id} ({h.ip or h.mac}) marked rogue"))
