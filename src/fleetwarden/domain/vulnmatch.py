"""Does a component carry a vulnerability? OSV ranges and NVD configurations, as written.

- purl/OSV first: when a component has a purl and an OSV ``affected`` entry names that
  package, the entry's ranges and versions decide (``introduced``, ``fixed``,
  ``last_affected``, ``limit``) under the ecosystem's version order.
- Otherwise NVD configurations, through the component's own CPE: AND/OR nodes,
  ``negate``, version ranges, and ``vulnerable: false`` platform entries that other CPEs
  of the same firmware image may satisfy but that are never reported as affected.
- ``VulnIndex`` is built once per feed snapshot; its ``candidates`` narrows ~300k
  vulnerabilities to the few worth evaluating for one component.

Logic is three-valued: a version that cannot be compared makes its entry *unknown*,
never true, so it cannot make a configuration true, not even through ``negate``; such
cases come back as ``Assessment.undecided`` for the operator to see.

Must not: match on product name alone, on a vendor guess, or on a version it cannot
compare; report a platform as affected; do I/O.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from packageurl import PackageURL

from fleetwarden.domain import versions
from fleetwarden.domain.cpe import (
    ANY,
    NA,
    abbreviate,
    has_wildcard,
    other_attributes_match,
    parse_cpe,
    same_product,
    unquote,
    value_matches,
    with_version,
)
from fleetwarden.domain.vulns import (
    ConfigNode,
    Configuration,
    Cpe,
    CpeMatch,
    OsvAffected,
    OsvRange,
    SbomComponent,
    Vulnerability,
)
from fleetwarden.errors import InputError

Tri = bool | None
"""True, False, or None for "cannot tell" (a version that does not compare)."""
_Hits = list[tuple[Cpe, CpeMatch]]


class Basis(StrEnum):
    PURL = "purl"
    """An OSV affected entry for the component's package."""
    CPE = "cpe"
    """An NVD configuration, through the component's CPE."""


@dataclass(frozen=True, slots=True)
class CpeHit:
    cpe: Cpe
    """One of the input CPEs, as given."""
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NvdMatch:
    hits: tuple[CpeHit, ...]
    """Input CPEs matched by a vulnerable entry of a satisfied configuration."""
    platform_reasons: tuple[str, ...] = ()
    """Platform conditions (``vulnerable: false``) that were met: context, not findings."""

    @property
    def affected(self) -> tuple[Cpe, ...]:
        return tuple(h.cpe for h in self.hits)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r for h in self.hits for r in h.reasons) + self.platform_reasons


