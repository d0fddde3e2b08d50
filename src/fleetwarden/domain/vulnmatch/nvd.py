"""NVD configurations against the CPEs of one firmware image or device.

``CpeIndex`` holds those CPEs; ``evaluate_configurations`` (``match_cpe_config`` for
callers) decides AND/OR nodes, ``negate``, version ranges, and ``vulnerable: false``
platform entries that other CPEs of the same image may satisfy but that are never
reported as affected. Logic is three-valued: a version that cannot be compared makes
its entry *unknown*, never true, so it cannot make a configuration true, not even
through ``negate``; the doubt is written to ``notes``, and ``could_affect`` tells
whether such a doubt concerns a given CPE at all.

Must not: match on product name alone or on a vendor guess; report a platform as
affected; know about purls, OSV or the index; do I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fleetwarden.domain import versions
from fleetwarden.domain.cpe import (
    ANY,
    NA,
    abbreviate,
    has_wildcard,
    other_attributes_match,
    same_product,
    unquote,
    value_matches,
)
from fleetwarden.domain.vulnmatch.results import CpeHit, NvdMatch, Tri
from fleetwarden.domain.vulns import ConfigNode, Configuration, Cpe, CpeMatch

_Hits = list[tuple[Cpe, CpeMatch]]


# --- three-valued logic ---------------------------------------------------------------


def _all(values: Sequence[Tri]) -> Tri:
    if not values:
        return False  # an empty AND proves nothing
    result: Tri = True
    for v in values:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def _any(values: Sequence[Tri]) -> Tri:
    result: Tri = False
    for v in values:
        if v is True:
            return True
        if v is None:
            result = None
    return result


def _combine(operator: str, values: Sequence[Tri], negate: bool, notes: list[str]) -> Tri:
    op = operator.upper()
    if op == "AND":
        value = _all(values)
    elif op == "OR":
        value = _any(values)
    else:
        notes.append(f"unknown operator {operator[:20]!r} in a configuration")
        return None
    if negate:
        return None if value is None else not value
    return value


# --- CPE sets -------------------------------------------------------------------------


class CpeIndex:
    """The CPEs of one firmware image or device, looked up by (part, vendor, product).

    Build it once per image and pass it to every match: configurations that need a
    platform (firmware AND hardware) look the platform up here.
    """

    __slots__ = ("_by_product", "cpes")

    def __init__(self, cpes: Iterable[Cpe] = ()) -> None:
        by_product: dict[tuple[str, str, str], list[Cpe]] = {}
        unique: list[Cpe] = []
        for cpe in cpes:
            same = by_product.setdefault((cpe.part, cpe.vendor, cpe.product), [])
            if cpe not in same:
                same.append(cpe)
                unique.append(cpe)
        self.cpes: tuple[Cpe, ...] = tuple(unique)
        self._by_product = {k: tuple(v) for k, v in by_product.items()}

    def lookup(self, part: str, vendor: str, product: str) -> tuple[Cpe, ...]:
        return self._by_product.get((part, vendor, product), ())

    def __contains__(self, cpe: object) -> bool:
        return isinstance(cpe, Cpe) and cpe in self.lookup(cpe.part, cpe.vendor, cpe.product)

    def plus(self, cpe: Cpe) -> CpeIndex:
        """This set with ``cpe`` added (itself when already there)."""
        return self if cpe in self else CpeIndex((*self.cpes, cpe))


def as_index(cpes: Sequence[Cpe] | CpeIndex) -> CpeIndex:
    return cpes if isinstance(cpes, CpeIndex) else CpeIndex(cpes)


# --- NVD configurations -----------------------------------------------------------------


def _range_text(cm: CpeMatch) -> str:
    parts = []
    if cm.version_start_including is not None:
        parts.append(f"versionStartIncluding {cm.version_start_including}")
    if cm.version_start_excluding is not None:
        parts.append(f"versionStartExcluding {cm.version_start_excluding}")
    if cm.version_end_including is not None:
        parts.append(f"versionEndIncluding {cm.version_end_including}")
    if cm.version_end_excluding is not None:
        parts.append(f"versionEndExcluding {cm.version_end_excluding}")
    return ", ".join(parts)


def _has_range(cm: CpeMatch) -> bool:
    return not (cm.version_start_including is None and cm.version_start_excluding is None
                and cm.version_end_including is None and cm.version_end_excluding is None)


def _same_version(criteria: str, target: str) -> bool:
    if criteria == target:
        return True
    if has_wildcard(criteria):
        return value_matches(criteria, target)
    a = versions.try_parse(unquote(criteria))
    b = versions.try_parse(unquote(target))
    return a is not None and b is not None and a == b


def _in_range(cm: CpeMatch, version: versions.ParsedVersion) -> bool | str:
    """True/False, or the bound that cannot be compared."""
    bounds = ((cm.version_start_including, 0, True), (cm.version_start_excluding, 0, False),
              (cm.version_end_including, 1, True), (cm.version_end_excluding, 1, False))
    for bound, is_end, inclusive in bounds:
        if bound is None:
            continue
        parsed = versions.try_parse(bound)
        if parsed is None:
            return bound
        try:
            c = version.compare_to(parsed)
        except versions.IncomparableVersion:
            return bound
        if (c == 0 and not inclusive) or (c > 0 if is_end else c < 0):
            return False
    return True


def _version_check(cm: CpeMatch, target: Cpe, notes: list[str]) -> Tri:
    """Whether the target's version satisfies the entry; a doubt is noted and gives None."""
    crit = cm.criteria
    cv = crit.version
    tv = target.version
    known = tv != ANY and tv != NA
    if cv == NA:
        return not known
    has_range = _has_range(cm)
    if cv != ANY:
        if not known:
            notes.append(f"{abbreviate(crit)}: the component's version is unknown, cannot "
                         f"compare")
            return None
        if not _same_version(cv, tv):
            return False
        if not has_range:
            return True
    elif not has_range:
        return True
    if not known:
        notes.append(f"{abbreviate(crit)}: {_range_text(cm)}; the component's version is "
                     f"unknown, cannot compare")
        return None
    shown = unquote(tv)
    parsed = versions.try_parse(shown)
    if parsed is None:
        notes.append(f"{abbreviate(crit)}: {_range_text(cm)}; component version {shown!r} "
                     f"cannot be compared")
        return None
    inside = _in_range(cm, parsed)
    if isinstance(inside, str):
        notes.append(f"{abbreviate(crit)}: bound {inside!r} cannot be compared")
        return None
    return inside


