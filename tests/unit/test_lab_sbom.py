"""Lab SBOMs: one per model and firmware, agreeing with the plan, in valid, stable files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import ComponentType

from fleetwarden.adapters.lab.catalogue import families, spdx_vendors
from fleetwarden.adapters.lab.plan import plan_lab, stack_components
from fleetwarden.adapters.lab.sbom import (
    firmware_components,
    firmware_stack,
    sbom_filename,
    write_sboms,
)
from fleetwarden.errors import InputError


@pytest.fixture(scope="module")
def plan():
    return plan_lab("small-force", count=30, seed=3)


@pytest.fixture(scope="module")
def out(plan, tmp_path_factory):
    directory = tmp_path_factory.mktemp("sboms") / "nested" / "sboms"
    calls: list[tuple[int, int]] = []
    written = write_sboms(plan, directory, progress=lambda done, total: calls.append(
        (done, total)))
    return directory, written, calls


def _model(device):
    family = families()[device.family]
    return family, next(m for m in family.models
                        if m["vendor"] == device.vendor and m["model"] == device.model)


def _index(directory: Path) -> dict[tuple[str, str, str], dict]:
    entries = json.loads((directory / "index.json").read_text())["sboms"]
    return {(e["vendor"], e["model"], e["firmware"]): e for e in entries}


def test_one_sbom_per_model_and_firmware_of_the_plan(plan, out):
    directory, written, calls = out
    expected = {(d.vendor, d.model, str(f))
                for d in plan.devices for f in _model(d)[1]["firmware_versions"]}
    index = _index(directory)
    assert set(index) == expected
    assert len(written) == len(expected)
    assert all(p.is_file() and p.parent == directory for p in written)
    assert {e["file"] for e in index.values()} == {p.name for p in written}
    assert calls[-1] == (len(expected), len(expected))
    for (vendor, model, firmware), entry in index.items():
        assert entry["file"] == sbom_filename(vendor, model, firmware)
        assert set(entry["file"]) <= set(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        spdx = vendor in spdx_vendors()
        assert entry["format"] == ("spdx-2.3" if spdx else "cyclonedx-1.5")
        assert entry["file"].endswith(".spdx.json" if spdx else ".cdx.json")
    assert {e["format"] for e in index.values()} == {"spdx-2.3", "cyclonedx-1.5"}


def test_firmware_stack_is_the_planners_rule():
    sample = plan_lab("small-force", count=300, seed=5)
    newest_seen = outdated_seen = False
    for device in sample.devices:
        family, model = _model(device)
        stack = firmware_stack(family, model, device.firmware_version)
        assert stack == {c.name: c.version for c in device.components}
        parts = firmware_components(family, model, device.firmware_version)
        assert parts == device.components == stack_components(stack, device.vendor)
        newest = device.firmware_version == model["firmware_versions"][-1]
        newest_seen |= newest
        outdated_seen |= not newest
    assert newest_seen and outdated_seen
    family = families()["hikvision"]
    with pytest.raises(InputError, match="no firmware"):
        firmware_stack(family, family.models[0], "V0.0.0")


def test_cyclonedx_files_parse_back_with_the_library(plan, out):
    directory, _, _ = out
    index = _index(directory)
    checked = 0
    for (vendor, model, firmware), entry in index.items():
        if entry["format"] != "cyclonedx-1.5":
            continue
        raw = json.loads((directory / entry["file"]).read_text())
        assert raw["bomFormat"] == "CycloneDX" and raw["specVersion"] == "1.5"
        assert raw["serialNumber"].startswith("urn:uuid:")
        assert raw["metadata"]["timestamp"].startswith("2026-03-02T09:00:00")
        bom = Bom.from_json(raw)
        root = bom.metadata.component
        assert root is not None and root.type is ComponentType.FIRMWARE
        assert (root.name, root.version, root.supplier.name) == (model, firmware, vendor)
        assert bom.metadata.supplier.name == vendor
        assert len(bom.components) == entry["components"] > 0
        for component in bom.components:
            assert component.purl is not None and component.cpe and component.supplier
            assert component.purl.version == component.version
        root_deps = next(d for d in bom.dependencies if d.ref.value == root.bom_ref.value)
        assert {d.ref.value for d in root_deps.dependencies} == {
            c.bom_ref.value for c in bom.components}
        checked += 1
    assert checked


def test_spdx_files_have_the_required_fields_and_relationships(out):
    directory, _, _ = out
    spdx = [e for e in _index(directory).values() if e["format"] == "spdx-2.3"]
    assert spdx
    for entry in spdx:
        doc = json.loads((directory / entry["file"]).read_text())
        assert doc["spdxVersion"] == "SPDX-2.3" and doc["dataLicense"] == "CC0-1.0"
        assert doc["SPDXID"] == "SPDXRef-DOCUMENT" and doc["name"]
        assert doc["documentNamespace"].startswith("https://sbom.northshire.example/")
        assert doc["creationInfo"]["created"] == "2026-03-02T09:00:00Z"
        assert doc["creationInfo"]["creators"] == [
            f"Organization: {entry['vendor']}", "Tool: fleetwarden-lab"]
        packages = {p["SPDXID"]: p for p in doc["packages"]}
        assert len(packages) == len(doc["packages"]) == entry["components"] + 1
        for package in packages.values():
            assert package["downloadLocation"] == "NOASSERTION"
            assert package["filesAnalyzed"] is False
            assert package["supplier"].startswith("Organization: ")
        describes = [r for r in doc["relationships"] if r["relationshipType"] == "DESCRIBES"]
        assert len(describes) == 1 and describes[0]["spdxElementId"] == "SPDXRef-DOCUMENT"
        firmware = packages[describes[0]["relatedSpdxElement"]]
        assert (firmware["name"], firmware["versionInfo"]) == (entry["model"], entry["firmware"])
        contains = {r["relatedSpdxElement"] for r in doc["relationships"]
                    if r["relationshipType"] == "CONTAINS"
                    and r["spdxElementId"] == firmware["SPDXID"]}
        assert contains == set(packages) - {firmware["SPDXID"]}
        for spdx_id in contains:
            refs = {(r["referenceCategory"], r["referenceType"])
                    for r in packages[spdx_id]["externalRefs"]}
            assert refs == {("PACKAGE-MANAGER", "purl"), ("SECURITY", "cpe23Type")}


def _listed(directory: Path, entry: dict) -> set[tuple[str, str]]:
    """(purl, version) of every component in an SBOM file, whichever the format."""
    doc = json.loads((directory / entry["file"]).read_text())
    if entry["format"] == "cyclonedx-1.5":
        return {(c["purl"], c["version"]) for c in doc["components"]}
    return {(next(r["referenceLocator"] for r in p["externalRefs"]
                  if r["referenceType"] == "purl"), p["versionInfo"])
            for p in doc["packages"] if p["SPDXID"] != "SPDXRef-firmware"}


def test_a_devices_components_are_its_firmwares_sbom(plan, out):
    directory, _, _ = out
    index = _index(directory)
    for device in plan.devices:
        entry = index[(device.vendor, device.model, device.firmware_version)]
        assert _listed(directory, entry) == {(c.purl, c.version) for c in device.components}


def test_output_is_byte_identical_across_runs(plan, out, tmp_path):
    directory, written, _ = out
    again = write_sboms(plan, tmp_path)
    assert [p.name for p in again] == [p.name for p in written]
    for name in [p.name for p in written] + ["index.json"]:
        assert (tmp_path / name).read_bytes() == (directory / name).read_bytes(), name


def test_an_existing_file_as_out_dir_is_refused(plan, tmp_path):
    target = tmp_path / "sboms"
    target.write_text("not a directory")
    with pytest.raises(InputError, match="not a directory") as caught:
        write_sboms(plan, target)
    assert "\n" not in str(caught.value)
