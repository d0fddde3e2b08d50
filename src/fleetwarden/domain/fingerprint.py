"""Fingerprinting: what a host is, concluded from what it said, with the evidence (R4).

A ``Rule`` reads one or more protocol fields (``domain.discovery.Field``) with a regular
expression and concludes attributes (vendor, model, device type, firmware, OS, CPE,
serial, software) with a certainty. ``fingerprint`` runs every rule over every fact of
one host, adds the MAC OUI vendor and any user overrides, and keeps *every* candidate
value as ``Evidence`` (runZero's ``fp.*`` attributes do the same) while choosing the best
value per attribute:

* Per attribute and value, certainties combine with a noisy-OR, ``1 - prod(1 - c)``.
  Each rule is one witness: when it matches several fields or observations of the host it
  counts once, at its highest certainty (the same banner seen by a scan and in a capture
  is one fact, not two).
* The best value has the highest combined certainty; ties go to the value with more
  witnesses, then to the highest single certainty, then to alphabetical order, so the
  result never depends on the order observations arrive in.
* ``confidence`` is the mean of the chosen vendor and device-type certainties (0 for an
  attribute left unknown): those two decide what a device is in the register.
* Overrides always win, with certainty 1.0, and are kept as evidence with rule
  ``override``.
* Vendor names pass through an alias table (catalogue data) so that "Hangzhou Hikvision
  Digital Technology Co.,Ltd." from the OUI registry and "HIKVISION" from UPnP agree with
  "Hikvision" from a banner. An alias to the empty name marks a maker of network modules
  or chips whose name says nothing about the product (Microchip, Intel, Lantronix).
* A rule with ``when`` runs in a second pass, only if the first pass chose a matching
  value (e.g. an RTSP server that is only a camera hint once the vendor is Axis).

Device text is hostile: it is cut to ``MAX_TEXT`` before any regex runs, rule patterns
use bounded quantifiers (the catalogue tests check every rule against adversarial input),
conclusions are plain text built only by substituting named groups into a template, and
control characters, bidi overrides and lone surrogates never reach a concluded value.

Must not: do I/O, read catalogues, evaluate or format device text in any other way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from fleetwarden.domain.discovery import MAX_TEXT, Field, HostObservation, ServiceObservation
from fleetwarden.domain.vocab import DeviceType


class Attribute(StrEnum):
    """What a fingerprint concludes; spellings are part of the JSON contract."""

    VENDOR = "vendor"
    MODEL = "model"
    DEVICE_TYPE = "device_type"
    FIRMWARE_VERSION = "firmware_version"
    OS = "os"
    CPE = "cpe"
    SERIAL = "serial"
    SOFTWARE = "software"
    """Multi-valued: every server or library a host announced (``lighttpd 1.4.45``)."""


#: Attributes with one best value (software is the list of everything seen).
SINGLE_VALUED: tuple[Attribute, ...] = tuple(a for a in Attribute if a is not Attribute.SOFTWARE)

#: Certainty of the vendor named by the MAC address's IEEE OUI registration, when the
#: alias table knows the organisation: modest, since modules and ODMs carry their own OUIs.
OUI_CERTAINTY = 0.3
#: ... and when it does not (the registry name may not be the product brand).
OUI_UNKNOWN_CERTAINTY = 0.15
OVERRIDE = "override"
OUI = "oui"
MAX_MATCHED = 200
"""Longest matched text kept in evidence."""
MAX_VALUE = 128
"""Longest concluded value."""

_RULE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,31})\}")
# C0/C1 controls, zero-width and bidi controls, BOM and lone surrogates: none of them
# belongs in a vendor or model name, and surrogates cannot even be stored as UTF-8.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DEVICE_TYPES = frozenset(t.value for t in DeviceType)
_CORPORATE_SUFFIXES = frozenset({
    "ab", "ag", "as", "bv", "co", "company", "corp", "corporate", "corporation", "gmbh",
    "inc", "incorporated", "kg", "l", "limited", "llc", "ltd", "nv", "oy", "plc", "pty",
    "s", "sa", "sas", "spa", "srl", "ulc",
})


# ---------------------------------------------------------------------------- rules
@dataclass(frozen=True, slots=True)
class Example:
    """A string a rule is documented to read, run by the test suite and on load."""

    text: str
    expected: Mapping[Attribute, str] | None
    """What the rule concludes from ``text`` (vendor after aliases); None: must not match."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    """Stable name, e.g. ``hikvision-http-server``; evidence refers to it."""
    fields: tuple[Field, ...]
    """The protocol fields the pattern reads; a match on several counts once."""
    pattern: re.Pattern[str]
    """Searched (not anchored unless it says so) in the field's text; named groups only."""
    conclusions: Mapping[Attribute, str]
    """Attribute -> template: literal text with ``{group}`` for a named capture."""
    certainty: float
    """How sure a match makes the conclusions, 0 < certainty < 1."""
    service: str | None = None
    """Only facts of this service (``ServiceObservation.service``) are read."""
    when: Mapping[Attribute, re.Pattern[str]] = field(default_factory=dict)
    """Second-pass condition: the first pass chose a value fully matching each pattern."""
    attribute_certainty: Mapping[Attribute, float] = field(default_factory=dict)
    """Per-attribute certainty where it differs from ``certainty`` (a vendor banner is a
    strong vendor hint but a weaker device-type one)."""
    known_vendor_only: bool = False
    """Conclude a vendor only when the alias table knows the name (TLS O= may well be the
    customer's organisation)."""
    examples: tuple[Example, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "conclusions", MappingProxyType(dict(self.conclusions)))
        object.__setattr__(self, "when", MappingProxyType(dict(self.when)))
        object.__setattr__(self, "attribute_certainty",
                           MappingProxyType(dict(self.attribute_certainty)))
        problem = _rule_problem(self)
        if problem:
            raise ValueError(problem)

    def certainty_of(self, attribute: Attribute) -> float:
        return self.attribute_certainty.get(attribute, self.certainty)