def entry_reason(cm: CpeMatch, target: Cpe) -> str:
    """Why a satisfied entry holds for the target (built only for what is reported)."""
    crit = cm.criteria
    shown = unquote(target.version) if target.version not in (ANY, NA) else "version unknown"
    if crit.version == NA:
        return f"{abbreviate(crit)}: version not applicable"
    if _has_range(cm):
        return f"{abbreviate(crit)}: {_range_text(cm)}, component {shown}"
    if crit.version == ANY:
        return f"{abbreviate(crit)}: all versions, component {shown}"
    kind = "version pattern" if has_wildcard(crit.version) else "exact version"
    return f"{abbreviate(crit)}: {kind}, component {shown}"


def is_plain(value: str) -> bool:
    """A concrete value without wildcards (fast path of ``same_product``'s test)."""
    return value != ANY and value != NA and "*" not in value and "?" not in value


def _entry(cm: CpeMatch, targets: CpeIndex, notes: list[str]) -> tuple[Tri, _Hits]:
    crit = cm.criteria
    candidates = targets.lookup(crit.part, crit.vendor, crit.product)
    if not candidates:
        return False, []
    if not (is_plain(crit.vendor) and is_plain(crit.product)) and not same_product(
            crit, candidates[0]):
        return False, []
    hits: _Hits = []
    unknown = False
    simple = only_any(crit)
    for target in candidates:
        if not simple and not other_attributes_match(crit, target):
            continue
        ok = _version_check(cm, target, notes)
        if ok:
            hits.append((target, cm))
        elif ok is None:
            unknown = True
    if hits:
        return True, hits
    return (None if unknown else False), hits


