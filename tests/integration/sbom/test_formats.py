"""Reading the supported formats: CycloneDX 1.4/1.5/1.6 JSON and XML, SPDX 2.3 JSON and
tag-value. The hand-written files in ``data/`` describe one camera firmware the same way,
so all eight must give the same ``Sbom`` (bar the format string)."""

from __future__ import annotations

import json
import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
import spdx_tools.spdx.parser.tagvalue as spdx_tagvalue
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component
from defusedxml import ElementTree as SafeElementTree

import fleetwarden.adapters.sbom as sbom_package
from fleetwarden.adapters.sbom import SUPPORTED_FORMATS, parse_sbom, read_sbom
from fleetwarden.adapters.sbom._cpe import normalise_cpe
from fleetwarden.domain.vulns import SbomComponent

DATA = Path(__file__).parent / "data"

CAMERA = (
    SbomComponent("busybox", "1.31.1", "pkg:generic/busybox@1.31.1",
                  "cpe:2.3:a:busybox:busybox:1.31.1:*:*:*:*:*:*:*", "BusyBox project",
                  "application"),
    SbomComponent("dropbear", "2019.78", "pkg:generic/dropbear@2019.78",
                  "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2019.78:*:*:*:*:*:*:*",
                  "Matt Johnston", "application"),
    SbomComponent("libtomcrypt", "1.18.2", "pkg:github/libtom/libtomcrypt@1.18.2",
                  "cpe:2.3:a:libtom:libtomcrypt:1.18.2:*:*:*:*:*:*:*", None, "library"),
    # the files give a CPE 2.2 URI here; it comes out as a 2.3 formatted string
    SbomComponent("openssl", "1.0.2k", "pkg:generic/openssl@1.0.2k",
                  "cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*",
                  "OpenSSL Software Foundation", "library"),
    SbomComponent("linux", "4.9.37", "pkg:generic/linux@4.9.37",
                  "cpe:2.3:o:linux:linux_kernel:4.9.37:*:*:*:*:*:*:*", "The Linux Foundation",
                  "operating-system"),
    SbomComponent("acme-webui", "5.5.0", None, None, "Acme Cameras", "application"),
)

FILES = {
    "camera-cdx-1.4.json": "cyclonedx-1.4",
    "camera-cdx-1.5.json": "cyclonedx-1.5",
    "camera-cdx-1.6.json": "cyclonedx-1.6",
    "camera-cdx-1.4.xml": "cyclonedx-1.4",
    "camera-cdx-1.5.xml": "cyclonedx-1.5",
    "camera-cdx-1.6.xml": "cyclonedx-1.6",
    "camera-spdx-2.3.json": "spdx-2.3",
    "camera-spdx-2.3.spdx": "spdx-2.3",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_format_reads_the_same_camera(name: str):
    sbom = read_sbom(DATA / name)
    assert sbom.format == FILES[name]
    assert sbom.components == CAMERA
    assert (sbom.name, sbom.version) == ("IPC-3000 firmware", "V5.5.0 build 170301")
    assert sbom.created == datetime(2026, 2, 10, 8, 30, tzinfo=UTC)
    if name.startswith("camera-cdx"):
        assert sbom.serial == "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"
    else:
        assert sbom.serial == ("https://sbom.acme.example/spdx/ipc-3000/"
                               "V5.5.0-170301-3e671687")


def test_supported_formats_are_listed():
    assert SUPPORTED_FORMATS == ("cyclonedx-1.4", "cyclonedx-1.5", "cyclonedx-1.6", "spdx-2.3")


@pytest.mark.parametrize("name", sorted(FILES))
def test_detection_is_by_content_not_file_name(name: str, tmp_path: Path):
    renamed = tmp_path / "upload.bin"
    shutil.copyfile(DATA / name, renamed)
    assert read_sbom(renamed).components == CAMERA
    assert parse_sbom((DATA / name).read_bytes(), source="upload").format == FILES[name]


def _flatten(components) -> list[Component]:
    out: list[Component] = []
    for c in components:
        out.append(c)
        out.extend(_flatten(c.components))
    return out


def _fields(c: SbomComponent) -> tuple:
    return (c.name, c.version, c.purl, c.cpe, c.supplier, c.type)


def _library_view(bom: Bom) -> list[tuple]:
    return sorted(
        (c.name, c.version, str(c.purl) if c.purl else None,
         normalise_cpe(c.cpe) if c.cpe else None,
         c.supplier.name if c.supplier else c.publisher, c.type.value)
        for c in _flatten(bom.components))


@pytest.mark.parametrize("name", [n for n in sorted(FILES) if n.startswith("camera-cdx")])
def test_cyclonedx_reading_agrees_with_cyclonedx_python_lib(name: str):
    """The hand mapping (chosen for speed) gives what the library's deserialiser gives."""
    path = DATA / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library warns about deprecated 1.4 `tools`
        if name.endswith(".json"):
            bom = Bom.from_json(json.loads(path.read_text(encoding="utf-8")))
        else:
            bom = Bom.from_xml(SafeElementTree.fromstring(path.read_bytes()))
    ours = read_sbom(path)
    assert sorted(_fields(c) for c in ours.components) == _library_view(bom)
    assert bom.metadata.component is not None
    assert (ours.name, ours.version) == (bom.metadata.component.name,
                                         bom.metadata.component.version)
    assert ours.serial == bom.serial_number.urn
    assert ours.created == bom.metadata.timestamp


def _cdx(components: list[dict], **extra) -> bytes:
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
           "components": components, **extra}
    return json.dumps(doc).encode()


