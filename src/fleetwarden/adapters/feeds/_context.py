"""What one read of one feed file is doing: its bad records, warnings and counts.

A format module raises ``BadRecord`` when a record's content is wrong (a bad CVSS vector,
CPE, date or identifier). ``Reading.bad`` turns that into a ``FeedError`` naming the file
and record, or, with ``skip_bad_records``, into a warning line and a skipped count.
Structural problems (malformed JSON, a truncated or hostile file) are never skippable:
the modules raise ``FeedError`` for those directly.

Must not: read files or know any feed format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fleetwarden.errors import FeedError

ReadProgress = Callable[[int, int], None]
"""(bytes of the file read, bytes in the file), the same shape as ``ports.ReadProgress``."""
Warn = Callable[[str], None]

MAX_WARNINGS = 1000
"""Warning lines kept per file; beyond that only their number is reported."""


class BadRecord(Exception):
    """One record's content is invalid; ``reason`` is a short, one-line explanation.

    Code deep inside a record raises the bare problem; callers on the way out add where
    it was (``inside("cpeMatch[3]")``), so no location string is built for good records.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []

    def inside(self, segment: str) -> BadRecord:
        self.path.insert(0, segment)
        return self

    @property
    def reason(self) -> str:
        return f"{'.'.join(self.path)}: {self.problem}" if self.path else self.problem


@dataclass
class Reading:
    path: Path
    skip_bad_records: bool = False
    on_warning: Warn | None = None
    warnings: list[str] = field(default_factory=list)
    dropped_warnings: int = 0
    skipped: int = 0

    def fail(self, detail: str) -> FeedError:
        return FeedError(f"{self.path}: {detail}")

    def bad(self, where: str, reason: str) -> None:
        """A bad record: raise, or skip it with a warning when the caller allowed that."""
        if not self.skip_bad_records:
            raise FeedError(f"{self.path}: {where}: {reason}") from None
        self.skipped += 1
        self.warn(where, f"skipped: {reason}")

    def warn(self, where: str, message: str) -> None:
        line = f"{self.path}: {where}: {message}"
        if self.on_warning is not None:
            self.on_warning(line)
            return
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(line)
        else:
            self.dropped_warnings += 1

    def all_warnings(self) -> tuple[str, ...]:
        if not self.dropped_warnings:
            return tuple(self.warnings)
        return (*self.warnings,
                f"{self.path}: {self.dropped_warnings} more warnings not shown")
