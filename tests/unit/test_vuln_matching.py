"""The matching core: the labelled corpus (the regression gate) and focused unit tests.

Each ``vuln_corpus/*.json`` file is a list of cases ``{name, component, [platform],
vulnerability, expected, [undecided], [reason], why}``. ``vulnerability`` is an NVD CVE
JSON 2.0 record (``{"cve": {...}}``) or an OSV record; an OSV record may also carry
``nvd_configurations`` (a record merged from both feeds). The small converter below
stands in for the feed adapters so these tests need nothing but the domain.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.domain import versions
from fleetwarden.domain.cpe import (
    ANY,
    MAX_CPE_LENGTH,
    NA,
    abbreviate,
    cpe_matches,
    format_cpe,
    has_wildcard,
    parse_cpe,
    quote,
    unquote,
    value_matches,
    with_version,
)
from fleetwarden.domain.versions import IncomparableVersion, compare, scheme_for, sort_key
from fleetwarden.domain.vulnmatch import (
    Basis,
    CpeIndex,
    VulnIndex,
    assess_component,
    match_component,
    match_cpe_config,
    match_osv,
)
from fleetwarden.domain.vulns import (
    ConfigNode,
    Configuration,
    Cpe,
    CpeMatch,
    FeedSource,
    OsvAffected,
    OsvEvent,
    OsvRange,
    SbomComponent,
    Vulnerability,
)
from fleetwarden.errors import InputError

CORPUS = Path(__file__).parent / "vuln_corpus"


# --- converting the corpus' feed shapes into domain values ----------------------------


def _configurations(raw: list[dict[str, Any]]) -> tuple[Configuration, ...]:
    return tuple(
        Configuration(
            nodes=tuple(
                ConfigNode(
                    operator=n.get("operator", "OR"),
                    negate=n.get("negate", False),
                    matches=tuple(
                        CpeMatch(
                            criteria=parse_cpe(m["criteria"]),
                            vulnerable=m["vulnerable"],
                            version_start_including=m.get("versionStartIncluding"),
                            version_start_excluding=m.get("versionStartExcluding"),
                            version_end_including=m.get("versionEndIncluding"),
                            version_end_excluding=m.get("versionEndExcluding"),
                        )
                        for m in n["cpeMatch"]
                    ),
                )
                for n in c["nodes"]
            ),
            operator=c.get("operator", "OR"),
            negate=c.get("negate", False),
        )
        for c in raw
    )


def _events(raw: list[dict[str, str]]) -> tuple[OsvEvent, ...]:
    return tuple(OsvEvent(kind, value) for e in raw for kind, value in e.items())


def to_vulnerability(doc: dict[str, Any]) -> Vulnerability:
    if "cve" in doc:
        cve = doc["cve"]
        rejected = cve.get("vulnStatus") == "Rejected"
        return Vulnerability(
            id=cve["id"], source=FeedSource.NVD,
            withdrawn=datetime(2024, 1, 1, tzinfo=UTC) if rejected else None,
            configurations=_configurations(cve.get("configurations", [])))
    affected = tuple(
        OsvAffected(
            ecosystem=a["package"]["ecosystem"], name=a["package"]["name"],
            purl=a["package"].get("purl"),
            ranges=tuple(OsvRange(r["type"], _events(r["events"])) for r in a.get("ranges", [])),
            versions=tuple(a.get("versions", ())))
        for a in doc.get("affected", [])
    )
    withdrawn = doc.get("withdrawn")
    return Vulnerability(
        id=doc["id"], source=FeedSource.OSV, aliases=tuple(doc.get("aliases", ())),
        withdrawn=datetime.fromisoformat(withdrawn.replace("Z", "+00:00")) if withdrawn else None,
        affected=affected,
        configurations=_configurations(doc.get("nvd_configurations", [])))


def _load_corpus() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.json")):
        for case in json.loads(path.read_text()):
            case["file"] = path.name
            cases.append(case)
    return cases


CASES = _load_corpus()


def test_corpus_is_big_enough_and_labelled_both_ways() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert len(CASES) >= 80
    assert sum(c["expected"] for c in CASES) >= 30
    assert sum(not c["expected"] for c in CASES) >= 30
    for c in CASES:
        assert set(c) >= {"name", "component", "vulnerability", "expected", "why"}, c["name"]
        assert c["why"].strip(), c["name"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    component = SbomComponent(**case["component"])
    vuln = to_vulnerability(case["vulnerability"])
    platform = [parse_cpe(p) for p in case.get("platform", ())]

    result = assess_component(component, vuln, platform)
    detail = (f"{case['why']} | reasons={result.match.reasons if result.match else None} "
              f"undecided={result.undecided}")
    assert (result.match is not None) is case["expected"], detail
    if case.get("undecided"):
        assert result.undecided, detail
    if case.get("reason"):
        assert result.match is not None and case["reason"] in result.match.reasons, detail
    assert (match_component(component, vuln, platform) is not None) is case["expected"]

    # The index must agree: candidates may be a superset, never drop a true match.
    index = VulnIndex.build([vuln])
    assert bool(index.match(component, CpeIndex(platform))) is case["expected"], detail
    if case["expected"]:
        assert index.candidates(component) == (vuln,)
    if case.get("undecided"):
        assert any(a.undecided for a in index.assess(component, platform)) or \
            not index.candidates(component)
    # A verdict said not to depend on the platform must hold without it (matching caches
    # such components once for every firmware image).
    if index.platform_free(component):
        assert bool(index.match(component)) is case["expected"], detail


# --- cpe.py -------------------------------------------------------------------------


def test_parse_formatted_string() -> None:
    cpe = parse_cpe("cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*")
    assert cpe == Cpe("a", "openssl", "openssl", "1.0.2k")
    assert format_cpe(cpe) == "cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*"
    assert abbreviate(cpe) == "cpe:2.3:a:openssl:openssl:1.0.2k"
    assert abbreviate(Cpe("a", "openssl", "openssl")) == "cpe:2.3:a:openssl:openssl:*"


def test_parse_escaped_colon_and_other_quoting() -> None:
    cpe = parse_cpe(r"cpe:2.3:a:acme\:labs:web\!ui:1.0\:beta:-:*:*:*:*:*:*")
    assert cpe.vendor == r"acme\:labs"
    assert cpe.product == r"web\!ui"
    assert cpe.version == r"1.0\:beta"
    assert cpe.update == NA
    assert unquote(cpe.version) == "1.0:beta"
    assert parse_cpe(format_cpe(cpe)) == cpe
    # quoting that is optional in SBOMs gives the same canonical value
    assert parse_cpe("cpe:2.3:o:hikvision:ds-2cd2026g2-iu/sl_firmware:*:*:*:*:*:*:*:*") == \
        parse_cpe(r"cpe:2.3:o:hikvision:ds-2cd2026g2-iu\/sl_firmware:*:*:*:*:*:*:*:*")
    assert parse_cpe(r"cpe:2.3:a:acme:a\.b\_c:*:*:*:*:*:*:*:*").product == "a.b_c"


def test_parse_lower_cases() -> None:
    assert parse_cpe("CPE:2.3:A:OpenSSL:OpenSSL:1.0.2K:*:*:*:*:*:*:*") == \
        Cpe("a", "openssl", "openssl", "1.0.2k")


def test_parse_cpe22_uri() -> None:
    assert parse_cpe("cpe:/a:openssl:openssl:1.0.2k") == Cpe("a", "openssl", "openssl", "1.0.2k")
    assert parse_cpe("cpe:/o:linux:linux_kernel") == Cpe("o", "linux", "linux_kernel")
    cpe = parse_cpe("cpe:/a:acme:tool%21x:2.0:-:~pro~ent~android~arm~x:en")
    assert cpe == Cpe("a", "acme", r"tool\!x", "2.0", NA, "pro", "en", "ent", "android",
                      "arm", "x")
    assert parse_cpe("cpe:/a:acme:tool:1.%02") .version == "1.*"
    assert parse_cpe("cpe:/h:acme:cam::") == Cpe("h", "acme", "cam")


@pytest.mark.parametrize("bad", [
    "",
    "openssl",
    "cpe:2.3:a:openssl:openssl:1.0.2k",
    "cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*:*",
    "cpe:2.3:x:openssl:openssl:1.0.2k:*:*:*:*:*:*:*",
    "cpe:2.3:a:open ssl:openssl:1.0.2k:*:*:*:*:*:*:*",
    "cpe:2.3:a:openssl:openssl:1.0.2k\\:*:*:*:*:*:*",
    "cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:\\",
    "cpe:2.3:a:openssl::1.0.2k:*:*:*:*:*:*:*",
    "cpe:2.3:a:open*ssl:openssl:1.0.2k:*:*:*:*:*:*:*",
    "cpe:2.3:a:openssl:openssl:**1.0:*:*:*:*:*:*:*",
    "cpe:2.3:a:openssl:openssl:1.0.2\u00e9:*:*:*:*:*:*:*",
    "cpe:/a:openssl:openssl:1.0:a:b:c:d",
    "cpe:/a:openssl:openssl:1.0%zz",
    "cpe:/a:acme:tool:1.0::~a~b~c",
    "cpe:2.3:a:acme:" + "x" * MAX_CPE_LENGTH + ":*:*:*:*:*:*:*:*",
])
def test_malformed_cpe_is_refused_naming_the_value(bad: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_cpe(bad)
    assert "CPE" in str(exc.value)
    assert repr(bad[:20])[1:-1][:10] in str(exc.value)
    assert len(str(exc.value)) < 300


def test_wildcards_only_at_the_ends() -> None:
    assert parse_cpe("cpe:2.3:a:acme:agent:1.2.*:*:*:*:*:*:*:*").version == "1.2.*"
    assert parse_cpe("cpe:2.3:a:acme:agent:??.1:*:*:*:*:*:*:*").version == "??.1"
    assert parse_cpe(r"cpe:2.3:a:acme:agent:1\*2:*:*:*:*:*:*:*").version == r"1\*2"
    assert has_wildcard("1.2.*") and not has_wildcard(r"1\*") and not has_wildcard(ANY)
    assert value_matches("1.2.*", "1.2.7") and not value_matches("1.2.*", "1.3")
    assert value_matches("??.1", "10.1") and not value_matches("??.1", "1.1")
    assert not value_matches(r"1\*", "12")


def test_attribute_matching_any_and_na() -> None:
    assert value_matches(ANY, "x") and value_matches(ANY, NA) and value_matches(ANY, ANY)
    assert value_matches(NA, NA) and not value_matches(NA, "x")
    assert value_matches("x", ANY)  # not stated by the component: covered
    assert not value_matches("x", NA) and not value_matches("x", "y")


def test_cpe_matches_requires_vendor_and_product() -> None:
    criteria = parse_cpe("cpe:2.3:a:apple:cups:*:*:*:*:*:*:*:*")
    assert cpe_matches(criteria, parse_cpe("cpe:2.3:a:apple:cups:2.2:*:*:*:*:*:*:*"))
    assert not cpe_matches(criteria, parse_cpe("cpe:2.3:a:openprinting:cups:2.2:*:*:*:*:*:*:*"))
    assert not cpe_matches(criteria, parse_cpe("cpe:2.3:o:apple:cups:2.2:*:*:*:*:*:*:*"))
    any_vendor = parse_cpe("cpe:2.3:a:*:cups:*:*:*:*:*:*:*:*")
    assert not cpe_matches(any_vendor, parse_cpe("cpe:2.3:a:apple:cups:2.2:*:*:*:*:*:*:*"))
    wild_vendor = parse_cpe("cpe:2.3:a:app*:cups:*:*:*:*:*:*:*:*")
    assert not cpe_matches(wild_vendor, parse_cpe("cpe:2.3:a:apple:cups:2.2:*:*:*:*:*:*:*"))


def test_update_any_beside_a_version_means_the_release() -> None:
    beta = parse_cpe("cpe:2.3:a:openssl:openssl:1.0.2:beta1:*:*:*:*:*:*")
    assert not cpe_matches(beta, parse_cpe("cpe:2.3:a:openssl:openssl:1.0.2:*:*:*:*:*:*:*"))
    assert cpe_matches(beta, parse_cpe("cpe:2.3:a:openssl:openssl:1.0.2:beta1:*:*:*:*:*:*"))


def test_quote_and_with_version() -> None:
    assert quote("V5.5.0 build 170301") == "v5.5.0_build_170301"
    assert quote("1.0(1)") == r"1.0\(1\)" and unquote(quote("1.0(1)")) == "1.0(1)"
    assert quote("1.*") == r"1.\*"
    cpe = parse_cpe("cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*")
    assert with_version(cpe, "1.36.1").version == "1.36.1"
    assert with_version(cpe, None) is cpe
    fixed = parse_cpe("cpe:2.3:a:busybox:busybox:1.19.4:*:*:*:*:*:*:*")
    assert with_version(fixed, "9.9") is fixed  # the CPE's own version wins


# --- versions.py ----------------------------------------------------------------------

ORDERED = [
    # (older, newer, scheme)
    ("1.0.2", "1.0.2a", "generic"),
    ("1.0.2k", "1.0.2zd", "generic"),
    ("1.0.2z", "1.0.2za", "generic"),
    ("1.0.2zd", "1.1.0", "generic"),
    ("1.1.1n", "3.0.0", "generic"),
    ("2019.78", "2020.81", "generic"),
    ("1.4.45", "1.4.100", "generic"),
    ("1.9.2", "1.36.0", "generic"),
    ("1.19.4", "1.36.1", "generic"),
    ("4.9.37", "4.14.0", "generic"),
    ("1.2.0-rc1", "1.2.0", "generic"),
    ("2.0.0-beta", "2.0.0-beta.2", "generic"),
    ("2.0.0-beta.2", "2.0.0", "generic"),
    ("2.0alpha", "2.0beta", "generic"),
    ("2.0beta", "2.0", "generic"),
    ("1.0a1", "1.0", "generic"),
    ("1.0b2", "1.0", "generic"),
    ("1.0rc1", "1.0", "generic"),
    ("1.0a1", "1.0b2", "generic"),
    ("1.0b2", "1.0rc1", "generic"),
    ("V5.5.0 build 170301", "V5.5.53 build 180130", "generic"),
    ("V5.5.53 build 180130", "V5.7.3 build 220112", "generic"),
    ("V5.5.0", "V5.5.0 build 170301", "generic"),
    ("V5.5.0 build 170301", "V5.5.0 build 180101", "generic"),
    ("2.3.1", "2.3.1-p1", "generic"),
    ("2.3.1-p1", "2.3.1-p2", "generic"),
    ("7.4p1", "7.5", "generic"),
    ("8u151", "8u152", "generic"),
    ("1.2.3", "1.2.3.1", "generic"),
    ("1_2_3", "1_2_4", "generic"),
    ("1.0a1", "1.0b2", "pypi"),
    ("1.0b2", "1.0rc1", "pypi"),
    ("1.0rc1", "1.0", "pypi"),
    ("1.0", "1.0.post1", "pypi"),
    ("1.2.0-rc1", "1.2.0", "npm"),
    ("2.0.0-beta", "2.0.0-beta.2", "semver"),
    ("2.0.0-beta.2", "2.0.0", "semver"),
    ("2.0-beta9", "2.0", "maven"),
    ("2.14.1", "2.15.0", "maven"),
    ("3.0.11-1~deb12u1", "3.0.11-1~deb12u2", "deb"),
    ("1:1.0", "2:0.1", "deb"),
    ("1.0~rc1", "1.0", "deb"),
    ("1.36.1-r1", "1.36.1-r2", "apk"),
    ("1.1.1k-7.el8", "1.1.1k-8.el8", "rpm"),
    ("v0.5.0", "v0.7.0", "golang"),
    ("1.0.0.pre", "1.0.0", "gem"),
    ("1.0.0-beta", "1.0.0", "nuget"),
    ("0.9.9", "0.10.0", "cargo"),
    ("2.3.4", "2.10.0", "composer"),
]


@pytest.mark.parametrize(("older", "newer", "scheme"), ORDERED,
                         ids=[f"{s}:{a}<{b}" for a, b, s in ORDERED])
def test_version_order(older: str, newer: str, scheme: str) -> None:
    assert compare(older, newer, scheme) == -1
    assert compare(newer, older, scheme) == 1
    assert compare(older, older, scheme) == 0


@pytest.mark.parametrize(("a", "b"), [
    ("2019.78", "2019.78"), ("1.0", "1.0.0"), ("v1.2.3", "1.2.3"), ("V1.2.3", "1.2.3"),
    ("1_2_3", "1.2.3"), ("1.2.3-p1", "1.2.3_p1"), ("1.0.2K", "1.0.2k"),
    ("V5.5.0 build 170301", "v5.5.0_build_170301"), ("4.14", "4.14.0"),
    ("1.0-final", "1.0"),
])
def test_generic_equal(a: str, b: str) -> None:
    assert compare(a, b) == 0


def test_sort_key_sorts_openssl_releases() -> None:
    shuffled = ["1.1.0", "1.0.2zd", "1.0.2", "1.0.2k", "3.0.0", "1.0.2a", "1.0.2za", "1.0.2z"]
    assert sorted(shuffled, key=sort_key) == [
        "1.0.2", "1.0.2a", "1.0.2k", "1.0.2z", "1.0.2za", "1.0.2zd", "1.1.0", "3.0.0"]


@pytest.mark.parametrize(("version", "scheme"), [
    ("", "generic"), ("*", "generic"), ("-", "generic"), ("latest", "generic"),
    ("build-latest", "generic"), ("x" * 200, "generic"), ("1." * 40, "generic"),
    ("1.2\n3", "generic"), ("not a version!", "pypi"), ("abc", "deb"), ("zz", "apk"),
    ("abc", "semver"),
])
def test_unparseable_versions_do_not_crash(version: str, scheme: str) -> None:
    assert versions.try_parse(version, scheme) is None
    with pytest.raises(IncomparableVersion) as exc:
        compare(version, "1.0", scheme)
    assert isinstance(exc.value, InputError)
    assert scheme in str(exc.value)


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(InputError):
        compare("1.0", "2.0", "cobol")


def test_scheme_for_ecosystems_and_purl_types() -> None:
    assert scheme_for("PyPI") == "pypi"
    assert scheme_for("Debian:12") == "deb"
    assert scheme_for("Ubuntu:22.04:LTS") == "deb"
    assert scheme_for("Alpine:v3.18") == "apk"
    assert scheme_for("Go") == "golang"
    assert scheme_for("crates.io") == "cargo"
    assert scheme_for("Packagist") == "composer"
    assert scheme_for("Red Hat") == "rpm"
    assert scheme_for("generic") == "generic"
    assert scheme_for("Linux") == "generic"


# --- domain/vulnmatch ---------------------------------------------------------------------

FIRMWARE = parse_cpe("cpe:2.3:o:hikvision:ds-2cd2xx_firmware:v5.5.0_build_170301:*:*:*:*:*:*:*")
HARDWARE = parse_cpe("cpe:2.3:h:hikvision:ds-2cd2142fwd-i:-:*:*:*:*:*:*:*")
HIKVISION = (Configuration(operator="AND", nodes=(
    ConfigNode("OR", matches=(CpeMatch(
        parse_cpe("cpe:2.3:o:hikvision:ds-2cd2xx_firmware:*:*:*:*:*:*:*:*"),
        version_end_excluding="V5.5.53 build 180130"),)),
    ConfigNode("OR", matches=(CpeMatch(HARDWARE, vulnerable=False),)),
)),)


def test_match_cpe_config_reports_only_vulnerable_entries() -> None:
    result = match_cpe_config(HIKVISION, [FIRMWARE, HARDWARE])
    assert result is not None
    assert result.affected == (FIRMWARE,)
    assert result.hits[0].reasons == (
        "cpe:2.3:o:hikvision:ds-2cd2xx_firmware:*: versionEndExcluding V5.5.53 build 180130, "
        "component v5.5.0_build_170301",)
    assert any("ds-2cd2142fwd-i" in r for r in result.platform_reasons)
    assert match_cpe_config(HIKVISION, [FIRMWARE]) is None
    assert match_cpe_config(HIKVISION, [HARDWARE]) is None
    assert match_cpe_config(HIKVISION, CpeIndex([FIRMWARE, HARDWARE])) == result


def test_openssl_reason_text() -> None:
    config = (Configuration(nodes=(ConfigNode("OR", matches=(CpeMatch(
        parse_cpe("cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*"),
        version_end_excluding="1.0.2zd"),)),)),)
    result = match_cpe_config(config, [parse_cpe("cpe:/a:openssl:openssl:1.0.2k")])
    assert result is not None
    assert result.reasons == (
        "cpe:2.3:a:openssl:openssl:*: versionEndExcluding 1.0.2zd, component 1.0.2k",)


def test_match_osv_by_name_and_by_purl() -> None:
    affected = (OsvAffected("PyPI", "jinja2", ranges=(OsvRange("ECOSYSTEM", (
        OsvEvent("introduced", "0"), OsvEvent("fixed", "2.11.3"))),)),)
    by_name = match_osv(affected, "Jinja2", "PyPI", "2.10")
    assert by_name is not None
    assert by_name.reasons == ("PyPI:jinja2 introduced 0 fixed 2.11.3, component 2.10",)
    assert match_osv(affected, "pkg:pypi/jinja2@2.10") == by_name
    assert match_osv(affected, "pkg:pypi/jinja2@2.10?foo=bar#sub") is not None
    assert match_osv(affected, "pkg:pypi/jinja2", version="2.11.3") is None
    assert match_osv(affected, "jinja2", "npm", "2.10") is None
    with pytest.raises(InputError):
        match_osv(affected, "jinja2", None, "2.10")
    with pytest.raises(InputError):
        match_osv(affected, "pkg:", None, "2.10")


def test_osv_limit_star_means_no_limit() -> None:
    affected = (OsvAffected("PyPI", "x", ranges=(OsvRange("ECOSYSTEM", (
        OsvEvent("introduced", "1.0"), OsvEvent("limit", "*"))),)),)
    assert match_osv(affected, "x", "PyPI", "99.0") is not None


def test_withdrawn_never_matches_and_is_not_indexed() -> None:
    vuln = Vulnerability("CVE-TEST-1", FeedSource.NVD, withdrawn=datetime(2024, 1, 1, tzinfo=UTC),
                         configurations=HIKVISION)
    component = SbomComponent("fw", cpe=format_cpe(FIRMWARE))
    assert match_component(component, vuln, [HARDWARE]) is None
    index = VulnIndex.build([vuln])
    assert len(index) == 0 and index.candidates(component) == ()


def test_match_component_basis_and_cpes() -> None:
    vuln = Vulnerability("CVE-TEST-2", FeedSource.NVD, configurations=HIKVISION)
    component = SbomComponent("fw", version="V5.5.0 build 170301",
                              cpe="cpe:2.3:o:hikvision:ds-2cd2xx_firmware:*:*:*:*:*:*:*:*")
    match = match_component(component, vuln, [HARDWARE])
    assert match is not None
    assert match.basis is Basis.CPE and match.vulnerability_id == "CVE-TEST-2"
    assert match.cpes == (FIRMWARE,)
    assert any(r.startswith("platform ") for r in match.reasons)


def _nvd(vid: str, product: str, **bounds: str) -> Vulnerability:
    return Vulnerability(vid, FeedSource.NVD, configurations=(Configuration(nodes=(ConfigNode(
        "OR", matches=(CpeMatch(parse_cpe(f"cpe:2.3:a:acme:{product}:*:*:*:*:*:*:*:*"),
                                **bounds),)),)),))


def test_index_candidates_narrow_by_product_and_version() -> None:
    vulns = [
        _nvd("V1", "lib", version_end_excluding="1.5"),
        _nvd("V2", "lib", version_start_including="1.5", version_end_including="2.0"),
        _nvd("V3", "lib", version_start_excluding="2.0"),
        _nvd("V4", "other"),
        _nvd("V5", "lib", version_end_excluding="not-a-version"),
        Vulnerability("V6", FeedSource.NVD, configurations=(Configuration(nodes=(ConfigNode(
            "OR", matches=(CpeMatch(parse_cpe("cpe:2.3:a:acme:lib:1.5:*:*:*:*:*:*:*")),)),)),)),
    ]
    index = VulnIndex.build(vulns)

    def ids(version: str | None) -> list[str]:
        component = SbomComponent("lib", version, cpe="cpe:2.3:a:acme:lib:*:*:*:*:*:*:*:*")
        return [v.id for v in index.candidates(component)]

    assert ids("1.4") == ["V1", "V5"]
    assert ids("1.5") == ["V2", "V5", "V6"]
    assert ids("1.5.0") == ["V2", "V5", "V6"]
    assert ids("2.0") == ["V2", "V5"]
    assert ids("2.0.1") == ["V3", "V5"]
    assert ids("rolling") == ["V1", "V2", "V3", "V5", "V6"]  # cannot narrow: all, then decide
    assert ids(None) == ["V1", "V2", "V3", "V5", "V6"]

    component = SbomComponent("lib", "1.4", cpe="cpe:2.3:a:acme:lib:1.4:*:*:*:*:*:*:*")
    assessed = index.assess(component)
    assert [a.vulnerability_id for a in assessed] == ["V1", "V5"]
    assert assessed[0].match is not None
    assert assessed[1].match is None and "not-a-version" in assessed[1].undecided[0]
    assert [m.vulnerability_id for m in index.match(component)] == ["V1"]


def test_index_by_package() -> None:
    vuln = Vulnerability("GHSA-1", FeedSource.OSV, affected=(OsvAffected(
        "PyPI", "Jinja2", ranges=(OsvRange("ECOSYSTEM", (
            OsvEvent("introduced", "0"), OsvEvent("fixed", "2.11.3"))),)),))
    index = VulnIndex.build([vuln])
    assert index.candidates(SbomComponent("jinja2", purl="pkg:pypi/jinja2@2.10")) == (vuln,)
    assert index.candidates(SbomComponent("jinja2", purl="pkg:npm/jinja2@2.10")) == ()
    matches = index.match(SbomComponent("jinja2", purl="pkg:pypi/jinja2@2.10"))
    assert [m.basis for m in matches] == [Basis.PURL]


def test_index_agrees_with_full_evaluation_on_random_data() -> None:
    """The index's rank shortcut and candidate narrowing must give the same answers."""
    import random

    rnd = random.Random(20240605)
    letters = ["", "a", "k", "z", "zd", "-rc1", "-p1", " build 170301"]

    def version() -> str:
        return f"{rnd.randint(0, 3)}.{rnd.randint(0, 12)}{rnd.choice(letters)}"

    products = ["lib", "tool", "fw"]

    def entry(vulnerable: bool = True) -> CpeMatch:
        product = rnd.choice(products)
        kind = rnd.random()
        update = rnd.choice(["*", "*", "*", "-", "beta1"])
        if kind < 0.2:
            return CpeMatch(parse_cpe(f"cpe:2.3:a:acme:{product}:{quote(version())}:{update}"
                                      ":*:*:*:*:*:*"), vulnerable)
        if kind < 0.25:
            return CpeMatch(parse_cpe(f"cpe:2.3:a:acme:{product}:-:*:*:*:*:*:*:*"), vulnerable)
        crit = parse_cpe(f"cpe:2.3:a:acme:{product}:*:{update}:*:*:*:*:*:*")
        bounds: dict[str, str] = {}
        for name in rnd.sample(["version_start_including", "version_start_excluding",
                                "version_end_including", "version_end_excluding"],
                               rnd.randint(0, 2)):
            bounds[name] = rnd.choice([version(), version(), "rolling"])
        return CpeMatch(crit, vulnerable, **bounds)

    vulns = []
    for i in range(300):
        nodes = tuple(
            ConfigNode(rnd.choice(["OR", "OR", "AND"]), negate=rnd.random() < 0.1,
                       matches=tuple(entry(rnd.random() < 0.8) for _ in range(rnd.randint(1, 3))))
            for _ in range(rnd.randint(1, 2)))
        config = Configuration(nodes, operator=rnd.choice(["OR", "AND"]),
                               negate=rnd.random() < 0.03)
        vulns.append(Vulnerability(f"V{i}", FeedSource.NVD, configurations=(config,)))
    index = VulnIndex.build(vulns)
    checked = matched = 0
    for _ in range(200):
        product = rnd.choice(products)
        v = rnd.choice([version(), version(), version(), "rolling", None])
        update = rnd.choice(["*", "*", "beta1"])
        component = SbomComponent(product, v, cpe=f"cpe:2.3:a:acme:{product}:*:{update}:*:*:*:*:*:*")
        platform = CpeIndex([parse_cpe(f"cpe:2.3:a:acme:{p}:{quote(version())}:*:*:*:*:*:*:*")
                             for p in rnd.sample(products, 2)])
        full = [assess_component(component, vuln, platform) for vuln in vulns]
        expected = {a.vulnerability_id: a.match for a in full if a.match is not None}
        got = {m.vulnerability_id: m for m in index.match(component, platform)}
        assert got.keys() == expected.keys(), component
        for vid, m in got.items():
            assert m.cpes == expected[vid].cpes
            assert set(m.reasons) <= set(expected[vid].reasons)
        undecided = {a.vulnerability_id for a in index.assess(component, platform)
                     if a.undecided}
        assert undecided == {a.vulnerability_id for a in full if a.undecided}, component
        checked += 1
        matched += len(got)
    assert checked == 200 and matched > 50
