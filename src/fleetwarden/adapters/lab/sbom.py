"""Writes the SBOMs the suppliers of a lab's simulated models would publish (``lab sboms``).

One SBOM per model and firmware version, for every model that appears in a plan and
every firmware version the estate catalogue knows for it (not only the versions the
plan's devices run): a supplier publishes one per release. ``write_catalogue_sboms``
does the same for every model of every lab family, without a plan (the demo imports
them). Components follow the planner's rule and are built by the planner's own
``stack_components``, so an SBOM and a device's ``components`` agree: every firmware
but the newest carries the family's outdated stack, the newest the current one. Most
suppliers publish CycloneDX 1.5 JSON; those listed under ``[sbom] spdx_vendors`` in
families.toml publish SPDX 2.3 JSON. Output is reproducible: serial numbers and
namespaces are derived from vendor/model/firmware and the creation time is fixed, so two
runs give byte-identical files.

Must not: open sockets, write outside ``out_dir``, or decide what a device runs
(``firmware_stack`` mirrors the planner's choice of stack; a test holds them together).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.model.component import ComponentType
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from fleetwarden.adapters.lab.catalogue import Family, families, spdx_vendors
from fleetwarden.adapters.lab.plan import LabPlan, stack_components
from fleetwarden.domain.lab import Component
from fleetwarden.errors import InputError

#: Every SBOM claims to be made at this moment, so reruns give identical bytes.
CREATED = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
TOOL = "fleetwarden-lab"
NAMESPACE_BASE = "https://sbom.northshire.example/spdx"
CYCLONEDX = "cyclonedx-1.5"
SPDX = "spdx-2.3"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SPDX_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


@dataclass(frozen=True, slots=True)
class _Release:
    """One firmware release of one model: what an SBOM describes."""

    family: Family
    model: Mapping[str, Any]
    firmware: str

    @property
    def vendor(self) -> str:
        return str(self.model["vendor"])

    @property
    def name(self) -> str:
        return str(self.model["model"])


def firmware_stack(family: Family, model: Mapping[str, Any], firmware: str) -> Mapping[str, str]:
    """Component name -> version inside ``firmware`` of ``model`` (the planner's rule)."""
    versions = list(model["firmware_versions"])
    if firmware not in versions:
        raise InputError(f"{model['vendor']} {model['model']}: no firmware {firmware!r}; "
                         f"known: {', '.join(versions)}")
    return family.current if firmware == versions[-1] else family.outdated


def firmware_components(
    family: Family, model: Mapping[str, Any], firmware: str
) -> tuple[Component, ...]:
    """The components an SBOM lists: the planner's ``stack_components`` of the stack."""
    return stack_components(firmware_stack(family, model, firmware), str(model["vendor"]))


def sbom_format(vendor: str) -> str:
    """The SBOM format a vendor publishes (``cyclonedx-1.5`` or ``spdx-2.3``)."""
    return SPDX if vendor in spdx_vendors() else CYCLONEDX


def sbom_filename(vendor: str, model: str, firmware: str) -> str:
    """``<vendor>_<model>_<firmware>.cdx.json`` (or ``.spdx.json``), shell- and URL-safe."""
    stem = _UNSAFE.sub("_", f"{vendor}_{model}_{firmware}")
    return stem + (".spdx.json" if sbom_format(vendor) == SPDX else ".cdx.json")


@dataclass(frozen=True, slots=True)
class SbomFile:
    """One written SBOM and the release it describes (as ``index.json`` lists it)."""

    path: Path
    vendor: str
    model: str
    firmware: str
    format: str
    """``cyclonedx-1.5`` or ``spdx-2.3``."""


def write_sboms(
    plan: LabPlan, out_dir: Path, *, progress: Callable[[int, int], None] | None = None
) -> list[Path]:
    """Write one SBOM per model x firmware of the plan's models, plus ``index.json``;
    returns the SBOM paths (not the index)."""
    fams = families()
    used: dict[tuple[str, str], str] = {}
    for device in plan.devices:
        used.setdefault((device.vendor, device.model), device.family)
    releases = _releases([(fams[family], vendor, name)
                          for (vendor, name), family in sorted(used.items())])
    written = _write(releases, out_dir, {"scenario": plan.scenario, "seed": plan.seed},
                     progress)
    return [w.path for w in written]


def write_catalogue_sboms(
    out_dir: Path, *, progress: Callable[[int, int], None] | None = None
) -> list[SbomFile]:
    """Write one SBOM per firmware of every model of every lab family, plus
    ``index.json`` (``scenario`` and ``seed`` null): what all the lab's suppliers publish."""
    releases = _releases(sorted(((f, str(m["vendor"]), str(m["model"]))
                                 for f in families().values() for m in f.models),
                                key=lambda t: (t[1], t[2])))
    return _write(releases, out_dir, {"scenario": None, "seed": None}, progress)


def _write(releases: list[_Release], out_dir: Path, head: dict[str, Any],
           progress: Callable[[int, int], None] | None) -> list[SbomFile]:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} exists and is not a directory; give a directory for SBOMs")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[SbomFile] = []
    names: set[str] = set()
    index: list[dict[str, Any]] = []
    for done, release in enumerate(releases, start=1):
        path = out_dir / sbom_filename(release.vendor, release.name, release.firmware)
        if path.name in names:
            raise InputError(f"two SBOMs would share the file name {path.name}")
        names.add(path.name)
        parts = firmware_components(release.family, release.model, release.firmware)
        fmt = sbom_format(release.vendor)
        document = _spdx(release, parts) if fmt == SPDX else _cyclonedx(release, parts)
        path.write_text(document, encoding="utf-8")
        written.append(SbomFile(path, release.vendor, release.name, release.firmware, fmt))
        index.append(_index_entry(release, path, fmt, len(parts)))
        if progress is not None:
            progress(done, len(releases))
    _write_json(out_dir / "index.json", {**head, "created": _iso(CREATED), "sboms": index})
    return written


