"""CPE names: parse (2.3 formatted strings and 2.2 URIs), format, and match attributes.

Values are kept in one canonical form so that equal names compare equal: lower case,
the formatted-string quoting (``\\`` before every character other than letters, digits,
``_``, ``-`` and ``.``), ``*`` alone for ANY, ``-`` alone for NA, and unquoted ``*`` /
``?`` at either end of a value as wildcards (only NVD criteria use them).

Matching follows the CPE name-matching specification, cut down to what NVD criteria
need. Part, vendor and product must be equal and concrete: there is no fuzzy,
vendor-less or product-only matching.

Must not: compare versions as ordered values (``versions`` does), or do I/O.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from fleetwarden.domain.vulns import Cpe
from fleetwarden.errors import InputError

ANY = "*"
NA = "-"
MAX_CPE_LENGTH = 512
PARTS = frozenset({"a", "o", "h"})

_ATTRIBUTES = ("part", "vendor", "product", "version", "update", "edition", "language",
               "sw_edition", "target_sw", "target_hw", "other")
_OTHER_ATTRIBUTES = ("update", "edition", "language", "sw_edition", "target_sw",
                     "target_hw", "other")
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")
_PRINTABLE = frozenset(chr(c) for c in range(0x21, 0x7F))
_WILDCARDS = frozenset("*?")


def _shorten(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _bad(text: str, problem: str) -> InputError:
    return InputError(f"CPE {_shorten(text)}: {problem}")


def _canonical(chars: list[tuple[str, bool]], text: str) -> str:
    """Join (character, is_wildcard) pairs into the canonical value, checking wildcards.

    The spec allows a single ``*`` and runs of ``?`` only at the start or end of a value.
    """
    wild = [i for i, (_, w) in enumerate(chars) if w]
    if wild:
        n = len(chars)
        lead = 0
        while lead < n and chars[lead][1]:
            lead += 1
        trail = 0
        while trail < n - lead and chars[n - 1 - trail][1]:
            trail += 1
        if lead + trail != len(wild):
            raise _bad(text, "a wildcard (* or ?) may only begin or end a value")
        for run in (chars[:lead], chars[n - trail:]):
            if sum(1 for c, _ in run if c == "*") > 1:
                raise _bad(text, "more than one * at one end of a value")
    if len(chars) == 1 and chars[0] == ("-", False):
        return "\\-"  # a literal hyphen, not NA
    out = []
    for c, is_wild in chars:
        out.append(c if is_wild or c in _PLAIN else "\\" + c)
    return "".join(out)


def _fs_value(raw: str, text: str) -> str:
    if raw in (ANY, NA):
        return raw
    if not raw:
        raise _bad(text, "empty attribute (use * for ANY)")
    chars: list[tuple[str, bool]] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\":
            if i + 1 == len(raw):
                raise _bad(text, "a value ends with a lone backslash")
            c = raw[i + 1]
            if c not in _PRINTABLE:
                raise _bad(text, "backslash before a non-printable character")
            chars.append((c, False))
            i += 2
            continue
        if c not in _PRINTABLE:
            raise _bad(text, "whitespace, control or non-ASCII character")
        chars.append((c, c in _WILDCARDS))
        i += 1
    return _canonical(chars, text)


def _split_fs(body: str, text: str) -> list[str]:
    """Split on colons that are not quoted by a backslash."""
    fields: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            current.append(body[i:i + 2])
            i += 2
            continue
        if c == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    fields.append("".join(current))
    return fields


def _parse_fs(text: str, lowered: str) -> Cpe:
    fields = _split_fs(lowered[len("cpe:2.3:"):], text)
    if len(fields) != 11:
        raise _bad(text, f"a CPE 2.3 name has 11 attributes after 'cpe:2.3:', found "
                         f"{len(fields)}")
    values = [_fs_value(f, text) for f in fields]
    return _build(values, text)


_PERCENT = re.compile(r"%([0-9a-f]{2})")


def _uri_value(raw: str, text: str) -> str:
    if raw == "":
        return ANY
    if raw == NA:
        return NA
    chars: list[tuple[str, bool]] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "%":
            m = _PERCENT.match(raw, i)
            if m is None:
                raise _bad(text, "bad percent-encoding")
            code = int(m.group(1), 16)
            if code == 1:
                chars.append(("?", True))
            elif code == 2:
                chars.append(("*", True))
            elif chr(code) in _PRINTABLE:
                chars.append((chr(code), False))
            else:
                raise _bad(text, "percent-encodes a non-printable character")
            i += 3
            continue
        if c not in _PRINTABLE:
            raise _bad(text, "whitespace, control or non-ASCII character")
        chars.append((c, False))
        i += 1
    return _canonical(chars, text)


def _parse_uri(text: str, lowered: str) -> Cpe:
    fields = lowered[len("cpe:/"):].split(":")
    if len(fields) > 7:
        raise _bad(text, f"a CPE 2.2 URI has at most 7 components, found {len(fields)}")
    fields += [""] * (7 - len(fields))
    edition = fields[5]
    if edition.startswith("~"):
        packed = edition.split("~")
        if len(packed) != 6:
            raise _bad(text, "a packed edition needs exactly five ~-separated values")
        # Cpe's order: ... update, edition, language, sw_edition, target_sw, target_hw, other
        fields = fields[:5] + [packed[1], fields[6]] + packed[2:]
    else:
        fields = fields + [""] * 4
    values = [_uri_value(f, text) for f in fields]
    return _build(values, text)


def _build(values: list[str], text: str) -> Cpe:
    if values[0] not in PARTS and values[0] != ANY:
        raise _bad(text, "part must be a, o or h")
    return Cpe(*values)


@lru_cache(maxsize=65536)
def parse_cpe(text: str) -> Cpe:
    """Parse a CPE 2.3 formatted string or a CPE 2.2 URI into canonical attributes.

    Raises ``InputError`` naming the value when it is malformed.
    """
    if not isinstance(text, str):
        raise InputError(f"CPE must be text, not {type(text).__name__}")
    if len(text) > MAX_CPE_LENGTH:
        raise _bad(text, f"longer than {MAX_CPE_LENGTH} characters")
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered.startswith("cpe:2.3:"):
        return _parse_fs(text, lowered)
    if lowered.startswith("cpe:/"):
        return _parse_uri(text, lowered)
    raise _bad(text, "not a CPE name (expected 'cpe:2.3:...' or 'cpe:/...')")


def format_cpe(cpe: Cpe) -> str:
    """The CPE 2.3 formatted string."""
    return "cpe:2.3:" + ":".join(getattr(cpe, a) for a in _ATTRIBUTES)


def abbreviate(cpe: Cpe) -> str:
    """The formatted string without trailing ANY attributes after the version (for reasons)."""
    values = [cpe.part, cpe.vendor, cpe.product, cpe.version, cpe.update, cpe.edition,
              cpe.language, cpe.sw_edition, cpe.target_sw, cpe.target_hw, cpe.other]
    end = len(values)
    while end > 4 and values[end - 1] == ANY:
        end -= 1
    return "cpe:2.3:" + ":".join(values[:end])


def quote(text: str) -> str:
    """A free-text value (a version from an SBOM) as a canonical CPE attribute value.

    Runs of whitespace become ``_``, the way NVD writes firmware versions
    (``v5.5.0_build_170301``); wildcards are quoted, so the value is always literal.
    """
    value = "_".join(text.lower().split())
    if not value:
        return ANY
    if value == NA:
        return "\\-"
    return "".join(c if c in _PLAIN else "\\" + c for c in value)


def unquote(value: str) -> str:
    """A canonical value without its quoting backslashes (for display and versions)."""
    if "\\" not in value:
        return value
    return re.sub(r"\\(.)", r"\1", value)


def has_wildcard(value: str) -> bool:
    """True when the value holds an unquoted ``*`` or ``?`` (ANY itself is not counted)."""
    if value == ANY or ("*" not in value and "?" not in value):
        return False
    return _wildcard_pattern(value) is not None


@lru_cache(maxsize=16384)
def _wildcard_pattern(value: str) -> re.Pattern[str] | None:
    parts: list[str] = []
    wild = False
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            parts.append(re.escape(value[i + 1]))
            i += 2
            continue
        if c == "*":
            parts.append(".*")
            wild = True
        elif c == "?":
            parts.append(".")
            wild = True
        else:
            parts.append(re.escape(c))
        i += 1
    return re.compile("".join(parts), re.DOTALL) if wild else None


def value_matches(criteria: str, target: str) -> bool:
    """Does one attribute of a criteria name cover the target's value?

    ANY in the criteria covers everything; NA covers only NA. ANY in the target means
    "not stated" and is covered too (an SBOM rarely states target_sw or language).
    """
    if criteria in (ANY, target):
        return True
    if target == ANY:
        return True
    if criteria == NA or target == NA:
        return False
    pattern = _wildcard_pattern(criteria)
    if pattern is None:
        return False
    return pattern.fullmatch(unquote(target)) is not None


def same_product(criteria: Cpe, target: Cpe) -> bool:
    """Part, vendor and product equal and concrete: the gate no match may skip."""
    return (criteria.part == target.part and criteria.vendor == target.vendor
            and criteria.product == target.product and criteria.part in PARTS
            and _concrete(criteria.vendor) and _concrete(criteria.product))


def _concrete(value: str) -> bool:
    return value not in (ANY, NA) and not has_wildcard(value)


def update_matches(criteria: str, target: str, target_version: str) -> bool:
    """The update attribute, where a target ANY beside a concrete version means NA.

    SBOMs write ``1.0.2:*`` for the release 1.0.2; NVD writes pre-releases in the update
    attribute (``1.0.2:beta1``). Reading the SBOM's ANY as "any update" would report the
    release as affected by a flaw only its beta had.
    """
    if target == ANY and target_version not in (ANY, NA):
        target = NA
    return value_matches(criteria, target)


def other_attributes_match(criteria: Cpe, target: Cpe) -> bool:
    """Every attribute but part, vendor, product and version."""
    if not update_matches(criteria.update, target.update, target.version):
        return False
    for attribute in _OTHER_ATTRIBUTES[1:]:
        if not value_matches(getattr(criteria, attribute), getattr(target, attribute)):
            return False
    return True


def cpe_matches(criteria: Cpe, target: Cpe) -> bool:
    """Name matching without version ranges: the criteria name covers the target name."""
    return (same_product(criteria, target)
            and value_matches(criteria.version, target.version)
            and other_attributes_match(criteria, target))


def with_version(cpe: Cpe, version: str | None) -> Cpe:
    """The CPE with its version filled from the SBOM when the CPE leaves it ANY or NA."""
    if not version or cpe.version not in (ANY, NA):
        return cpe
    return replace(cpe, version=quote(version))