def test_nested_components_flatten_depth_first_with_the_subjects_own():
    data = _cdx(
        [{"type": "application", "name": "a", "components": [
            {"type": "library", "name": "a1", "components": [
                {"type": "library", "name": "a1x"}]},
            {"type": "library", "name": "a2"}]},
         {"type": "library", "name": "b"}],
        metadata={"component": {"type": "device", "name": "gateway", "version": "3",
                                "components": [{"type": "firmware", "name": "bootloader"}]}})
    sbom = parse_sbom(data, source="nested.json")
    assert [c.name for c in sbom.components] == ["bootloader", "a", "a1", "a1x", "a2", "b"]
    assert (sbom.name, sbom.version, sbom.serial, sbom.created) == ("gateway", "3", None, None)


def test_a_bom_without_metadata_or_components_is_empty_not_refused():
    sbom = parse_sbom(_cdx([]), source="empty.json")
    assert sbom.components == () and sbom.name is None


def test_purls_are_kept_in_canonical_form():
    sbom = parse_sbom(_cdx([{"type": "library", "name": "Django", "version": "4.2",
                             "purl": "pkg:PyPI/Django@4.2"}]), source="p.json")
    assert sbom.components[0].purl == "pkg:pypi/django@4.2"


@pytest.mark.parametrize(("given", "expected"), [
    ("cpe:/a:openssl:openssl:1.0.2k", "cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*"),
    ("cpe:/o:linux:linux_kernel", "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*"),
    ("cpe:/h:tp-link:tl-wr841n:v14", "cpe:2.3:h:tp-link:tl-wr841n:v14:*:*:*:*:*:*:*"),
    ("cpe:/a:microsoft:internet_explorer:8.%02:sp%01",
     "cpe:2.3:a:microsoft:internet_explorer:8.*:sp?:*:*:*:*:*:*"),
    ("cpe:/a:hp:insight_diagnostics:7.4.0.1570:-:~~online~win2003~x64~",
     "cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*"),
    ("cpe:/a:foo%5cbar:big%24money_manager_2010::::en-us",
     "cpe:2.3:a:foo\\\\bar:big\\$money_manager_2010:*:*:*:en-us:*:*:*:*"),
    ("cpe:2.3:a:busybox:busybox:1.31.1:*:*:*:*:*:*:*",
     "cpe:2.3:a:busybox:busybox:1.31.1:*:*:*:*:*:*:*"),
])
def test_cpe_22_uris_become_23_formatted_strings(given: str, expected: str):
    assert normalise_cpe(given) == expected
    sbom = parse_sbom(_cdx([{"type": "library", "name": "x", "cpe": given}]), source="c.json")
    assert sbom.components[0].cpe == expected


def _spdx(packages: list[dict], relationships: list[dict], **extra) -> bytes:
    doc = {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
           "name": "estate bundle", "documentNamespace": "https://example.org/spdx/bundle-1",
           "creationInfo": {"created": "2026-01-02T03:04:05Z", "creators": ["Tool: t"]},
           "packages": packages, "relationships": relationships, **extra}
    return json.dumps(doc).encode()


def _package(spdx_id: str, name: str, **extra) -> dict:
    return {"SPDXID": spdx_id, "name": name, "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False, **extra}


def test_spdx_without_a_single_described_package_is_named_by_the_document():
    packages = [_package("SPDXRef-a", "a", versionInfo="1"), _package("SPDXRef-b", "b")]
    describes = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                  "relatedSpdxElement": r} for r in ("SPDXRef-a", "SPDXRef-b")]
    for relationships in ([], describes):
        sbom = parse_sbom(_spdx(packages, relationships), source="bundle.json")
        assert (sbom.name, sbom.version) == ("estate bundle", None)
        assert [c.name for c in sbom.components] == ["a", "b"]


def test_spdx_described_by_names_the_subject_too():
    packages = [_package("SPDXRef-fw", "fw", versionInfo="9"), _package("SPDXRef-lib", "lib")]
    relationships = [{"spdxElementId": "SPDXRef-fw", "relationshipType": "DESCRIBED_BY",
                      "relatedSpdxElement": "SPDXRef-DOCUMENT"}]
    sbom = parse_sbom(_spdx(packages, relationships), source="d.json")
    assert (sbom.name, sbom.version) == ("fw", "9")
    assert [c.name for c in sbom.components] == ["lib"]