def _rule_problem(rule: Rule) -> str | None:
    """Why a rule is unusable, or None; one line for a catalogue error."""
    if not _RULE_ID.fullmatch(rule.id) or rule.id in (OUI, OVERRIDE):
        return "id must be 1-64 of a-z 0-9 . + - (and not 'oui' or 'override')"
    if not rule.fields:
        return "no field to read"
    if not rule.conclusions:
        return "concludes nothing"
    for value in (rule.certainty, *rule.attribute_certainty.values()):
        if not (isinstance(value, float | int) and 0 < value < 1):
            return f"certainty {value!r} is not between 0 and 1 (exclusive)"
    extra = set(rule.attribute_certainty) - set(rule.conclusions)
    if extra:
        return f"certainty given for {sorted(extra)} which the rule does not conclude"
    if set(rule.when) & set(rule.conclusions):
        return "a rule cannot conclude an attribute its own 'when' depends on"
    if rule.pattern.search("") is not None:
        return "pattern matches the empty string, so it would fire on every field"
    groups = set(rule.pattern.groupindex)
    if rule.pattern.groups != len(groups):
        return "unnamed capturing group: use (?:...) or (?P<name>...)"
    for attribute, template in rule.conclusions.items():
        names = _PLACEHOLDER.findall(template)
        if not template.strip() or "{" in _PLACEHOLDER.sub("", template) \
                or "}" in _PLACEHOLDER.sub("", template):
            return f"{attribute}: template {template!r} is empty or has a stray brace"
        missing = [n for n in names if n not in groups]
        if missing:
            return f"{attribute}: template refers to missing group {{{missing[0]}}}"
        if attribute is Attribute.DEVICE_TYPE and template not in _DEVICE_TYPES:
            return f"device_type {template!r} is not in the device type vocabulary"
    if Field.MAC_VENDOR in rule.fields and Attribute.VENDOR in rule.conclusions:
        return "the OUI vendor goes through the alias table, not a rule"
    return None


