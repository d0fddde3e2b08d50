"""The HTML side of fleetwarden: the public home page and API reference (``home``), and
the dashboard under ``/ui/`` (sign-in, overview, devices, unregistered queue,
vulnerabilities, compliance, audit log).

Server-rendered (Jinja2, autoescaped), no CDN: every asset is served from ``static``,
so it works air-gapped, under a Content-Security-Policy without inline script.
``routers`` lists every router; ``install_errors`` makes errors under ``/ui/`` pages.
"""

from fleetwarden.entrypoints.web import (
    audit_pages,
    compliance_pages,
    device_page,
    device_pages,
    home,
    overview,
    signin_pages,
    unregistered_pages,
    vuln_pages,
)
from fleetwarden.entrypoints.web.errors import install as install_errors
from fleetwarden.entrypoints.web.render import STATIC_DIR

routers = (home.router, signin_pages.router, overview.router, device_pages.router,
           device_page.router, unregistered_pages.router, vuln_pages.router,
           compliance_pages.router, audit_pages.router)

__all__ = ["STATIC_DIR", "install_errors", "routers"]