@dataclass(frozen=True, slots=True)
class OsvMatch:
    ecosystem: str
    name: str
    version: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Match:
    vulnerability_id: str
    basis: Basis
    reasons: tuple[str, ...]
    cpes: tuple[Cpe, ...] = ()
    """The component's CPE when matched through NVD configurations."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """A match, or why no decision could be made (reported, never counted as affected)."""

    vulnerability_id: str
    match: Match | None
    undecided: tuple[str, ...] = ()


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


def _as_index(cpes: Sequence[Cpe] | CpeIndex) -> CpeIndex:
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


def _reason(cm: CpeMatch, target: Cpe) -> str:
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


def _plain(value: str) -> bool:
    """A concrete value without wildcards (fast path of ``same_product``'s test)."""
    return value != ANY and value != NA and "*" not in value and "?" not in value


def _entry(cm: CpeMatch, targets: CpeIndex, notes: list[str]) -> tuple[Tri, _Hits]:
    crit = cm.criteria
    candidates = targets.lookup(crit.part, crit.vendor, crit.product)
    if not candidates:
        return False, []
    if not (_plain(crit.vendor) and _plain(crit.product)) and not same_product(
            crit, candidates[0]):
        return False, []
    hits: _Hits = []
    unknown = False
    simple = _only_any(crit)
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


def _only_any(crit: Cpe) -> bool:
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


def _evaluate(configurations: Sequence[Configuration], targets: CpeIndex,
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
                    why = _reason(cm, cpe)
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
            text = f"platform condition met by {abbreviate(cpe)} ({_reason(cm, cpe)})"
            if text not in platform_reasons:
                platform_reasons.append(text)
    hits = tuple(CpeHit(cpe, tuple(reasons)) for cpe, reasons in affected.items()
                 if only is None or cpe == only)
    return NvdMatch(hits, tuple(platform_reasons))


def match_cpe_config(configurations: Sequence[Configuration],
                     cpes: Sequence[Cpe] | CpeIndex) -> NvdMatch | None:
    """Evaluate NVD configurations against all CPEs of one firmware image or device.

    Returns the input CPEs that are affected (matched by a ``vulnerable: true`` entry of
    a satisfied configuration), or None. CPEs matched only by platform entries are
    never affected. Versions that cannot be compared never make an entry true.
    """
    return _evaluate(configurations, _as_index(cpes), [])


# --- OSV --------------------------------------------------------------------------------

_ECOSYSTEM_BY_PURL_TYPE = {
    "pypi": "pypi", "npm": "npm", "maven": "maven", "golang": "go", "gem": "rubygems",
    "nuget": "nuget", "cargo": "crates.io", "composer": "packagist", "hex": "hex",
    "pub": "pub", "conan": "conancenter", "swift": "swifturl", "hackage": "hackage",
    "cran": "cran",
}
_ECOSYSTEM_BY_NAMESPACE = {
    "deb": {"debian": "debian", "ubuntu": "ubuntu"},
    "apk": {"alpine": "alpine", "wolfi": "wolfi", "chainguard": "chainguard"},
    "rpm": {"redhat": "red hat", "rocky": "rocky linux", "rocky-linux": "rocky linux",
            "almalinux": "almalinux", "opensuse": "opensuse", "suse": "suse",
            "mageia": "mageia", "openeuler": "openeuler"},
}
_SLASH_NAMES = frozenset({"npm", "golang", "composer", "swift"})
_PEP503 = re.compile(r"[-_.]+")
_EVENT_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2}


def _norm_name(ecosystem: str, name: str) -> str:
    if ecosystem == "pypi":
        return _PEP503.sub("-", name).lower()
    if ecosystem == "go":
        return name
    return name.lower()


def _release(text: str | None) -> str | None:
    """A distribution release (``12``, ``3.18``, ``22.04``) from ``Debian:12`` or a qualifier."""
    if not text:
        return None
    for part in re.split(r"[:\-]", text):
        part = part.strip().lower().removeprefix("v")
        if part[:1].isdigit():
            return part
    return None


def _same_release(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return True
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


@dataclass(frozen=True, slots=True)
class _Package:
    ecosystem: str | None
    """OSV ecosystem in lower case without the release (``pypi``, ``debian``)."""
    name: str
    """OSV package name, normalised for comparison."""
    shown: str
    purl_key: tuple[str, str, str] | None = None
    release: str | None = None
    version: str | None = None


@lru_cache(maxsize=65536)
def _package_from_purl(purl: str) -> _Package:
    try:
        p = PackageURL.from_string(purl)
    except ValueError as exc:
        shown = purl if len(purl) <= 80 else purl[:77] + "..."
        raise InputError(f"purl {shown!r}: {exc}") from None
    ptype = p.type.lower()
    ns = p.namespace or ""
    if ptype in _ECOSYSTEM_BY_NAMESPACE:
        ecosystem = _ECOSYSTEM_BY_NAMESPACE[ptype].get(ns.lower())
    else:
        ecosystem = _ECOSYSTEM_BY_PURL_TYPE.get(ptype)
    if ptype == "maven" and ns:
        shown = f"{ns}:{p.name}"
    elif ptype in _SLASH_NAMES and ns:
        shown = f"{ns}/{p.name}"
    else:
        shown = p.name
    eco = ecosystem or ptype
    qualifiers = p.qualifiers if isinstance(p.qualifiers, dict) else {}
    key = (ptype, _norm_name(eco, ns), _norm_name(eco, p.name))
    return _Package(ecosystem, _norm_name(eco, shown), shown, key,
                    _release(qualifiers.get("distro")), p.version)


@lru_cache(maxsize=65536)
def _purl_key(purl: str) -> tuple[str, str, str] | None:
    try:
        return _package_from_purl(purl).purl_key
    except InputError:
        return None


def _package(purl_or_name: str, ecosystem: str | None) -> _Package:
    if purl_or_name.startswith("pkg:"):
        return _package_from_purl(purl_or_name)
    if not ecosystem:
        raise InputError(f"package {purl_or_name[:80]!r}: an ecosystem is needed without a "
                         f"purl")
    base = ecosystem.split(":", 1)[0].strip().lower()
    release = _release(ecosystem.split(":", 1)[1]) if ":" in ecosystem else None
    return _Package(base, _norm_name(base, purl_or_name), purl_or_name, None, release)


def _applies(aff: OsvAffected, pkg: _Package) -> bool:
    base = aff.ecosystem.split(":", 1)[0].strip().lower()
    release = _release(aff.ecosystem.split(":", 1)[1]) if ":" in aff.ecosystem else None
    if not _same_release(release, pkg.release):
        return False
    if aff.purl and pkg.purl_key is not None and _purl_key(aff.purl) == pkg.purl_key:
        return True
    return pkg.ecosystem == base and _norm_name(base, aff.name) == pkg.name


def _events_text(r: OsvRange) -> str:
    return " ".join(f"{e.kind} {e.value}" for e in r.events)


def _range(r: OsvRange, version: versions.ParsedVersion, scheme: str) -> bool | str:
    """Whether the version is in the range, or the event that cannot be compared.

    The OSV algorithm: events sorted by version, the last one at or below the version
    decides; ``introduced: 0`` comes before every version.
    """
    from_start = False
    events: list[tuple[versions.ParsedVersion, int, str]] = []
    limits: list[versions.ParsedVersion] = []
    for e in r.events:
        if e.kind == "introduced" and e.value == "0":
            from_start = True
            continue
        if e.kind == "limit" and e.value == "*":
            continue
        if e.kind not in _EVENT_ORDER and e.kind != "limit":
            return f"{e.kind} {e.value}"
        parsed = versions.try_parse(e.value, scheme)
        if parsed is None:
            return f"{e.kind} {e.value}"
        if e.kind == "limit":
            limits.append(parsed)
        else:
            events.append((parsed, _EVENT_ORDER[e.kind], e.kind))
    try:
        events.sort(key=lambda ev: (ev[0], ev[1]))
        affected = from_start
        for at, _, kind in events:
            if kind == "introduced":
                if version >= at:
                    affected = True
            elif version >= at if kind == "fixed" else version > at:
                affected = False
        if any(version >= limit for limit in limits):
            affected = False
    except versions.IncomparableVersion as exc:
        return exc.version
    return affected


def _affected(aff: OsvAffected, version: str, notes: list[str]) -> tuple[Tri, str]:
    label = f"{aff.ecosystem}:{aff.name}"
    if version in aff.versions:
        return True, f"{label} lists version {version}"
    scheme = versions.scheme_for(aff.ecosystem)
    parsed = versions.try_parse(version, scheme)
    if aff.versions and parsed is not None:
        for listed in aff.versions:
            other = versions.try_parse(listed, scheme)
            if other is not None and _equal(parsed, other):
                return True, f"{label} lists version {listed}, component {version}"
    result: Tri = False
    for r in aff.ranges:
        kind = r.type.upper()
        if kind == "GIT":
            continue  # commits, not versions
        if kind not in ("SEMVER", "ECOSYSTEM"):
            notes.append(f"{label}: range type {r.type[:20]!r} is not understood")
            result = None
            continue
        range_scheme = versions.SEMVER if kind == "SEMVER" else scheme
        comp = parsed if range_scheme == scheme else versions.try_parse(version, range_scheme)
        if comp is None:
            notes.append(f"{label} {_events_text(r)}; component version {version!r} cannot "
                         f"be compared under the {range_scheme} scheme")
            result = None
            continue
        inside = _range(r, comp, range_scheme)
        if inside is True:
            return True, f"{label} {_events_text(r)}, component {version}"
        if isinstance(inside, str):
            notes.append(f"{label} {_events_text(r)}: {inside!r} cannot be compared under the "
                         f"{range_scheme} scheme")
            result = None
    return result, ""


def _equal(a: versions.ParsedVersion, b: versions.ParsedVersion) -> bool:
    try:
        return a == b
    except versions.IncomparableVersion:
        return False


def _osv(affected: Sequence[OsvAffected], pkg: _Package, version: str | None,
         notes: list[str]) -> tuple[OsvMatch | None, bool]:
    """The match, and whether any entry names the package at all."""
    applicable = [a for a in affected if _applies(a, pkg)]
    if not applicable:
        return None, False
    if not version:
        notes.append(f"{pkg.shown}: the component has no version, cannot compare")
        return None, True
    reasons: list[str] = []
    first: OsvAffected | None = None
    for aff in applicable:
        ok, why = _affected(aff, version, notes)
        if ok:
            first = first or aff
            reasons.append(why)
    if first is None:
        return None, True
    return OsvMatch(first.ecosystem, first.name, version, tuple(reasons)), True


def match_osv(affected: Sequence[OsvAffected], purl_or_name: str,
              ecosystem: str | None = None, version: str | None = None) -> OsvMatch | None:
    """OSV semantics for one package: by purl (type, namespace, name) or ecosystem+name.

    ``version`` defaults to the purl's. Raises ``InputError`` for a malformed purl.
    """
    pkg = _package(purl_or_name, ecosystem)
    return _osv(affected, pkg, version or pkg.version, [])[0]


# --- one component against one vulnerability -----------------------------------------


def component_cpe(component: SbomComponent) -> Cpe | None:
    """The component's CPE, its version filled from the SBOM when the CPE leaves it open.

    Raises ``InputError`` when the CPE is malformed.
    """
    if not component.cpe:
        return None
    return with_version(parse_cpe(component.cpe), component.version)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A component parsed once for many vulnerabilities."""

    package: _Package | None
    cpe: Cpe | None
    targets: CpeIndex
    version: str | None
    problems: tuple[str, ...]


def _prepare(component: SbomComponent, platform: Sequence[Cpe] | CpeIndex) -> _Prepared:
    problems: list[str] = []
    package = cpe = None
    if component.purl:
        try:
            package = _package_from_purl(component.purl)
        except InputError as exc:
            problems.append(str(exc))
    try:
        cpe = component_cpe(component)
    except InputError as exc:
        problems.append(str(exc))
    targets = _as_index(platform)
    if cpe is not None:
        targets = targets.plus(cpe)
    version = component.version or (package.version if package else None)
    return _Prepared(package, cpe, targets, version, tuple(problems))


def _assess(p: _Prepared, vuln: Vulnerability) -> Assessment:
    if vuln.withdrawn is not None:
        return Assessment(vuln.id, None)
    notes: list[str] = []
    if p.package is not None and vuln.affected:
        osv, applicable = _osv(vuln.affected, p.package, p.version, notes)
        if osv is not None:
            return Assessment(vuln.id, Match(vuln.id, Basis.PURL, osv.reasons))
        if applicable:
            return Assessment(vuln.id, None, tuple(dict.fromkeys(notes)))
    if p.cpe is not None and vuln.configurations:
        nvd_notes: list[str] = []
        nvd = _evaluate(vuln.configurations, p.targets, nvd_notes, only=p.cpe)
        if nvd is not None:
            reasons = nvd.hits[0].reasons + nvd.platform_reasons
            return Assessment(vuln.id, Match(vuln.id, Basis.CPE, reasons, (p.cpe,)))
        if nvd_notes and _could_affect(vuln.configurations, p.cpe):
            notes.extend(nvd_notes)
    if (vuln.affected or vuln.configurations) and p.problems:
        notes.extend(p.problems)
    return Assessment(vuln.id, None, tuple(dict.fromkeys(notes)))


def _could_affect(configurations: Sequence[Configuration], cpe: Cpe) -> bool:
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


def assess_component(component: SbomComponent, vuln: Vulnerability,
                     platform: Sequence[Cpe] | CpeIndex = ()) -> Assessment:
    """Like ``match_component``, also saying what could not be decided and why."""
    return _assess(_prepare(component, platform), vuln)


def match_component(component: SbomComponent, vuln: Vulnerability,
                    platform: Sequence[Cpe] | CpeIndex = ()) -> Match | None:
    """Is this component affected? purl/OSV first, else NVD through its own CPE.

    ``platform`` holds the other CPEs of the same firmware image or device (hardware,
    operating system), which configurations joined by AND may need. A withdrawn
    vulnerability matches nothing.
    """
    return _assess(_prepare(component, platform), vuln).match


# --- the index ----------------------------------------------------------------------------

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
            exact = simple and _plain(crit.vendor) and _plain(crit.product) and _only_any(crit)
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


class VulnIndex:
    """Vulnerabilities indexed by (part, vendor, product) and by package, built once.

    ``candidates`` returns the few vulnerabilities worth evaluating for a component;
    ``assess`` and ``match`` evaluate them, with the same results as ``assess_component``
    (a plain OR of version ranges is decided by the index's ranks; anything else is
    evaluated in full). Withdrawn vulnerabilities are left out.
    """

    __slots__ = ("_by_package", "_by_product", "_vulns")

    def __init__(self, vulns: Iterable[Vulnerability]) -> None:
        self._vulns: tuple[Vulnerability, ...] = tuple(v for v in vulns if v.withdrawn is None)
        by_package: dict[object, list[int]] = {}
        entries: dict[tuple[str, str, str], list[tuple[int, CpeMatch, bool]]] = {}
        for idx, vuln in enumerate(self._vulns):
            for aff in vuln.affected:
                base = aff.ecosystem.split(":", 1)[0].strip().lower()
                keys: list[object] = [(base, _norm_name(base, aff.name))]
                if aff.purl and (pk := _purl_key(aff.purl)) is not None:
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

    @classmethod
    def build(cls, vulns: Iterable[Vulnerability]) -> VulnIndex:
        return cls(vulns)

    def __len__(self) -> int:
        return len(self._vulns)

    def _plan(self, p: _Prepared) -> tuple[dict[int, CpeMatch], set[int]]:
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

    def candidates(self, component: SbomComponent) -> tuple[Vulnerability, ...]:
        """Vulnerabilities that may affect the component (a superset of the matches)."""
        sure, maybe = self._plan(_prepare(component, ()))
        return tuple(self._vulns[i] for i in sorted(maybe.union(sure)))

    def assess(self, component: SbomComponent,
               platform: Sequence[Cpe] | CpeIndex = ()) -> tuple[Assessment, ...]:
        """Matches and undecided cases for the component; plain non-matches are left out."""
        p = _prepare(component, platform)
        sure, maybe = self._plan(p)
        out = []
        for i in sorted(maybe.union(sure)):
            vuln = self._vulns[i]
            entry = sure.get(i)
            if entry is not None and p.cpe is not None:
                match = Match(vuln.id, Basis.CPE, (_reason(entry, p.cpe),), (p.cpe,))
                out.append(Assessment(vuln.id, match))
                continue
            a = _assess(p, vuln)
            if a.match is not None or a.undecided:
                out.append(a)
        return tuple(out)

    def match(self, component: SbomComponent,
              platform: Sequence[Cpe] | CpeIndex = ()) -> tuple[Match, ...]:
        """The vulnerabilities affecting the component."""
        return tuple(a.match for a in self.assess(component, platform) if a.match is not None)
