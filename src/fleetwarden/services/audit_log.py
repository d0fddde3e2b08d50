"""Browsing the audit log: bounded searches, newest first, and the chain's state (R12).

A search reads at most ``WINDOW`` events below its cursor unless it names one object
(type and id: indexed): a rare actor in a long chain then comes back as a short page
with a cursor to search further back, never as a scan of the whole log. Time bounds
become seq bounds first (the log is appended in time order). ``audit.verify`` walks the
whole chain; ``chain_state`` only reads its head and newest signed checkpoint.

Must not: write, or show the log to a role without ``read_audit``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from fleetwarden.domain.audit import AuditEvent, ChainHead, Checkpoint, format_timestamp
from fleetwarden.errors import InputError
from fleetwarden.ports import AuditQuery
from fleetwarden.services.context import Permission, Platform, Principal, require

MAX_LIMIT = 200
WINDOW = 20_000
"""Events one search may read below its cursor when no object is named."""
MAX_TEXT = 256


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: tuple[AuditEvent, ...]
    older: int | None
    """Pass as ``before_seq`` for the next page (None: nothing older matches)."""
    searched_to: int | None
    """Set when the page is short because the search window ended at this seq, not
    because nothing older matches: searching on from ``older`` may find more."""


@dataclass(frozen=True, slots=True)
class ChainState:
    head: ChainHead | None
    checkpoint: Checkpoint | None
    """The newest signed checkpoint."""


def search(platform: Platform, principal: Principal, *, actor: str | None = None,
           action: str | None = None, object_type: str | None = None,
           object_id: str | None = None, since: datetime | None = None,
           until: datetime | None = None, before_seq: int | None = None,
           limit: int = 50) -> AuditPage:
    """Events matching every filter given, newest first (``until`` is exclusive)."""
    require(principal, Permission.READ_AUDIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit: 1 to {MAX_LIMIT}")
    if before_seq is not None and before_seq < 1:
        raise InputError("before: a positive event number")
    for name, value in (("actor", actor), ("action", action), ("object type", object_type),
                        ("object id", object_id)):
        if value is not None and (len(value) > MAX_TEXT or not value.isprintable()):
            raise InputError(f"{name}: at most {MAX_TEXT} printable characters")
    if since is not None and until is not None and since >= until:
        raise InputError("the time range ends before it starts")
    q = AuditQuery(actor=actor or None, action=action or None,
                   object_type=object_type or None, object_id=object_id or None,
                   since=format_timestamp(since) if since else None,
                   until=format_timestamp(until) if until else None, limit=limit + 1)
    with platform.uow(principal.tenant, False) as uow:
        head = uow.audit.head()
        upper = (head.seq if head else 0) + 1
        if before_seq is not None:
            upper = min(upper, before_seq)
        lower = 1
        if q.until is not None:
            end = uow.audit_search.first_seq_at(q.until)
            upper = min(upper, end) if end is not None else upper
        if q.since is not None:
            start = uow.audit_search.first_seq_at(q.since)
            if start is None:
                return AuditPage((), None, None)
            lower = start
        indexed = q.object_type is not None and q.object_id is not None
        floor = lower if indexed else max(lower, upper - WINDOW)
        found = uow.audit_search.search(replace(q, before_seq=upper), floor=floor)
    if len(found) > limit:
        return AuditPage(tuple(found[:limit]), found[limit - 1].seq, None)
    if floor > lower:
        return AuditPage(tuple(found), floor, floor)
    return AuditPage(tuple(found), None, None)


def chain_state(platform: Platform, principal: Principal) -> ChainState:
    """The head of the chain and its newest signed checkpoint, without verifying."""
    require(principal, Permission.READ_AUDIT)
    with platform.uow(principal.tenant, False) as uow:
        return ChainState(uow.audit.head(), uow.audit_search.last_checkpoint())
