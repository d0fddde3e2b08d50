"""``POST /api/v1/devices/import``: bulk import, all-or-nothing (up to 64 MiB).

The body is a JSON array of device objects (``application/json``), JSON Lines
(``application/x-ndjson``) or CSV with a header row (``text/csv``), in the columns
``devices list`` prints. It is streamed into a spooled temporary file (memory stays
bounded; the 64 MiB limit is enforced while streaming), then parsed row by row by
the same streaming readers the CLI uses and handed to ``services.importing``, which
stores every row or none. A report with row errors comes back with HTTP 422.

What it must not do: validate rows itself (the domain parser does), or load the
whole body into memory.
"""

from __future__ import annotations

import email.message
import hashlib
import io
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from typing import IO, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fleetwarden.adapters.files.devices import read_stream
from fleetwarden.entrypoints.api.auth import CurrentPlatform, CurrentPrincipal
from fleetwarden.entrypoints.api.limits import IMPORT_BODY_LIMIT
from fleetwarden.entrypoints.api.schemas import ERROR_RESPONSES, ImportReport
from fleetwarden.errors import InputError
from fleetwarden.services import importing
from fleetwarden.services.context import Platform, Principal

router = APIRouter(prefix="/devices", tags=["devices"])

SPOOL_IN_MEMORY = 1024 * 1024
_FORMATS = {
    "application/json": "json",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json-lines": "jsonl",
}


def _format(content_type: str | None) -> str:
    if content_type:
        msg = email.message.Message()
        msg["content-type"] = content_type
        fmt = _FORMATS.get(msg.get_content_type())
        if fmt:
            return fmt
    raise HTTPException(415, "send the devices as application/json (an array), "
                             "application/x-ndjson or text/csv")


def _rows(text: IO[str], fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        yield from read_stream(text, fmt)
    except UnicodeDecodeError:
        raise InputError("body: not UTF-8 text") from None


def _run(platform: Platform, principal: Principal, spool: IO[bytes], fmt: str,
         source: dict[str, Any], dry_run: bool) -> importing.ImportReport:
    text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
    try:
        return importing.import_devices(platform, principal, _rows(text, fmt), source=source,
                                        dry_run=dry_run)
    finally:
        text.detach()


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "Device rows in the columns `devices list` prints.",
        "content": {
            "application/json": {"schema": {
                "type": "array", "items": {"$ref": "#/components/schemas/DeviceCreate"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"},
                         "example": "name,device_type,serial,mac_addresses,site\n"
                                    "Gate cam 1,cctv_camera,SN-1,00:1a:2b:3c:4d:5e,HQ\n"},
        },
    }
}


@router.post(
    "/import",
    response_model=ImportReport,
    summary="Import devices (all or nothing)",
    description="Stores every row or none. Rows with errors are listed in the report, "
    "returned with HTTP 422; a malformed file is a 422 error body. `dry_run=true` "
    "validates without storing. Limit: 64 MiB.",
    max_body_size=IMPORT_BODY_LIMIT,
    openapi_extra=_BODY_DOC,
    responses=ERROR_RESPONSES | {
        415: {"description": "Unsupported Content-Type"},
        422: {"model": ImportReport, "description": "Rows with errors; nothing stored"},
    },
)
async def import_devices(
    request: Request,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    dry_run: Annotated[bool, Query(description="Validate only; store nothing.")] = False,
) -> JSONResponse:
    fmt = _format(request.headers.get("content-type"))
    digest = hashlib.sha256()
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            if chunk:
                digest.update(chunk)
                size += len(chunk)
                spool.write(chunk)
        spool.seek(0)
        source = {"format": fmt, "bytes": size, "sha256": digest.hexdigest(), "via": "api"}
        report = await run_in_threadpool(_run, platform, principal, spool, fmt, source,
                                         dry_run)
    body = asdict(report)
    body["errors"] = [{"row": row, "message": message} for row, message in report.errors]
    return JSONResponse(body, status_code=422 if report.error_count else 200)
