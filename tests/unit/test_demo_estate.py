"""The synthetic demo estate: deterministic, consistent, and never real (R18).

Luhn and VIN checks are re-implemented here on purpose, so the generator is judged by
an oracle that does not share its code.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from fleetwarden.adapters.demo import estate as demo
from fleetwarden.adapters.demo import generate_demo_estate, iter_device_rows
from fleetwarden.domain.device_input import parse_device
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.vocab import Category, Criticality, DeviceType, Zone
from fleetwarden.errors import InputError

DEMO_NET = ipaddress.ip_network("127.20.0.0/16")
RANKS = ["OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP SECRET"]
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
TS = re.compile(r"^202[56]-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
EMAIL = re.compile(r"[\w.+-]+@[\w.-]+")


def luhn_ok(digits: str) -> bool:
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if pos % 2 else 1)
        total += d // 10 + d % 10
    return total % 10 == 0


def vin_ok(vin: str) -> bool:
    values = dict(zip("0123456789", range(10), strict=True))
    letters = {"ABCDEFGH": 1, "JKLMN": 1, "P": 7, "R": 9, "STUVWXYZ": 2}  # run: first value
    for run, first in letters.items():
        values |= {c: first + i for i, c in enumerate(run)}
    weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
    if len(vin) != 17 or set(vin) - set(values):
        return False
    r = sum(values[c] * w for c, w in zip(vin, weights, strict=True)) % 11
    return vin[8] == ("X" if r == 10 else str(r))


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


@pytest.fixture(scope="module")
def estate() -> demo.DemoEstate:
    return generate_demo_estate()


def by_name(rows: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in rows}


def test_same_seed_same_estate_and_other_seed_differs(estate: demo.DemoEstate) -> None:
    assert generate_demo_estate(7, 300) == estate
    assert generate_demo_estate(8, 300).devices != estate.devices


def test_counts(estate: demo.DemoEstate) -> None:
    assert len(estate.devices) == 300
    assert len(generate_demo_estate(3, 20).devices) == 20
    assert generate_demo_estate(3, 0).devices == ()
    kinds = {s["kind"] for s in estate.sites}
    assert {"headquarters", "police_station", "custody_suite", "vehicle_depot"} <= kinds
    assert {"control_room", "training_centre"} <= kinds
    assert len(estate.models) >= 40 and len(estate.iot_systems) >= 6
    with pytest.raises(InputError):
        generate_demo_estate(1, -1)


def test_every_model_and_lifecycle_state_appears(estate: demo.DemoEstate) -> None:
    assert {(d["vendor"], d["model"]) for d in estate.devices} == {
        (m["vendor"], m["model"]) for m in estate.models
    }
    states = Counter(d["lifecycle_state"] for d in estate.devices)
    assert set(states) == {s.value for s in LifecycleState}
    assert states["in_service"] > len(estate.devices) / 2


def test_devices_use_the_vocabularies_and_exact_keys(estate: demo.DemoEstate) -> None:
    for d in estate.devices:
        assert tuple(d) == demo.DEVICE_FIELDS
        assert d["device_type"] in {t.value for t in DeviceType}
        assert d["criticality"] in {c.value for c in Criticality}
        assert d["lifecycle_state"] in {s.value for s in LifecycleState}
    for m in estate.models:
        assert m["device_type"] in {t.value for t in DeviceType}
        assert m["category"] in {c.value for c in Category}


def test_devices_pass_the_import_validator(estate: demo.DemoEstate) -> None:
    for d in estate.devices:
        parse_device(d)


def test_identities_are_unique(estate: demo.DemoEstate) -> None:
    for key in ("name", "serial", "imei", "iccid", "vin"):
        values = [d[key] for d in estate.devices if d[key] is not None]
        assert len(values) == len(set(values)), key
    macs = [m for d in estate.devices for m in d["mac_addresses"]]
    assert len(macs) == len(set(macs))
    assert all(MAC.match(m) for m in macs)


def test_macs_come_from_the_model_oui_and_not_for_sims_or_vehicles(
    estate: demo.DemoEstate,
) -> None:
    ouis = {(m["vendor"], m["model"]): m["oui"] for m in estate.models}
    for d in estate.devices:
        if d["device_type"] in {"iot_sim", "vehicle"}:
            assert d["mac_addresses"] == []
        for mac in d["mac_addresses"]:
            assert mac.startswith(ouis[(d["vendor"], d["model"])] + ":")


def test_segments_are_loopback_24s_in_the_demo_range(estate: demo.DemoEstate) -> None:
    nets = [ipaddress.ip_network(c) for s in estate.segments for c in s["cidrs"]]
    assert all(n.prefixlen == 24 and n.subnet_of(DEMO_NET) for n in nets)  # type: ignore[arg-type]
    assert len(set(nets)) == len(nets)
    assert all(s["zone"] in {z.value for z in Zone} for s in estate.segments)


def test_ips_sit_inside_their_segment_and_are_unique_per_segment(
    estate: demo.DemoEstate,
) -> None:
    segments = by_name(estate.segments)
    used: Counter[tuple[str, str]] = Counter()
    for d in estate.devices:
        net = ipaddress.ip_network(segments[d["segment"]]["cidrs"][0])
        for ip in d["ip_addresses"]:
            assert ipaddress.ip_address(ip) in net, (d["name"], ip)
            used[(d["segment"], ip)] += 1
        if d["device_type"] == "iot_sim" or d["lifecycle_state"] in {"planned", "procured"}:
            assert d["ip_addresses"] == []
    assert max(used.values()) == 1
    assert sum(used.values()) > 150


def test_sites_segments_and_models_exist_and_agree(estate: demo.DemoEstate) -> None:
    sites, segments = by_name(estate.sites), by_name(estate.segments)
    models = {(m["vendor"], m["model"]) for m in estate.models}
    for d in estate.devices:
        assert d["site"] in sites
        assert segments[d["segment"]]["site"] == d["site"]
        assert (d["vendor"], d["model"]) in models
    suppliers = {s["name"] for s in estate.suppliers}
    assert all(m["supplier"] in suppliers for m in estate.models)


def test_devices_are_placed_sensibly(estate: demo.DemoEstate) -> None:
    zones = {s["name"]: s["zone"] for s in estate.segments}
    expected = {"cctv_camera": {"iot-cctv"}, "nvr": {"iot-cctv"}, "iot_sim": {"cellular"},
                "vehicle": {"iot-vehicle"}, "vehicle_telematics": {"cellular"},
                "access_controller": {"iot-access"}, "fire_alarm_panel": {"iot-fire"}}  # fmt: skip
    for d in estate.devices:
        if d["device_type"] in expected:
            assert zones[d["segment"]] in expected[d["device_type"]], d["name"]


def test_imei_iccid_and_vin_are_valid_where_expected(estate: demo.DemoEstate) -> None:
    kinds = Counter()
    for d in estate.devices:
        t = d["device_type"]
        if t in {"vehicle_telematics", "wearable", "body_worn_camera"}:
            assert d["imei"] is not None
        if t in {"iot_sim", "vehicle_telematics"}:
            assert d["iccid"] is not None
        if t == "vehicle":
            assert d["vin"] is not None
        if d["imei"]:
            kinds["imei"] += 1
            assert len(d["imei"]) == 15 and d["imei"].isdigit() and luhn_ok(d["imei"])
        if d["iccid"]:
            kinds["iccid"] += 1
            iccid = d["iccid"]
            assert 19 <= len(iccid) <= 20 and iccid.startswith("89") and luhn_ok(iccid)
        if d["vin"]:
            kinds["vin"] += 1
            assert vin_ok(d["vin"]), d["vin"]
    assert min(kinds["imei"], kinds["iccid"], kinds["vin"]) > 0


def test_timestamps_fit_the_lifecycle(estate: demo.DemoEstate) -> None:
    for d in estate.devices:
        if d["lifecycle_state"] in {"planned", "procured"}:
            assert d["first_seen"] is None and d["last_seen"] is None
        else:
            assert TS.match(d["first_seen"]) and TS.match(d["last_seen"])
            assert d["first_seen"] <= d["last_seen"]


def test_the_estate_has_something_to_find(estate: demo.DemoEstate) -> None:
    newest = {(m["vendor"], m["model"]): m["firmware_versions"][-1:] for m in estate.models}
    outdated = [
        d for d in estate.devices
        if d["firmware_version"] and [d["firmware_version"]] != newest[(d["vendor"], d["model"])]
    ]  # fmt: skip
    assert len(outdated) > 20
    assert any(m["end_of_support"] < "2026-01-01" for m in estate.models)
    assert any(m["end_of_support"] > "2028-01-01" for m in estate.models)


def test_an_aggregate_is_classified_above_each_of_its_items(estate: demo.DemoEstate) -> None:
    items = by_name(estate.data_items)
    aggregates = [d for d in estate.data_items if d["aggregate_of"]]
    assert aggregates
    for agg in aggregates:
        for member in agg["aggregate_of"]:
            assert RANKS.index(agg["classification"]) > RANKS.index(items[member]["classification"])
    assert all(d["classification"] in RANKS and d["protected_by"] for d in estate.data_items)


def test_iot_systems_have_scope_flows_and_raci(estate: demo.DemoEstate) -> None:
    owners = {o["email"] for o in estate.owners}
    items = {d["name"] for d in estate.data_items}
    for system in estate.iot_systems:
        assert system["owner"] in owners and system["scope"] and system["device_types"]
        assert all(f["data"] in items for f in system["data_flows"])
        tasks = {r["task"] for r in system["raci"]}
        assert {"Device management", "Firmware updates", "Vulnerability scanning"} <= tasks
        assert all(r["responsible"] and r["accountable"] for r in system["raci"])


def test_no_email_or_url_outside_example(estate: demo.DemoEstate) -> None:
    text = list(strings(dataclasses.asdict(estate)))
    emails = [m for s in text for m in EMAIL.findall(s)]
    assert emails and all(e.endswith(".example") for e in emails)
    for supplier in estate.suppliers:
        assert re.match(
            r"^https://[\w.-]+\.example/security$", supplier["vulnerability_disclosure_url"]
        )
    json.dumps(dataclasses.asdict(estate))  # plain JSON-able values only


# ---------------------------------------------------------------------- benchmark rows


def test_bench_rows_are_unique_valid_and_deterministic() -> None:
    rows = list(iter_device_rows(5, 20_000))
    assert len(rows) == 20_000
    for key in ("name", "serial"):
        assert len({r[key] for r in rows}) == len(rows)
    macs = [m for r in rows for m in r["mac_addresses"]]
    assert len(macs) == len(set(macs)) > 10_000
    ips = [ip for r in rows for ip in r["ip_addresses"]]
    assert len(ips) == len(set(ips))
    assert all(ipaddress.ip_address(ip).is_loopback for ip in ips)
    assert all(luhn_ok(r["imei"]) for r in rows if r["imei"])
    assert all(luhn_ok(r["iccid"]) for r in rows if r["iccid"])
    assert all(vin_ok(r["vin"]) for r in rows if r["vin"])
    assert all(tuple(r) == demo.DEVICE_FIELDS for r in rows)
    for r in rows[:2000]:
        parse_device(r)
    assert list(iter_device_rows(5, 500)) == rows[:500]


def test_bench_macs_stay_unique_past_the_oui_space(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "_MAC_SPAN", 5_000)
    macs = [m for r in iter_device_rows(1, 10_000) for m in r["mac_addresses"]]
    assert len(macs) == len(set(macs))
    assert any(m.startswith("02:") for m in macs)  # locally administered after the span


def test_bench_rows_can_be_kept_on_some_sites() -> None:
    rows = list(iter_device_rows(1, 2_000, tenant_sites=["HQ", "Tollbridge Vehicle Depot"]))
    assert {r["site"] for r in rows} == {
        "Northshire Police Headquarters",
        "Tollbridge Vehicle Depot",
    }
    with pytest.raises(InputError):
        next(iter_device_rows(1, 1, tenant_sites=["Atlantis"]))


def test_oracles_know_good_from_bad() -> None:
    assert vin_ok("1M8GDM9AXKP042788") and not vin_ok("1M8GDM9A1KP042788")
    assert luhn_ok("490154203237518") and not luhn_ok("490154203237519")


def test_a_broken_catalogue_is_refused_with_reasons() -> None:
    with demo.CATALOGUE.open("rb") as fh:
        cat = tomllib.load(fh)
    assert demo._problems(cat) == []
    cat["segments"][0]["cidrs"] = ["10.1.2.0/24"]
    cat["suppliers"][0]["contact_email"] = "someone@gmail.com"
    cat["data_items"][0]["classification"] = "RESTRICTED"
    problems = " | ".join(demo._problems(cat))
    assert "10.1.2.0/24" in problems and "gmail.com" in problems and "classification" in problems
