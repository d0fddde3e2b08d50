"""``VulnIndex``: a feed snapshot indexed once, so a component meets only its candidates.

Vulnerabilities are indexed by OSV package and by the (part, vendor, product) of their
vulnerable NVD entries; ``candidates`` narrows ~300k vulnerabilities to the few worth
evaluating. For each product the entries' version bounds are ranked once (sorted
bounds, a bisect per component), and a vulnerability that is a plain OR of such
entries is decided by rank alone; anything else is assessed in full by ``component``,
with the same results as ``assess_component``.

Must not: decide a match differently from ``assess_component``, rank a bound it cannot
parse (such entries are always evaluated in full), do I/O.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fleetwarden.domain import versions
from fleetwarden.domain.cpe import ANY, NA, has_wildcard, unquote
from fleetwarden.domain.vulnmatch.component import Prepared, assess_prepared, prepare
from fleetwarden.domain.vulnmatch.nvd import CpeIndex, entry_reason, is_plain, only_any
from fleetwarden.domain.vulnmatch.osv import norm_name, purl_key
from fleetwarden.domain.vulnmatch.results import Assessment, Basis, Match
from fleetwarden.domain.vulns import Cpe, CpeMatch, SbomComponent, Vulnerability

_INF = 1 << 62
_Key = versions.GenericKey


@dataclass(slots=True)
class _ProductTable:
    """Every vulnerable entry naming one (part, vendor, product), ranked by version.

    Version bounds are ranked once (boundary i has rank 2i+1, the gap before it 2i), so
    finding the entries whose ranges hold a version is a bisect and integer tests. An
    entry is *exact* when its rank test is the whole decision: its vulnerability is a
    plain OR of vulnerable entries and it constrains no attribute but the version.
    """

    bounds: list[_Key]
    los: list[int]
    his: list[int]
    idxs: list[int]
    entries: list[CpeMatch]
    exact: list[bool]
    always: list[int]
    """Vulnerabilities with entries the ranks cannot describe (NA, wildcards, bad bounds)."""
    all: list[int]

    def rank(self, key: _Key) -> int:
        i = bisect_left(self.bounds, key)
        if i < len(self.bounds) and self.bounds[i] == key:
            return 2 * i + 1
        return 2 * i

    def lookup(self, version: str) -> tuple[dict[int, CpeMatch], list[int]]:
        """(vulnerabilities decided by rank, with an entry that holds; vulnerabilities to
        evaluate in full) for a component version."""
        key = _generic_key(version) if version not in (ANY, NA) else None
        if key is None:
            return {}, self.all
        r = self.rank(key)
        his = self.his
        inside = [j for j in range(bisect_right(self.los, r)) if his[j] >= r]
        sure: dict[int, CpeMatch] = {}
        maybe = list(self.always)
        idxs, exact, entries = self.idxs, self.exact, self.entries
        for j in inside:
            if exact[j]:
                if idxs[j] not in sure:
                    sure[idxs[j]] = entries[j]
            else:
                maybe.append(idxs[j])
        return sure, maybe


def _generic_key(text: str) -> _Key | None:
    return versions.generic_key(unquote(text))


def _describable(cm: CpeMatch) -> list[_Key] | None:
    """The version keys an entry needs ranked; None when ranks cannot describe it."""
    crit = cm.criteria
    if crit.version == NA or has_wildcard(crit.version):
        return None
    keys: list[_Key] = []
    for text in (cm.version_start_including, cm.version_start_excluding,
                 cm.version_end_including, cm.version_end_excluding,
                 None if crit.version == ANY else crit.version):
        if text is not None:
            key = _generic_key(text)
            if key is None:
                return None
            keys.append(key)
    return keys


def _build_table(entries: list[tuple[int, CpeMatch, bool]]) -> _ProductTable:
    describable: list[tuple[int, CpeMatch, bool]] = []
    always: set[int] = set()
    bound_keys: set[_Key] = set()
    for idx, cm, simple in entries:
        keys = _describable(cm)
        if keys is None:
            always.add(idx)
        else:
            describable.append((idx, cm, simple))
            bound_keys.update(keys)
    table = _ProductTable(sorted(bound_keys), [], [], [], [], [], sorted(always),
                          sorted({e[0] for e in entries}))
    intervals: list[tuple[int, int, int, int, CpeMatch, bool]] = []
    for order, (idx, cm, simple) in enumerate(describable):
        lo, hi = 0, _INF
        if cm.version_start_including is not None:
            lo = max(lo, table.rank(_key(cm.version_start_including)))
        if cm.version_start_excluding is not None:
            lo = max(lo, table.rank(_key(cm.version_start_excluding)) + 1)
        if cm.version_end_including is not None:
            hi = min(hi, table.rank(_key(cm.version_end_including)))
        if cm.version_end_excluding is not None:
            hi = min(hi, table.rank(_key(cm.version_end_excluding)) - 1)
        if cm.criteria.version != ANY:
            r = table.rank(_key(cm.criteria.version))
            lo, hi = max(lo, r), min(hi, r)
        if lo <= hi:
            crit = cm.criteria
            exact = simple and is_plain(crit.vendor) and is_plain(crit.product) and only_any(crit)
            intervals.append((lo, order, hi, idx, cm, exact))
    intervals.sort(key=lambda i: (i[0], i[1]))
    table.los = [i[0] for i in intervals]
    table.his = [i[2] for i in intervals]
    table.idxs = [i[3] for i in intervals]
    table.entries = [i[4] for i in intervals]
    table.exact = [i[5] for i in intervals]
    return table


def _key(text: str) -> _Key:
    key = _generic_key(text)
    assert key is not None  # checked by _describable
    return key


def _is_simple(vuln: Vulnerability) -> bool:
    """A plain OR of vulnerable entries, no OSV data: one satisfied entry decides."""
    if vuln.affected or not vuln.configurations:
        return False
    for config in vuln.configurations:
        if config.negate or (len(config.nodes) > 1 and config.operator.upper() != "OR"):
            return False
        for node in config.nodes:
            if node.negate or (len(node.matches) > 1 and node.operator.upper() != "OR"):
                return False
            if not node.matches or not all(cm.vulnerable for cm in node.matches):
                return False
        if not config.nodes:
            return False
    return True


def _needs_platform(vuln: Vulnerability) -> bool:
    """Can another CPE of the same image change this vulnerability's verdict?"""
    for config in vuln.configurations:
        if config.negate or (len(config.nodes) > 1 and config.operator.upper() != "OR"):
            return True
        for node in config.nodes:
            if node.negate or (len(node.matches) > 1 and node.operator.upper() != "OR"):
                return True
            if any(not cm.vulnerable for cm in node.matches):
                return True
    return False