def only_any(crit: Cpe) -> bool:
    return (crit.update == ANY and crit.edition == ANY and crit.language == ANY
            and crit.sw_edition == ANY and crit.target_sw == ANY and crit.target_hw == ANY
            and crit.other == ANY)


def _node(node: ConfigNode, targets: CpeIndex, notes: list[str]
          ) -> tuple[Tri, _Hits, _Hits]:
    """The node's value, and (when true and not negated) its vulnerable and platform hits."""
    results = [(_entry(cm, targets, notes), cm.vulnerable) for cm in node.matches]
    value = _combine(node.operator, [r[0][0] for r in results], node.negate, notes)
    if value is not True or node.negate:
        return value, [], []
    vulnerable: _Hits = []
    platform: _Hits = []
    for (ok, hits), is_vulnerable in results:
        if ok:
            (vulnerable if is_vulnerable else platform).extend(hits)
    return value, vulnerable, platform


def evaluate_configurations(configurations: Sequence[Configuration], targets: CpeIndex,
              notes: list[str], only: Cpe | None = None) -> NvdMatch | None:
    """Evaluate; with ``only``, reasons are built for that CPE alone (the rest is unused)."""
    affected: dict[Cpe, list[str]] = {}
    platform: dict[Cpe, list[CpeMatch]] = {}
    for config in configurations:
        nodes = [_node(n, targets, notes) for n in config.nodes]
        value = _combine(config.operator, [n[0] for n in nodes], config.negate, notes)
        if value is not True or config.negate:
            continue
        for node_value, vulnerable, conditions in nodes:
            if node_value is not True:
                continue
            for cpe, cm in vulnerable:
                reasons = affected.setdefault(cpe, [])
                if only is None or cpe == only:
                    why = entry_reason(cm, cpe)
                    if why not in reasons:
                        reasons.append(why)
            for cpe, cm in conditions:
                platform.setdefault(cpe, []).append(cm)
    if not affected or (only is not None and only not in affected):
        return None
    platform_reasons: list[str] = []
    for cpe, entries in platform.items():
        if cpe in affected:
            continue
        for cm in entries:
            text = f"platform condition met by {abbreviate(cpe)} ({entry_reason(cm, cpe)})"
            if text not in platform_reasons:
                platform_reasons.append(text)
    hits = tuple(CpeHit(cpe, tuple(reasons)) for cpe, reasons in affected.items()
                 if only is None or cpe == only)
    return NvdMatch(hits, tuple(platform_reasons))


def could_affect(configurations: Sequence[Configuration], cpe: Cpe) -> bool:
    """Does some vulnerable entry hold, or fail to decide, for this CPE?

    If none does, the CPE is not affected whatever else is undecided (a doubt about
    another component of the image is that component's business, not this one's).
    """
    scratch: list[str] = []
    for config in configurations:
        for node in config.nodes:
            for cm in node.matches:
                crit = cm.criteria
                if (cm.vulnerable and same_product(crit, cpe)
                        and other_attributes_match(crit, cpe)
                        and _version_check(cm, cpe, scratch) is not False):
                    return True
    return False


def match_cpe_config(configurations: Sequence[Configuration],
                     cpes: Sequence[Cpe] | CpeIndex) -> NvdMatch | None:
    """Evaluate NVD configurations against all CPEs of one firmware image or device.

    Returns the input CPEs that are affected (matched by a ``vulnerable: true`` entry of
    a satisfied configuration), or None. CPEs matched only by platform entries are
    never affected. Versions that cannot be compared never make an entry true.
    """
    return evaluate_configurations(configurations, as_index(cpes), [])