def test_spdx_cpe23_wins_over_cpe22_and_other_references_are_ignored():
    refs = [
        {"referenceCategory": "SECURITY", "referenceType": "cpe22Type",
         "referenceLocator": "cpe:/a:old:name:1.0"},
        {"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
         "referenceLocator": "cpe:2.3:a:new:name:1.0:*:*:*:*:*:*:*"},
        {"referenceCategory": "PERSISTENT-ID", "referenceType": "gitoid",
         "referenceLocator": "gitoid:blob:sha1:261eeb9e9f8b2b4b0d119366dda99c6fd7d35c64"},
        {"referenceCategory": "OTHER", "referenceType": "acme-id", "referenceLocator": "x-1"},
    ]
    sbom = parse_sbom(_spdx([_package("SPDXRef-a", "a", externalRefs=refs)], []),
                      source="r.json")
    assert sbom.components[0].cpe == "cpe:2.3:a:new:name:1.0:*:*:*:*:*:*:*"
    assert sbom.components[0].purl is None


def test_a_timestamp_without_a_zone_is_taken_as_utc():
    sbom = parse_sbom(_cdx([], metadata={"timestamp": "2026-01-02T03:04:05"}), source="t.json")
    assert sbom.created == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_spdx_files_and_has_files_are_read_but_are_not_components():
    packages = [_package("SPDXRef-fw", "fw", versionInfo="1", hasFiles=["SPDXRef-f1"]),
                _package("SPDXRef-lib", "lib", hasFiles=["SPDXRef-f2"])]
    files = [{"SPDXID": f"SPDXRef-f{i}", "fileName": f"./lib{i}.so", "checksums": [
        {"algorithm": "SHA1", "checksumValue": "d6a770ba38583ed4bb4525bd96e50461655d2758"}]}
        for i in (1, 2)]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": "SPDXRef-fw"}]
    sbom = parse_sbom(_spdx(packages, relationships, files=files), source="files.json")
    assert [c.name for c in sbom.components] == ["lib"]


TAG_VALUE_WITH_FILES_AND_LICENCES = """SPDXVersion: SPDX-2.3
DataLicense: CC0-1.0
SPDXID: SPDXRef-DOCUMENT
DocumentName: router firmware
DocumentNamespace: https://example.org/spdx/router-1
Creator: Tool: t
Created: 2026-01-02T03:04:05Z

FileName: ./README
SPDXID: SPDXRef-readme
FileChecksum: SHA1: d6a770ba38583ed4bb4525bd96e50461655d2758

PackageName: busybox
SPDXID: SPDXRef-busybox
PackageVersion: 1.36.1
PackageDownloadLocation: NOASSERTION
FilesAnalyzed: true
PackageVerificationCode: d6a770ba38583ed4bb4525bd96e50461655d2758
PackageLicenseConcluded: GPL-2.0-only
PackageLicenseDeclared: (GPL-2.0-only OR MIT) AND BSD-3-Clause
PackageCopyrightText: <text>Copyright (C) 1998-2023
Erik Andersen, Rob Landley, Denys Vlasenko</text>
ExternalRef: PACKAGE-MANAGER purl pkg:generic/busybox@1.36.1

FileName: ./bin/busybox
SPDXID: SPDXRef-busybox-bin
FileChecksum: SHA1: d6a770ba38583ed4bb4525bd96e50461655d2758
LicenseConcluded: GPL-2.0-only

Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-busybox
"""


def test_tag_value_with_files_licences_and_multi_line_text(tmp_path: Path):
    path = tmp_path / "router.spdx"
    path.write_text(TAG_VALUE_WITH_FILES_AND_LICENCES, encoding="utf-8")
    sbom = read_sbom(path)
    assert (sbom.name, sbom.version, sbom.components) == ("busybox", "1.36.1", ())
    single = TAG_VALUE_WITH_FILES_AND_LICENCES.replace(
        "Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-busybox\n", "")
    path.write_text(single, encoding="utf-8")
    sbom = read_sbom(path)
    assert sbom.name == "router firmware"
    assert sbom.components == (SbomComponent("busybox", "1.36.1", "pkg:generic/busybox@1.36.1"),)


def test_the_tag_value_parser_writes_no_tables():
    places = [Path(sbom_package.__file__).parent, Path(spdx_tagvalue.__file__).parent,
              Path.cwd()]
    before = {p: {f.name for f in p.iterdir()} for p in places}
    read_sbom(DATA / "camera-spdx-2.3.spdx")
    assert {p: {f.name for f in p.iterdir()} for p in places} == before
