"""The fingerprint engine: how evidence combines, who wins, and that device text stays inert."""

from __future__ import annotations

import re

import pytest

from fleetwarden.domain.discovery import (
    MAX_TEXT,
    Field,
    HostObservation,
    ServiceObservation,
    Source,
)
from fleetwarden.domain.fingerprint import (
    MAX_MATCHED,
    MAX_VALUE,
    OUI_CERTAINTY,
    OUI_UNKNOWN_CERTAINTY,
    Attribute,
    Example,
    Fingerprint,
    Rule,
    canonical_vendor,
    conclude,
    example_problems,
    fingerprint,
    vendor_key,
)

A = Attribute


def rule(rule_id: str, field: Field | tuple[Field, ...], pattern: str, certainty: float = 0.5,
         **conclusions: str) -> Rule:
    fields = field if isinstance(field, tuple) else (field,)
    return Rule(rule_id, fields, re.compile(pattern), {A(k): v for k, v in conclusions.items()},
                certainty)


def host(*services: ServiceObservation, source: Source = Source.ACTIVE, mac: str | None = None,
         **fields: str) -> HostObservation:
    return HostObservation(source, "2025-01-01T00:00:00Z", ip="192.0.2.10", mac=mac,
                           services=services, fields=fields)


def http(port: int = 80, service: str = "http", **fields: str) -> ServiceObservation:
    return ServiceObservation(port, "tcp", service,
                              fields={k.replace("_", "."): v for k, v in fields.items()})


def certainty_of(fp: Fingerprint, attribute: Attribute) -> float:
    return fp.certainties[attribute]


# ------------------------------------------------------------------ combination
def test_independent_rules_combine_with_a_noisy_or():
    rules = [rule("one", Field.HTTP_SERVER, "^Acme", 0.5, vendor="Acme"),
             rule("two", Field.HTTP_TITLE, "Acme", 0.6, vendor="Acme")]
    fp = fingerprint([host(http(http_server="Acme/1", http_title="Acme cam"))], rules)
    assert fp.vendor == "Acme"
    assert certainty_of(fp, A.VENDOR) == pytest.approx(1 - 0.5 * 0.4)


def test_a_rule_counts_once_however_often_it_matches():
    """The same banner seen on two ports and by two sources is one witness, not four."""
    rules = [rule("one", Field.HTTP_SERVER, "^Acme", 0.5, vendor="Acme")]
    seen = [host(http(80, http_server="Acme/1"), http(8080, http_server="Acme/1")),
            host(http(80, http_server="Acme/1"), source=Source.PCAP)]
    fp = fingerprint(seen, rules)
    assert certainty_of(fp, A.VENDOR) == pytest.approx(0.5)
    # ... but every sighting is kept as evidence, with where it came from
    assert {e.source for e in fp.evidence} == {
        "active:http.server@80/tcp", "active:http.server@8080/tcp", "pcap:http.server@80/tcp"}


def test_values_differing_only_in_case_or_spacing_are_one_candidate():
    rules = [rule("one", Field.HTTP_SERVER, "(?P<v>.+)", 0.5, model="{v}"),
             rule("two", Field.HTTP_TITLE, "(?P<v>.+)", 0.6, model="{v}")]
    fp = fingerprint([host(http(http_server="ds-2cd  2143", http_title="DS-2CD 2143"))], rules)
    assert fp.model == "DS-2CD 2143"  # the spelling of the most certain evidence
    assert certainty_of(fp, A.MODEL) == pytest.approx(0.8)


def test_every_candidate_is_kept_as_evidence_not_only_the_winner():
    rules = [rule("strong", Field.HTTP_SERVER, "x", 0.9, vendor="Winner"),
             rule("weak", Field.HTTP_TITLE, "y", 0.2, vendor="Loser")]
    fp = fingerprint([host(http(http_server="x", http_title="y"))], rules)
    assert fp.vendor == "Winner"
    assert [(e.value, e.rule, e.certainty, e.matched) for e in fp.evidence] == [
        ("Winner", "strong", 0.9, "x"), ("Loser", "weak", 0.2, "y")]


