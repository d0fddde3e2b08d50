"""FIRST EPSS scores (CSV, plain or gzipped) into ``EpssScore`` values.

A file is an optional comment line
``#model_version:v2025.03.14,score_date:2025-03-15T00:00:00+0000``, a header naming at
least ``cve``, ``epss`` and ``percentile`` (in any order), then one row per CVE. It is
read line by line; a line over 4 KB is refused. Scores and percentiles must be numbers
in 0..1. The comment's ``score_date`` becomes each score's ``scored_on`` and the
``model_version`` the file's version. EPSS never quotes fields, so rows are split on
commas; a CVE listed twice keeps its last row, with a warning.

Must not: apply anything, or download scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from fleetwarden.adapters.feeds import _values as v
from fleetwarden.adapters.feeds._context import BadRecord, Reading, ReadProgress
from fleetwarden.adapters.feeds._source import open_source
from fleetwarden.domain.vulns import EpssScore

MAX_LINE = 4096


@dataclass(frozen=True, slots=True)
class EpssFile:
    scores: tuple[EpssScore, ...]
    model_version: str | None = None
    score_date: datetime | None = None


def _comment(reading: Reading, line: str) -> tuple[str | None, datetime | None]:
    model: str | None = None
    scored: datetime | None = None
    for part in line.lstrip("#").split(","):
        key, _, value = part.partition(":")
        key, value = key.strip(), value.strip()
        try:
            if key == "model_version":
                model = v.short(value, "model_version", limit=64)
            elif key == "score_date":
                scored = v.timestamp(value, "score_date")
        except BadRecord as exc:
            reading.warn("line 1", exc.reason)
    return model, scored


def _probability(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadRecord(f"{what} {v.show(text)} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise BadRecord(f"{what} {v.show(text)} is outside 0..1")
    return value


def read_epss(reading: Reading, progress: ReadProgress | None = None) -> EpssFile:
    scores: dict[str, EpssScore] = {}
    model: str | None = None
    scored: datetime | None = None
    scored_on: date | None = None
    columns: tuple[int, int, int] | None = None
    width = 0
    with open_source(reading.path, progress=progress) as source:
        for number, raw in source.lines(MAX_LINE):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise reading.fail(f"line {number}: not UTF-8 text") from None
            if not line:
                continue
            if columns is None:
                if line.startswith("#"):
                    if number == 1:
                        model, scored = _comment(reading, line)
                        scored_on = scored.date() if scored else None
                    continue
                names = [c.strip().strip('"').lower() for c in line.split(",")]
                if not {"cve", "epss", "percentile"} <= set(names):
                    raise reading.fail(f"line {number}: expected a header with cve, epss and "
                                       "percentile columns: not an EPSS CSV file")
                columns = (names.index("cve"), names.index("epss"),
                           names.index("percentile"))
                width = len(names)
                continue
            score = _row(reading, number, line, columns, width, scored_on)
            if score is None:
                continue
            if score.cve_id in scores:
                reading.warn(f"line {number} ({score.cve_id})",
                             "listed again; the later row is kept")
                del scores[score.cve_id]
            scores[score.cve_id] = score
    if columns is None:
        raise reading.fail("no header line: not an EPSS CSV file")
    return EpssFile(tuple(scores.values()), model, scored)


def _row(reading: Reading, number: int, line: str, columns: tuple[int, int, int],
         width: int, scored_on: date | None) -> EpssScore | None:
    fields = line.split(",")
    cve_column, epss_column, percentile_column = columns
    where = f"line {number}"
    if len(fields) > cve_column:
        where = f"{where} ({v.label(fields[cve_column].strip())})"
    try:
        if len(fields) != width:
            raise BadRecord(f"{len(fields)} fields where the header has {width}")
        return EpssScore(
            cve_id=v.cve_id(fields[cve_column].strip(), "cve"),
            epss=_probability(fields[epss_column].strip(), "epss"),
            percentile=_probability(fields[percentile_column].strip(), "percentile"),
            scored_on=scored_on)
    except BadRecord as exc:
        reading.bad(where, exc.reason)
        return None

