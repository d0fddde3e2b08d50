"""Discovery end to end through the service: real lab devices, real scans, real database.

Each test runs a few simulated devices on loopback, registers some of them, scans, and
checks what the register, the unregistered queue, the alerts and the audit log say.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fleetwarden.domain.lab import Service
from fleetwarden.domain.records import RecordKind
from fleetwarden.errors import InputError, NotFound, PermissionDenied
from fleetwarden.ports import ScanOptions
from fleetwarden.services import alerts, audit, devices, inventory, registry, software
from fleetwarden.services import discovery as disc
from tests.integration.helpers import Env, add_tenant
from tests.integration.lab.harness import make_device, next_ip, running_lab

QUICK = ScanOptions(ports="iot-top", profile="normal", udp=True)




def _camera(serial: str, mac: str, **fields: object):  # type: ignore[no-untyped-def]
    return make_device((Service.HTTP, Service.RTSP, Service.SSH, Service.SSDP, Service.UPNP), serial=serial,
                       mac=mac,
                       **fields)


def _register(env: Env, dev, name: str) -> int:  # type: ignore[no-untyped-def]
    d = devices.create_device(env.platform, env.admin, {
        "name": name, "device_type": "cctv_camera", "vendor": "Hikvision",
        "model": "DS-2CD2143G2-I", "serial": dev.serial, "ip_addresses": [dev.ip],
        "firmware_version": dev.firmware_version, "lifecycle_state": "in_service",
        "segment": "lab", "site": "HQ"})
    assert d.id is not None
    return d.id


def _run(env: Env, *targets: str, **kw: object) -> disc.DiscoveryReport:
    request = disc.DiscoverRequest(targets=targets, options=QUICK, **kw)  # type: ignore[arg-type]
    return disc.discover(env.platform, env.admin, request)


def test_known_new_and_missing_then_changed(env: Env, tmp_path: Path) -> None:
    known = _camera("DS-KNOWN-01", "24:48:45:00:00:01")
    shadow = _camera("DS-SHADOW-1", "24:48:45:00:00:02")
    gone_ip = next_ip()
    known_id = _register(env, known, "cam-known")
    gone = devices.create_device(env.platform, env.admin, {
        "name": "cam-gone", "device_type": "cctv_camera", "serial": "GONE-1",
        "ip_addresses": [gone_ip], "lifecycle_state": "in_service"})

    with running_lab([known, shadow], tmp_path / "lab1"):
        report = _run(env, known.ip, shadow.ip, gone_ip)
    by_ip = {h["ip"]: h for h in report.hosts}
    assert by_ip[known.ip]["inventory"]["status"] == "known"
    assert by_ip[known.ip]["inventory"]["device_id"] == known_id
    assert by_ip[known.ip]["fingerprint"]["vendor"] == "Hikvision"
    assert by_ip[shadow.ip]["inventory"]["status"] == "new"
    assert by_ip[shadow.ip]["inventory"]["device_id"] is None
    assert by_ip[gone_ip]["inventory"]["status"] == "missing"
    assert by_ip[gone_ip]["inventory"]["device_id"] == gone.id
    assert report.counts["known"] == 1 and report.counts["new"] == 1
    assert report.counts["missing"] == 1
    assert devices.get_device(env.platform, env.admin, known_id).last_seen is not None
    ran = [c.cpe or "" for c in software.components(env.platform, env.admin,
                                                    device_id=known_id)]
    assert any(cpe.startswith("cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2") for cpe in ran)

    raised = alerts.list_alerts(env.platform, env.admin)
    assert sorted(a.kind.value for a in raised) == ["device.missing", "device.new"]
    queue = inventory.list_hosts(env.platform, env.admin, "unregistered")
    assert [h.ip for h in queue] == [shadow.ip]

    # The registered camera comes back with new firmware and at a new address.
    moved = replace(known, ip=next_ip(), firmware_version="V5.8.0 build 230101")
    with running_lab([moved, shadow], tmp_path / "lab2"):
        report = _run(env, moved.ip, shadow.ip, known.ip)
    by_ip = {h["ip"]: h for h in report.hosts}
    inv = by_ip[moved.ip]["inventory"]
    assert inv["status"] == "changed" and inv["device_id"] == known_id
    assert inv["matched_by"] in ("serial", "ssh_host_key")
    fields = {c["field"]: c for c in inv["changes"]}
    assert fields["ip"]["after"] == moved.ip
    assert fields["firmware_version"]["after"] == "V5.8.0 build 230101"
    assert by_ip[shadow.ip]["inventory"]["status"] == "new"
    stored = devices.get_device(env.platform, env.admin, known_id)
    assert stored.ip_addresses == (moved.ip,)
    assert stored.firmware_version == "V5.8.0 build 230101"
    kinds = [a.kind.value for a in alerts.list_alerts(env.platform, env.admin)]
    assert kinds.count("device.new") == 1  # the queue does not re-alert
    assert kinds.count("device.changed") == 1
    actions = [e.action for e in audit.export(env.platform, env.admin)]
    for action in ("discovery.scan.start", "discovery.scan.done", "discovery.host.new",
                   "device.discovered_change", "device.missing", "alert.raise",
                   "discovery.seen"):
        assert action in actions, action
    assert audit.verify(env.platform, env.admin).ok


def test_no_register_reports_but_changes_nothing(env: Env, tmp_path: Path) -> None:
    shadow = _camera("DS-SHADOW-2", "24:48:45:00:00:03")
    with running_lab([shadow], tmp_path / "lab"):
        report = _run(env, shadow.ip, register=False)
    assert [h["inventory"]["status"] for h in report.hosts] == ["new"]
    assert inventory.list_hosts(env.platform, env.admin, "unregistered") == []
    assert alerts.list_alerts(env.platform, env.admin) == []
    scans = inventory.list_scans(env.platform, env.admin)
    assert scans[0].status == "done" and scans[0].registered is False


def test_scope_is_enforced_and_nothing_is_written(env: Env) -> None:
    before = len(list(audit.export(env.platform, env.admin)))
    with pytest.raises(PermissionDenied, match="outside the scan scope"):
        _run(env, "127.1.2.3")
    assert len(list(audit.export(env.platform, env.admin))) == before
    assert inventory.list_scans(env.platform, env.admin) == []
    with pytest.raises(InputError):
        _run(env, "not-an-address")
    with pytest.raises(InputError, match="nothing to discover"):
        disc.discover(env.platform, env.admin, disc.DiscoverRequest())
    with pytest.raises(NotFound):
        disc.discover(env.platform, env.admin, disc.DiscoverRequest(segment="nope"))


def test_outside_scope_when_allowed_is_audited(env: Env, tmp_path: Path) -> None:
    dev = _camera("DS-OUT-1", "24:48:45:00:00:04")
    with running_lab([dev], tmp_path / "lab"):
        registry.delete(env.platform, env.admin, RecordKind.SEGMENT,
                        registry.find(env.platform, env.admin, RecordKind.SEGMENT, "lab").id)
        report = _run(env, dev.ip, allow_outside_scope=True)
    assert report.scan.outside_scope
    start = [e for e in audit.export(env.platform, env.admin)
             if e.action == "discovery.scan.start"][-1]
    assert start.after is not None and start.after["outside_scope"] == [dev.ip]


def test_tenants_do_not_see_each_others_hosts(env: Env, tmp_path: Path) -> None:
    other = add_tenant(env, "Other force", "admin@other.example")
    dev = _camera("DS-T-1", "24:48:45:00:00:05")
    with running_lab([dev], tmp_path / "lab"):
        _run(env, dev.ip)
    assert inventory.list_hosts(env.platform, other, None) == []
    assert alerts.list_alerts(env.platform, other) == []
    host = inventory.list_hosts(env.platform, env.admin, None)[0]
    with pytest.raises(NotFound):
        inventory.get_host(env.platform, other, host.id or 0)


@pytest.mark.parametrize(("options", "message"), [
    (ScanOptions(ports="80,70000"), "70000"), (ScanOptions(profile="reckless"), "profile"),
    (ScanOptions(rate=0), "rate")])
def test_bad_options_are_refused_before_the_scan_is_recorded(
        env: Env, options: ScanOptions, message: str) -> None:
    with pytest.raises(InputError, match=message):
        disc.discover(env.platform, env.admin,
                      disc.DiscoverRequest(targets=("127.76.0.1",), options=options))
    assert inventory.list_scans(env.platform, env.admin) == []
