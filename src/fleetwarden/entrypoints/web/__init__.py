"""The few HTML pages fleetwarden serves: the home page and the API reference.

Server-rendered (Jinja2, autoescaped), no JavaScript, no CDN: everything works
air-gapped and under ``Content-Security-Policy: default-src 'self'``.
"""

from fleetwarden.entrypoints.web.home import STATIC_DIR, router

__all__ = ["STATIC_DIR", "router"]
