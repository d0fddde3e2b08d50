"""The REST API (FastAPI) under ``/api/v1``: parse, call a service, render.

``create_app(app)`` builds the ASGI application from a ``bootstrap.App``. Modules:
``app`` (assembly), ``auth`` (bearer tokens), ``errors`` (one error body),
``limits`` and ``middleware`` (body size, access log), ``schemas`` (pydantic), and
one router module per area: ``devices``, ``imports``, ``records``, ``changes``,
``audit``, ``accounts``, ``discovery`` (scans, hosts, queue, schedules) and
``alerts``.

What it must not do: hold business rules, or import SQLAlchemy.
"""

from fleetwarden.entrypoints.api.app import create_app

__all__ = ["create_app"]