def test_ties_go_to_more_witnesses_then_alphabetical_whatever_the_order():
    three = [rule("a", Field.HTTP_SERVER, "s", 0.5, device_type="nvr"),
             rule("b", Field.HTTP_TITLE, "t", 0.5, device_type="nvr"),
             rule("c", Field.HTTP_REALM, "r", 0.75, device_type="cctv_camera")]
    obs = [host(http(http_server="s", http_title="t", http_realm="r"))]
    fp = fingerprint(obs, three)
    assert certainty_of(fp, A.DEVICE_TYPE) == pytest.approx(0.75)
    assert fp.device_type == "nvr"  # 0.75 either way; two witnesses beat one

    even = [rule("a", Field.HTTP_SERVER, "s", 0.5, vendor="Zeta"),
            rule("b", Field.HTTP_TITLE, "t", 0.5, vendor="Alpha")]
    first = fingerprint(obs, even)
    assert first.vendor == "Alpha"
    reordered = fingerprint(list(reversed([host(http(http_server="s")),
                                           host(http(http_title="t"))])), list(reversed(even)))
    assert reordered == fingerprint([host(http(http_server="s")), host(http(http_title="t"))],
                                    even)
    assert reordered.vendor == "Alpha"


def test_confidence_is_the_mean_of_vendor_and_device_type_certainty():
    rules = [rule("v", Field.HTTP_SERVER, "x", 0.8, vendor="Acme"),
             rule("t", Field.HTTP_TITLE, "y", 0.4, device_type="printer"),
             rule("m", Field.HTTP_TITLE, "y", 0.9, model="P1")]
    both = fingerprint([host(http(http_server="x", http_title="y"))], rules)
    assert both.confidence == pytest.approx((0.8 + 0.4) / 2)
    vendor_only = fingerprint([host(http(http_server="x"))], rules)
    assert vendor_only.confidence == pytest.approx(0.4)
    assert fingerprint([host()], rules) == Fingerprint()


def test_overrides_win_with_certainty_one_and_are_kept_as_evidence():
    rules = [rule("v", Field.HTTP_SERVER, "x", 0.9, vendor="Acme", device_type="nvr"),
             rule("sw", Field.HTTP_SERVER, "x", 0.9, software="lighttpd 1.4")]
    fp = fingerprint([host(http(http_server="x"))], rules,
                     overrides={A.VENDOR: "Acme Security", A.SOFTWARE: "custom"})
    assert fp.vendor == "Acme Security"
    assert fp.device_type == "nvr"
    assert fp.software == ("custom",)
    assert certainty_of(fp, A.VENDOR) == 1.0
    assert fp.confidence == pytest.approx((1.0 + 0.9) / 2)
    override = [e for e in fp.evidence if e.rule == "override"]
    assert {(e.attribute, e.value, e.source, e.certainty) for e in override} == {
        (A.VENDOR, "Acme Security", "override", 1.0), (A.SOFTWARE, "custom", "override", 1.0)}
    assert any(e.value == "Acme" for e in fp.evidence)  # the overridden conclusion is kept


def test_overrides_are_plain_text_too():
    fp = fingerprint([], [], overrides={A.MODEL: "  X\x1b[31m  100\u202e "})
    assert fp.model == "X [31m 100"


def test_software_is_multi_valued_most_certain_first():
    rules = [rule("a", Field.SSH_BANNER, "OpenSSH_(?P<v>[0-9.p]{1,8})", 0.9,
                  software="OpenSSH {v}"),
             rule("b", Field.HTTP_SERVER, "^lighttpd", 0.8, software="lighttpd")]
    fp = fingerprint([host(http(http_server="lighttpd"),
                           ServiceObservation(22, "tcp", "ssh",
                                              fields={"ssh.banner": "SSH-2.0-OpenSSH_9.6p1"}))],
                     rules)
    assert fp.software == ("OpenSSH 9.6p1", "lighttpd")
    assert fp.value(A.SOFTWARE) == "OpenSSH 9.6p1, lighttpd"


# ------------------------------------------------------------------ OUI and aliases
ALIASES = {vendor_key("Hikvision"): "Hikvision",
           vendor_key("Hangzhou Hikvision Digital Technology"): "Hikvision",
           vendor_key("Microchip Technology"): ""}


def test_vendor_key_ignores_case_punctuation_and_corporate_suffixes():
    assert vendor_key("Hangzhou Hikvision Digital Technology Co.,Ltd.") \
        == vendor_key("HANGZHOU HIKVISION DIGITAL TECHNOLOGY") \
        == "hangzhou hikvision digital technology"
    assert vendor_key("SALTO SYSTEMS S.L.") == "salto systems"
    assert vendor_key("Landis+Gyr AG") == "landis+gyr"
    assert vendor_key("Inc.") == "inc"  # a name is never stripped to nothing
    assert canonical_vendor("Hangzhou Hikvision Digital Technology Co.,Ltd.", ALIASES) \
        == ("Hikvision", True)
    assert canonical_vendor("Microchip Technology Inc.", ALIASES) == (None, True)
    assert canonical_vendor("Acme", ALIASES) == ("Acme", False)