def _expand(template: str, match: re.Match[str]) -> str | None:
    """The template with named groups put in; None if a referenced group did not match.

    A single pass: text a device sent that looks like ``{group}`` stays literal.
    """
    missing = False

    def group(m: re.Match[str]) -> str:
        nonlocal missing
        value = match.group(m.group(1))
        if value is None:
            missing = True
            return ""
        return value

    out = _PLACEHOLDER.sub(group, template)
    return None if missing else out


def clean_value(text: str) -> str:
    """A concluded value as plain, printable, single-line text of bounded length."""
    return " ".join(_UNPRINTABLE.sub(" ", text).split())[:MAX_VALUE].strip()


def vendor_key(name: str) -> str:
    """The lookup key of a vendor name: case, punctuation and corporate suffixes ignored."""
    words = re.sub(r"[^0-9a-z+&]+", " ", name.casefold()).split()
    while len(words) > 1 and words[-1] in _CORPORATE_SUFFIXES:
        words.pop()
    return " ".join(words)


def canonical_vendor(name: str, aliases: Mapping[str, str]) -> tuple[str | None, bool]:
    """(the product vendor's name or None if the name says nothing, whether it is known)."""
    key = vendor_key(name)
    if key in aliases:
        return aliases[key] or None, True
    return name, False


def conclude(
    rule: Rule, text: str, aliases: Mapping[str, str] | None = None
) -> dict[Attribute, str] | None:
    """What ``rule`` concludes from one field's text (None: no match); used for examples."""
    match = rule.pattern.search(text[:MAX_TEXT])
    if match is None:
        return None
    return _conclusions(rule, match, aliases or {})


def _conclusions(
    rule: Rule, match: re.Match[str], aliases: Mapping[str, str]
) -> dict[Attribute, str]:
    out: dict[Attribute, str] = {}
    for attribute, template in rule.conclusions.items():
        expanded = _expand(template, match)
        value = clean_value(expanded) if expanded is not None else ""
        if not value:
            continue
        if attribute is Attribute.VENDOR:
            canonical, known = canonical_vendor(value, aliases)
            if canonical is None or (rule.known_vendor_only and not known):
                continue
            value = canonical
        out[attribute] = value
    return out


def example_problems(rule: Rule, aliases: Mapping[str, str] | None = None) -> list[str]:
    """Examples of ``rule`` that do not give what they say, one line each."""
    problems = []
    for example in rule.examples:
        got = conclude(rule, example.text, aliases)
        want = None if example.expected is None else dict(example.expected)
        if got != want:
            shown = example.text if len(example.text) <= 60 else example.text[:57] + "..."
            problems.append(f"example {shown!r} gives {got}, expected {want}")
    return problems


# ------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class Evidence:
    attribute: Attribute
    value: str
    source: str
    """Where the text came from: ``active:http.server@80/tcp``, ``pcap:dhcp.hostname``,
    ``override``."""
    rule: str
    """The rule id, ``oui`` or ``override``."""
    certainty: float
    matched: str
    """The text the rule matched (at most ``MAX_MATCHED`` characters); untrusted."""


@dataclass(frozen=True, slots=True)
class Fingerprint:
    vendor: str | None = None
    model: str | None = None
    device_type: str | None = None
    firmware_version: str | None = None
    os: str | None = None
    cpe: str | None = None
    serial: str | None = None
    software: tuple[str, ...] = ()
    """Every software value seen, most certain first."""
    confidence: float = 0.0
    """Mean of the vendor and device-type certainties (0 where unknown)."""
    evidence: tuple[Evidence, ...] = ()
    """Every candidate value with its source, winners and losers alike."""
    certainties: Mapping[Attribute, float] = field(default_factory=dict)
    """Combined certainty of each chosen single value."""

    def value(self, attribute: Attribute) -> str | None:
        if attribute is Attribute.SOFTWARE:
            return ", ".join(self.software) or None
        result: str | None = getattr(self, attribute.value)
        return result


# -------------------------------------------------------------------------- engine
@dataclass(frozen=True, slots=True)
class _Fact:
    field: str
    text: str
    service: ServiceObservation | None
    source: str


