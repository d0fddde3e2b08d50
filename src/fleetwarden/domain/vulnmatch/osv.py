"""OSV ``affected`` entries against one package version.

A package comes from a purl (type, namespace, name, ``distro`` qualifier) or from an
ecosystem and name; an entry applies when it names the same package (and release, for
distributions). Its ``versions`` and ``SEMVER``/``ECOSYSTEM`` ranges (``introduced``,
``fixed``, ``last_affected``, ``limit``) then decide under the ecosystem's version
order. A version or event that cannot be compared makes the entry *unknown*, never
true; the doubt is written to ``notes``.

Must not: match a package of another ecosystem or release, compare ``GIT`` ranges
(commits, not versions), know about CPEs or NVD, do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from packageurl import PackageURL

from fleetwarden.domain import versions
from fleetwarden.domain.vulnmatch.results import OsvMatch, Tri
from fleetwarden.domain.vulns import OsvAffected, OsvRange
from fleetwarden.errors import InputError

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


def norm_name(ecosystem: str, name: str) -> str:
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
class Package:
    ecosystem: str | None
    """OSV ecosystem in lower case without the release (``pypi``, ``debian``)."""
    name: str
    """OSV package name, normalised for comparison."""
    shown: str
    purl_key: tuple[str, str, str] | None = None
    release: str | None = None
    version: str | None = None


@lru_cache(maxsize=65536)
def package_from_purl(purl: str) -> Package:
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
    key = (ptype, norm_name(eco, ns), norm_name(eco, p.name))
    return Package(ecosystem, norm_name(eco, shown), shown, key,
                    _release(qualifiers.get("distro")), p.version)


@lru_cache(maxsize=65536)
def purl_key(purl: str) -> tuple[str, str, str] | None:
    try:
        return package_from_purl(purl).purl_key
    except InputError:
        return None


def _package(purl_or_name: str, ecosystem: str | None) -> Package:
    if purl_or_name.startswith("pkg:"):
        return package_from_purl(purl_or_name)
    if not ecosystem:
        raise InputError(f"package {purl_or_name[:80]!r}: an ecosystem is needed without a "
                         f"purl")
    base = ecosystem.split(":", 1)[0].strip().lower()
    release = _release(ecosystem.split(":", 1)[1]) if ":" in ecosystem else None
    return Package(base, norm_name(base, purl_or_name), purl_or_name, None, release)


def _applies(aff: OsvAffected, pkg: Package) -> bool:
    base = aff.ecosystem.split(":", 1)[0].strip().lower()
    release = _release(aff.ecosystem.split(":", 1)[1]) if ":" in aff.ecosystem else None
    if not _same_release(release, pkg.release):
        return False
    if aff.purl and pkg.purl_key is not None and purl_key(aff.purl) == pkg.purl_key:
        return True
    return pkg.ecosystem == base and norm_name(base, aff.name) == pkg.name


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


def evaluate_affected(affected: Sequence[OsvAffected], pkg: Package, version: str | None,
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
    return evaluate_affected(affected, pkg, version or pkg.version, [])[0]