def test_the_oui_vendor_is_modest_evidence_normalised_through_the_aliases():
    banner = rule("hik", Field.HTTP_SERVER, "^App-webs/$", 0.85, vendor="HIKVISION")
    lookup = {"24:48:45:00:00:01": "Hangzhou Hikvision Digital Technology Co.,Ltd."}.get
    fp = fingerprint([host(http(http_server="App-webs/"), mac="24:48:45:00:00:01")], [banner],
                     mac_vendor=lookup, vendor_aliases=ALIASES)
    assert fp.vendor == "Hikvision"
    assert certainty_of(fp, A.VENDOR) == pytest.approx(1 - 0.15 * (1 - OUI_CERTAINTY))
    oui = next(e for e in fp.evidence if e.rule == "oui")
    assert (oui.source, oui.matched, oui.certainty) == (
        "active:mac.vendor", "Hangzhou Hikvision Digital Technology Co.,Ltd.", OUI_CERTAINTY)


def test_an_unknown_oui_organisation_is_kept_weaker_and_a_module_maker_not_at_all():
    lookup = {"00:00:00:00:00:01": "Acme Radio Modules", "00:00:00:00:00:02":
              "Microchip Technology Inc."}.get
    fp = fingerprint([host(mac="00:00:00:00:00:01")], [], mac_vendor=lookup,
                     vendor_aliases=ALIASES)
    assert (fp.vendor, certainty_of(fp, A.VENDOR)) == ("Acme Radio Modules",
                                                       OUI_UNKNOWN_CERTAINTY)
    fp = fingerprint([host(mac="00:00:00:00:00:02")], [], mac_vendor=lookup,
                     vendor_aliases=ALIASES)
    assert fp.vendor is None and fp.evidence == ()


def test_a_mac_vendor_field_from_a_source_counts_like_a_lookup_and_rules_can_read_it():
    hint = rule("tracker-oui", Field.MAC_VENDOR, "Telematics", 0.4,
                device_type="vehicle_telematics")
    lookup = {"38:8a:21:00:00:01": "UAB Teltonika Telematics"}.get
    seen = [host(**{"mac.vendor": "UAB Teltonika Telematics"}, source=Source.NMAP_XML),
            host(mac="38:8a:21:00:00:01")]
    fp = fingerprint(seen, [hint], mac_vendor=lookup)
    assert fp.vendor == "UAB Teltonika Telematics"
    assert certainty_of(fp, A.VENDOR) == OUI_UNKNOWN_CERTAINTY  # one witness, two sightings
    assert fp.device_type == "vehicle_telematics"


def test_captured_vendor_names_are_normalised_and_known_only_rules_drop_strangers():
    org = Rule("tls-o", (Field.TLS_SUBJECT,), re.compile(r"O=(?P<o>[^,]{2,64})"),
               {A.VENDOR: "{o}"}, 0.5, known_vendor_only=True)
    fp = fingerprint([host(http(443, "https", tls_subject="CN=cam,O=HIKVISION"))], [org],
                     vendor_aliases=ALIASES)
    assert fp.vendor == "Hikvision"
    fp = fingerprint([host(http(443, "https", tls_subject="CN=cam,O=Northshire Police"))],
                     [org], vendor_aliases=ALIASES)
    assert fp.vendor is None


# ------------------------------------------------------------------ rule features
def test_a_service_filter_only_reads_that_services_fields():
    debug = Rule("debug-shell", (Field.BANNER,), re.compile("diagnostic shell"),
                 {A.OS: "Linux"}, 0.5, service="debug")
    on_debug = ServiceObservation(9527, "tcp", "debug", fields={"banner": "diagnostic shell"})
    on_ftp = ServiceObservation(21, "tcp", "ftp", fields={"banner": "diagnostic shell"})
    assert fingerprint([host(on_debug)], [debug]).os == "Linux"
    assert fingerprint([host(on_ftp)], [debug]).os is None
    assert fingerprint([host(banner="diagnostic shell")], [debug]).os is None


def test_a_when_rule_runs_only_once_the_first_pass_chose_a_matching_value():
    axis = rule("axis", Field.HTTP_REALM, "^AXIS_", 0.9, vendor="Axis Communications")
    gst = Rule("gst", (Field.RTSP_SERVER,), re.compile("GStreamer"), {A.DEVICE_TYPE:
               "cctv_camera"}, 0.6, when={A.VENDOR: re.compile("Axis Communications", re.I)})
    rtsp = ServiceObservation(554, "tcp", "rtsp", fields={"rtsp.server": "GStreamer"})
    with_axis = fingerprint([host(http(http_realm="AXIS_ACCC8E000001"), rtsp)], [axis, gst])
    assert with_axis.device_type == "cctv_camera"
    assert fingerprint([host(rtsp)], [axis, gst]).device_type is None


