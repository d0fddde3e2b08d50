"""What every command needs: the wired app and the acting principal, built lazily."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field, replace

import typer

from fleetwarden import bootstrap
from fleetwarden.services import accounts
from fleetwarden.services.context import Principal
from fleetwarden.settings import load_settings


@dataclass
class CliState:
    db: str | None = None
    tenant: str | None = None
    home: str | None = None
    _app: bootstrap.App | None = field(default=None, repr=False)

    def app(self, *, check_schema: bool = True) -> bootstrap.App:
        if self._app is None:
            settings = load_settings(db_url=self.db, home=self.home)
            self._app = bootstrap.build(settings, check_schema=check_schema)
        return self._app

    def principal(self, acting_for: str | None = None) -> Principal:
        """The local operator, acting as admin of the chosen tenant.

        ``acting_for`` records a decision taken by someone else (a change board's
        approver, say) and keyed in by the operator; the audit log shows both.
        """
        app = self.app()
        tenant = accounts.resolve_tenant(app.platform, self.tenant)
        principal = accounts.local_principal(tenant, _os_user())
        if acting_for:
            principal = replace(principal, actor=f"{acting_for} (via {principal.actor})")
        return principal


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj
