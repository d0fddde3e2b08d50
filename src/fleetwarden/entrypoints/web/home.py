"""``/`` (what this server is, how to sign in) and ``/docs`` (the API reference).

``/docs`` is rendered on the server from the app's own OpenAPI document rather than
with Swagger UI, which FastAPI loads from a CDN by default: the product must work
without internet, and the only bundled Swagger UI on PyPI (swagger-ui-bundle 1.1.0,
Swagger UI 4.15) cannot read the OpenAPI 3.1 documents FastAPI writes.

What it must not do: run scripts, load anything from another origin, or show data
of any tenant (these pages are public).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fleetwarden import __version__
from fleetwarden.entrypoints.web.render import templates

router = APIRouter(include_in_schema=False)

CSP = "default-src 'self'"
METHODS = ("get", "post", "put", "patch", "delete")


def _page(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    base = str(request.base_url).rstrip("/")
    return _page(request, "home.html", {"version": __version__, "base": base})


def schema_text(schema: dict[str, Any] | None) -> str:
    """A short human reading of a JSON schema: ``list[DeviceRow]``, ``string | null``."""
    if not schema:
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(schema_text(s) for s in schema[key])
    if "enum" in schema:
        values = [str(v) for v in schema["enum"]]
        shown = ", ".join(values[:8]) + (", ..." if len(values) > 8 else "")
        return f"one of: {shown}"
    kind = schema.get("type", "")
    if kind == "array":
        return f"list[{schema_text(schema.get('items'))}]"
    if kind == "object" and "additionalProperties" in schema:
        return "object"
    text = str(kind or "any")
    if schema.get("format"):
        text += f" ({schema['format']})"
    return text


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Operations grouped by tag, in the order the spec declares its tags."""
    order = [t["name"] for t in spec.get("tags", [])]
    described = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            tag = (op.get("tags") or ["other"])[0]
            body = op.get("requestBody", {}).get("content", {})
            groups.setdefault(tag, []).append({
                "method": method.upper(),
                "path": path,
                "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace(
                    "}", ""),
                "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "secured": bool(op.get("security")),
                "parameters": [
                    {"name": p["name"], "in": p["in"], "required": p.get("required", False),
                     "type": schema_text(p.get("schema")),
                     "description": p.get("description")
                     or p.get("schema", {}).get("description", "")}
                    for p in op.get("parameters", [])
                ],
                "body": [{"type": ctype, "schema": schema_text(c.get("schema"))}
                         for ctype, c in body.items()],
                "responses": [
                    {"status": code, "description": r.get("description", ""),
                     "schema": schema_text(
                         r.get("content", {}).get("application/json", {}).get("schema"))}
                    for code, r in op.get("responses", {}).items()
                ],
            })
    names = order + sorted(t for t in groups if t not in order)
    return [{"name": t, "description": described.get(t, ""), "operations": groups[t]}
            for t in names if t in groups]


def _schemas(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        out.append({
            "name": name,
            "description": schema.get("description", ""),
            "enum_values": [str(v) for v in schema.get("enum", [])],
            "fields": [{"name": f, "type": schema_text(s), "required": f in required,
                        "description": s.get("description", "")}
                       for f, s in schema.get("properties", {}).items()],
        })
    return out


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    return _page(request, "docs.html", {
        "title": spec.get("info", {}).get("title", "API"),
        "version": spec.get("info", {}).get("version", ""),
        "openapi": spec.get("openapi", ""),
        "groups": _operations(spec),
        "schemas": _schemas(spec),
    })
