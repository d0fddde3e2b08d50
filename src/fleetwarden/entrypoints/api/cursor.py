"""Opaque keyset cursors for the device list.

A cursor is the base64url of a small JSON object holding the services'
``Page.next_cursor`` (sort value and id of the last row) and the sort it was made
for. Clients must treat it as opaque; anything that does not decode to what this
module wrote is an ``InputError`` (422), never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from fleetwarden.errors import InputError

MAX_CURSOR = 512
MAX_ID = 2**62


def encode(sort: str, descending: bool, after: tuple[Any, int]) -> str:
    value, last_id = after
    if isinstance(value, datetime):
        value = {"ts": value.isoformat()}
    raw = json.dumps({"s": sort, "d": descending, "v": value, "i": last_id},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, sort: str, descending: bool) -> tuple[Any, int]:
    bad = InputError("cursor: not a cursor from this API (start again without one)")
    if len(cursor) > MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict) or set(data) != {"s", "d", "v", "i"}:
        raise bad
    last_id, value = data["i"], data["v"]
    if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 <= last_id <= MAX_ID:
        raise bad
    if data["s"] != sort or data["d"] is not descending:
        raise InputError("cursor: made for another sort order; keep the same sort while paging")
    if sort == "id":
        if value != last_id:
            raise bad
    elif isinstance(value, int):
        raise bad
    elif sort == "name":
        if not isinstance(value, str):
            raise bad
    elif sort == "last_seen":
        if value is not None:
            if not (isinstance(value, dict) and set(value) == {"ts"}
                    and isinstance(value["ts"], str)):
                raise bad
            try:
                value = datetime.fromisoformat(value["ts"])
            except ValueError:
                raise bad from None
    else:
        raise bad
    return value, last_id
