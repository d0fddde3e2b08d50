"""``fleetwarden serve`` and ``fleetwarden demo`` (what ``make run`` runs)."""

from __future__ import annotations

import dataclasses
import json
import logging
import logging.handlers
import os
import secrets
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from fleetwarden.adapters.db.engine import make_engine
from fleetwarden.adapters.db.migrate import upgrade
from fleetwarden.adapters.demo import vulns as demo_vulns
from fleetwarden.adapters.demo.estate import generate_demo_estate
from fleetwarden.adapters.lab import control as lab_control
from fleetwarden.adapters.lab.plan import LabPlan
from fleetwarden.adapters.lab.register import merge_lab_into_estate
from fleetwarden.domain import totp
from fleetwarden.domain.model import Tenant
from fleetwarden.entrypoints.cli.admin import print_token
from fleetwarden.entrypoints.cli.render import console
from fleetwarden.entrypoints.cli.state import _os_user, state
from fleetwarden.errors import InputError
from fleetwarden.ports import ScanOptions
from fleetwarden.services import accounts, demo, overview, schedules, signin, vulns
from fleetwarden.services.context import Platform, Principal
from fleetwarden.settings import load_settings

DEMO_TENANT = "Northshire Police (demo)"
DEMO_ADMIN = "admin@northshire.example"
#: The demo's dashboard users: (email, role). New passwords and TOTP secrets every run.
DEMO_WEB_USERS = ((DEMO_ADMIN, "admin"), ("analyst@northshire.example", "analyst"),
                  ("viewer@northshire.example", "viewer"))
WEB_USERS_FILE = "web-users.json"
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 5


def configure_logging(log_dir: Path, level: str) -> Path:
    """Size-limited, rotated log files in their own directory, mode 0700 (R12)."""
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = log_dir / "fleetwarden.log"
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger()
    root.setLevel(level.upper())
    root.addHandler(handler)
    return path


def _serve(ctx: typer.Context, host: str, port: int, log_level: str,
           worker: bool = True) -> None:
    import uvicorn

    from fleetwarden.entrypoints.api.app import create_app
    from fleetwarden.entrypoints.worker import BackgroundWorker

    st = state(ctx)
    app = st.app()
    log_path = configure_logging(app.settings.log_dir, log_level)
    logging.getLogger("fleetwarden").info("starting API on %s:%s", host, port)
    console.print(f"logs: {log_path}", markup=False)
    background = BackgroundWorker(app.platform) if worker else None
    if background is not None:
        background.start()
        console.print("background worker: discovery schedules and alert webhooks",
                      markup=False)
    # uvicorn re-raises the SIGTERM it caught once it has shut down; as SystemExit it
    # unwinds through the ``finally`` blocks (the worker here, the demo's lab) instead
    # of killing the process on the spot.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(create_app(app), host=host, port=port, log_level=log_level.lower(),
                    access_log=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if background is not None:
            background.stop()
    logging.getLogger("fleetwarden").info("API stopped")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
PortOpt = Annotated[int, typer.Option(help="TCP port.")]
LevelOpt = Annotated[str, typer.Option(help="Log level: debug, info, warning, error.")]
WorkerOpt = Annotated[bool, typer.Option(
    "--worker/--no-worker",
    help="Run discovery schedules and deliver alert webhooks in the background.")]


def serve(ctx: typer.Context, host: HostOpt = "127.0.0.1", port: PortOpt = 8080,
          log_level: LevelOpt = "info", worker: WorkerOpt = True) -> None:
    """Serve the API and web pages, and run the discovery schedules."""
    _serve(ctx, host, port, log_level, worker)


