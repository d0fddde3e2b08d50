"""Large SBOMs of real shape, written fast with plain templating (cyclonedx-python-lib's
own outputter takes over 20 s for 5,000 components, too slow for a test).

Each component carries what suppliers' SBOMs carry: bom-ref/SPDXID, supplier, purl, CPE,
a hash, a licence; SPDX adds CONTAINS relationships from the described firmware.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

FIRMWARE = ("IPC-9000 firmware", "V7.1.0 build 250101")


def _part(i: int) -> dict[str, str]:
    name = f"lib{i:05d}"
    version = f"{i % 7}.{i % 31}.{i % 101}"
    return {
        "name": name, "version": version, "supplier": f"Vendor {i % 97}",
        "purl": f"pkg:generic/vendor{i % 97}/{name}@{version}",
        "cpe": f"cpe:2.3:a:vendor{i % 97}:{name}:{version}:*:*:*:*:*:*:*",
        "sha": f"{i:064x}",
    }


def cyclonedx_json(path: Path, count: int, spec: str = "1.5") -> Path:
    components = [{
        "type": "library", "bom-ref": f"ref-{i}", "supplier": {"name": p["supplier"]},
        "name": p["name"], "version": p["version"],
        "hashes": [{"alg": "SHA-256", "content": p["sha"]}],
        "licenses": [{"license": {"id": "MIT"}}], "cpe": p["cpe"], "purl": p["purl"],
    } for i, p in ((i, _part(i)) for i in range(count))]
    doc = {
        "bomFormat": "CycloneDX", "specVersion": spec, "version": 1,
        "serialNumber": "urn:uuid:0b1f4f8e-2a83-4c1e-9d55-6d0d2bb1c001",
        "metadata": {"timestamp": "2026-03-01T10:00:00Z", "component": {
            "type": "firmware", "bom-ref": "fw", "name": FIRMWARE[0], "version": FIRMWARE[1]}},
        "components": components,
        "dependencies": [{"ref": "fw", "dependsOn": [c["bom-ref"] for c in components]}],
    }
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def cyclonedx_xml(path: Path, count: int, spec: str = "1.6") -> Path:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<bom xmlns="http://cyclonedx.org/schema/bom/{spec}" '
        'serialNumber="urn:uuid:0b1f4f8e-2a83-4c1e-9d55-6d0d2bb1c001" version="1">',
        "<metadata><timestamp>2026-03-01T10:00:00Z</timestamp>"
        f'<component type="firmware" bom-ref="fw"><name>{escape(FIRMWARE[0])}</name>'
        f"<version>{escape(FIRMWARE[1])}</version></component></metadata>",
        "<components>",
    ]
    for i in range(count):
        p = _part(i)
        out.append(
            f'<component type="library" bom-ref={quoteattr(f"ref-{i}")}>'
            f"<supplier><name>{escape(p['supplier'])}</name></supplier>"
            f"<name>{escape(p['name'])}</name><version>{escape(p['version'])}</version>"
            f'<hashes><hash alg="SHA-256">{p["sha"]}</hash></hashes>'
            "<licenses><license><id>MIT</id></license></licenses>"
            f"<cpe>{escape(p['cpe'])}</cpe><purl>{escape(p['purl'])}</purl></component>")
    out += ["</components>", "</bom>"]
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def spdx_json(path: Path, count: int) -> Path:
    packages = [{
        "SPDXID": "SPDXRef-firmware", "name": FIRMWARE[0], "versionInfo": FIRMWARE[1],
        "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
        "primaryPackagePurpose": "FIRMWARE",
    }]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": "SPDXRef-firmware"}]
    for i in range(count):
        p = _part(i)
        packages.append({
            "SPDXID": f"SPDXRef-Package-{i}", "name": p["name"], "versionInfo": p["version"],
            "supplier": f"Organization: {p['supplier']}", "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False, "licenseConcluded": "MIT",
            "primaryPackagePurpose": "LIBRARY",
            "checksums": [{"algorithm": "SHA256", "checksumValue": p["sha"]}],
            "externalRefs": [
                {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                 "referenceLocator": p["purl"]},
                {"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                 "referenceLocator": p["cpe"]},
            ],
        })
        relationships.append({"spdxElementId": "SPDXRef-firmware",
                              "relationshipType": "CONTAINS",
                              "relatedSpdxElement": f"SPDXRef-Package-{i}"})
    doc = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": " ".join(FIRMWARE),
        "documentNamespace": "https://sbom.example/spdx/ipc-9000-0b1f4f8e",
        "creationInfo": {"created": "2026-03-01T10:00:00Z", "creators": ["Tool: builders"]},
        "packages": packages, "relationships": relationships,
    }
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def spdx_tag_value(path: Path, count: int) -> Path:
    out = [
        "SPDXVersion: SPDX-2.3", "DataLicense: CC0-1.0", "SPDXID: SPDXRef-DOCUMENT",
        f"DocumentName: {' '.join(FIRMWARE)}",
        "DocumentNamespace: https://sbom.example/spdx/ipc-9000-0b1f4f8e",
        "Creator: Tool: builders", "Created: 2026-03-01T10:00:00Z", "",
        "Relationship: SPDXRef-DOCUMENT DESCRIBES SPDXRef-firmware", "",
        f"PackageName: {FIRMWARE[0]}", "SPDXID: SPDXRef-firmware",
        f"PackageVersion: {FIRMWARE[1]}", "PackageDownloadLocation: NOASSERTION",
        "FilesAnalyzed: false", "PrimaryPackagePurpose: FIRMWARE", "",
    ]
    for i in range(count):
        p = _part(i)
        out += [
            f"PackageName: {p['name']}", f"SPDXID: SPDXRef-Package-{i}",
            f"PackageVersion: {p['version']}", f"PackageSupplier: Organization: {p['supplier']}",
            "PackageDownloadLocation: NOASSERTION", "FilesAnalyzed: false",
            f"PackageChecksum: SHA256: {p['sha']}", "PackageLicenseConcluded: MIT",
            "PrimaryPackagePurpose: LIBRARY",
            f"ExternalRef: PACKAGE-MANAGER purl {p['purl']}",
            f"ExternalRef: SECURITY cpe23Type {p['cpe']}", "",
        ]
    out += [f"Relationship: SPDXRef-firmware CONTAINS SPDXRef-Package-{i}"
            for i in range(count)]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


BUILDERS = {
    "cyclonedx-json": (cyclonedx_json, "big.cdx.json"),
    "cyclonedx-xml": (cyclonedx_xml, "big.cdx.xml"),
    "spdx-json": (spdx_json, "big.spdx.json"),
    "spdx-tag-value": (spdx_tag_value, "big.spdx"),
}
