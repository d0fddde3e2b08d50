"""The management summary as values: a handful of headline measures (devices, exposure,
findings, compliance per framework) with their previous value and a dated trend, for the
summary renderers (HTML, PDF, CSV, JSON).

Must not: query anything, compute the measures (a service does, from one snapshot) or
render anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Direction(StrEnum):
    """Where a measure moved since the previous snapshot."""

    UP = "up"
    DOWN = "down"
    FLAT = "flat"


@dataclass(frozen=True, slots=True)
class Measure:
    """One headline figure."""

    key: str
    """Stable machine name, e.g. ``devices_total``, ``kev_devices``, ``findings_open_p1``,
    ``findings_overdue``, ``compliance_ncsp-iot``; the key of this measure in the trend."""
    label: str
    value: float | int | None
    """None when it could not be measured (no data in scope), never 0 by default."""
    unit: str
    """devices, findings, % or days."""
    previous: float | int | None = None
    """The same measure at the previous snapshot; None when there is none."""
    better: str = "down"
    """Which direction is good: ``up`` (e.g. compliance %) or ``down`` (e.g. overdue)."""

    def __post_init__(self) -> None:
        if self.better not in ("up", "down"):
            raise ValueError(f"measure {self.key!r}: better must be 'up' or 'down'")

    @property
    def change(self) -> float | int | None:
        """value - previous, or None when either is missing."""
        if self.value is None or self.previous is None:
            return None
        delta = self.value - self.previous
        return round(delta, 6) if isinstance(delta, float) else delta

    @property
    def direction(self) -> Direction | None:
        change = self.change
        if change is None:
            return None
        return Direction.UP if change > 0 else Direction.DOWN if change < 0 else Direction.FLAT

    @property
    def improved(self) -> bool | None:
        """True if it moved the good way, False the bad way, None if flat or unknown."""
        direction = self.direction
        if direction in (None, Direction.FLAT):
            return None
        return direction.value == self.better


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """The measures at one earlier snapshot."""

    at: date
    values: Mapping[str, float]
    """Measure key -> value; a key missing here was not measured that day."""


@dataclass(frozen=True, slots=True)
class SummaryReport:
    tenant: str
    generated_at: datetime
    generated_by: str
    audit_head_seq: int
    audit_head_hash: str
    """The tenant's audit-chain head when the summary was made: ties it to the log."""
    tool: str
    """``fleetwarden <version>``."""
    measures: tuple[Measure, ...]
    trend: tuple[TrendPoint, ...]
    """Oldest first."""