def demo_command(
    ctx: typer.Context,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8080,
    devices: Annotated[int, typer.Option(help="How many demo devices.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic estate.")] = 7,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve",
                                            help="Serve the API after seeding.")] = True,
    with_lab: Annotated[bool, typer.Option(
        "--lab/--no-lab", help="Run the device lab: live simulated devices on loopback, "
                               "the registered ones in the register.")] = True,
    lab_scenario: Annotated[str, typer.Option(help="Lab scenario.")] = "small-force",
    log_level: LevelOpt = "info",
    worker: WorkerOpt = True,
) -> None:
    """Create (once) the synthetic demo estate and serve it on http://HOST:PORT.

    With the lab (the default) the simulated devices run in the background while the
    demo serves, and stop with it; without --serve they keep running until
    `fleetwarden lab down`.
    """
    st = state(ctx)
    settings = load_settings(db_url=st.db, home=st.home)
    lab_options = lab_control.LabOptions(scenario=lab_scenario, seed=seed)
    plan = lab_control.make_plan(lab_options) if with_lab else None
    upgrade(make_engine(settings.db_url))
    platform = st.app().platform
    existing = {t.name: t for t in accounts.tenants(platform)}
    actor = f"cli:{_os_user()}"
    if DEMO_TENANT in existing:
        principal = accounts.local_principal(existing[DEMO_TENANT], _os_user())
        token = accounts.issue_token(platform, principal, DEMO_ADMIN, "demo run").token
        console.print(f"demo estate already in {settings.db_url}", markup=False)
        _seed_vulns(platform, principal, settings.home)  # a demo made before it had them
    else:
        issued = accounts.create_tenant(platform, actor, DEMO_TENANT, DEMO_ADMIN)
        token = issued.token
        tenant = accounts.resolve_tenant(platform, DEMO_TENANT)
        with console.status("seeding the synthetic demo estate ..."):
            estate = generate_demo_estate(seed=seed, device_count=devices)
            if plan is not None:
                estate = merge_lab_into_estate(estate, plan)
            report = demo.seed(platform, accounts.local_principal(tenant, _os_user()), estate)
        console.print(
            f"seeded {report.devices} devices, {report.sites} sites, {report.segments} "
            f"segments, {report.models} models, {report.systems} IoT systems, "
            f"{report.data_items} data items", markup=False)
        _seed_vulns(platform, accounts.local_principal(tenant, _os_user()), settings.home)
        if plan is not None:
            watched = _watch_lab_segments(platform, accounts.local_principal(tenant, _os_user()),
                                          plan)
            console.print(f"discovery scheduled hourly on {watched} lab segments (the first "
                          "scans run as the demo starts)", markup=False)
    demo_tenant = accounts.resolve_tenant(platform, DEMO_TENANT)
    web_users = _demo_web_users(platform, demo_tenant, settings.home)
    # Today's summary (compliance %, the trends' first point) for the overview at once,
    # rather than when the worker gets to it (or never, with --no-worker).
    overview.daily_snapshot(platform, demo_tenant)
    url = f"http://{host}:{port}"
    console.rule("fleetwarden demo")
    console.print(f"  Home page:  {url}/\n  API docs:   {url}/docs\n  OpenAPI:    "
                  f"{url}/openapi.json\n  Tenant:     {DEMO_TENANT}\n  Sign in:    send the "
                  f"token below as 'Authorization: Bearer <token>'\n  Try:        curl -H "
                  f"'Authorization: Bearer <token>' {url}/api/v1/devices?limit=5\n  Data:       "
                  f"{settings.home}", markup=False, highlight=False)
    print_token(token)
    console.print(f"  Dashboard:  {url}/ui/ (sign in with a user below, then the 6-digit "
                  "code from an authenticator app holding its TOTP secret, or from "
                  "`fleetwarden demo-code EMAIL`)", markup=False, highlight=False)
    for email, role, password, secret in web_users:
        sys.stdout.write(f"web-user: {email} role={role} password={password} "
                         f"totp-secret={secret}\n")
    sys.stdout.flush()
    console.rule()
    started_lab = _start_lab(settings.home, lab_options) if plan is not None else False
    if not serve_api:
        return
    try:
        _serve(ctx, host, port, log_level, worker)
    finally:
        if started_lab:
            lab_control.stop(settings.home)
            console.print("lab stopped", markup=False)


