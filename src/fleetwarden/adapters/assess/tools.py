"""The compliance toolkit wired for services: catalogue files, check plug-ins, threat
profiles, and the TLS and default-credential probes (imported when first used: sslyze
and the protocol clients cost time every CLI command would otherwise pay).

Must not: decide a status; it only loads data and runs probes.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from importlib import resources
from typing import Any

from fleetwarden.checks import Check, all_checks
from fleetwarden.domain.compliance.catalogue import Framework, check_references, parse_framework
from fleetwarden.domain.compliance.facts import CredentialTest, TlsScan
from fleetwarden.domain.discovery import ServiceObservation
from fleetwarden.domain.risk import ThreatProfile, parse_threat_profiles
from fleetwarden.errors import InputError

_CATALOGUES = "fleetwarden.catalogues"


def _toml(package: str, name: str) -> tuple[dict[str, Any], str]:
    ref = resources.files(package).joinpath(name)
    try:
        return tomllib.loads(ref.read_text(encoding="utf-8")), f"{package}/{name}"
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{package}/{name}: not valid TOML ({exc})") from None


def _files(folder: str) -> list[str]:
    base = resources.files(_CATALOGUES).joinpath(folder)
    return sorted(p.name for p in base.iterdir() if p.name.endswith(".toml"))


class ComplianceToolkit:
    """Loads each catalogue once per process; validates them against each other."""

    @cached_property
    def _frameworks(self) -> tuple[Framework, ...]:
        found = []
        for name in _files("compliance/frameworks"):
            data, origin = _toml(f"{_CATALOGUES}.compliance.frameworks", name)
            found.append(parse_framework(data, origin))
        order = {"ncsp-iot": 0, "etsi-en-303-645": 1, "dcms-cop": 2, "psti": 3}
        return tuple(sorted(found, key=lambda f: (order.get(f.id, 9), f.id)))

    @cached_property
    def _mapping(self) -> dict[str, tuple[str, ...]]:
        by_check: dict[str, set[str]] = {cid: set(c.meta.requirements)
                                          for cid, c in self.checks().items()}
        for name in _files("compliance/mappings"):
            data, origin = _toml(f"{_CATALOGUES}.compliance.mappings", name)
            fid = (data.get("framework") or {}).get("id")
            table = data.get("checks")
            if not isinstance(fid, str) or not isinstance(table, Mapping):
                raise InputError(f"{origin}: needs [framework] id and a [checks] table")
            for check_id, local_ids in table.items():
                if check_id not in by_check:
                    raise InputError(f"{origin}: unknown check {check_id!r}")
                if not isinstance(local_ids, list) or not all(
                        isinstance(x, str) for x in local_ids):
                    raise InputError(f"{origin}: {check_id} must list requirement ids")
                by_check[check_id].update(f"{fid}/{x}" for x in local_ids)
        check_references(self._frameworks, by_check)
        out: dict[str, list[str]] = {}
        for check_id in sorted(by_check):
            for rid in by_check[check_id]:
                out.setdefault(rid, []).append(check_id)
        return {rid: tuple(cs) for rid, cs in out.items()}

    @cached_property
    def _threats(self) -> Mapping[str, ThreatProfile]:
        data, origin = _toml(f"{_CATALOGUES}.risk", "threat-profiles.toml")
        return parse_threat_profiles(data, origin, known_checks=set(self.checks()))

    def frameworks(self) -> Sequence[Framework]:
        return self._frameworks

    def checks(self) -> Mapping[str, Check]:
        return all_checks()

    def requirement_checks(self) -> Mapping[str, tuple[str, ...]]:
        return self._mapping

    def threat_profiles(self) -> Mapping[str, ThreatProfile]:
        return self._threats

    def scan_tls(self, targets: Sequence[tuple[str, int, str]], *,
                 progress: Callable[[int, int], None] | None = None
                 ) -> dict[tuple[str, int], TlsScan]:
        from fleetwarden.adapters.assess.tls import scan_tls

        return scan_tls(targets, progress=progress)

    def test_credentials(self, hosts: Sequence[tuple[str, str | None,
                                                     Sequence[ServiceObservation]]], *,
                         authorised: Callable[[str], bool],
                         progress: Callable[[int, int], None] | None = None
                         ) -> dict[str, CredentialTest]:
        from fleetwarden.adapters.assess.credentials import test_default_credentials

        return test_default_credentials(hosts, authorised=authorised, progress=progress)