class VulnIndex:
    """Vulnerabilities indexed by (part, vendor, product) and by package, built once.

    ``candidates`` returns the few vulnerabilities worth evaluating for a component;
    ``assess`` and ``match`` evaluate them, with the same results as ``assess_component``
    (a plain OR of version ranges is decided by the index's ranks; anything else is
    evaluated in full). Withdrawn vulnerabilities are left out.
    """

    __slots__ = ("_by_package", "_by_product", "_needs_platform", "_vulns")

    def __init__(self, vulns: Iterable[Vulnerability]) -> None:
        self._vulns: tuple[Vulnerability, ...] = tuple(v for v in vulns if v.withdrawn is None)
        by_package: dict[object, list[int]] = {}
        entries: dict[tuple[str, str, str], list[tuple[int, CpeMatch, bool]]] = {}
        for idx, vuln in enumerate(self._vulns):
            for aff in vuln.affected:
                base = aff.ecosystem.split(":", 1)[0].strip().lower()
                keys: list[object] = [(base, norm_name(base, aff.name))]
                if aff.purl and (pk := purl_key(aff.purl)) is not None:
                    keys.append(pk)
                for key in keys:
                    same = by_package.setdefault(key, [])
                    if not same or same[-1] != idx:
                        same.append(idx)
            simple = _is_simple(vuln)
            for config in vuln.configurations:
                for node in config.nodes:
                    for cm in node.matches:
                        crit = cm.criteria
                        if cm.vulnerable and crit.vendor not in (ANY, NA) \
                                and crit.product not in (ANY, NA):
                            entries.setdefault((crit.part, crit.vendor, crit.product),
                                               []).append((idx, cm, simple))
        self._by_package = by_package
        self._by_product = {k: _build_table(v) for k, v in entries.items()}
        self._needs_platform = {i for i, v in enumerate(self._vulns) if _needs_platform(v)}

    @classmethod
    def build(cls, vulns: Iterable[Vulnerability]) -> VulnIndex:
        return cls(vulns)

    def __len__(self) -> int:
        return len(self._vulns)

    def _plan(self, p: Prepared) -> tuple[dict[int, CpeMatch], set[int]]:
        """Vulnerabilities decided by rank (with an entry that holds) and those to evaluate."""
        sure: dict[int, CpeMatch] = {}
        maybe: set[int] = set()
        if p.package is not None:
            if p.package.ecosystem is not None:
                maybe.update(self._by_package.get((p.package.ecosystem, p.package.name), ()))
            if p.package.purl_key is not None:
                maybe.update(self._by_package.get(p.package.purl_key, ()))
        if p.cpe is not None:
            table = self._by_product.get((p.cpe.part, p.cpe.vendor, p.cpe.product))
            if table is not None:
                sure, rest = table.lookup(p.cpe.version)
                maybe.update(rest)
        return sure, maybe

    def platform_free(self, component: SbomComponent) -> bool:
        """True when no candidate's verdict depends on the other CPEs beside the component
        (no AND, negation or platform entry): its matches hold on every image, so they
        can be computed once per distinct component."""
        sure, maybe = self._plan(prepare(component, ()))
        return not (self._needs_platform.intersection(maybe)
                    or self._needs_platform.intersection(sure))

    def candidates(self, component: SbomComponent) -> tuple[Vulnerability, ...]:
        """Vulnerabilities that may affect the component (a superset of the matches)."""
        sure, maybe = self._plan(prepare(component, ()))
        return tuple(self._vulns[i] for i in sorted(maybe.union(sure)))

    def assess(self, component: SbomComponent,
               platform: Sequence[Cpe] | CpeIndex = ()) -> tuple[Assessment, ...]:
        """Matches and undecided cases for the component; plain non-matches are left out."""
        p = prepare(component, platform)
        sure, maybe = self._plan(p)
        out = []
        for i in sorted(maybe.union(sure)):
            vuln = self._vulns[i]
            entry = sure.get(i)
            if entry is not None and p.cpe is not None:
                match = Match(vuln.id, Basis.CPE, (entry_reason(entry, p.cpe),), (p.cpe,))
                out.append(Assessment(vuln.id, match))
                continue
            a = assess_prepared(p, vuln)
            if a.match is not None or a.undecided:
                out.append(a)
        return tuple(out)

    def match(self, component: SbomComponent,
              platform: Sequence[Cpe] | CpeIndex = ()) -> tuple[Match, ...]:
        """The vulnerabilities affecting the component."""
        return tuple(a.match for a in self.assess(component, platform) if a.match is not None)