def _demo_web_users(platform: Platform, tenant: Tenant,
                    home: Path) -> list[tuple[str, str, str, str]]:
    """Dashboard users of the demo with fresh passwords and TOTP secrets, kept (0600) in
    ``HOME/demo/web-users.json`` for ``demo-code``; (email, role, password, secret)."""
    principal = accounts.local_principal(tenant, _os_user())
    known = {u.email for u in accounts.list_users(platform, principal)}
    shown = []
    for email, role in DEMO_WEB_USERS:
        if email not in known:
            accounts.add_user(platform, principal, email, role)
        password = secrets.token_urlsafe(12)
        signin.set_password(platform, principal, email, password)
        enrolment = signin.enrol_totp(platform, principal, email)
        shown.append((email, role, password, enrolment.secret))
    path = home / "demo" / WEB_USERS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({email: secret for email, _, _, secret in shown}, fh)
    return shown


def demo_code(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="A demo dashboard user.")] = DEMO_ADMIN,
) -> None:
    """Print the current TOTP code of a demo dashboard user (the demo only: a real user's
    code comes from their authenticator app)."""
    settings = load_settings(db_url=state(ctx).db, home=state(ctx).home)
    path = settings.home / "demo" / WEB_USERS_FILE
    try:
        secrets_by_user = json.loads(path.read_text())
    except (OSError, ValueError):
        raise InputError(f"no demo dashboard users in {settings.home}: run `fleetwarden "
                         "demo` first") from None
    if email not in secrets_by_user:
        raise InputError(f"{email} is not a demo dashboard user: one of "
                         f"{', '.join(sorted(secrets_by_user))}")
    sys.stdout.write(totp.code_at(secrets_by_user[email], datetime.now(UTC)) + "\n")


def _seed_vulns(platform: Platform, principal: Principal, home: Path) -> None:
    """The lab suppliers' firmware SBOMs and the bundled demo feeds, so the demo has
    findings; nothing is imported twice, and feeds already in the database are kept."""
    sbom_dir = home / "demo" / "sboms"
    with console.status("importing firmware SBOMs and the demo vulnerability feeds ..."):
        files = demo_vulns.write_firmware_sboms(sbom_dir)
        report = demo.seed_vulnerabilities(platform, principal, files,
                                           demo_vulns.feed_files())
        if not report.sboms and not report.feed_files:
            return
        counts = vulns.report(platform, principal, "cve")
    found = sum(r["findings"] for r in counts)
    kev = sum(r["findings"] for r in counts if r["kev"])
    feeds = (f"the demo feeds ({report.feed_records.get('nvd', 0)} CVEs, "
             f"{report.feed_records.get('kev', 0)} in CISA KEV; demonstration data, see "
             f"{demo_vulns.FEED_DIR / 'README.md'})" if report.feed_files
             else "no feeds (the database already has feed data)")
    console.print(f"imported {report.sboms} firmware SBOMs (copies in {sbom_dir}) and "
                  f"{feeds}: {found} findings, {kev} of them in KEV "
                  "(`fleetwarden vulns list`)", markup=False)


def _watch_lab_segments(platform: Platform, principal: Principal, plan: LabPlan) -> int:
    """Hourly discovery of every segment the lab put devices on, so the demo shows the
    unregistered queue, alerts and fingerprints without anyone typing a command."""
    names = sorted({d.segment for d in plan.devices if d.segment})
    for name in names:
        schedules.add_schedule(platform, principal, name, 3600,
                               ScanOptions(udp=True, profile="fast"))
    return len(names)


def _start_lab(home: Path, options: lab_control.LabOptions) -> bool:
    """Start the lab in the background; False when one was already running."""
    running = lab_control.read_state(home)
    if running is not None:
        same = running.get("options", {}) == dataclasses.asdict(options)
        console.print(f"device lab already running (pid {running['pid']}, "
                      f"{running['devices']} devices)" + ("" if same else
                      "; WARNING: started with other options than this demo's, so the "
                      "register and the live devices differ (`fleetwarden lab down`, then "
                      "run the demo again)"), markup=False)
        return False
    with console.status("starting the device lab ..."):
        lab_state = lab_control.start_detached(home, options)
    console.print(
        f"device lab: {lab_state['devices']} simulated devices live in {lab_state['bind']} "
        f"(`fleetwarden lab truth` lists them; `fleetwarden lab down` stops them)",
        markup=False)
    return True
