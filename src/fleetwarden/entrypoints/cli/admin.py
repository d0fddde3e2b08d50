"""Installation and governance commands: init, db, tenants, users, tokens, changes,
settings, audit."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from fleetwarden.adapters.db.engine import make_engine
from fleetwarden.adapters.db.migrate import current_revision, head_revision, upgrade
from fleetwarden.domain.durations import describe, parse_duration
from fleetwarden.entrypoints.cli.render import OutputFormat, console, ok, rows
from fleetwarden.entrypoints.cli.state import _os_user, state
from fleetwarden.entrypoints.presenters import change_view, event_view, user_view
from fleetwarden.errors import AuditChainError, InputError
from fleetwarden.services import accounts, alerts, audit, changes, signin, vulns
from fleetwarden.settings import load_settings


def print_token(token: str) -> None:
    """The token goes to stdout once, on its own line, never through a logger."""
    sys.stdout.write(f"token: {token}\n")
    sys.stdout.flush()


def init(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option("--tenant", help="Organisation name.")],
    admin: Annotated[str, typer.Option("--admin", help="Email of the first administrator.")],
) -> None:
    """Create the schema (if needed), a tenant and its first admin; prints a one-time token."""
    st = state(ctx)
    settings = load_settings(db_url=st.db, home=st.home)
    upgrade(make_engine(settings.db_url))
    issued = accounts.create_tenant(st.app().platform, f"cli:{_os_user()}", tenant, admin)
    ok(f"tenant {tenant!r} created with admin {issued.user.email}")
    console.print("The API token below is shown once; store it now.")
    print_token(issued.token)


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context,
               revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply schema migrations."""
    st = state(ctx)
    engine = make_engine(load_settings(db_url=st.db, home=st.home).db_url)
    before, after = upgrade(engine, revision)
    ok(f"schema {before or 'empty'} → {after}" if before != after else f"schema at {after}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision and whether it is the newest."""
    st = state(ctx)
    engine = make_engine(load_settings(db_url=st.db, home=st.home).db_url)
    cur, head = current_revision(engine), head_revision(engine)
    console.print(f"current: {cur or 'none'}; newest: {head}")


tenants_app = typer.Typer(help="Tenants (organisations sharing this installation).",
                          no_args_is_help=True)


@tenants_app.command("list")
def tenants_list(ctx: typer.Context) -> None:
    """List tenants."""
    rows(({"id": t.id, "name": t.name,
           "change_approval": t.settings.require_change_approval}
          for t in accounts.tenants(state(ctx).app().platform)),
         OutputFormat.TABLE, ("id", "name", "change_approval"))


users_app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)


@users_app.command("add")
def users_add(
    ctx: typer.Context, email: str,
    role: Annotated[str, typer.Option(help="viewer, analyst, engineer, admin or auditor")],
) -> None:
    """Add a user; prints their first API token once."""
    st = state(ctx)
    issued = accounts.add_user(st.app().platform, st.principal(), email, role)
    ok(f"user {issued.user.email} added as {issued.user.role.value}")
    print_token(issued.token)


@users_app.command("list")
def users_list(ctx: typer.Context,
               fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.TABLE,
               ) -> None:
    """List users."""
    st = state(ctx)
    rows((user_view(u) for u in accounts.list_users(st.app().platform, st.principal())), fmt,
         ("id", "email", "role", "active"))


@users_app.command("token")
def users_token(ctx: typer.Context, email: str,
                label: Annotated[str, typer.Option(help="What the token is for.")] = "cli") -> None:
    """Issue another API token for a user (shown once)."""
    st = state(ctx)
    issued = accounts.issue_token(st.app().platform, st.principal(), email, label)
    print_token(issued.token)


@users_app.command("revoke-tokens")
def users_revoke(ctx: typer.Context, email: str) -> None:
    """Revoke every API token of a user."""
    st = state(ctx)
    n = accounts.revoke_tokens(st.app().platform, st.principal(), email)
    ok(f"{n} token(s) revoked")


changes_app = typer.Typer(help="Change requests for live devices.", no_args_is_help=True)


@changes_app.command("request")
def changes_request(
    ctx: typer.Context, device_id: int,
    reason: Annotated[str, typer.Option(help="What will change and why.")],
    reference: Annotated[str | None, typer.Option(help="Ticket or CAB reference.")] = None,
    requester: Annotated[str | None, typer.Option(help="Requester (default: you).")] = None,
) -> None:
    """Ask for approval to change a live device."""
    st = state(ctx)
    p = st.principal(acting_for=requester)
    cr = changes.request(st.app().platform, p, device_id, reason, reference)
    ok(f"change request {cr.id} opened for device {device_id}")


def _decide(ctx: typer.Context, cr_id: int, approve: bool, reason: str,
            approver: str | None) -> None:
    st = state(ctx)
    p = st.principal(acting_for=approver)
    cr = changes.decide(st.app().platform, p, cr_id, approve, reason)
    ok(f"change request {cr.id} {cr.status}")