def test_templates_substitute_named_groups_once_and_never_evaluate_device_text():
    model = rule("m", Field.HTTP_TITLE, r"Model: (?P<m>[^;]{1,80})", 0.8, model="{m}")
    for hostile in ("{m}", "{0.__class__}", "{m!r:>99999}", "%s%n", "${jndi:ldap://x}"):
        fp = fingerprint([host(http(http_title=f"Model: {hostile}"))], [model])
        assert fp.model == hostile


def test_concluded_values_are_printable_single_line_and_bounded():
    model = rule("m", Field.HTTP_TITLE, r"(?s)(?P<m>.{1,4096})", 0.8, model="{m}")
    text = "\x1b[2J\x1b]0;owned\x07 <b>DS</b>\r\n\u202eX\u200b\ud83d" + "Y" * 5000
    fp = fingerprint([host(http(http_title=text))], [model])
    assert fp.model is not None and len(fp.model) <= MAX_VALUE
    assert not re.search("[\x00-\x1f\x7f\u200b\u202e\ud800-\udfff]", fp.model)
    assert fp.model.startswith("[2J ]0;owned <b>DS</b> X")  # markup stays inert text
    (evidence,) = fp.evidence
    assert len(evidence.matched) == MAX_MATCHED
    assert "\ud83d" not in evidence.matched and "\ufffd" in evidence.matched


def test_text_beyond_max_text_is_never_read():
    late = rule("late", Field.BANNER, "SECRET", 0.8, vendor="Late")
    fp = fingerprint([host(banner="x" * MAX_TEXT + "SECRET")], [late])
    assert fp.vendor is None
    assert conclude(late, "x" * MAX_TEXT + "SECRET") is None
    assert conclude(late, "x" * (MAX_TEXT - 6) + "SECRET") == {A.VENDOR: "Late"}


def test_a_conclusion_whose_group_did_not_match_is_left_out():
    fw = rule("fw", Field.FTP_BANNER, r"^220 (?P<m>[A-Z]\d{3})(?: v(?P<v>\d{1,3}))?", 0.8,
              model="{m}", firmware_version="v{v}")
    assert conclude(fw, "220 P100 v3") == {A.MODEL: "P100", A.FIRMWARE_VERSION: "v3"}
    assert conclude(fw, "220 P100") == {A.MODEL: "P100"}


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"certainty": 1.0}, "not between 0 and 1"),
    ({"certainty": 0}, "not between 0 and 1"),
    ({"conclusions": {A.MODEL: "{nope}"}}, "missing group {nope}"),
    ({"conclusions": {A.MODEL: "x}"}}, "stray brace"),
    ({"conclusions": {A.DEVICE_TYPE: "toaster"}}, "device type vocabulary"),
    ({"conclusions": {}}, "concludes nothing"),
    ({"pattern": re.compile("(x)")}, "unnamed capturing group"),
    ({"pattern": re.compile("x?")}, "matches the empty string"),
    ({"id": "Bad Id"}, "id must be"),
    ({"id": "override"}, "id must be"),
    ({"when": {A.VENDOR: re.compile("x")}, "conclusions": {A.VENDOR: "y"}}, "'when'"),
    ({"fields": (Field.MAC_VENDOR,), "conclusions": {A.VENDOR: "y"}}, "alias table"),
    ({"attribute_certainty": {A.MODEL: 0.5}}, "does not conclude"),
])
def test_unusable_rules_are_refused(kwargs, problem):
    base = {"id": "ok-rule", "fields": (Field.HTTP_TITLE,), "pattern": re.compile("x"),
            "conclusions": {A.VENDOR: "Acme"}, "certainty": 0.5}
    with pytest.raises(ValueError, match=re.escape(problem)):
        Rule(**(base | kwargs))


def test_examples_report_what_they_gave():
    r = Rule("ex", (Field.HTTP_TITLE,), re.compile("^Acme (?P<m>\\w{1,9})"),
             {A.VENDOR: "Acme", A.MODEL: "{m}"}, 0.5,
             examples=(Example("Acme X1", {A.VENDOR: "Acme", A.MODEL: "X1"}),
                       Example("Acme Y2", {A.VENDOR: "Acme", A.MODEL: "X2"}),
                       Example("Other", None), Example("Acme Z", None)))
    problems = example_problems(r)
    assert len(problems) == 2
    assert "'Acme Y2'" in problems[0] and "expected" in problems[0]
    assert "'Acme Z'" in problems[1]
