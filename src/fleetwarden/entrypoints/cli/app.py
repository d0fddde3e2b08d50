"""The root ``fleetwarden`` command: global options, sub-commands, error mapping.

Errors reach the user as one line on stderr with exit code 2 (bad usage or input)
or 1 (operational failure); never a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from fleetwarden import __version__
from fleetwarden.entrypoints.cli import (
    admin,
    alerts,
    compliance,
    devices,
    discover,
    lab,
    records,
    serve,
    software,
    unregistered,
    vulns,
)
from fleetwarden.entrypoints.cli.state import CliState
from fleetwarden.errors import FleetwardenError

app = typer.Typer(
    name="fleetwarden",
    help="Lifecycle security for connected devices: register, lifecycle, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"fleetwarden {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option(
        "--db", envvar="FLEETWARDEN_DB",
        help="SQLAlchemy URL (default: SQLite in FLEETWARDEN_HOME).")] = None,
    tenant: Annotated[str | None, typer.Option(
        "--tenant", envvar="FLEETWARDEN_TENANT", help="Tenant name (default: the only one).")]
    = None,
    home: Annotated[str | None, typer.Option(
        "--home", envvar="FLEETWARDEN_HOME", help="Data directory.")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version.")] = False,
) -> None:
    ctx.obj = CliState(db=db, tenant=tenant, home=home)


app.command("init")(admin.init)
app.command("serve")(serve.serve)
app.command("demo")(serve.demo_command)
app.command("demo-code")(serve.demo_code)
app.add_typer(devices.app, name="devices")
for kind, name in records.COMMAND_NAMES.items():
    app.add_typer(records.make_app(kind), name=name)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.tenants_app, name="tenants")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.changes_app, name="changes")
app.add_typer(admin.settings_app, name="settings")
app.add_typer(admin.audit_app, name="audit")
app.add_typer(lab.app, name="lab")
app.add_typer(discover.app, name="discover")
app.add_typer(unregistered.app, name="unregistered")
app.add_typer(alerts.app, name="alerts")
app.add_typer(software.sbom_app, name="sbom")
app.add_typer(software.feeds_app, name="feeds")
app.add_typer(vulns.app, name="vulns")
app.command("assess")(compliance.assess)
app.add_typer(compliance.attest_app, name="attest")
app.add_typer(compliance.waive_app, name="waive")
app.add_typer(compliance.risk_app, name="risk")
app.add_typer(compliance.report_app, name="report")
app.add_typer(compliance.compliance_app, name="compliance")
admin.settings_app.command("assess")(compliance.assess_settings)



def main() -> None:
    try:
        app(standalone_mode=False)
    except FleetwardenError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except SQLAlchemyError as exc:
        logging.getLogger("fleetwarden").debug("database error", exc_info=True)
        sys.stderr.write(f"error: database: {type(exc).__name__}: "
                         f"{str(getattr(exc, 'orig', exc)).splitlines()[0][:200]}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(1)
    except Exception as exc:
        # Click's usage errors arrive here in non-standalone mode (Typer vendors Click,
        # so match the interface rather than a class).
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        logging.getLogger("fleetwarden").exception("unexpected error")
        sys.stderr.write(f"error: internal error ({type(exc).__name__}); see the log\n")
        sys.exit(1)