@changes_app.command("approve")
def changes_approve(ctx: typer.Context, cr_id: int,
                    reason: Annotated[str, typer.Option()] = "approved",
                    approver: Annotated[str | None, typer.Option(
                        help="Approver (default: you); must differ from the requester.")] = None,
                    ) -> None:
    """Approve a change request."""
    _decide(ctx, cr_id, True, reason, approver)


@changes_app.command("reject")
def changes_reject(ctx: typer.Context, cr_id: int, reason: Annotated[str, typer.Option()],
                   approver: Annotated[str | None, typer.Option()] = None) -> None:
    """Reject a change request."""
    _decide(ctx, cr_id, False, reason, approver)


@changes_app.command("list")
def changes_list(ctx: typer.Context, device: Annotated[int | None, typer.Option()] = None,
                 fmt: Annotated[OutputFormat, typer.Option("--format", "-f")]
                 = OutputFormat.TABLE) -> None:
    """List change requests."""
    st = state(ctx)
    rows((change_view(c) for c in changes.list_requests(st.app().platform, st.principal(),
                                                          device)),
         fmt, ("id", "device_id", "status", "requester", "approver", "reference", "reason"))


settings_app = typer.Typer(help="Tenant settings.", no_args_is_help=True)


@settings_app.command("change-control")
def change_control(ctx: typer.Context,
                   mode: Annotated[str, typer.Argument(help="on or off")]) -> None:
    """Require (on) or not (off) an approved change request for changes to live devices."""
    if mode not in ("on", "off"):
        raise InputError("change-control: say on or off")
    st = state(ctx)
    accounts.set_change_approval(st.app().platform, st.principal(), mode == "on")
    ok(f"change control {mode}")


@users_app.command("password")
def users_password(
    ctx: typer.Context, email: str,
    password_file: Annotated[Path | None, typer.Option(
        help="Read the password from this file (first line) instead of asking.")] = None,
) -> None:
    """Set a user's web sign-in password (asked twice, not echoed); ends their sessions."""
    st = state(ctx)
    if password_file is not None:
        password = _read_secret(password_file, "--password-file")
    else:
        password = typer.prompt("new password", hide_input=True,
                                confirmation_prompt=True)
    signin.set_password(st.app().platform, st.principal(), email, password)
    ok(f"password of {email} set; their web sessions ended")


@users_app.command("totp")
def users_totp(ctx: typer.Context, email: str) -> None:
    """Enrol a user's TOTP second factor (a new secret, shown once); ends their sessions.

    Type the secret, or the otpauth URI as a QR code, into an authenticator app.
    """
    st = state(ctx)
    enrolment = signin.enrol_totp(st.app().platform, st.principal(), email)
    ok(f"new TOTP secret for {email}: the old one no longer works")
    sys.stdout.write(f"totp-secret: {enrolment.secret}\notpauth-uri: {enrolment.uri}\n")
    sys.stdout.flush()


@users_app.command("unlock")
def users_unlock(ctx: typer.Context, email: str) -> None:
    """Lift a web sign-in lock (after repeated failures) before it lapses."""
    st = state(ctx)
    signin.unlock(st.app().platform, st.principal(), email)
    ok(f"{email} unlocked")


MAX_SECRET = 4096


def _read_secret(file: Path, option: str = "--webhook-secret-file") -> str:
    """A secret from a file, so it never sits in shell history or ``ps``."""
    try:
        with file.open("rb") as fh:
            raw = fh.read(MAX_SECRET + 1)
    except OSError as exc:
        raise InputError(f"{option} {file}: cannot read it "
                         f"({exc.strerror or type(exc).__name__})") from None
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InputError(f"{option} {file}: not UTF-8 text") from None
    if len(raw) > MAX_SECRET or not secret or not secret.isprintable():
        raise InputError(f"{option} {file}: one line of 1 to {MAX_SECRET} "
                         "printable characters")
    return secret


