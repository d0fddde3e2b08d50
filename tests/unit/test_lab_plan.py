"""The lab planner: reproducible, consistent with its own truth, and safe to bind."""

from __future__ import annotations

import ipaddress
from collections import Counter
from pathlib import Path

import pytest

from fleetwarden.adapters.demo.estate import generate_demo_estate
from fleetwarden.adapters.lab.catalogue import families, load_scenario
from fleetwarden.adapters.lab.plan import plan_lab
from fleetwarden.adapters.lab.register import merge_lab_into_estate
from fleetwarden.domain.lab import (
    NEEDS,
    PORT_OFFSET,
    TLS_SERVICES,
    Service,
    Weakness,
    check_bind,
    login_of,
    port_for,
    shared_certificate_group,
    truth_record,
)
from fleetwarden.errors import InputError


@pytest.fixture(scope="module")
def plan():
    return plan_lab("small-force", count=400, seed=11)


def test_same_options_give_the_same_truth_and_another_seed_another():
    first = [truth_record(d) for d in plan_lab("small-force", count=50, seed=3).devices]
    again = [truth_record(d) for d in plan_lab("small-force", count=50, seed=3).devices]
    other = [truth_record(d) for d in plan_lab("small-force", count=50, seed=4).devices]
    assert first == again
    assert first != other


def test_identities_are_unique_and_addresses_are_loopback_inside_the_bind(plan):
    devices = plan.devices
    for attribute in ("ip", "mac", "serial", "hostname"):
        values = [getattr(d, attribute) for d in devices]
        assert len(set(values)) == len(values), attribute
    bind = ipaddress.ip_network(plan.bind)
    assert all(ipaddress.ip_address(d.ip) in bind for d in devices)
    assert all(d.hostname.endswith(tuple(f"-{n:04d}" for n in range(501, 1000)))
               for d in devices)


def test_every_weakness_is_backed_by_what_the_device_offers(plan):
    for device in plan.devices:
        offered = {s.service for s in device.services}
        for weakness in device.weaknesses:
            needs = NEEDS.get(weakness)
            assert needs is None or needs & offered, (device.ip, weakness)
        for service in offered - families()[device.family].services:  # opened by a weakness
            assert any(service in NEEDS.get(w, ()) for w in device.weaknesses) or (
                service is Service.UPNP and Weakness.UPNP_EXPOSED in device.weaknesses)
        if Weakness.SHARED_CERTIFICATE in device.weaknesses:
            assert Weakness.SELF_SIGNED_CERTIFICATE in device.weaknesses
            assert Weakness.EXPIRED_CERTIFICATE not in device.weaknesses
        if Weakness.DEFAULT_CREDENTIALS in device.weaknesses:
            assert device.credentials
            assert all(c.service in offered for c in device.credentials)
            # the model's own defaults, on every offered service sharing their login
            defaults = families()[device.family].credentials_for(device.vendor, device.model)
            accounts = {(login_of(c.service), c.username, c.password) for c in defaults}
            assert {(login_of(c.service), c.username, c.password)
                    for c in device.credentials} <= accounts
            for c in device.credentials:
                for service in offered:
                    if login_of(service) is login_of(c.service):
                        assert device.accepts(service, c.username, c.password)
        else:
            assert device.credentials == ()


@pytest.mark.parametrize(("scenario", "count", "seed"), [
    ("large-force", 1000, 7), ("small-force", 150, 3), ("small-force", 400, 11)])
def test_every_planted_shared_certificate_has_a_peer(scenario: str, count: int, seed: int):
    """The lab's certificates are one per ``shared_certificate_group``: a device alone in
    its group serves a certificate nobody else has, so it must not claim the weakness."""
    devices = plan_lab(scenario, count=count, seed=seed).devices
    groups = Counter(shared_certificate_group(d.vendor, d.model, d.weaknesses)
                     for d in devices)
    for device in devices:
        group = shared_certificate_group(device.vendor, device.model, device.weaknesses)
        if Weakness.SHARED_CERTIFICATE in device.weaknesses:
            assert group is not None and groups[group] >= 2, device.ip
        else:
            assert group is None
    assert any(Weakness.SHARED_CERTIFICATE in d.weaknesses for d in devices)


def test_a_model_without_a_public_default_never_has_the_weakness():
    plan = plan_lab("large-force", count=1000, seed=7)
    for device in plan.devices:
        if not families()[device.family].credentials_for(device.vendor, device.model):
            assert Weakness.DEFAULT_CREDENTIALS not in device.weaknesses, device.ip


def test_outdated_firmware_carries_the_outdated_stack(plan):
    for device in plan.devices:
        family = families()[device.family]
        model = next(m for m in family.models if m["model"] == device.model)
        newest = model["firmware_versions"][-1]
        stack = {c.name: c.version for c in device.components}
        if Weakness.VULNERABLE_FIRMWARE in device.weaknesses:
            assert device.firmware_version != newest
            assert stack == dict(family.outdated)
        else:
            assert device.firmware_version == newest
            assert stack == dict(family.current)
        assert all(c.purl.startswith("pkg:") and c.version in c.purl for c in device.components)


def test_plan_has_every_weakness_and_some_shadow_devices(plan):
    seen = Counter(w for d in plan.devices for w in d.weaknesses)
    assert set(seen) == set(Weakness)
    shadows = sum(1 for d in plan.devices if not d.registered)
    assert 0 < shadows < len(plan.devices) * 0.2


