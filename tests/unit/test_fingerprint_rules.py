"""The fingerprint catalogue: every example holds, bad catalogues are refused in one line,
no rule can be made to backtrack, and the lab's devices are recognised."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from fleetwarden.adapters.discovery import load_catalogue, load_rules, mac_vendor
from fleetwarden.adapters.discovery.rules import load_vendor_aliases
from fleetwarden.adapters.lab.plan import plan_lab
from fleetwarden.domain.discovery import (
    MAX_TEXT,
    Field,
    HostObservation,
    ServiceObservation,
    Source,
    bounded,
)
from fleetwarden.domain.fingerprint import (
    Attribute,
    canonical_vendor,
    example_problems,
    fingerprint,
)
from fleetwarden.domain.lab import LabDevice, Service, Weakness
from fleetwarden.errors import ConfigurationError

RULES = load_rules()


# ------------------------------------------------------------------------ examples
@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_every_example_of_every_rule_holds(rule):
    assert rule.examples, "every rule documents at least one example"
    assert example_problems(rule, load_vendor_aliases()) == []


def test_the_catalogue_covers_the_required_vendors_and_is_loaded_once():
    assert load_rules() is RULES
    concluded = {r.conclusions.get(Attribute.VENDOR) for r in RULES}
    for vendor in ("Hikvision", "Dahua", "Axis Communications", "Siemens", "APC", "Eaton",
                   "Trend Controls", "Paxton", "Gallagher", "Advanced", "Texecom", "Milesight",
                   "Landis+Gyr", "Motorola Solutions", "Axon", "Oxehealth", "Teltonika",
                   "Cradlepoint", "Sierra Wireless", "DJI", "HP", "Ricoh", "Yealink", "Poly"):
        assert vendor in concluded, vendor
    assert len(RULES) == len({r.id for r in RULES})


def test_server_software_rules_never_conclude_a_vendor():
    for r in RULES:
        if Attribute.SOFTWARE in r.conclusions and r.id.startswith(("http-", "ssh-", "upnp-lib",
                                                                      "upnp-mini", "mqtt-")):
            assert Attribute.VENDOR not in r.conclusions, r.id


# ------------------------------------------------------------------- bad catalogues
GOOD = """
[[rule]]
id = "acme-title"
field = "http.title"
pattern = '^Acme (?P<model>[A-Z]\\d{3})$'
certainty = 0.8
vendor = "Acme"
model = "{model}"
examples = [{ text = "Acme X100", vendor = "Acme", model = "X100" }]
"""


def write(tmp_path: Path, text: str, name: str = "cameras.toml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_temporary_catalogue_loads(tmp_path):
    (rule,) = load_rules(write(tmp_path, GOOD))
    assert rule.id == "acme-title" and rule.fields == (Field.HTTP_TITLE,)


@pytest.mark.parametrize(("change", "problem"), [
    (('field = "http.title"', 'field = "http.titel"'), "unknown field 'http.titel'"),
    (("(?P<model>", "(?P<model"), "bad regex"),
    (('model = "{model}"', 'model = "{serial}"'), "missing group {serial}"),
    (("certainty = 0.8", "certainty = 1.5"), "certainty 1.5 is not between 0 and 1"),
    (("certainty = 0.8", 'certainty = "high"'), "certainty 'high' is not a number"),
    (('model = "X100" }', 'model = "X200" }'), "example 'Acme X100' gives"),
    (('vendor = "Acme"\n', 'vendor = "Acme"\ncolour = "red"\n'), "unknown key 'colour'"),
    (("examples = [", "ignored = ["), "unknown key 'ignored'"),
])
def test_a_broken_rule_is_refused_in_one_line_naming_file_and_rule(tmp_path, change, problem):
    write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigurationError) as caught:
        load_rules(tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("fingerprint catalogue cameras.toml: rule acme-title: ")
    assert problem in message


def test_a_rule_without_a_matching_example_is_refused(tmp_path):
    write(tmp_path, GOOD.replace('{ text = "Acme X100", vendor = "Acme", model = "X100" }',
                                 '{ text = "Other", match = false }'))
    with pytest.raises(ConfigurationError, match="needs at least one example that matches"):
        load_rules(tmp_path)


def test_a_duplicate_id_is_refused_naming_both_files(tmp_path):
    write(tmp_path, GOOD, "a.toml")
    write(tmp_path, GOOD, "b.toml")
    with pytest.raises(ConfigurationError,
                       match=r"^fingerprint catalogue b\.toml: rule acme-title: duplicate id "
                             r"\(also in a\.toml\)$"):
        load_rules(tmp_path)


def test_bad_toml_and_unknown_sections_and_alias_clashes_are_refused(tmp_path):
    write(tmp_path, "[[rule]\nid=", "broken.toml")
    with pytest.raises(ConfigurationError, match=r"^fingerprint catalogue broken\.toml: "):
        load_rules(tmp_path)
    (tmp_path / "broken.toml").unlink()
    write(tmp_path, "[rules]\nx = 1\n", "typo.toml")
    with pytest.raises(ConfigurationError, match="unknown section 'rules'"):
        load_rules(tmp_path)
    (tmp_path / "typo.toml").unlink()
    write(tmp_path, '[vendors]\n"Acme" = ["Acme Inc."]\n"Acme Corp" = ["ACME"]\n', "v.toml")
    with pytest.raises(ConfigurationError, match="vendor alias 'Acme Corp' already means 'Acme'"):
        load_rules(tmp_path)
    with pytest.raises(ConfigurationError, match="no \\*.toml files"):
        load_rules(tmp_path / "nothing-here")


def test_groups_and_aliases_from_a_temporary_catalogue(tmp_path):
    write(tmp_path, '[groups]\nweb = ["http.title", "http.realm"]\n'
                    '[vendors]\n"Acme" = ["Acme Widgets Ltd"]\n', "base.toml")
    write(tmp_path, GOOD.replace('field = "http.title"', 'fields = ["@web"]')
          .replace('vendor = "Acme"\n', 'vendor = "Acme Widgets Ltd"\n'))
    catalogue = load_catalogue(tmp_path)
    (rule,) = catalogue.rules
    assert rule.fields == (Field.HTTP_TITLE, Field.HTTP_REALM)
    assert catalogue.vendor_aliases["acme widgets"] == "Acme"


# ------------------------------------------------------------------ hostile regexes
def _adversarial(rule, length: int) -> list[str]:
    """Inputs that make a backtracking pattern show itself: repeated examples and near
    misses, their prefixes, and long runs of every character the pattern cares about."""
    texts = [e.text for e in rule.examples if e.text]
    seeds = set()
    for text in texts:
        seeds |= {text, text[:-1], text[: max(1, len(text) // 2)], text + " "}
    chars = set("aA0 .-_,;:/()<>=\t\r\n") | {c for text in texts for c in text}
    out = [(seed * (length // max(1, len(seed)) + 1))[:length] for seed in seeds]
    out += [c * length for c in chars]
    out += [(text[:1] * length)[:length - len(text)] + text[:-1] for text in texts]
    return out


def _worst_time(rule, inputs: list[str]) -> float:
    worst = 0.0
    for text in inputs:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            rule.pattern.search(text)
            best = min(best, time.perf_counter() - start)
        worst = max(worst, best)
    return worst


def test_no_rule_backtracks_on_hostile_text():
    """At MAX_TEXT every rule finishes fast, and 4x the text costs about 4x the time
    (a quadratic pattern would cost 16x)."""
    slow = []
    for rule in RULES:
        short = _worst_time(rule, _adversarial(rule, 1024))
        full = _worst_time(rule, _adversarial(rule, MAX_TEXT))
        if full > 0.05 or (full > 0.002 and full > 8 * short):
            slow.append(f"{rule.id}: {short * 1e3:.2f} ms at 1k, {full * 1e3:.2f} ms at 4k")
    assert slow == []


# ------------------------------------------------------------------------------ OUI
def test_mac_vendor_reads_the_bundled_ieee_registry():
    assert mac_vendor("24:48:45:00:00:01") == "Hangzhou Hikvision Digital Technology Co.,Ltd."
    assert mac_vendor("AC-CC-8E-F0-E8-64") == "Axis Communications AB"
    for unknown in ("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01",
                    "00:00:00:00:00:00", "zz:zz", "", "1" * 5000, "70:b3:d5:00:00:01"):
        assert mac_vendor(unknown) is None, unknown


def test_every_estate_oui_is_normalised_to_its_product_vendor_or_ignored():
    aliases = load_vendor_aliases()
    hik, known = canonical_vendor(mac_vendor("24:48:45:00:00:01") or "", aliases)
    assert (hik, known) == ("Hikvision", True)
    assert canonical_vendor(mac_vendor("00:c0:b7:00:00:01") or "", aliases) == ("APC", True)
    assert canonical_vendor(mac_vendor("00:25:df:00:00:01") or "", aliases) == ("Axon", True)
    assert canonical_vendor(mac_vendor("04:91:62:00:00:01") or "", aliases) == (None, True)


# ------------------------------------------------------------------------------ lab
def _wire_text(text: str) -> str:
    """Persona text as a scanner reads it: the wire bytes, decoded and bounded."""
    return bounded(text.encode("utf-8", "surrogateescape")) or ""


def lab_observation(device: LabDevice) -> HostObservation:
    """What an active scan of one lab device reads, in the observation vocabulary.

    SNMP answers only on ``snmp_public`` devices and the MQTT broker version only without
    authentication, as in the lab; HTTP realms only where the UI asks for Basic/Digest.
    """
    persona = device.persona
    services = []
    for offered in device.services:
        fields: dict[str, str] = {}

        def put(name: Field, key: str | None = None, value: str | None = None,
                fields: dict[str, str] = fields) -> None:
            text = value if value is not None else persona.get(key or "", "")
            if text:
                fields[name] = _wire_text(text)

        kind = offered.service
        if kind in (Service.HTTP, Service.HTTPS):
            put(Field.HTTP_SERVER, "http_server")
            put(Field.HTTP_TITLE, "http_title")
            if persona.get("http_auth") in ("basic", "digest"):
                put(Field.HTTP_REALM, "http_realm")
                put(Field.HTTP_AUTH, "http_auth")
        elif kind is Service.RTSP:
            put(Field.RTSP_SERVER, "rtsp_server")
            put(Field.RTSP_REALM, "rtsp_realm")
        elif kind is Service.SSH:
            put(Field.SSH_BANNER, "ssh_version")
        elif kind is Service.TELNET:
            put(Field.TELNET_BANNER, "telnet_banner")
        elif kind is Service.FTP:
            put(Field.FTP_BANNER, "ftp_banner")
        elif kind is Service.DEBUG:
            put(Field.BANNER, "debug_banner")
        elif kind is Service.SNMP and Weakness.SNMP_PUBLIC in device.weaknesses:
            put(Field.SNMP_SYSDESCR, "snmp_sysdescr")
            put(Field.SNMP_SYSOBJECTID, "snmp_sysobjectid")
        elif kind is Service.SSDP:
            put(Field.UPNP_SERVER, "upnp_server")
        elif kind is Service.UPNP:
            for name in ("manufacturer", "model_name", "model_number", "friendly_name",
                         "device_type"):
                put(Field(f"upnp.{name}"), f"upnp_{name}")
            put(Field.UPNP_SERIAL, value=device.serial)
            put(Field.UPNP_FIRMWARE, value=device.firmware_version)
        elif kind is Service.MDNS:
            put(Field.MDNS_SERVICES, "mdns_services")
        elif kind is Service.MQTT and Weakness.MQTT_NO_AUTH in device.weaknesses:
            version = next((c.version for c in device.components if c.name == "mosquitto"), "")
            put(Field.MQTT_BROKER, value=f"mosquitto version {version}" if version else "")
        elif kind is Service.MODBUS:
            put(Field.MODBUS_VENDOR, "modbus_vendor")
            put(Field.MODBUS_PRODUCT, "modbus_product")
            put(Field.MODBUS_REVISION, value=device.firmware_version)
        services.append(ServiceObservation(offered.nominal_port, offered.transport, kind.value,
                                           fields=fields))
    return HostObservation(Source.ACTIVE, "2025-01-01T00:00:00Z", ip=device.ip, mac=device.mac,
                           services=tuple(services))


@pytest.fixture(scope="module")
def lab_results():
    catalogue = load_catalogue()
    devices = plan_lab("large-force", count=600).devices
    return [(d, fingerprint([lab_observation(d)], catalogue.rules, mac_vendor=mac_vendor,
                            vendor_aliases=catalogue.vendor_aliases)) for d in devices]


def test_the_lab_devices_are_identified(lab_results):
    total = len(lab_results)
    vendor = sum(fp.vendor == d.vendor for d, fp in lab_results)
    device_type = sum(fp.device_type == d.device_type for d, fp in lab_results)
    hostile = [(d, fp) for d, fp in lab_results if Weakness.HOSTILE_BANNER in d.weaknesses]
    misses = Counter((d.model, fp.vendor, fp.device_type) for d, fp in lab_results
                     if (fp.vendor, fp.device_type) != (d.vendor, d.device_type))
    print(f"\nlab large-force/600: vendor {vendor}/{total} ({vendor / total:.1%}), "
          f"device type {device_type}/{total} ({device_type / total:.1%}), "
          f"hostile-banner devices {len(hostile)}; misses {dict(misses)}")
    assert vendor / total >= 0.95
    assert device_type / total >= 0.90
    assert hostile, "the plan should include hostile-banner devices"


def test_every_lab_model_is_recognised_somewhere(lab_results):
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for device, fp in lab_results:
        seen[device.model] += 1
        right[device.model] += (fp.vendor, fp.device_type) == (device.vendor, device.device_type)
    assert {model for model in seen if not right[model]} == set()


def test_lab_conclusions_are_inert_text(lab_results):
    unprintable = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
    for _, fp in lab_results:
        for e in fp.evidence:
            assert not unprintable.search(e.value)
            assert len(e.matched) <= 200 and not re.search("[\ud800-\udfff]", e.matched)


def test_hostile_app_webs_headers_do_not_make_other_devices_hikvision(lab_results):
    """Hostile personas send 'App-webs/<b>model</b>...' from any family: not a Hikvision."""
    for device, fp in lab_results:
        if device.vendor != "Hikvision":
            assert not any(e.value == "Hikvision" for e in fp.evidence), device.model