@settings_app.command("discovery")
def discovery_settings(
    ctx: typer.Context,
    missing_after: Annotated[str | None, typer.Option(
        "--missing-after", help="A registered device unseen this long is missing (36h, "
                                "7d).")] = None,
    webhook: Annotated[str | None, typer.Option(
        "--webhook", metavar="URL", help="POST each alert here (http:// or https://).")]
    = None,
    no_webhook: Annotated[bool, typer.Option("--no-webhook", help="Stop sending alerts.")]
    = False,
    secret_file: Annotated[Path | None, typer.Option(
        "--webhook-secret-file", metavar="FILE",
        help="Sign each alert (HMAC-SHA256) with the secret in this file.")] = None,
) -> None:
    """Discovery settings: when a device counts as missing, where alerts are sent.

    With no option, shows them (never the secret). Example:
    fleetwarden settings discovery --missing-after 7d --webhook https://soc.example/hook
    --webhook-secret-file /etc/fleetwarden/hook.key
    """
    if no_webhook and (webhook is not None or secret_file is not None):
        raise InputError("--no-webhook: not with --webhook or --webhook-secret-file")
    hours = None
    if missing_after is not None:
        seconds = parse_duration(missing_after, option="--missing-after", minimum=3600,
                                 maximum=366 * 86400)
        if seconds % 3600:
            raise InputError(f"--missing-after {missing_after[:32]!r}: whole hours (36h, 7d)")
        hours = seconds // 3600
    secret = _read_secret(secret_file) if secret_file is not None else None
    st = state(ctx)
    platform, principal = st.app().platform, st.principal()
    settings = principal.tenant.settings
    if secret is not None and webhook is None:
        webhook = settings.alert_webhook_url
        if webhook is None:
            raise InputError("--webhook-secret-file: give --webhook URL too (no webhook is set)")
    if hours is not None:
        settings = alerts.set_missing_after(platform, principal, hours).settings
        ok(f"a device unseen for {describe(hours * 3600)} is reported missing")
    if webhook is not None or no_webhook:
        settings = alerts.set_webhook(platform, principal, webhook, secret).settings
        signed = "signed" if settings.alert_webhook_secret else "unsigned"
        ok(f"alerts are sent to {alerts.shown_url(webhook)} ({signed})"
           if webhook else "alerts are no longer sent to a webhook")
    if hours is None and webhook is None and not no_webhook:
        console.print(f"missing after: {describe(settings.missing_after_hours * 3600)}",
                      markup=False)
        url = settings.alert_webhook_url
        console.print(f"webhook: {alerts.shown_url(url) if url else 'none'}"
                      + (f" ({'signed' if settings.alert_webhook_secret else 'unsigned'})"
                         if url else ""), markup=False)


@settings_app.command("vulns")
def vulns_settings(
    ctx: typer.Context,
    response_days: Annotated[str | None, typer.Option(
        "--response-days", metavar="P1,P2,P3,P4",
        help="Days to remediate a finding of each priority, from when it was first seen.")]
    = None,
) -> None:
    """Vulnerability settings: the response time per priority, which sets due dates.

    With no option, shows them. Example: fleetwarden settings vulns --response-days 7,30,60,90
    """
    st = state(ctx)
    principal = st.principal()
    settings = principal.tenant.settings
    if response_days is not None:
        try:
            days = [int(d) for d in response_days.replace(" ", "").split(",")]
        except ValueError:
            raise InputError(f"--response-days {response_days[:40]!r}: four whole numbers of "
                             "days, P1 to P4, e.g. 7,30,60,90") from None
        settings = vulns.set_response_days(st.app().platform, principal, days).settings
    shown = ", ".join(f"P{n} {d} days" for n, d in enumerate(vulns.response_days(settings), 1))
    if response_days is not None:
        ok(f"response times: {shown}")
    else:
        console.print(f"response times: {shown}", markup=False)


audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context,
                 fmt: Annotated[OutputFormat, typer.Option("--format", "-f")]
                 = OutputFormat.TABLE) -> None:
    """Check the whole hash chain and its signed checkpoints; report the first broken link."""
    st = state(ctx)
    report = audit.verify(st.app().platform, st.principal())
    if fmt is OutputFormat.JSON:
        brk = report.first_break
        print(json.dumps({
            "tenant_id": report.tenant_id, "ok": report.ok,
            "events_checked": report.events_checked,
            "checkpoints_checked": report.checkpoints_checked, "last_seq": report.last_seq,
            "first_break": {"seq": brk.seq, "reason": brk.reason} if brk else None}))
    if not report.ok:
        assert report.first_break is not None
        raise AuditChainError(f"audit chain broken: {report.first_break.reason}")
    if fmt is not OutputFormat.JSON:
        ok(f"audit chain intact: {report.events_checked} events, "
           f"{report.checkpoints_checked} signed checkpoints, head seq {report.last_seq}")


@audit_app.command("export")
def audit_export(ctx: typer.Context,
                 fmt: Annotated[OutputFormat, typer.Option("--format", "-f")]
                 = OutputFormat.JSON) -> None:
    """Write every event (JSON array or CSV) to stdout."""
    st = state(ctx)
    events = (event_view(e) for e in audit.export(st.app().platform, st.principal()))
    if fmt is OutputFormat.CSV:
        cols = ("seq", "at", "actor", "action", "object_type", "object_id", "before", "after",
                "reason", "prev_hash", "hash")
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(cols)
        for e in events:
            writer.writerow([json.dumps(e[c], sort_keys=True) if isinstance(e[c], dict)
                             else ("" if e[c] is None else e[c]) for c in cols])
        return
    if fmt is OutputFormat.TABLE:
        raise InputError("audit export: --format json or csv")
    rows(events, OutputFormat.JSON, ())


@audit_app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context) -> None:
    """Sign a checkpoint at the current head now (e.g. before handing the log to an auditor)."""
    st = state(ctx)
    seq = audit.checkpoint(st.app().platform, st.principal())
    ok(f"checkpoint signed at seq {seq}" if seq else "nothing to checkpoint yet")
