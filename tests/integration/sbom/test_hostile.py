"""Malformed and hostile SBOMs: each is refused whole with one ``SbomError`` whose single
line names the file, the record where there is one, and the problem."""

from __future__ import annotations

import json
import os
import pathlib
import time
from pathlib import Path

import pytest

from fleetwarden.adapters.sbom import MAX_SBOM_BYTES, parse_sbom, read_sbom
from fleetwarden.errors import FleetwardenError, SbomError

DATA = Path(__file__).parent / "data"


def refused(path: Path, *fragments: str, **kwargs) -> str:
    with pytest.raises(SbomError) as caught:
        read_sbom(path, **kwargs)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message and "Traceback" not in message, message
    assert len(message) < 600, message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(caught.value, FleetwardenError)
    assert (caught.value.exit_code, caught.value.http_status, caught.value.code) == (
        2, 422, "sbom")
    return message


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def cdx(components: list, spec: str = "1.5", **extra) -> str:
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": spec, "version": 1,
                       "components": components, **extra})


def spdx(packages: list, version: str = "SPDX-2.3", **extra) -> str:
    return json.dumps({
        "spdxVersion": version, "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": "doc", "documentNamespace": "https://example.org/spdx/doc-1",
        "creationInfo": {"created": "2026-01-02T03:04:05Z", "creators": ["Tool: t"]},
        "packages": packages, **extra})


def package(spdx_id: str, name: str | None = "lib", **extra) -> dict:
    p = {"SPDXID": spdx_id, "downloadLocation": "NOASSERTION", "filesAnalyzed": False, **extra}
    if name is not None:
        p["name"] = name
    return p


def tag_value(version: str = "SPDX-2.3", body: str = "") -> str:
    return (f"SPDXVersion: {version}\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\n"
            "DocumentName: doc\nDocumentNamespace: https://example.org/spdx/doc-1\n"
            "Creator: Tool: t\nCreated: 2026-01-02T03:04:05Z\n\n" + body)


LIB = {"type": "library", "bom-ref": "lib-1", "name": "zlib", "version": "1.2.11"}

# ----------------------------------------------------------------------- XML attacks
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">
  <components><component type="library"><name>&lol9;</name></component></components>
