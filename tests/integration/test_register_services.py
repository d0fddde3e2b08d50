"""The register's use cases on real SQLite and PostgreSQL: devices, lifecycle, change
control, reference records, tenant isolation, and the audit trail of each change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fleetwarden.domain.records import RecordKind
from fleetwarden.errors import (
    ApprovalRequired,
    Conflict,
    IllegalTransition,
    InputError,
    NotFound,
    PermissionDenied,
)
from fleetwarden.ports import DeviceQuery
from fleetwarden.services import accounts, audit, changes, devices, importing, registry
from tests.integration.helpers import Env, add_tenant, make_env


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    e = make_env(database_url)
    registry.create(e.platform, e.admin, RecordKind.SITE, {"name": "HQ", "code": "HQ"})
    registry.create(e.platform, e.admin, RecordKind.SEGMENT,
                    {"name": "hq-cctv", "cidrs": ["127.20.1.0/24"], "zone": "iot-cctv",
                     "vlan": 101, "site": "HQ"})
    yield e
    e.app.engine.dispose()


CAM = {"name": "hq-cam-1", "device_type": "cctv_camera", "vendor": "Hikvision",
       "model": "DS-2CD2143G2-I", "serial": "HK-1", "mac_addresses": ["aa:bb:cc:00:00:01"],
       "ip_addresses": ["127.20.1.10"], "site": "HQ", "segment": "hq-cctv"}


def _actions(env: Env) -> list[str]:
    return [e.action for e in audit.export(env.platform, env.admin)]


def test_register_look_up_and_list(env: Env) -> None:
    d = devices.create_device(env.platform, env.admin, CAM)
    assert (d.vendor, d.model, d.site, d.segment) == ("Hikvision", "DS-2CD2143G2-I", "HQ",
                                                      "hq-cctv")
    assert [x.id for x in devices.lookup(env.platform, env.admin, "serial", "HK-1")] == [d.id]
    assert [x.id for x in devices.lookup(env.platform, env.admin, "mac", "AABBCC000001")] == [d.id]
    assert [x.id for x in devices.lookup(env.platform, env.admin, "ip", "127.20.1.10")] == [d.id]
    page = devices.list_devices(env.platform, env.admin,
                                DeviceQuery(device_type="cctv_camera", site_id=d.site_id),
                                with_total=True)
    assert page.total == 1 and page.items[0].id == d.id
    assert "device.create" in _actions(env) and "model.create" in _actions(env)


def test_duplicates_are_refused_and_change_nothing(env: Env) -> None:
    devices.create_device(env.platform, env.admin, CAM)
    before = len(_actions(env))
    for clash in ({"serial": "HK-2", "mac_addresses": ["AA:BB:CC:00:00:01"]}, {"serial": "HK-1"}):
        with pytest.raises(Conflict):
            devices.create_device(env.platform, env.admin, CAM | clash | {"name": "other"})
    assert len(_actions(env)) == before
    page = devices.list_devices(env.platform, env.admin, DeviceQuery(), with_total=True)
    assert page.total == 1


def test_lifecycle_transitions_are_audited_and_illegal_ones_refused(env: Env) -> None:
    d = devices.create_device(env.platform, env.admin, CAM)
    for state in ("procured", "commissioning", "in_service", "maintenance", "in_service"):
        d = devices.transition(env.platform, env.admin, d.id, state, f"to {state}")
    assert d.ever_in_service
    with pytest.raises(IllegalTransition, match="cannot go from in_service to disposed"):
        devices.transition(env.platform, env.admin, d.id, "disposed", "skip ahead")
    with pytest.raises(IllegalTransition, match="never|ever in service"):
        devices.delete_device(env.platform, env.admin, d.id, "tidy up")
    history = audit.history(env.platform, env.admin, "device", d.id)
    moves = [(e.before, e.after, e.reason) for e in history if e.action == "device.transition"]
    assert moves[0] == ({"lifecycle_state": "planned"}, {"lifecycle_state": "procured"},
                        "to procured")
    assert len(moves) == 5
    assert devices.get_device(env.platform, env.admin, d.id).lifecycle_state.value == "in_service"


def test_never_live_devices_can_be_deleted(env: Env) -> None:
    d = devices.create_device(env.platform, env.admin, CAM)
    devices.delete_device(env.platform, env.admin, d.id, "ordered by mistake")
    with pytest.raises(NotFound):
        devices.get_device(env.platform, env.admin, d.id)
    # identifiers are free again
    devices.create_device(env.platform, env.admin, CAM)


def test_change_control_requires_an_approved_request_from_someone_else(env: Env) -> None:
    d = devices.create_device(env.platform, env.admin, CAM | {"lifecycle_state": "in_service"})
    tenant = accounts.set_change_approval(env.platform, env.admin, True)
    admin = env.admin.__class__(tenant, env.admin.actor, env.admin.role, env.admin.user_id)
    with pytest.raises(ApprovalRequired):
        devices.transition(env.platform, admin, d.id, "maintenance", "firmware update")
    with pytest.raises(ApprovalRequired):
        devices.update_device(env.platform, admin, d.id, {"firmware_version": "5.7.3"})
    cr = changes.request(env.platform, admin, d.id, "firmware update", "CAB-42")
    with pytest.raises(PermissionDenied, match="own change request"):
        changes.decide(env.platform, admin, cr.id, True, "ok")
    approver = admin.__class__(tenant, "cab@northshire.example", admin.role)
    with pytest.raises(ApprovalRequired, match="pending"):
        devices.transition(env.platform, admin, d.id, "maintenance", "fw", change_request=cr.id)
    changes.decide(env.platform, approver, cr.id, True, "approved at CAB")
    moved = devices.transition(env.platform, admin, d.id, "maintenance", "fw",
                               change_request=cr.id)
    assert moved.lifecycle_state.value == "maintenance"
    with pytest.raises(ApprovalRequired, match="used"):
        devices.transition(env.platform, admin, d.id, "in_service", "back", change_request=cr.id)
    event = audit.history(env.platform, admin, "device", d.id)[-1]
    assert event.after == {"lifecycle_state": "maintenance", "change_request": cr.id}


def test_ownership_transfer_is_recorded(env: Env) -> None:
    d = devices.create_device(env.platform, env.admin, CAM | {"owner": "iao.cctv@n.example"})
    devices.transfer_ownership(env.platform, env.admin, d.id, "iao.estates@n.example",
                               "estates took over CCTV")
    last = audit.history(env.platform, env.admin, "device", d.id)[-1]
    assert last.before == {"owner": "iao.cctv@n.example"}
    assert last.after == {"owner": "iao.estates@n.example"}
    assert last.reason == "estates took over CCTV"


def test_tenants_never_see_each_other(env: Env) -> None:
    d = devices.create_device(env.platform, env.admin, CAM)
    other = add_tenant(env, "Southshire", "admin@southshire.example")
    with pytest.raises(NotFound):
        devices.get_device(env.platform, other, d.id)
    with pytest.raises(NotFound):
        devices.transition(env.platform, other, d.id, "procured", "steal")
    with pytest.raises(NotFound):
        devices.update_device(env.platform, other, d.id, {"name": "mine"})
    assert devices.lookup(env.platform, other, "serial", "HK-1") == []
    assert devices.list_devices(env.platform, other, DeviceQuery()).items == []
    # the same serial may exist in another tenant
    registry.create(env.platform, other, RecordKind.SITE, {"name": "HQ"})
    devices.create_device(env.platform, other, {**CAM, "segment": None, "site": "HQ"})
    assert audit.verify(env.platform, other).ok and audit.verify(env.platform, env.admin).ok


def test_viewers_cannot_change_anything(env: Env) -> None:
    issued = accounts.add_user(env.platform, env.admin, "viewer@n.example", "viewer")
    viewer = accounts.authenticate(env.platform, issued.token)
    with pytest.raises(PermissionDenied):
        devices.create_device(env.platform, viewer, CAM)
    with pytest.raises(PermissionDenied):
        audit.verify(env.platform, viewer)
    auditor = accounts.authenticate(
        env.platform, accounts.add_user(env.platform, env.admin, "aud@n.example", "auditor").token)
    assert audit.verify(env.platform, auditor).ok


def test_revoked_tokens_stop_working(env: Env) -> None:
    issued = accounts.add_user(env.platform, env.admin, "eng@n.example", "engineer")
    accounts.revoke_tokens(env.platform, env.admin, "eng@n.example")
    with pytest.raises(Exception, match="invalid or expired"):
        accounts.authenticate(env.platform, issued.token)


def test_reference_records_and_classification_rules(env: Env) -> None:
    p, a = env.platform, env.admin
    sup = registry.create(p, a, RecordKind.SUPPLIER,
                          {"name": "Acme Security", "contact_email": "psirt@acme.example",
                           "disclosure_url": "https://acme.example/security"})
    model = registry.create(p, a, RecordKind.MODEL,
                            {"vendor": "Axis", "model": "P3245-LVE", "device_type": "cctv_camera",
                             "category": "sensor", "supplier": "Acme Security",
                             "end_of_support": "2029-12-31"})
    assert model.supplier_id == sup.id
    d = devices.create_device(p, a, CAM)
    system = registry.create(p, a, RecordKind.SYSTEM, {
        "name": "HQ CCTV", "scope": "HQ cameras and NVR",
        "data_flows": [{"from": "camera", "to": "nvr", "data": "video", "protocol": "RTSP"}],
        "raci": [{"task": "firmware updates", "responsible": ["Supplier"],
                  "accountable": "Force IT", "consulted": ["Cyber"], "informed": ["DPO"]}],
        "device_ids": [d.id]})
    assert system.raci[0].accountable == "Force IT"
    read = registry.create(p, a, RecordKind.DATA_ITEM,
                           {"name": "ANPR read", "classification": "OFFICIAL", "system": "HQ CCTV"})
    registry.create(p, a, RecordKind.DATA_ITEM,
                    {"name": "ANPR history", "classification": "OFFICIAL-SENSITIVE",
                     "aggregate_of": ["ANPR read"], "protected_by": ["encryption at rest"]})
    with pytest.raises(InputError, match="below its most sensitive item"):
        registry.create(p, a, RecordKind.DATA_ITEM,
                        {"name": "bad", "classification": "OFFICIAL",
                         "aggregate_of": ["ANPR history"]})
    with pytest.raises(Conflict, match="in use"):
        registry.delete(p, a, RecordKind.DATA_ITEM, read.id)
    with pytest.raises(Conflict, match="already exists"):
        registry.create(p, a, RecordKind.SITE, {"name": "HQ"})
    with pytest.raises(InputError, match="raci"):
        registry.create(p, a, RecordKind.SYSTEM, {"name": "x", "raci": [{"task": "t"}]})
    updated = registry.update(p, a, RecordKind.SEGMENT, 1, {"vlan": 202})
    assert updated.vlan == 202 and updated.site_id is not None
    assert audit.verify(p, a).ok


def test_import_is_all_or_nothing_with_a_row_report(env: Env) -> None:
    rows = [CAM | {"name": f"cam-{i}", "serial": f"S{i}", "mac_addresses": [],
                   "ip_addresses": []} for i in range(12000)]
    rows[7000] = rows[7000] | {"serial": "S3"}  # duplicate of an earlier row
    rows[9000] = rows[9000] | {"mac_addresses": ["nope"]}
    report = importing.import_devices(env.platform, env.admin, enumerate(rows, 1),
                                      source={"file": "t.json"})
    assert not report.committed and report.error_count == 2
    assert [r for r, _ in report.errors] == [9001, 7001] or sorted(r for r, _ in report.errors) \
        == [7001, 9001]
    messages = " ".join(m for _, m in report.errors)
    assert "earlier in this import" in messages and "MAC" in messages
    assert devices.list_devices(env.platform, env.admin, DeviceQuery(), with_total=True).total == 0
    rows[7000]["serial"] = "S7000"
    rows[9000]["mac_addresses"] = []
    report = importing.import_devices(env.platform, env.admin, enumerate(rows, 1),
                                      source={"file": "t.json"})
    assert report.committed and report.created == 12000
    assert devices.list_devices(env.platform, env.admin, DeviceQuery(), with_total=True).total \
        == 12000
    assert _actions(env)[-1] == "device.import"


def test_keyset_pagination_visits_every_device_once(env: Env) -> None:
    rows = [CAM | {"name": f"cam-{i:03}", "serial": f"P{i}", "mac_addresses": [],
                   "ip_addresses": []} for i in range(130)]
    importing.import_devices(env.platform, env.admin, enumerate(rows, 1), source={})
    for sort, desc in (("id", False), ("name", True)):
        seen, after = [], None
        while True:
            page = devices.list_devices(env.platform, env.admin,
                                        DeviceQuery(limit=50, sort=sort, descending=desc,
                                                    after=after))
            seen += [d.name for d in page.items]
            if page.next_cursor is None:
                break
            after = page.next_cursor
        assert len(seen) == 130 and len(set(seen)) == 130
        if sort == "name":
            assert seen == sorted(seen, reverse=True)


def test_items_cannot_be_raised_above_an_aggregate_holding_them(env: Env) -> None:
    p, a = env.platform, env.admin
    item = registry.create(p, a, RecordKind.DATA_ITEM,
                           {"name": "GPS fix", "classification": "OFFICIAL"})
    registry.create(p, a, RecordKind.DATA_ITEM,
                    {"name": "Patrol routes", "classification": "OFFICIAL-SENSITIVE",
                     "aggregate_of": ["GPS fix"]})
    with pytest.raises(InputError, match="Patrol routes"):
        registry.update(p, a, RecordKind.DATA_ITEM, item.id, {"classification": "SECRET"})
    assert registry.get(p, a, RecordKind.DATA_ITEM, item.id).classification.value == "OFFICIAL"


def test_settings_changes_apply_to_principals_made_earlier(env: Env) -> None:
    d = devices.create_device(env.platform, env.admin, CAM | {"lifecycle_state": "in_service"})
    stale = env.admin  # made before the setting changed, as a cached API token would be
    accounts.set_change_approval(env.platform, env.admin, True)
    with pytest.raises(ApprovalRequired):
        devices.transition(env.platform, stale, d.id, "maintenance", "fw")


def test_empty_names_and_reasons_are_input_errors(env: Env) -> None:
    d = devices.create_device(env.platform, env.admin, CAM)
    with pytest.raises(InputError, match="name"):
        devices.update_device(env.platform, env.admin, d.id, {"name": None})
    with pytest.raises(InputError, match="reason"):
        devices.transition(env.platform, env.admin, d.id, "procured", "  ")
    with pytest.raises(InputError, match="type"):
        devices.list_devices(env.platform, env.admin, DeviceQuery(device_type="toaster"))


def test_software_components_on_devices_and_models(env: Env) -> None:
    p, a = env.platform, env.admin
    d = devices.create_device(p, a, CAM)
    on_device = registry.create(p, a, RecordKind.COMPONENT, {
        "name": "busybox", "version": "1.31.1", "purl": "pkg:generic/busybox@1.31.1",
        "device_id": d.id})
    on_model = registry.create(p, a, RecordKind.COMPONENT, {
        "name": "busybox", "version": "1.31.1", "model": "Hikvision/DS-2CD2143G2-I",
        "cpe": "cpe:2.3:a:busybox:busybox:1.31.1:*:*:*:*:*:*:*"})
    assert on_device.device_id == d.id and on_model.model_id == d.model_id
    for bad, message in (
        ({"name": "x"}, "one device"),
        ({"name": "x", "device_id": d.id, "model": "Hikvision/DS-2CD2143G2-I"}, "one device"),
        ({"name": "x", "device_id": 999999}, "not found"),
        ({"name": "x", "device_id": d.id, "purl": "busybox"}, "pkg:"),
        ({"name": "x", "device_id": d.id, "cpe": "busybox"}, "CPE"),
    ):
        with pytest.raises(InputError, match=message):
            registry.create(p, a, RecordKind.COMPONENT, bad)
    items, total = registry.list_records(p, a, RecordKind.COMPONENT)
    assert total == 2
