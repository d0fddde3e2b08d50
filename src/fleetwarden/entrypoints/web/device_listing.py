"""The device list's query string: parsing it into a ``DeviceQuery``, writing it back,
keyset page links and CSV lines.

The query string is the list's whole state (filters, sort, page size, cursor), so a page
can be bookmarked, saved as a named filter and exported as CSV. Cursors are the API's
(``api.cursor``): "next" continues after the page's last row; "previous" reads backwards
from its first row in the reverse order, which the repository makes the exact mirror.

Must not: query storage (``services.devices`` does), or let a value it did not parse
back into a link or a saved filter.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fleetwarden.domain.device_input import LIST_COLUMNS
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.model import Device
from fleetwarden.domain.vocab import Criticality, DeviceType
from fleetwarden.entrypoints.api import cursor as cursors
from fleetwarden.entrypoints.presenters import csv_cell, device_row
from fleetwarden.errors import InputError
from fleetwarden.ports import DeviceQuery

SORTS = {"id": "Id", "name": "Name", "last_seen": "Last seen"}
"""The sorts the register has an index for (``tenant_id, <column>, id``)."""
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_SIZE = 50
MAX_SEARCH = 128
FILTER_KEYS = ("q", "type", "state", "site", "segment", "model", "criticality", "sort",
               "limit")
"""What a saved filter and the CSV link keep (never a cursor)."""
_MAC = re.compile(r"^(?:[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}"
                  r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})$")
"""A MAC written with separators (twelve bare hex digits may as well be a serial)."""
_FORMULA = ("-",)
"""``csv_cell`` neutralises ``= + @`` and tab/CR; spreadsheets also run a leading ``-``
(as in the findings CSV), and no device column holds a negative number."""


@dataclass(frozen=True, slots=True)
class ListFilters:
    q: str = ""
    device_type: str = ""
    state: str = ""
    site: int | None = None
    segment: int | None = None
    model: int | None = None
    criticality: str = ""
    sort: str = "id"
    descending: bool = False
    limit: int = DEFAULT_SIZE

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort

    def params(self, **changes: Any) -> dict[str, str]:
        """The filter as query parameters, defaults left out."""
        f = replace(self, **changes) if changes else self
        out = {"q": f.q, "type": f.device_type, "state": f.state,
               "site": str(f.site) if f.site else "",
               "segment": str(f.segment) if f.segment else "",
               "model": str(f.model) if f.model else "", "criticality": f.criticality,
               "sort": f.sort_param if f.sort_param != "id" else "",
               "limit": str(f.limit) if f.limit != DEFAULT_SIZE else ""}
        return {k: v for k, v in out.items() if v}

    def query(self, **changes: Any) -> str:
        return urlencode(self.params(**changes))

    def lookup(self) -> tuple[str, str] | None:
        """(kind, value) when the search is an IP or MAC address: found by identifier."""
        text = self.q.strip()
        try:
            ipaddress.ip_address(text)
            return "ip", text
        except ValueError:
            pass
        return ("mac", text) if _MAC.match(text) else None

    def device_query(self, *, limit: int | None = None, descending: bool | None = None,
                     after: tuple[Any, int] | None = None) -> DeviceQuery:
        return DeviceQuery(
            state=self.state or None, device_type=self.device_type or None,
            site_id=self.site, segment_id=self.segment, model_id=self.model,
            criticality=self.criticality or None, search=self.q.strip() or None,
            sort=self.sort, descending=self.descending if descending is None else descending,
            limit=limit or self.limit, after=after)

    def keeps(self, d: Device) -> bool:
        """Whether a device found by identifier also passes the other filters."""
        return ((not self.device_type or d.device_type.value == self.device_type)
                and (not self.state or d.lifecycle_state.value == self.state)
                and (self.site is None or d.site_id == self.site)
                and (self.segment is None or d.segment_id == self.segment)
                and (self.model is None or d.model_id == self.model)
                and (not self.criticality or d.criticality.value == self.criticality))


def _choice(raw: Mapping[str, str], key: str, allowed: Iterable[str], label: str) -> str:
    value = raw.get(key, "").strip()
    if value and value not in set(allowed):
        raise InputError(f"{label}: unknown value {value[:40]!r}")
    return value


def _record_id(raw: Mapping[str, str], key: str) -> int | None:
    value = raw.get(key, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) <= cursors.MAX_ID:
        raise InputError(f"{key}: give the {key}'s id (a number)")
    return int(value)


def parse(raw: Mapping[str, str]) -> ListFilters:
    """The filters of a query string; ``InputError`` names the first bad value."""
    q = raw.get("q", "").strip()
    if len(q) > MAX_SEARCH or not q.isprintable():
        raise InputError(f"search: at most {MAX_SEARCH} printable characters")
    sort = raw.get("sort", "").strip() or "id"
    if sort.lstrip("-") not in SORTS or sort.count("-") > 1:
        raise InputError("sort: id, name or last_seen (prefix - for descending)")
    limit_text = raw.get("limit", "").strip() or str(DEFAULT_SIZE)
    if limit_text not in {str(n) for n in PAGE_SIZES}:
        raise InputError("page size: " + ", ".join(str(n) for n in PAGE_SIZES))
    return ListFilters(
        q=q,
        device_type=_choice(raw, "type", (t.value for t in DeviceType), "type"),
        state=_choice(raw, "state", (s.value for s in LifecycleState), "state"),
        site=_record_id(raw, "site"), segment=_record_id(raw, "segment"),
        model=_record_id(raw, "model"),
        criticality=_choice(raw, "criticality", (c.value for c in Criticality),
                            "criticality"),
        sort=sort.lstrip("-"), descending=sort.startswith("-"), limit=int(limit_text))


def canonical(query: str) -> str:
    """A saved filter's query string, rebuilt from what ``parse`` accepts."""
    pairs = dict(parse_qsl(query.lstrip("?"), keep_blank_values=False))
    return parse({k: v for k, v in pairs.items() if k in FILTER_KEYS}).query()


# --------------------------------------------------------------------- paging
def key_of(f: ListFilters, d: Device) -> tuple[Any, int]:
    assert d.id is not None
    return getattr(d, f.sort), d.id


def next_cursor(f: ListFilters, last: Device) -> str:
    return cursors.encode(f.sort, f.descending, key_of(f, last))


def previous_cursor(f: ListFilters, first: Device) -> str:
    """Read backwards from ``first``: the same sort, reversed."""
    return cursors.encode(f.sort, not f.descending, key_of(f, first))


def decode_next(f: ListFilters, token: str) -> tuple[Any, int]:
    return cursors.decode(token, f.sort, f.descending)


def decode_previous(f: ListFilters, token: str) -> tuple[Any, int]:
    return cursors.decode(token, f.sort, not f.descending)


# ------------------------------------------------------------------------ CSV
def _cell(value: Any) -> str:
    text = csv_cell(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_lines(devices: Sequence[Device], tenant: str, *, header: bool) -> str:
    """Devices in the import format (``LIST_COLUMNS``), cells safe for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(LIST_COLUMNS)
    for d in devices:
        row = device_row(d, tenant)
        writer.writerow([_cell(row[c]) for c in LIST_COLUMNS])
    return out.getvalue()
