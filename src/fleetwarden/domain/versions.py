"""Version ordering for vulnerability matching.

Package ecosystems (purl types, OSV ecosystems) are ordered by univers' version classes.
Versions NVD writes in CPE ranges for firmware and C libraries use our own "generic"
comparator (ADR 0007), which gets the traps right: OpenSSL letter releases
(``1.0.2k`` < ``1.0.2zd`` < ``1.1.0``), numeric fields (``1.4.100`` > ``1.4.45``),
pre-releases (``1.2.0-rc1`` < ``1.2.0``), post-releases (``7.4p1``, ``-p1``, ``-r2``) and
vendor firmware strings (``V5.5.0 build 170301``).

Must not: guess. A version that does not parse under its scheme raises
``IncomparableVersion`` (or gives ``None`` from ``try_parse``); matching reports it and
never counts it as affected. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from univers import versions as uv

from fleetwarden.errors import InputError

GENERIC = "generic"
SEMVER = "semver"
MAX_VERSION_LENGTH = 128
MAX_TOKENS = 32
"""More numeric/alphabetic runs than this is not a version (and would slow sorting)."""

_UNIVERS: dict[str, type[uv.Version]] = {
    "pypi": uv.PypiVersion,
    "npm": uv.SemverVersion,
    SEMVER: uv.SemverVersion,
    "maven": uv.MavenVersion,
    "deb": uv.DebianVersion,
    "apk": uv.AlpineLinuxVersion,
    "rpm": uv.RpmVersion,
    "golang": uv.GolangVersion,
    "gem": uv.RubygemsVersion,
    "nuget": uv.NugetVersion,
    "cargo": uv.SemverVersion,
    "composer": uv.ComposerVersion,
    "hex": uv.SemverVersion,
    "pub": uv.SemverVersion,
    "conan": uv.ConanVersion,
    "alpm": uv.ArchLinuxVersion,
}
SCHEMES = frozenset(_UNIVERS) | {GENERIC}

_SCHEME_BY_NAME = {
    # OSV ecosystems (lower case, without the ":release" suffix) and purl types.
    "pypi": "pypi", "npm": "npm", "maven": "maven",
    "debian": "deb", "ubuntu": "deb", "deb": "deb",
    "alpine": "apk", "wolfi": "apk", "chainguard": "apk", "apk": "apk",
    "rpm": "rpm", "red hat": "rpm", "redhat": "rpm", "rocky linux": "rpm",
    "almalinux": "rpm", "suse": "rpm", "opensuse": "rpm", "mageia": "rpm",
    "openeuler": "rpm",
    "go": "golang", "golang": "golang",
    "rubygems": "gem", "gem": "gem",
    "nuget": "nuget",
    "crates.io": "cargo", "cargo": "cargo",
    "packagist": "composer", "composer": "composer",
    "hex": "hex", "pub": "pub",
    "conancenter": "conan", "conan": "conan",
    "alpm": "alpm", "arch linux": "alpm",
    "semver": SEMVER,
}


def scheme_for(name: str) -> str:
    """The scheme for an OSV ecosystem (``Debian:12``) or a purl type; ``generic`` else."""
    return _SCHEME_BY_NAME.get(name.split(":", 1)[0].strip().lower(), GENERIC)


class IncomparableVersion(InputError):
    """A version that does not parse under its scheme: never treated as affected."""

    def __init__(self, version: str, scheme: str) -> None:
        shown = version if len(version) <= 60 else version[:57] + "..."
        super().__init__(f"version {shown!r} cannot be compared under the {scheme} scheme")
        self.version = version
        self.scheme = scheme


# --- the generic comparator -------------------------------------------------------
# A version becomes a fixed-width tuple of tokens (rank, number, word) so that Python
# compares it natively. Ranks: pre-release < zero/absent < post-release < number > 0.
# Trailing zeros are absent, so 1.0 == 1.0.0 and 2.0.0-beta < 2.0.0.
_PRE, _ZERO, _POST, _NUM = 0, 1, 2, 3
_ZERO_TOKEN = (_ZERO, 0, "")
_PRE_ORDER = {
    "dev": 0, "snapshot": 0, "nightly": 0,
    "a": 1, "alpha": 1,
    "b": 2, "beta": 2,
    "m": 3, "milestone": 3,
    "pre": 4, "preview": 4,
    "c": 5, "rc": 5, "cr": 5,
}
_UNKNOWN_WORD = 3
_PRE_WORDS = frozenset(w for w in _PRE_ORDER if len(w) > 1)
"""Pre-release words that stay pre-releases when glued to a number (``2.0beta``)."""
_POST_WORDS = {
    "p": "p", "pl": "p", "patch": "p", "post": "p",
    "r": "r", "rev": "r", "revision": "r",
    "u": "u", "update": "u",
    "build": "build", "bld": "build",
    "sp": "sp", "hotfix": "hotfix", "hf": "hotfix", "fix": "hotfix",
}
_NEUTRAL_WORDS = frozenset({"final", "ga", "release", "rel", "stable"})
_TOKEN_RE = re.compile(r"[0-9]+|[a-z]+")

GenericKey = tuple[tuple[int, int, str], ...]
"""A generic version as a fixed-width tuple: Python orders these natively (fast sorts)."""


def _generic_key(text: str) -> GenericKey | None:
    s = text.strip().lower()
    if not s or len(s) > MAX_VERSION_LENGTH or not s.isascii() or not s.isprintable():
        return None
    if s[0] == "v" and s[1:2].isdigit():
        s = s[1:]
    if not s[0].isdigit():
        return None
    tokens = list(_TOKEN_RE.finditer(s))
    if len(tokens) > MAX_TOKENS:
        return None
    out: list[tuple[int, int, str]] = []
    for i, m in enumerate(tokens):
        word = m.group()
        if word[0].isdigit():
            n = int(word)
            out.append((_NUM, n, "") if n else _ZERO_TOKEN)
            continue
        glued_before = (i > 0 and tokens[i - 1].end() == m.start()
                        and tokens[i - 1].group()[0].isdigit())
        glued_number_after = (i + 1 < len(tokens) and tokens[i + 1].start() == m.end()
                              and tokens[i + 1].group()[0].isdigit())
        if word in _POST_WORDS:
            out.append((_POST, 0, _POST_WORDS[word]))
        elif glued_before and not glued_number_after and word not in _PRE_WORDS:
            # A letter release: OpenSSL 1.0.2k, 1.0.2zd (after 1.0.2, before 1.0.3).
            out.append((_POST, 0, word))
        elif word in _NEUTRAL_WORDS:
            out.append(_ZERO_TOKEN)
        elif word in _PRE_ORDER:
            out.append((_PRE, _PRE_ORDER[word], ""))
        else:
            out.append((_PRE, _UNKNOWN_WORD, word))
    while out and out[-1] == _ZERO_TOKEN:
        out.pop()
    return tuple(out) + (_ZERO_TOKEN,) * (MAX_TOKENS - len(out))


# --- parsed versions ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class ParsedVersion:
    """A version parsed under one scheme; ordered against versions of the same scheme."""

    text: str
    scheme: str
    key: Any
    """A fixed-width token tuple (generic) or a univers ``Version``."""

    def compare_to(self, other: ParsedVersion) -> int:
        if self.scheme != other.scheme:
            raise TypeError(f"cannot order {self.scheme} against {other.scheme} versions")
        a, b = self.key, other.key
        try:
            return -1 if a < b else (1 if b < a else 0)
        except (TypeError, ValueError, AttributeError) as exc:
            raise IncomparableVersion(f"{self.text} / {other.text}", self.scheme) from exc

    def __lt__(self, other: ParsedVersion) -> bool:
        return self.compare_to(other) < 0

    def __le__(self, other: ParsedVersion) -> bool:
        return self.compare_to(other) <= 0

    def __gt__(self, other: ParsedVersion) -> bool:
        return self.compare_to(other) > 0

    def __ge__(self, other: ParsedVersion) -> bool:
        return self.compare_to(other) >= 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ParsedVersion):
            return NotImplemented
        return self.scheme == other.scheme and self.compare_to(other) == 0

    __hash__ = None  # type: ignore[assignment]  # equal versions may differ in text


def _univers_key(text: str, scheme: str) -> Any:
    try:
        return _UNIVERS[scheme](text)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, RecursionError):
        # univers raises InvalidVersion (a ValueError) and, on odd input, others.
        return None


@lru_cache(maxsize=262144)
def try_parse(version: str, scheme: str = GENERIC) -> ParsedVersion | None:
    """The parsed version, or ``None`` when it cannot be compared under ``scheme``."""
    if scheme not in SCHEMES:
        raise InputError(f"unknown version scheme {scheme!r}")
    if not isinstance(version, str) or len(version) > MAX_VERSION_LENGTH:
        return None
    if scheme == GENERIC:
        key: Any = _generic_key(version)
    else:
        text = version.strip()
        if not text or not text.isprintable():
            return None
        key = _univers_key(text, scheme)
    return None if key is None else ParsedVersion(version, scheme, key)


def generic_key(version: str) -> GenericKey | None:
    """The natively ordered key of a generic version, or ``None`` when it does not parse.

    For indexes that sort and bisect many NVD bounds; equal keys mean equal versions.
    """
    parsed = try_parse(version, GENERIC)
    return None if parsed is None else cast(GenericKey, parsed.key)


def parse(version: str, scheme: str = GENERIC) -> ParsedVersion:
    """The parsed version; raises ``IncomparableVersion`` naming it when it does not parse."""
    parsed = try_parse(version, scheme)
    if parsed is None:
        raise IncomparableVersion(str(version), scheme)
    return parsed


def sort_key(version: str, scheme: str = GENERIC) -> ParsedVersion:
    """A key for ``sorted``; raises ``IncomparableVersion`` for versions that do not parse."""
    return parse(version, scheme)


def compare(a: str, b: str, scheme: str = GENERIC) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``.

    Raises ``IncomparableVersion`` (an ``InputError``) when either does not parse.
    """
    return parse(a, scheme).compare_to(parse(b, scheme))
