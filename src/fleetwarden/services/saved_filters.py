"""A user's named filters of the dashboard's lists (the list's query string, by name).

Must not: store anything but a query string the page itself produced (bounded, no
control characters), or show one user's filters to another.
"""

from __future__ import annotations

from fleetwarden.errors import InputError, NotFound
from fleetwarden.ports import SavedFilter
from fleetwarden.services import audit
from fleetwarden.services.context import Platform, Principal

PAGES = ("devices", "vulns", "unregistered", "audit")
MAX_NAME = 64
MAX_QUERY = 2000
MAX_PER_PAGE = 50


def _user_id(principal: Principal) -> int:
    if principal.user_id is None:
        raise InputError("saved filters belong to a signed-in user")
    return principal.user_id


def _check_page(page: str) -> str:
    if page not in PAGES:
        raise InputError(f"page: one of {', '.join(PAGES)}")
    return page


def list_filters(platform: Platform, principal: Principal, page: str) -> list[SavedFilter]:
    with platform.uow(principal.tenant, False) as uow:
        return uow.web.saved_filters(_user_id(principal), _check_page(page))


def save_filter(platform: Platform, principal: Principal, page: str, name: str,
                query: str) -> SavedFilter:
    """Save (or replace) the named filter of ``page``."""
    name, query = name.strip(), query.strip().lstrip("?")
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise InputError(f"filter name: 1 to {MAX_NAME} printable characters")
    if len(query) > MAX_QUERY or not query.isprintable():
        raise InputError(f"filter: at most {MAX_QUERY} printable characters")
    user_id = _user_id(principal)
    with platform.uow(principal.tenant, True) as uow:
        existing = uow.web.saved_filters(user_id, _check_page(page))
        if len(existing) >= MAX_PER_PAGE and name not in {f.name for f in existing}:
            raise InputError(f"at most {MAX_PER_PAGE} saved filters per page: delete one")
        saved = uow.web.save_filter(user_id, page, name, query, platform.now())
        audit.record(platform, uow, principal.actor, "filter.save", "saved_filter", saved.id,
                     after={"page": page, "name": name, "query": query})
        uow.commit()
    return saved


def delete_filter(platform: Platform, principal: Principal, filter_id: int) -> None:
    with platform.uow(principal.tenant, True) as uow:
        gone = uow.web.delete_filter(_user_id(principal), filter_id)
        if gone is None:
            raise NotFound(f"saved filter {filter_id} not found")
        audit.record(platform, uow, principal.actor, "filter.delete", "saved_filter",
                     filter_id, before={"page": gone.page, "name": gone.name})
        uow.commit()
