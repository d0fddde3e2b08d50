"""Small helpers shared by the queue pages (unregistered, vulnerabilities, compliance,
audit): showing device text, reading filter values, paging links and fixed notices.

Device text stays a plain string: ``inert`` only makes control characters visible and
bounds the length; Jinja2's autoescaping makes it inert HTML.

Must not: build HTML, or turn a query-string value into a message shown to the user
(notices come from fixed tables keyed by a code).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fleetwarden.errors import InputError

MAX_OFFSET = 100_000
"""Deepest offset a list page accepts (filters narrow a list better than paging)."""


def inert(value: object, limit: int = 300) -> str:
    """Device text for display: control characters (ANSI escapes, bells, NULs) shown as
    ``\\xNN``, at most ``limit`` characters. Escaping for HTML is the template's job."""
    if value is None:
        return ""
    text = str(value)
    cut = len(text) > limit
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256
                   else f"\\u{ord(c):04x}" for c in text[:limit])
    return text + (" …" if cut else "")


def sentence(exc: Exception) -> str:
    """An error's one-line message as the page shows it: capitalised."""
    message = str(exc)
    return message[:1].upper() + message[1:]


def notice(done: str | None, notices: Mapping[str, str]) -> str | None:
    """The fixed text of an action's ``?done=`` code (unknown codes show nothing)."""
    return notices.get(done or "")


def flag(value: str | None, name: str) -> bool:
    """A yes/no filter: absent, empty or 0 is no; 1 is yes; anything else an error."""
    if value in (None, "", "0"):
        return False
    if value in ("1", "true", "on", "yes"):
        return True
    raise InputError(f"{name}: use 1 or leave it out")


def offset(value: str | None) -> int:
    if value in (None, ""):
        return 0
    if not value.isdigit() or int(value) > MAX_OFFSET:
        raise InputError(f"offset: a whole number from 0 to {MAX_OFFSET:,} (narrow the "
                         "filters to see further)")
    return int(value)


def text(value: str | None, name: str, limit: int = 128) -> str | None:
    """A free-text filter: trimmed, printable, bounded; empty is none."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > limit or not value.isprintable():
        raise InputError(f"{name}: at most {limit} printable characters")
    return value


def link(path: str, params: Mapping[str, Any]) -> str:
    """``path`` with the non-empty ``params`` as its query string (lists repeat a key)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for v in value if isinstance(value, list | tuple) else [value]:
            if v not in (None, "", False):
                pairs.append((key, "1" if v is True else str(v)))
    return f"{path}?{urlencode(pairs)}" if pairs else path
