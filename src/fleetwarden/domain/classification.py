"""UK Government Security Classifications for data items (R7).

The guideline asks that every data item a device handles is classified and that
collections may be classified higher than the items in them. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Classification(StrEnum):
    OFFICIAL = "OFFICIAL"
    OFFICIAL_SENSITIVE = "OFFICIAL-SENSITIVE"
    SECRET = "SECRET"  # noqa: S105 (a classification, not a password)
    TOP_SECRET = "TOP SECRET"  # noqa: S105

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = [
    Classification.OFFICIAL,
    Classification.OFFICIAL_SENSITIVE,
    Classification.SECRET,
    Classification.TOP_SECRET,
]


def parse_classification(value: str) -> Classification:
    """Accepts ``OFFICIAL-SENSITIVE``, ``official sensitive``, ``top_secret`` ..."""
    norm = value.strip().upper().replace("_", " ")
    norm = norm.replace("OFFICIAL SENSITIVE", "OFFICIAL-SENSITIVE")
    try:
        return Classification(norm)
    except ValueError:
        valid = ", ".join(c.value for c in Classification)
        raise ValueError(f"unknown classification {value!r}; valid: {valid}") from None


def highest(items: Iterable[Classification]) -> Classification | None:
    ranked = sorted(items, key=lambda c: c.rank)
    return ranked[-1] if ranked else None


def check_aggregate(
    aggregate: Classification, members: Iterable[Classification]
) -> str | None:
    """Return why ``aggregate`` is invalid for ``members``, or None if it is valid.

    A collection may be classified *higher* than its items (aggregation raises
    sensitivity) but never lower than the most sensitive item in it.
    """
    top = highest(members)
    if top is not None and aggregate.rank < top.rank:
        return (
            f"aggregate classified {aggregate.value} is below its most sensitive item "
            f"({top.value}); a collection can only be classified at or above its items"
        )
    return None