def _releases(models: list[tuple[Family, str, str]]) -> list[_Release]:
    """Every firmware (oldest first) of each (family, vendor, model), in the given order."""
    out: list[_Release] = []
    for family, vendor, name in models:
        model = next(m for m in family.models if m["vendor"] == vendor and m["model"] == name)
        out.extend(_Release(family, model, str(f)) for f in model["firmware_versions"])
    return out


def _index_entry(release: _Release, path: Path, fmt: str, count: int) -> dict[str, Any]:
    versions = list(release.model["firmware_versions"])
    return {
        "file": path.name, "vendor": release.vendor, "model": release.name,
        "family": release.family.name, "firmware": release.firmware, "format": fmt,
        "components": count, "newest": release.firmware == versions[-1],
    }


def _serial(release: _Release) -> uuid.UUID:
    """Stable per release: the same SBOM always has the same serial number."""
    return uuid.uuid5(uuid.NAMESPACE_URL,
                      f"fleetwarden-lab:sbom:{release.vendor}/{release.name}/{release.firmware}")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------ CycloneDX
def _cyclonedx(release: _Release, parts: Iterable[Component]) -> str:
    """A CycloneDX 1.5 JSON document with a complete (one-level) dependency graph."""
    vendor = OrganizationalEntity(name=release.vendor)
    firmware = CdxComponent(
        type=ComponentType.FIRMWARE, name=release.name, version=release.firmware,
        supplier=vendor, bom_ref=f"firmware:{release.vendor}/{release.name}@{release.firmware}")
    listed = [_cdx_component(c) for c in parts]
    bom = Bom(
        serial_number=_serial(release),
        metadata=BomMetaData(
            component=firmware, supplier=OrganizationalEntity(name=release.vendor),
            timestamp=CREATED,
            tools=ToolRepository(components=[
                CdxComponent(type=ComponentType.APPLICATION, name=TOOL)]),
        ),
        components=listed,
    )
    bom.register_dependency(firmware, listed)
    for component in listed:
        bom.register_dependency(component)
    text = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_5).output_as_string(indent=2)
    return text + "\n"


def _cdx_component(part: Component) -> CdxComponent:
    return CdxComponent(
        type=_cdx_type(part), name=part.name, version=part.version,
        purl=PackageURL.from_string(part.purl), cpe=part.cpe,
        supplier=OrganizationalEntity(name=part.supplier) if part.supplier else None,
        bom_ref=part.purl)


def _cdx_type(part: Component) -> ComponentType:
    """CPE part ``o`` (operating system) says kernel; everything else is a library."""
    if part.cpe and part.cpe.startswith("cpe:2.3:o:"):
        return ComponentType.OPERATING_SYSTEM
    return ComponentType.LIBRARY


# ----------------------------------------------------------------------------- SPDX
def _spdx(release: _Release, parts: Iterable[Component]) -> str:
    """An SPDX 2.3 JSON document: the firmware package CONTAINS each component."""
    firmware_id = "SPDXRef-firmware"
    packages = [{
        "SPDXID": firmware_id, "name": release.name, "versionInfo": release.firmware,
        "supplier": f"Organization: {release.vendor}", "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False, "primaryPackagePurpose": "FIRMWARE",
    }]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": firmware_id}]
    for part in parts:
        package = _spdx_package(part)
        packages.append(package)
        relationships.append({"spdxElementId": firmware_id, "relationshipType": "CONTAINS",
                              "relatedSpdxElement": package["SPDXID"]})
    serial = _serial(release)
    stem = _UNSAFE.sub("_", f"{release.vendor}/{release.name}/{release.firmware}")
    document = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{release.vendor} {release.name} {release.firmware}",
        "documentNamespace": f"{NAMESPACE_BASE}/{stem}-{serial}",
        "creationInfo": {
            "created": _iso(CREATED),
            "creators": [f"Organization: {release.vendor}", f"Tool: {TOOL}"],
        },
        "packages": packages,
        "relationships": relationships,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _spdx_package(part: Component) -> dict[str, Any]:
    refs = [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
             "referenceLocator": part.purl}]
    if part.cpe:
        refs.append({"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                     "referenceLocator": part.cpe})
    package: dict[str, Any] = {
        "SPDXID": "SPDXRef-Package-" + _SPDX_ID_UNSAFE.sub("-", part.name),
        "name": part.name, "versionInfo": part.version,
        "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "externalRefs": refs,
    }
    if part.supplier:
        package["supplier"] = f"Organization: {part.supplier}"
    return package
