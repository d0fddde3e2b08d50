"""Matching an observed or imported record to a known device (R1, later R4).

Strong identifiers (serial, MAC, IMEI, ICCID, VIN, certificate) decide; weak ones
(IP, hostname) are only used when no strong identifier is known, because addresses
are reused. Pure: the caller supplies the lookups as a mapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fleetwarden.domain.identifiers import STRONG_KINDS, WEAK_KINDS, IdentifierKind

Identifier = tuple[IdentifierKind, str]


@dataclass(frozen=True, slots=True)
class Match:
    device_id: int | None
    strength: str
    """"strong", "weak", "conflict" or "none"."""
    evidence: tuple[Identifier, ...]
    conflicting: tuple[int, ...] = ()
    """Other devices a strong identifier points at, when identifiers disagree."""


def match(
    identifiers: Iterable[Identifier], known: Mapping[Identifier, Iterable[int]]
) -> Match:
    """Which device ``identifiers`` belong to, given ``known`` (identifier -> device ids)."""
    wanted = list(identifiers)
    strong_hits: dict[int, list[Identifier]] = {}
    for ident in wanted:
        if ident[0] in STRONG_KINDS:
            for device_id in known.get(ident, ()):
                strong_hits.setdefault(device_id, []).append(ident)
    if len(strong_hits) == 1:
        (device_id, evidence), = strong_hits.items()
        return Match(device_id, "strong", tuple(evidence))
    if len(strong_hits) > 1:
        ranked = sorted(strong_hits.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return Match(
            None,
            "conflict",
            tuple(i for _, ev in ranked for i in ev),
            tuple(d for d, _ in ranked),
        )
    if any(i[0] in STRONG_KINDS for i in wanted):
        # Strong identifiers that nobody has: a new device even if its IP is reused.
        return Match(None, "none", ())
    weak_hits: dict[int, list[Identifier]] = {}
    for ident in wanted:
        if ident[0] in WEAK_KINDS:
            for device_id in known.get(ident, ()):
                weak_hits.setdefault(device_id, []).append(ident)
    if len(weak_hits) == 1:
        (device_id, evidence), = weak_hits.items()
        return Match(device_id, "weak", tuple(evidence))
    return Match(None, "none", ())
