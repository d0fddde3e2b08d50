"""Reads the lab's data files: families, components and scenarios (catalogues/lab).

Everything is checked on load, so a hand edit that breaks a cross-reference fails with
a one-line reason instead of a half-started lab.

Must not: plan devices or open sockets.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import fleetwarden
from fleetwarden.adapters.demo.estate import estate_catalogue
from fleetwarden.domain.lab import Credential, Service, Weakness
from fleetwarden.errors import ConfigurationError, InputError

LAB_DIR = Path(fleetwarden.__file__).parent / "catalogues" / "lab"
SCENARIO_DIR = LAB_DIR / "scenarios"


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    title: str
    models: tuple[Mapping[str, Any], ...]
    """Model entries of the estate catalogue (vendor, model, oui, firmware_versions ...)."""
    services: frozenset[Service]
    can_open: frozenset[Service]
    default_credentials: tuple[Credential, ...]
    outdated: Mapping[str, str]
    current: Mapping[str, str]
    persona: Mapping[str, str]
    """Unresolved templates: the defaults overlaid with the family's own."""
    model_persona: Mapping[str, Mapping[str, str]]
    """Per model ("Vendor|Model"), templates that differ from the family's."""
    model_credentials: Mapping[str, tuple[Credential, ...]] = field(default_factory=dict)
    """Per model ("Vendor|Model"), defaults that replace the family's (empty: none)."""

    def credentials_for(self, vendor: str, model: str) -> tuple[Credential, ...]:
        """The public defaults a unit of this model accepts when it keeps them."""
        return self.model_credentials.get(f"{vendor}|{model}", self.default_credentials)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    title: str
    count: int
    shadow_share: float
    sites: tuple[str, ...]
    family_weights: Mapping[str, float]
    weakness_rates: Mapping[Weakness, float]


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigurationError(f"lab catalogue {path.name}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"lab catalogue {path.name}: {exc}") from None


@cache
def components() -> Mapping[str, Mapping[str, str]]:
    """Component name -> {purl, cpe, supplier} templates with ``{v}`` for the version."""
    data = _load(LAB_DIR / "components.toml")
    for name, entry in data.items():
        if "{v}" not in entry.get("purl", ""):
            raise ConfigurationError(f"lab components: {name} needs a purl with {{v}}")
    return data


@cache
def hostile_persona() -> Mapping[str, str]:
    return dict(_load(LAB_DIR / "families.toml").get("hostile", {}))


@cache
def spdx_vendors() -> frozenset[str]:
    """Vendors whose SBOMs are SPDX 2.3 rather than CycloneDX (families.toml [sbom])."""
    data = _load(LAB_DIR / "families.toml").get("sbom", {})
    return frozenset(data.get("spdx_vendors", []))


@cache
def families() -> Mapping[str, Family]:
    data = _load(LAB_DIR / "families.toml")
    models = {f"{m['vendor']}|{m['model']}": m for m in estate_catalogue()["models"]}
    defaults = data.get("defaults", {}).get("persona", {})
    known = components()
    out: dict[str, Family] = {}
    for name, raw in data.get("families", {}).items():
        try:
            out[name] = _family(name, raw, models, defaults, known)
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"lab family {name!r}: {exc}") from None
    return out


def _family(
    name: str,
    raw: Mapping[str, Any],
    models: Mapping[str, Mapping[str, Any]],
    defaults: Mapping[str, str],
    known: Mapping[str, Any],
) -> Family:
    picked = []
    for key in raw["models"]:
        if key not in models:
            raise ValueError(f"model {key!r} is not in the estate catalogue")
        if len(models[key]["firmware_versions"]) < 2 or "oui" not in models[key]:
            raise ValueError(f"model {key!r} needs an OUI and two firmware versions")
        picked.append(models[key])
    stack = raw.get("stack", {})
    for which in ("outdated", "current"):
        unknown = set(stack.get(which, {})) - set(known)
        if unknown:
            raise ValueError(f"stack.{which}: unknown components {sorted(unknown)}")
    return Family(
        name=name,
        title=raw.get("title", name),
        models=tuple(picked),
        services=frozenset(Service(s) for s in raw["services"]),
        can_open=frozenset(Service(s) for s in raw.get("can_open", [])),
        default_credentials=_credentials(raw.get("default_credentials", [])),
        outdated=dict(stack.get("outdated", {})),
        current=dict(stack.get("current", {})),
        persona={**defaults, **raw.get("persona", {})},
        model_persona=_model_persona(raw, picked),
        model_credentials=_model_credentials(raw, picked),
    )


def _credentials(raw: Any) -> tuple[Credential, ...]:
    return tuple(Credential(Service(c["service"]), c["username"], c["password"]) for c in raw)


def _model_credentials(raw: Mapping[str, Any], models: list[Mapping[str, Any]]
                       ) -> dict[str, tuple[Credential, ...]]:
    out = {str(k): _credentials(v) for k, v in raw.get("model_credentials", {}).items()}
    names = {f"{m['vendor']}|{m['model']}" for m in models}
    if set(out) - names:
        raise ValueError("model_credentials for models not in the family: "
                         f"{sorted(set(out) - names)}")
    return out


def _model_persona(raw: Mapping[str, Any], models: list[Mapping[str, Any]]
                   ) -> dict[str, dict[str, str]]:
    out = {str(k): dict(v) for k, v in raw.get("model_persona", {}).items()}
    names = {f"{m['vendor']}|{m['model']}" for m in models}
    if set(out) - names:
        raise ValueError(f"model_persona for models not in the family: {sorted(set(out) - names)}")
    return out


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """A scenario by name (catalogues/lab/scenarios) or by the path of a TOML file."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise InputError(
                f"--scenario {name_or_path!r}: no such scenario; "
                f"known: {', '.join(scenario_names())} (or give a .toml file)")
    elif not path.is_file():
        raise InputError(f"--scenario {name_or_path}: file not found")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        return _scenario(path.stem, data)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"scenario {path.name}: {exc}") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"scenario {path.name}: {exc}") from None


def _scenario(name: str, data: Mapping[str, Any]) -> Scenario:
    head = data["scenario"]
    weights = {str(k): float(v) for k, v in data.get("families", {}).items()}
    unknown = set(weights) - set(families())
    if unknown:
        raise ValueError(f"unknown families {sorted(unknown)}; known: {sorted(families())}")
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("[families] needs positive weights")
    rates = {Weakness(k): float(v) for k, v in data.get("weaknesses", {}).items()}
    if any(not 0 <= r <= 1 for r in rates.values()):
        raise ValueError("[weaknesses] rates must be between 0 and 1")
    sites = tuple(head.get("sites", []))
    codes = {s["code"] for s in estate_catalogue()["sites"]}
    if set(sites) - codes:
        raise ValueError(f"unknown sites {sorted(set(sites) - codes)}")
    shadow = float(head.get("shadow_share", 0.0))
    if not 0 <= shadow < 1:
        raise ValueError("shadow_share must be in [0, 1)")
    return Scenario(
        name=name,
        title=str(head.get("title", name)),
        count=int(head.get("count", 100)),
        shadow_share=shadow,
        sites=sites,
        family_weights=weights,
        weakness_rates=rates,
    )