@dataclass(frozen=True, slots=True)
class _Candidate:
    value: str
    certainty: float
    witnesses: int
    strongest: float


def fingerprint(
    observations: Iterable[HostObservation],
    rules: Sequence[Rule],
    *,
    mac_vendor: Callable[[str], str | None] | None = None,
    overrides: Mapping[Attribute, str] | None = None,
    vendor_aliases: Mapping[str, str] | None = None,
) -> Fingerprint:
    """What one host is, from all its observations (see the module for the method).

    ``mac_vendor`` maps a MAC address to its IEEE OUI organisation; ``vendor_aliases``
    maps ``vendor_key(name)`` to the product vendor's name ("" for module makers).
    """
    aliases = vendor_aliases or {}
    facts = _facts(observations, mac_vendor)
    plain, conditional = _by_field(rules)

    evidence: set[Evidence] = set()
    for fact in facts:
        if fact.field == Field.MAC_VENDOR:
            evidence.update(_oui_evidence(fact, aliases))
        evidence.update(_apply(plain.get(fact.field, ()), fact, aliases))
    for attribute, value in (overrides or {}).items():
        text = clean_value(value)
        if text:
            evidence.add(Evidence(Attribute(attribute), text, OVERRIDE, OVERRIDE, 1.0,
                                  text[:MAX_MATCHED]))

    if conditional:
        first = {a: c[0].value for a, c in _candidates(evidence).items() if c}
        for fact in facts:
            ready = [r for r in conditional.get(fact.field, ()) if _holds(r.when, first)]
            evidence.update(_apply(ready, fact, aliases))

    return _result(evidence, overrides or {})


_RuleIndex = tuple[dict[str, list[Rule]], dict[str, list[Rule]]]
_indexes: dict[int, tuple[Sequence[Rule], _RuleIndex]] = {}


def _by_field(rules: Sequence[Rule]) -> _RuleIndex:
    """Rules per field, plain and conditional; built once per catalogue, not per host."""
    cached = _indexes.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    plain: dict[str, list[Rule]] = {}
    conditional: dict[str, list[Rule]] = {}
    for rule in rules:
        for name in rule.fields:
            (conditional if rule.when else plain).setdefault(str(name), []).append(rule)
    if len(_indexes) > 8:
        _indexes.clear()
    _indexes[id(rules)] = (rules, (plain, conditional))
    return plain, conditional


def with_overrides(fp: Fingerprint, overrides: Mapping[Attribute, str]) -> Fingerprint:
    """``fp`` with the user's overrides in place of earlier ones (evidence kept)."""
    evidence = {e for e in fp.evidence if e.rule != OVERRIDE}
    for attribute, value in overrides.items():
        text = clean_value(value)
        if text:
            evidence.add(Evidence(Attribute(attribute), text, OVERRIDE, OVERRIDE, 1.0,
                                  text[:MAX_MATCHED]))
    return _result(evidence, overrides)


def _facts(
    observations: Iterable[HostObservation], mac_vendor: Callable[[str], str | None] | None
) -> list[_Fact]:
    facts = []
    for obs in observations:
        for name, text, service in obs.all_fields():
            where = f"@{service.port}/{service.transport}" if service is not None else ""
            facts.append(_Fact(name, text[:MAX_TEXT], service, f"{obs.source}:{name}{where}"))
        if mac_vendor is not None and obs.mac:
            org = mac_vendor(obs.mac)
            if org:
                facts.append(_Fact(Field.MAC_VENDOR, org[:MAX_TEXT], None,
                                   f"{obs.source}:{Field.MAC_VENDOR}"))
    return facts


def _oui_evidence(fact: _Fact, aliases: Mapping[str, str]) -> list[Evidence]:
    name = clean_value(fact.text)
    if not name:
        return []
    canonical, known = canonical_vendor(name, aliases)
    if canonical is None:
        return []
    certainty = OUI_CERTAINTY if known else OUI_UNKNOWN_CERTAINTY
    return [Evidence(Attribute.VENDOR, canonical, fact.source, OUI, certainty,
                     _matched(fact.text))]