</bom>
"""


def test_billion_laughs_is_refused_before_any_expansion(tmp_path: Path):
    path = write(tmp_path, "laughs.cdx.xml", BILLION_LAUGHS)
    started = time.perf_counter()
    refused(path, "DOCTYPE", "refused")
    assert time.perf_counter() - started < 1.0


def test_xxe_system_entity_is_refused_and_the_file_never_read(tmp_path: Path):
    secret = write(tmp_path, "secret.txt", "TOP-SECRET-KEY-MATERIAL")
    xxe = (f'<?xml version="1.0"?>\n<!DOCTYPE bom [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
           '<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components>'
           '<component type="library"><name>&xxe;</name></component></components></bom>')
    message = refused(write(tmp_path, "xxe.cdx.xml", xxe), "DOCTYPE")
    assert "TOP-SECRET" not in message


def test_external_dtd_and_bare_doctype_are_refused(tmp_path: Path):
    body = ('<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">'
            '<components/></bom>')
    external = '<!DOCTYPE bom SYSTEM "http://attacker.example/bom.dtd">' + body
    refused(write(tmp_path, "ext.xml", external), "DOCTYPE")
    refused(write(tmp_path, "bare.xml", "<!DOCTYPE bom>" + body), "DOCTYPE")


def test_entity_without_doctype_is_not_expanded(tmp_path: Path):
    undefined = ('<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components>'
                 '<component type="library"><name>&xxe;</name></component></components></bom>')
    refused(write(tmp_path, "undefined.xml", undefined), "not well-formed XML")


# ---------------------------------------------------------------------- size limits
def test_a_300_mb_file_is_refused_by_size_without_being_opened(tmp_path: Path, monkeypatch):
    path = tmp_path / "huge.cdx.json"
    with path.open("wb") as fh:
        fh.truncate(300 * 1024 * 1024)  # sparse: no 300 MB written to disk
    opened: list[Path] = []
    real_open = pathlib.Path.open

    def spy(self, *args, **kwargs):
        opened.append(self)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", spy)
    started = time.perf_counter()
    refused(path, f"{300 * 1024 * 1024} bytes", f"{MAX_SBOM_BYTES}-byte limit")
    assert time.perf_counter() - started < 0.5
    assert path not in opened


def test_the_size_limit_is_configurable_and_applies_to_uploads(tmp_path: Path):
    path = write(tmp_path, "small.json", cdx([LIB]))
    refused(path, "byte limit", max_bytes=100)
    with pytest.raises(SbomError, match="upload: .* over the 100-byte limit"):
        parse_sbom(path.read_bytes(), source="upload", max_bytes=100)


def test_not_a_regular_file_is_refused_without_blocking(tmp_path: Path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    refused(fifo, "not a regular file")
    refused(tmp_path, "not a regular file")
    refused(tmp_path / "missing.json", "cannot read")


# ------------------------------------------------------------------ malformed JSON
@pytest.mark.parametrize(("content", "fragment"), [
    ('{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "zl',
     "not valid JSON"),
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ("[1, 2, 3]", "JSON list at the top level"),
    ('{"hello": "world"}', "neither CycloneDX"),
    ('{"bomFormat": "SWID", "specVersion": "1.5"}', "bomFormat 'SWID' is not CycloneDX"),
    ('{"specVersion": "1.5", "components": []}', "no bomFormat"),
    ('{"a": ' + "9" * 5000 + "}", "not valid JSON"),
])
def test_malformed_json_is_refused(tmp_path: Path, content: str, fragment: str):
    refused(write(tmp_path, "bad.json", content), fragment)


@pytest.mark.parametrize(("content", "fragment"), [
    (b"", "empty file"),
    (b"   \n\t ", "empty file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not an SBOM"),
    (b"name,version\nzlib,1.2.11\n", "not an SBOM"),
    (b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "x": "\xff\xfe"}', "not UTF-8"),
    (b"spdxVersion: SPDX-2.3\nname: doc\n", "SPDX YAML is not supported"),
    (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
     "SPDX RDF/XML is not supported"),
    (b"<Document><spdxVersion>SPDX-2.3</spdxVersion></Document>", "not a CycloneDX <bom>"),
    (b'<bom xmlns="http://example.org/bom"/>', "not a CycloneDX namespace"),
    (b'<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>', "not well-formed XML"),
])
def test_unknown_or_broken_formats_are_refused(tmp_path: Path, content: bytes, fragment: str):
    refused(write(tmp_path, "unknown.sbom", content), fragment)


# ----------------------------------------------------------------- wrong versions
@pytest.mark.parametrize(("content", "fragment"), [
    (cdx([LIB], spec="1.2"), "CycloneDX 1.2 is not supported: 1.4, 1.5, 1.6 only"),
    (cdx([LIB], spec="1.3"), "CycloneDX 1.3 is not supported"),
    (cdx([LIB], spec="1.7"), "CycloneDX 1.7 is not supported"),
    (cdx([LIB], spec="2.0"), "CycloneDX 2.0 is not supported"),
    (json.dumps({"bomFormat": "CycloneDX", "components": []}),
     "CycloneDX without a specVersion is not supported"),
    ('<bom xmlns="http://cyclonedx.org/schema/bom/1.2" version="1"><components/></bom>',
     "CycloneDX 1.2 is not supported"),
    (spdx([package("SPDXRef-a")], version="SPDX-2.2"), "SPDX version 'SPDX-2.2' is not"),
    (spdx([package("SPDXRef-a")], version="SPDX-3.0"), "SPDX version 'SPDX-3.0' is not"),
    (tag_value("SPDX-2.2"), "SPDX version 'SPDX-2.2' is not supported: SPDX-2.3 only"),
    (tag_value("SPDX-2.1"), "SPDX version 'SPDX-2.1' is not supported"),
])
def test_unsupported_versions_are_refused_naming_the_version(tmp_path: Path, content: str,
                                                              fragment: str):
    refused(write(tmp_path, "old.sbom", content), fragment)


# --------------------------------------------------------------------- bad records
@pytest.mark.parametrize(("components", "fragments"), [
    ([LIB, {**LIB, "bom-ref": "bad", "purl": "not-a-purl"}],
     ("components[1] (bom-ref 'bad'): invalid purl 'not-a-purl'",)),
    ([{**LIB, "purl": "pkg:generic"}], ("components[0] (bom-ref 'lib-1'): invalid purl",)),
    ([{"type": "library", "version": "1.0"}], ("components[0]: no name",)),
    ([{**LIB, "name": ""}], ("components[0] (bom-ref 'lib-1'): empty name",)),
    ([{**LIB, "name": 42}], ("name must be a string, not int",)),
    ([{**LIB, "name": "x" * 5000}], ("name is 5000 characters long (limit 4096)",)),
    ([{**LIB, "name": "zlib\nforged: line"}], ("name 'zlib\\nforged: line' contains control",)),
    ([{**LIB, "cpe": "cpe:2.3:a:zlib"}], ("invalid CPE", "not a well-formed CPE 2.3")),
    ([{**LIB, "cpe": "zlib"}], ("invalid CPE 'zlib'", "neither a CPE 2.3 name")),
    ([{**LIB, "cpe": "cpe:/a:zlib:zlib:1.2:%zz"}], ("bad percent-encoding",)),
    ([{**LIB, "type": "gadget"}], ("unknown component type 'gadget'",)),
    ([{**LIB, "type": ["library"]}], ("unknown component type",)),
    ([{"name": "zlib", "bom-ref": "r"}], ("components[0] (bom-ref 'r'): no type",)),
    ([LIB, {**LIB, "name": "zlib2"}],
     ("components[1]: bom-ref 'lib-1' is already used by components[0]",)),
    ([{**LIB, "components": [{"type": "library", "name": "inner", "purl": "pkg:"}]}],
     ("components[0].components[0]: invalid purl",)),
    (["zlib"], ("components[0]: a component must be an object, not str",)),
    ([{**LIB, "supplier": "Acme"}], ("supplier must be an object, not str",)),
    ([{**LIB, "components": {"name": "x"}}], ("components[0].components must be an array",)),
])
def test_a_bad_cyclonedx_component_refuses_the_file_naming_it(tmp_path: Path, components,
                                                               fragments):
    refused(write(tmp_path, "bad.cdx.json", cdx(components)), *fragments)


def test_bad_cyclonedx_document_fields_are_refused(tmp_path: Path):
    refused(write(tmp_path, "a.json", cdx([LIB], metadata={"timestamp": "yesterday"})),
            "metadata.timestamp 'yesterday' is not an ISO 8601 date-time")
    refused(write(tmp_path, "b.json", cdx([LIB], metadata=[1])),
            "metadata must be an object, not list")
    refused(write(tmp_path, "c.json", cdx({"name": "x"})), "components must be an array")
    refused(write(tmp_path, "d.json", cdx([LIB], metadata={"component": {"type": "device"}})),
            "metadata.component: no name")
    subject = {"type": "device", "name": "gw", "bom-ref": "lib-1"}
    refused(write(tmp_path, "e.json", cdx([LIB], metadata={"component": subject})),
            "components[0]: bom-ref 'lib-1' is already used by metadata.component")


def test_components_nested_too_deep_are_refused(tmp_path: Path):
    nested: dict = {"type": "library", "name": "leaf"}
    for level in range(70):
        nested = {"type": "library", "name": f"level{level}", "components": [nested]}
    message = refused(write(tmp_path, "deep.json", cdx([nested])), "nested more than 64 deep")
    assert message.count("components[0]") < 10  # the location is cut, not 65 levels long


CDX_XML = ('<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">'
           "<components>{}</components></bom>")


@pytest.mark.parametrize(("component", "fragments"), [
    ('<component type="library" bom-ref="x"><name>a</name><purl>pkg:/nope</purl></component>',
     ("components[0] (bom-ref 'x'): invalid purl 'pkg:/nope'",)),
    ('<component type="library"><version>1</version></component>', ("components[0]: no name",)),
    ('<component type="library"><name>  </name></component>', ("components[0]: empty name",)),
    ('<component><name>a</name></component>', ("components[0]: no type",)),
    ('<component type="library"><name>a</name><components><component type="library">'
     '<name>b</name><cpe>cpe:2.3:x</cpe></component></components></component>',
     ("components[0].components[0]: invalid CPE",)),
])
def test_a_bad_cyclonedx_xml_component_refuses_the_file(tmp_path: Path, component, fragments):
    refused(write(tmp_path, "bad.cdx.xml", CDX_XML.format(component)), *fragments)


@pytest.mark.parametrize(("packages", "fragments"), [
    ([package("SPDXRef-a", externalRefs=[{
        "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
        "referenceLocator": "pkg:generic"}])],
     ("package 'SPDXRef-a': invalid purl 'pkg:generic'",)),
    ([package("SPDXRef-a", externalRefs=[{
        "referenceCategory": "SECURITY", "referenceType": "cpe23Type",
        "referenceLocator": "cpe:2.3:a:broken"}])],
     ("package 'SPDXRef-a': invalid CPE 'cpe:2.3:a:broken'",)),
    ([package("SPDXRef-a", externalRefs=[{
        "referenceCategory": "SECURITY", "referenceType": "cpe22Type",
        "referenceLocator": "cpe:/a:x:y:%zz"}])],
     ("package 'SPDXRef-a': invalid CPE",)),
    ([package("SPDXRef-a"), package("SPDXRef-b", name=None)], ("package 'SPDXRef-b': no name",)),
    ([package("SPDXRef-a", name="")], ("package 'SPDXRef-a': empty name",)),
    ([{"name": "x"}], ("packages[0]: no SPDXID",)),
    (["x"], ("packages[0]: not an object",)),
    ([package("SPDXRef-a", externalRefs="pkg:generic/x")], ("externalRefs must be an array",)),
    ([package("SPDXRef-a"), package("SPDXRef-a", name="again")],
     ("package 'SPDXRef-a': SPDXID used twice",)),
    ([package("SPDXRef-a"), package("SPDXRef-b", supplier="Acme")],
     ("package 'SPDXRef-b': Error while parsing Package: Actor Acme doesn't match",)),
    ([package("SPDXRef-a", primaryPackagePurpose="GADGET")],
     ("package 'SPDXRef-a':", "Invalid PrimaryPackagePurpose: GADGET")),
    ([package("SPDXRef-a", versionInfo=5)],
     ("package 'SPDXRef-a':", "Package version is missing or has the wrong type")),
    ([package("SPDXRef-a", externalRefs=[{"referenceCategory": "SECURITY"}])],
     ("package 'SPDXRef-a':", "reference_type is missing or has the wrong type")),
    ([package("SPDXRef-a", checksums="x")], ("package 'SPDXRef-a':", "AttributeError")),
    ([package("SPDXRef-a", hasFiles="SPDXRef-f")],
     ("package 'SPDXRef-a': hasFiles must be an array of SPDXIDs",)),
    ([package("SPDXRef-a", licenseConcluded="MIT AND (")],
     ("package 'SPDXRef-a':", "MIT AND (")),
    ([package("SPDXRef-a", name="x" * 5000)], ("name is 5000 characters long",)),
])
def test_a_bad_spdx_json_package_refuses_the_file_naming_it(tmp_path: Path, packages,
                                                             fragments):
    refused(write(tmp_path, "bad.spdx.json", spdx(packages)), *fragments)


def test_bad_spdx_json_documents_are_refused(tmp_path: Path):
    no_info = json.loads(spdx([package("SPDXRef-a")]))
    del no_info["creationInfo"]
    refused(write(tmp_path, "a.json", json.dumps(no_info)),
            "not a valid SPDX 2.3 document", "CreationInfo does not exist")
    refused(write(tmp_path, "b.json", spdx("everything")), "packages must be an array")
    refused(write(tmp_path, "c.json", spdx([], relationships=[5])),
            "relationships[0]: not an object")
    bad_time = json.loads(spdx([]))
    bad_time["creationInfo"]["created"] = "yesterday"
    refused(write(tmp_path, "d.json", json.dumps(bad_time)), "yesterday")


def _tv_package(spdx_id: str, *lines: str, name: str = "lib") -> str:
    return (f"PackageName: {name}\nSPDXID: {spdx_id}\nPackageVersion: 1.0\n"
            "PackageDownloadLocation: NOASSERTION\nFilesAnalyzed: false\n"
            + "".join(line + "\n" for line in lines) + "\n")


@pytest.mark.parametrize(("body", "fragments"), [
    (_tv_package("SPDXRef-a", "ExternalRef: PACKAGE-MANAGER purl pkg:nonsense"),
     ("package 'SPDXRef-a': invalid purl 'pkg:nonsense'",)),
    (_tv_package("SPDXRef-a", "ExternalRef: SECURITY cpe23Type cpe:2.3:a:bad"),
     ("package 'SPDXRef-a': invalid CPE",)),
    (_tv_package("SPDXRef-a", "ExternalRef: SECURTY cpe23Type cpe:2.3:a:b:c:1:*:*:*:*:*:*:*"),
     ("not a valid SPDX 2.3 document", "SECURTY", "Line: 14")),
    ("PackageName:\nSPDXID: SPDXRef-a\nPackageDownloadLocation: NOASSERTION\n",
     ("not a valid SPDX 2.3 document", "PackageName", "Line: 9")),
    ("Bogus: tag\n", ("not a valid SPDX 2.3 document", "Unknown tag")),
    (_tv_package("SPDXRef-a", "PackageLicenseConcluded: MIT AND ("),
     ("not a valid SPDX 2.3 document", "Error while parsing license expression: MIT AND (")),
    (_tv_package("SPDXRef-a") + _tv_package("SPDXRef-a", name="again"),
     ("package 'SPDXRef-a': SPDXID used twice",)),
])
def test_a_bad_tag_value_document_is_refused_naming_the_record(tmp_path: Path, body,
                                                                fragments):
    refused(write(tmp_path, "bad.spdx", tag_value(body=body)), *fragments)


def test_a_good_document_still_reads_after_refusals(tmp_path: Path):
    """Refusals leave no state behind (the tag-value parser is built per document)."""
    refused(write(tmp_path, "bad.spdx", tag_value(body="Bogus: tag\n")), "Unknown tag")
    assert read_sbom(DATA / "camera-spdx-2.3.spdx").components


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _replaced(doc, path, value):
    if not path:
        return value
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


@pytest.mark.parametrize("name", ["camera-cdx-1.5.json", "camera-spdx-2.3.json"])
def test_any_field_of_any_json_type_gives_an_sbom_or_one_sbom_error(name: str):
    """Every value in a good document replaced in turn by values of each JSON type: the
    result is an ``Sbom`` or an ``SbomError`` -- never another exception."""
    base = json.loads((DATA / name).read_text(encoding="utf-8"))
    for path in list(_paths(base)):
        for value in (None, 7, "", [], {}, ["x"]):
            doc = _replaced(json.loads(json.dumps(base)), path, value)
            try:
                parse_sbom(json.dumps(doc).encode(), source="mutant")
            except SbomError as exc:
                assert "\n" not in str(exc), (path, value)