def test_personas_are_resolved_and_hostile_ones_are_hostile(plan):
    hostile = [d for d in plan.devices if Weakness.HOSTILE_BANNER in d.weaknesses]
    assert hostile
    for device in plan.devices:
        assert not any("{" in v and "}" in v and "{model}" in v for v in device.persona.values())
    texts = " ".join(v for d in hostile for v in d.persona.values())
    assert "<script>" in texts or "\x1b[" in texts
    assert any(len(v) > 4096 or "\udcff" in v for d in hostile for v in d.persona.values())


def test_ports_move_up_only_when_low_ports_are_not_allowed():
    assert port_for(80, 1024, privileged=False) == 80 + PORT_OFFSET
    assert port_for(80, 1024, privileged=True) == 80
    assert port_for(80, 0, privileged=False) == 80
    assert port_for(1883, 1024, privileged=False) == 1883
    low = plan_lab("small-force", count=20, privileged=False, unprivileged_start=1024)
    for device in low.devices:
        for service in device.services:
            expected = service.nominal_port + (PORT_OFFSET if service.nominal_port < 1024 else 0)
            assert service.port == expected
    assert not low.real_ports


@pytest.mark.parametrize("bind", ["10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0", "::1/128",
                                  "127.20.0.0/25", "nonsense"])
def test_binding_outside_loopback_or_too_small_is_refused(bind):
    with pytest.raises(InputError):
        check_bind(bind)
    with pytest.raises(InputError):
        plan_lab("small-force", count=5, bind=bind)


def test_another_loopback_network_moves_every_device_into_it():
    moved = plan_lab("small-force", count=200, bind="127.99.0.0/16")
    net = ipaddress.ip_network("127.99.0.0/16")
    assert all(ipaddress.ip_address(d.ip) in net for d in moved.devices)
    assert len({d.ip for d in moved.devices}) == 200


def test_full_segments_spill_into_overflow_networks_without_a_segment():
    big = plan_lab("small-force", count=6000, seed=1)
    assert len({d.ip for d in big.devices}) == 6000
    overflow = [d for d in big.devices if d.segment is None]
    assert overflow
    assert all(d.ip.startswith("127.20.2") and int(d.ip.split(".")[2]) >= 128
               for d in overflow)


def test_scenarios_are_checked(tmp_path: Path):
    with pytest.raises(InputError, match="no such scenario"):
        load_scenario("no-such-force")
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\ntitle = "x"\n[families]\nunicorn = 1\n')
    with pytest.raises(InputError, match="unknown families"):
        load_scenario(str(bad))
    bad.write_text('[scenario]\ntitle = "x"\n[families]\naxis = 1\n[weaknesses]\n'
                   'telnet_open = 2\n')
    with pytest.raises(InputError, match="between 0 and 1"):
        load_scenario(str(bad))
    bad.write_text("[scenario\n")
    with pytest.raises(InputError):
        load_scenario(str(bad))


def test_a_scenario_file_decides_how_often_each_weakness_occurs(tmp_path: Path):
    custom = tmp_path / "all-snmp.toml"
    custom.write_text('[scenario]\ntitle = "t"\ncount = 40\nshadow_share = 0\n'
                      '[families]\naxis = 1\nrouter = 1\n'
                      '[weaknesses]\nsnmp_public = 1.0\nmqtt_no_auth = 0\n')
    devices = plan_lab(str(custom)).devices
    assert len(devices) == 40
    assert all(Weakness.SNMP_PUBLIC in d.weaknesses for d in devices)
    assert all(d.registered for d in devices)
    assert not any(d.weaknesses & {Weakness.TELNET_OPEN, Weakness.LEGACY_TLS} for d in devices)
    assert all({s.service for s in d.services} & TLS_SERVICES for d in devices)
    assert all(d.service(Service.TELNET) is None for d in devices)


def test_the_demo_register_takes_the_registered_lab_devices_without_clashes():
    lab = plan_lab("small-force", seed=7)
    estate = merge_lab_into_estate(generate_demo_estate(seed=7, device_count=300), lab)
    rows = estate.devices
    for key in ("ip_addresses", "mac_addresses"):
        values = [v for r in rows for v in r[key]]
        assert len(values) == len(set(values)), key
    serials = [r["serial"] for r in rows]
    assert len(serials) == len(set(serials))
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names))
    by_serial = {r["serial"]: r for r in rows}
    for device in lab.devices:
        if device.registered:
            assert by_serial[device.serial]["ip_addresses"] == [device.ip]
            assert by_serial[device.serial]["firmware_version"] == device.firmware_version
        else:
            assert device.serial not in by_serial


def test_split_keeps_every_slice_within_the_socket_budget():
    from fleetwarden.adapters.lab.shards import split

    big = plan_lab("small-force", count=300, seed=2)
    slices = split(big, 200)
    assert [d for s in slices for d in s.devices] == list(big.devices)
    assert all(sum(len(d.services) for d in s.devices) <= 200 for s in slices)
    assert len(slices) > 1
    assert split(big, 10**6) == [big]


@pytest.mark.parametrize("bind", ["127.20.0.0/18", "127.20.64.0/18", "127.20.0.0/17"])
def test_binds_that_hold_some_segments_never_give_an_address_twice(bind):
    devices = plan_lab("large-force", count=3000, bind=bind).devices
    assert len({d.ip for d in devices}) == len(devices)
    assert all(ipaddress.ip_address(d.ip) in ipaddress.ip_network(bind) for d in devices)