def _apply(rules: Iterable[Rule], fact: _Fact, aliases: Mapping[str, str]) -> list[Evidence]:
    found = []
    for rule in rules:
        if rule.service is not None and (
                fact.service is None or fact.service.service != rule.service):
            continue
        match = rule.pattern.search(fact.text)
        if match is None:
            continue
        matched = _matched(match.group(0))
        for attribute, value in _conclusions(rule, match, aliases).items():
            found.append(Evidence(attribute, value, fact.source, rule.id,
                                  rule.certainty_of(attribute), matched))
    return found


def _matched(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text[:MAX_MATCHED])


def _holds(when: Mapping[Attribute, re.Pattern[str]], chosen: Mapping[Attribute, str]) -> bool:
    return all(a in chosen and p.fullmatch(chosen[a]) for a, p in when.items())


def _value_key(value: str) -> str:
    return " ".join(value.casefold().split())


def _candidates(evidence: Iterable[Evidence]) -> dict[Attribute, list[_Candidate]]:
    """Per attribute, the candidate values best first (noisy-OR over rule witnesses)."""
    witness: dict[tuple[Attribute, str], dict[str, float]] = {}
    spelling: dict[tuple[Attribute, str], tuple[float, str]] = {}
    for e in evidence:
        key = (e.attribute, _value_key(e.value))
        rules = witness.setdefault(key, {})
        rules[e.rule] = max(rules.get(e.rule, 0.0), e.certainty)
        best = spelling.get(key)
        # the spelling of the most certain evidence; alphabetical among equals
        if best is None or (-e.certainty, e.value) < (-best[0], best[1]):
            spelling[key] = (e.certainty, e.value)
    out: dict[Attribute, list[_Candidate]] = {}
    for key, rules in witness.items():
        attribute = key[0]
        combined = 1.0 - math.prod(1.0 - c for c in rules.values())
        value = spelling[key][1]
        out.setdefault(attribute, []).append(
            _Candidate(value, round(combined, 6), len(rules), max(rules.values())))
    for candidates in out.values():
        candidates.sort(key=lambda c: (-c.certainty, -c.witnesses, -c.strongest,
                                       _value_key(c.value), c.value))
    return out


def _result(evidence: set[Evidence], overrides: Mapping[Attribute, str]) -> Fingerprint:
    candidates = _candidates(evidence)
    chosen: dict[Attribute, str] = {}
    certainties: dict[Attribute, float] = {}
    for attribute in SINGLE_VALUED:
        ranked = candidates.get(attribute)
        if ranked:
            chosen[attribute], certainties[attribute] = ranked[0].value, ranked[0].certainty
    software = tuple(c.value for c in candidates.get(Attribute.SOFTWARE, []))
    for attribute, value in overrides.items():
        text = clean_value(value)
        if not text:
            continue
        if Attribute(attribute) is Attribute.SOFTWARE:
            software = (text,)
        else:
            chosen[Attribute(attribute)], certainties[Attribute(attribute)] = text, 1.0
    confidence = (certainties.get(Attribute.VENDOR, 0.0)
                  + certainties.get(Attribute.DEVICE_TYPE, 0.0)) / 2
    order = {a: i for i, a in enumerate(Attribute)}
    kept = sorted(evidence, key=lambda e: (order[e.attribute], -e.certainty, e.rule,
                                           e.source, e.value, e.matched))
    return Fingerprint(
        vendor=chosen.get(Attribute.VENDOR), model=chosen.get(Attribute.MODEL),
        device_type=chosen.get(Attribute.DEVICE_TYPE),
        firmware_version=chosen.get(Attribute.FIRMWARE_VERSION), os=chosen.get(Attribute.OS),
        cpe=chosen.get(Attribute.CPE), serial=chosen.get(Attribute.SERIAL),
        software=software, confidence=round(confidence, 4), evidence=tuple(kept),
        certainties=MappingProxyType(certainties),
    )
