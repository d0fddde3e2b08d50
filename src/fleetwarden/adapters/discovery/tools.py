"""The concrete ``DiscoveryTools``: the active scanner, the passive readers and the
fingerprint catalogue (loaded once), behind the port the discovery service uses.

Imports are lazy: bootstrap builds this for every command, and most never discover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from fleetwarden.domain.discovery import HostObservation, Source
from fleetwarden.domain.fingerprint import Attribute, Fingerprint, fingerprint
from fleetwarden.errors import InputError
from fleetwarden.ports import PassiveRead, ReadProgress, ScanOptions, ScanProgress

if TYPE_CHECKING:
    from fleetwarden.adapters.discovery.rules import FingerprintCatalogue


class NetworkDiscoveryTools:
    def __init__(self, catalogue_dir: Path | None = None) -> None:
        self._catalogue_dir = catalogue_dir

    @cached_property
    def catalogue(self) -> FingerprintCatalogue:
        from fleetwarden.adapters.discovery.rules import load_catalogue

        return load_catalogue(self._catalogue_dir)

    def ranges(self, targets: Sequence[str]) -> list[tuple[int, int]]:
        from fleetwarden.adapters.discovery.active import parse_targets

        # Scope is the service's decision; here only syntax and never-scanned blocks.
        return list(parse_targets(targets, allow_non_loopback=True).ranges)

    def check_options(self, options: ScanOptions) -> None:
        from fleetwarden.adapters.discovery.active import check_options

        check_options(options.ports, options.profile, options.rate)

    def scan(self, targets: Sequence[str], options: ScanOptions, *,
             allow_non_loopback: bool, progress: ScanProgress | None) -> list[HostObservation]:
        from fleetwarden.adapters.discovery.active import scan_sync

        return scan_sync(targets, options.ports, udp=options.udp, profile=options.profile,
                         rate=options.rate, progress=progress,
                         allow_non_loopback=allow_non_loopback)

    def read(self, source: Source, path: str, *, progress: ReadProgress | None) -> PassiveRead:
        from fleetwarden.adapters.discovery.passive import read_passive

        file = Path(path)
        if not file.is_file():
            raise InputError(f"{path}: no such file")
        result = read_passive(source, file, progress=progress)
        return PassiveRead(result.observations, result.warnings)

    def fingerprint(self, observations: Sequence[HostObservation],
                    overrides: Mapping[str, str] | None = None) -> Fingerprint:
        from fleetwarden.adapters.discovery.oui import mac_vendor

        chosen = {Attribute(k): v for k, v in (overrides or {}).items()}
        return fingerprint(observations, self.catalogue.rules, mac_vendor=mac_vendor,
                           overrides=chosen, vendor_aliases=self.catalogue.vendor_aliases)

    @cached_property
    def _products(self) -> Mapping[str, str]:
        import tomllib
        from importlib.resources import files

        text = files("fleetwarden.catalogues").joinpath("software/products.toml").read_text()
        return {str(p["name"]): str(p["cpe"]) for p in tomllib.loads(text)["product"]}

    def software_products(self) -> Mapping[str, str]:
        return self._products
