"""Reads the fingerprint catalogue (catalogues/fingerprints/*.toml) into domain rules.

Every file of the directory is read; a file may hold ``[[rule]]`` entries, a
``[vendors]`` alias table, a ``not_product_vendors`` list and ``[groups]`` of fields.
Everything is checked on load: an unknown field or key, a bad regex, a template naming a
missing group, a duplicate id, a certainty out of range or an example that does not give
what it says stops the load with a one-line ``ConfigurationError`` naming the file and
the rule. New fingerprints are new data, never new code.

Rule entry (TOML)::

    [[rule]]
    id = "hikvision-http-server"           # stable, a-z 0-9 . + -
    fields = ["http.server"]               # or field = "...", or "@group" names
    pattern = '^App-webs/$'                # Python regex, named groups only
    certainty = 0.85                       # 0 < c < 1
    vendor = "Hikvision"                   # attribute = template ...
    device_type = { value = "cctv_camera", certainty = 0.4 }   # ... or with its own certainty
    service = "rtsp"                       # optional: only facts of this service
    when = { vendor = "Axis Communications" }   # optional second-pass condition (regex)
    known_vendor_only = true               # optional: a captured vendor must be in [vendors]
    examples = [{ text = "App-webs/", vendor = "Hikvision", device_type = "cctv_camera" },
                { text = "App-webs/<b>x</b>", match = false }]

Must not: run rules over observations (the domain does) or touch the network.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import fleetwarden
from fleetwarden.domain.discovery import Field
from fleetwarden.domain.fingerprint import (
    Attribute,
    Example,
    Rule,
    example_problems,
    vendor_key,
)
from fleetwarden.errors import ConfigurationError

FINGERPRINT_DIR = Path(fleetwarden.__file__).parent / "catalogues" / "fingerprints"

_TOP_LEVEL = {"rule", "vendors", "not_product_vendors", "groups"}
_RULE_KEYS = {"id", "field", "fields", "pattern", "certainty", "service", "when",
              "known_vendor_only", "examples", "note"} | {a.value for a in Attribute}
_FIELDS = {f.value for f in Field}


@dataclass(frozen=True, slots=True)
class FingerprintCatalogue:
    rules: tuple[Rule, ...]
    vendor_aliases: Mapping[str, str]
    """``vendor_key(name)`` -> product vendor name ("" for module and chip makers)."""


class _Bad(Exception):
    """A problem in one entry; turned into a ConfigurationError naming file and rule."""


def load_rules(directory: Path | None = None) -> tuple[Rule, ...]:
    """Every fingerprint rule; the bundled catalogue is read once per process."""
    return load_catalogue(directory).rules


def load_vendor_aliases(directory: Path | None = None) -> Mapping[str, str]:
    return load_catalogue(directory).vendor_aliases


def load_catalogue(directory: Path | None = None) -> FingerprintCatalogue:
    if directory is None:
        return _bundled()
    return _read(directory)


@cache
def _bundled() -> FingerprintCatalogue:
    return _read(FINGERPRINT_DIR)


def _read(directory: Path) -> FingerprintCatalogue:
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise ConfigurationError(f"fingerprint catalogue {directory}: no *.toml files")
    docs = [(path.name, _load(path)) for path in files]
    groups: dict[str, tuple[str, ...]] = {}
    aliases: dict[str, str] = {}
    alias_origin: dict[str, str] = {}
    for name, doc in docs:
        unknown = set(doc) - _TOP_LEVEL
        if unknown:
            raise ConfigurationError(
                f"fingerprint catalogue {name}: unknown section {sorted(unknown)[0]!r}")
        for group, members in doc.get("groups", {}).items():
            groups["@" + group] = _group(name, group, members)
        _aliases(name, doc, aliases, alias_origin)
    frozen_aliases = MappingProxyType(aliases)

    rules: list[Rule] = []
    origin: dict[str, str] = {}
    for name, doc in docs:
        entries = doc.get("rule", [])
        if not isinstance(entries, list):
            raise ConfigurationError(f"fingerprint catalogue {name}: 'rule' must be [[rule]]")
        for index, entry in enumerate(entries):
            rule_id = entry.get("id") if isinstance(entry, dict) else None
            label = f"rule {rule_id}" if isinstance(rule_id, str) else f"rule #{index + 1}"
            try:
                rule = _rule(entry, groups)
                if rule.id in origin:
                    raise _Bad(f"duplicate id (also in {origin[rule.id]})")
                problems = example_problems(rule, frozen_aliases)
                if problems:
                    raise _Bad(problems[0])
            except (_Bad, ValueError, TypeError) as exc:
                raise ConfigurationError(
                    f"fingerprint catalogue {name}: {label}: {_one_line(exc)}") from None
            origin[rule.id] = name
            rules.append(rule)
    return FingerprintCatalogue(tuple(rules), frozen_aliases)


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigurationError(f"fingerprint catalogue {path.name}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"fingerprint catalogue {path.name}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _group(file: str, group: str, members: Any) -> tuple[str, ...]:
    if not isinstance(members, list) or not members:
        raise ConfigurationError(f"fingerprint catalogue {file}: group {group}: not a list")
    for member in members:
        if member not in _FIELDS:
            raise ConfigurationError(
                f"fingerprint catalogue {file}: group {group}: unknown field {member!r}")
    return tuple(members)


def _aliases(file: str, doc: Mapping[str, Any], aliases: dict[str, str],
             origin: dict[str, str]) -> None:
    def add(name: Any, canonical: str) -> None:
        if not isinstance(name, str) or not vendor_key(name):
            raise ConfigurationError(f"fingerprint catalogue {file}: bad vendor name {name!r}")
        key = vendor_key(name)
        if key in aliases and aliases[key] != canonical:
            raise ConfigurationError(
                f"fingerprint catalogue {file}: vendor alias {name!r} already means "
                f"{aliases[key] or 'no product vendor'!r} ({origin[key]})")
        aliases[key], origin[key] = canonical, file

    for canonical, names in doc.get("vendors", {}).items():
        if canonical in _TOP_LEVEL:  # a top-level key written below [vendors] lands here
            raise ConfigurationError(
                f"fingerprint catalogue {file}: '{canonical}' must come before [vendors]")
        if not isinstance(names, list):
            raise ConfigurationError(
                f"fingerprint catalogue {file}: vendors.{canonical}: not a list of names")
        for name in [canonical, *names]:
            add(name, canonical)
    for name in doc.get("not_product_vendors", []):
        add(name, "")


def _rule(entry: Any, groups: Mapping[str, tuple[str, ...]]) -> Rule:
    if not isinstance(entry, dict):
        raise _Bad("not a table")
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise _Bad(f"unknown key {sorted(unknown)[0]!r}")
    for key in ("id", "pattern", "certainty"):
        if key not in entry:
            raise _Bad(f"missing {key!r}")
    rule_id, text = entry["id"], entry["pattern"]
    if not isinstance(rule_id, str) or not isinstance(text, str):
        raise _Bad("id and pattern must be strings")
    try:
        pattern = re.compile(text)
    except re.error as exc:
        raise _Bad(f"bad regex: {exc}") from None

    conclusions: dict[Attribute, str] = {}
    certainties: dict[Attribute, float] = {}
    for attribute in Attribute:
        if attribute.value not in entry:
            continue
        value = entry[attribute.value]
        if isinstance(value, dict):
            if set(value) - {"value", "certainty"} or "value" not in value:
                raise _Bad(f"{attribute}: use {{ value = ..., certainty = ... }}")
            if "certainty" in value:
                certainties[attribute] = _number(value["certainty"])
            value = value["value"]
        if not isinstance(value, str):
            raise _Bad(f"{attribute}: template must be a string")
        conclusions[attribute] = value

    when = {}
    for attribute, condition in dict(entry.get("when", {})).items():
        if attribute not in {a.value for a in Attribute} or not isinstance(condition, str):
            raise _Bad(f"when: {attribute!r} is not an attribute with a regex")
        try:
            when[Attribute(attribute)] = re.compile(condition, re.IGNORECASE)
        except re.error as exc:
            raise _Bad(f"when.{attribute}: bad regex: {exc}") from None

    service = entry.get("service")
    if service is not None and not isinstance(service, str):
        raise _Bad("service must be a string")
    rule = Rule(
        id=rule_id, fields=_fields(entry, groups), pattern=pattern, conclusions=conclusions,
        certainty=_number(entry["certainty"]), service=service, when=when,
        attribute_certainty=certainties,
        known_vendor_only=bool(entry.get("known_vendor_only", False)),
        examples=_examples(entry.get("examples", [])),
    )
    if not any(e.expected is not None for e in rule.examples):
        raise _Bad("needs at least one example that matches")
    return rule


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"certainty {value!r} is not a number")
    return float(value)


def _fields(entry: Mapping[str, Any], groups: Mapping[str, tuple[str, ...]]) -> tuple[Field, ...]:
    if ("field" in entry) == ("fields" in entry):
        raise _Bad("give exactly one of 'field' or 'fields'")
    names = [entry["field"]] if "field" in entry else entry["fields"]
    if not isinstance(names, list):
        raise _Bad("fields must be a list")
    out: list[Field] = []
    for name in names:
        if isinstance(name, str) and name in groups:
            members = groups[name]
        elif isinstance(name, str) and name in _FIELDS:
            members = (name,)
        else:
            raise _Bad(f"unknown field {name!r}")
        out += [Field(m) for m in members if Field(m) not in out]
    return tuple(out)


def _examples(raw: Any) -> tuple[Example, ...]:
    if not isinstance(raw, list):
        raise _Bad("examples must be a list of tables")
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise _Bad("each example needs a 'text' string")
        rest = {k: v for k, v in item.items() if k != "text"}
        if rest.get("match", True) is False:
            if set(rest) != {"match"}:
                raise _Bad("a 'match = false' example concludes nothing")
            out.append(Example(item["text"], None))
            continue
        rest.pop("match", None)
        expected: dict[Attribute, str] = {}
        for key, value in rest.items():
            if key not in {a.value for a in Attribute} or not isinstance(value, str):
                raise _Bad(f"example key {key!r} is not an attribute with a string value")
            expected[Attribute(key)] = value
        if not expected:
            raise _Bad("an example must list what it concludes, or say match = false")
        out.append(Example(item["text"], MappingProxyType(expected)))
    return tuple(out)
