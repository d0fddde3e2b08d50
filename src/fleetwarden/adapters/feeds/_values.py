"""Checked, bounded values out of untrusted feed JSON: text, identifiers, dates, CVSS.

Each helper either returns a clean value or raises ``BadRecord`` with a one-line reason
that quotes at most a short, escaped excerpt of the offending input. Free text is
bounded (``MAX_TEXT`` bytes of UTF-8) and stripped of control characters, so nothing
from a feed can flood a terminal, a log line or a database row.

Must not: read files, or decide what a record means (the format modules do).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4, CVSSError  # type: ignore[import-untyped]

from fleetwarden.adapters.feeds._context import BadRecord
from fleetwarden.domain.vulns import Cvss

MAX_TEXT = 4096
MAX_SHORT = 256
MAX_URL = 2048
MAX_REFERENCES = 64
MAX_ALIASES = 256
_ELLIPSIS = "…"

CVE_ID = re.compile(r"CVE-\d{4}-\d{4,19}")
VULN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+\-]{1,127}")
"""CVE-..., GHSA-..., PYSEC-..., DSA-..., RHSA-2024:1234, openSUSE-SU-..., MAL-..."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_VECTOR = re.compile(r"[A-Za-z0-9:/.()_]{1,256}")
_URL = re.compile(r"(?:https?|ftp)://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)


def show(value: Any, limit: int = 60) -> str:
    """A short, escaped rendering of untrusted input for a message."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


def label(value: Any) -> str:
    """An identifier for a message: as is when it looks like one, else escaped and short."""
    if isinstance(value, str) and VULN_ID.fullmatch(value):
        return value
    return show(value, 40)


def kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "?")


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    if _CONTROL.search(value):
        value = _CONTROL.sub("\ufffd", value)
    if len(value) <= limit // 4 or len(value.encode("utf-8")) <= limit:
        return value
    cut = value.encode("utf-8")[:limit - len(_ELLIPSIS.encode("utf-8"))]
    return cut.decode("utf-8", "ignore") + _ELLIPSIS


def text(value: Any, what: str, limit: int = MAX_TEXT) -> str | None:
    """Optional free text, bounded; empty becomes None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{what} must be a string, not {kind(value)}")
    value = value.strip()
    return clean_text(value, limit) if value else None


def short(value: Any, what: str, *, required: bool = False,
          limit: int = MAX_SHORT) -> str | None:
    """A short token (a version, a package name): refused, not truncated, when too long."""
    if value is None:
        if required:
            raise BadRecord(f"{what} is missing")
        return None
    if not isinstance(value, str):
        raise BadRecord(f"{what} must be a string, not {kind(value)}")
    if not value.strip():
        if required:
            raise BadRecord(f"{what} is empty")
        return None
    if len(value) > limit:
        raise BadRecord(f"{what} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise BadRecord(f"{what} {show(value)} holds control characters")
    return value


def required(value: Any, what: str, limit: int = MAX_SHORT) -> str:
    """A short token that must be there."""
    token = short(value, what, required=True, limit=limit)
    if token is None:  # pragma: no cover - short() raises first
        raise BadRecord(f"{what} is missing")
    return token


def cve_id(value: Any, what: str = "the CVE id") -> str:
    if not isinstance(value, str) or not CVE_ID.fullmatch(value):
        raise BadRecord(f"{what} {show(value)} is not a CVE id (CVE-YYYY-NNNN)")
    return value


def vuln_id(value: Any, what: str = "the id") -> str:
    if not isinstance(value, str) or not VULN_ID.fullmatch(value):
        raise BadRecord(f"{what} {show(value)} is not a vulnerability identifier")
    return value


def timestamp(value: Any, what: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 date-time; one without a zone is UTC (NVD writes them so)."""
    if value is None:
        if required:
            raise BadRecord(f"{what} is missing")
        return None
    if not isinstance(value, str) or not 8 <= len(value) <= 64:
        raise BadRecord(f"{what} {show(value)} is not an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRecord(f"{what} {show(value)} is not a valid date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def day(value: Any, what: str, *, required: bool = False) -> date | None:
    """A calendar date (``YYYY-MM-DD``; a date-time keeps its date part)."""
    if value is None or value == "":
        if required:
            raise BadRecord(f"{what} is missing")
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise BadRecord(f"{what} {show(value)} is not a date")
    if len(value) > 10 and value[10] == "T":  # a date-time where a date was expected
        value = value[:10]
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRecord(f"{what} {show(value)} is not a valid date (YYYY-MM-DD)") from None


def as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRecord(f"{what} must be an array, not {kind(value)}")
    return value


def as_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRecord(f"{what} must be an object, not {kind(value)}")
    return value


def urls(values: list[Any], key: str | None = "url") -> tuple[str, ...]:
    """Reference URLs: well-formed http(s)/ftp only, de-duplicated, at most MAX_REFERENCES."""
    out: dict[str, None] = {}
    for item in values:
        url = item.get(key) if key is not None and isinstance(item, dict) else item
        if (isinstance(url, str) and len(url) <= MAX_URL and _URL.fullmatch(url)):
            out[url] = None
            if len(out) >= MAX_REFERENCES:
                break
    return tuple(out)


@lru_cache(maxsize=16384)
def _score(vector: str) -> tuple[str, float]:
    """(CVSS version, base score) computed by the cvss library; raises CVSSError."""
    if vector.startswith("CVSS:4.0/"):
        return "4.0", float(CVSS4(vector).base_score)
    if vector.startswith(("CVSS:3.0/", "CVSS:3.1/")):
        return vector[5:8], float(CVSS3(vector).base_score)
    if vector.startswith("CVSS:"):
        raise CVSSError("unsupported CVSS version")
    return "2.0", float(CVSS2(vector).base_score)


_CVSS_CACHE: dict[tuple[str, str, float, str | None, bool], Cvss] = {}


def cvss(vector: Any, *, version: str | None = None, source: str | None = None,
         primary: bool = True) -> Cvss:
    """A CVSS vector checked and scored by the cvss library.

    ``version`` (2.0, 3.0, 3.1, 4.0), when given, must agree with the vector. The score
    is the library's, whatever the feed stated (``stated_score_differs`` compares).
    """
    if not isinstance(vector, str) or not _VECTOR.fullmatch(vector):
        raise BadRecord(f"invalid CVSS vector {show(vector)}")
    try:
        found, score = _score(vector)
    except CVSSError as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else "rejected"
        raise BadRecord(f"invalid CVSS vector {show(vector)}: {reason}") from None
    except (ValueError, KeyError, IndexError, ArithmeticError):
        raise BadRecord(f"invalid CVSS vector {show(vector)}") from None
    if version is not None and version != found:
        raise BadRecord(f"CVSS vector {show(vector)} is not CVSS {version}")
    key = (found, vector, score, source, primary)
    value = _CVSS_CACHE.get(key)
    if value is None:
        if len(_CVSS_CACHE) > 65536:
            _CVSS_CACHE.clear()
        value = _CVSS_CACHE[key] = Cvss(found, vector, score, source, primary)
    return value


def stated_score_differs(computed: Cvss, stated: Any) -> bool:
    return isinstance(stated, int | float) and not isinstance(stated, bool) \
        and abs(float(stated) - computed.score) > 0.05
