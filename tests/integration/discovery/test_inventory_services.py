"""The unregistered queue, overrides, schedules and webhooks, on a real database and lab.

One shadow camera is scanned into the queue per test; the test then approves, merges or
marks it rogue and checks the register, the next scan's outcome and the audit log. The
webhook receiver is a real HTTP server on loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.adapters.notify.webhook import WebhookError, post
from fleetwarden.domain.lab import LabDevice, Service
from fleetwarden.domain.records import RecordKind
from fleetwarden.domain.vocab import Role
from fleetwarden.entrypoints.worker import BackgroundWorker
from fleetwarden.errors import Conflict, InputError, NotFound, PermissionDenied
from fleetwarden.ports import ScanOptions
from fleetwarden.services import accounts, alerts, audit, devices, inventory, registry, schedules
from fleetwarden.services import discovery as disc
from fleetwarden.services.context import Principal
from tests.integration.helpers import Env
from tests.integration.lab.harness import make_device, next_ip, running_lab

OPTIONS = ScanOptions(udp=True)




def _shadow(serial: str, mac: str) -> LabDevice:
    return make_device((Service.HTTP, Service.SSH, Service.SSDP, Service.UPNP),
                       serial=serial, mac=mac, registered=False)


def _scan(env: Env, *targets: str) -> disc.DiscoveryReport:
    return disc.discover(env.platform, env.admin,
                         disc.DiscoverRequest(targets=targets, options=OPTIONS))


def _queued(env: Env, dev: LabDevice, lab: Path) -> int:
    with running_lab([dev], lab):
        report = _scan(env, dev.ip)
    host_id = report.hosts[0]["inventory"]["host_id"]
    assert report.hosts[0]["inventory"]["status"] == "new"
    return int(host_id)


def test_approve_registers_with_what_was_seen(env: Env, tmp_path: Path) -> None:
    dev = _shadow("DS-APPROVE-01", "24:48:45:00:01:01")
    host_id = _queued(env, dev, tmp_path / "a")
    device = inventory.approve(env.platform, env.admin, host_id, {"name": "cam-approved",
                                                                   "note": "ticket 42"})
    assert (device.vendor, device.model) == ("Hikvision", "DS-2CD2143G2-I")
    assert device.serial == "DS-APPROVE-01" and device.ip_addresses == (dev.ip,)
    assert device.firmware_version == dev.firmware_version
    assert device.segment == "lab"
    assert inventory.list_hosts(env.platform, env.admin) == []
    with pytest.raises(Conflict, match="not in the unregistered queue"):
        inventory.approve(env.platform, env.admin, host_id)
    with running_lab([dev], tmp_path / "b"):
        report = _scan(env, dev.ip)
    assert report.hosts[0]["inventory"]["status"] == "known"
    assert report.hosts[0]["inventory"]["device_id"] == device.id


def test_approve_needs_a_model_when_the_fingerprint_has_none(env: Env, tmp_path: Path) -> None:
    dev = make_device((Service.TELNET,), serial="X-NO-MODEL", mac="00:00:00:00:01:02",
                      persona={"telnet_banner": "login:"}, registered=False)
    host_id = _queued(env, dev, tmp_path / "a")
    host = inventory.get_host(env.platform, env.admin, host_id)
    if host.vendor and host.model:
        pytest.skip("the fingerprint named a model after all")
    with pytest.raises(InputError, match="--model"):
        inventory.approve(env.platform, env.admin, host_id)
    device = inventory.approve(env.platform, env.admin, host_id,
                               {"model": "Acme/Door-1", "device_type": "access_controller"})
    assert (device.vendor, device.model) == ("Acme", "Door-1")


def test_merge_ties_the_host_to_an_existing_device(env: Env, tmp_path: Path) -> None:
    dev = _shadow("DS-MERGE-01", "24:48:45:00:01:03")
    existing = devices.create_device(env.platform, env.admin, {
        "name": "cam-on-paper", "device_type": "cctv_camera", "lifecycle_state": "in_service"})
    host_id = _queued(env, dev, tmp_path / "a")
    merged = inventory.merge(env.platform, env.admin, host_id, existing.id or 0)
    assert merged.ip_addresses == (dev.ip,) and merged.serial == "DS-MERGE-01"
    with pytest.raises(NotFound):
        inventory.merge(env.platform, env.admin, 999_999, existing.id or 0)
    with running_lab([dev], tmp_path / "b"):
        report = _scan(env, dev.ip)
    assert report.hosts[0]["inventory"]["device_id"] == existing.id
    assert report.hosts[0]["inventory"]["status"] == "known"


def test_rogue_alerts_whenever_seen(env: Env, tmp_path: Path) -> None:
    dev = _shadow("DS-ROGUE-01", "24:48:45:00:01:04")
    host_id = _queued(env, dev, tmp_path / "a")
    with pytest.raises(InputError):
        inventory.mark_rogue(env.platform, env.admin, host_id, "  ")
    inventory.mark_rogue(env.platform, env.admin, host_id, "not ours: found in a cupboard")
    with running_lab([dev], tmp_path / "b"):
        report = _scan(env, dev.ip)
    assert report.hosts[0]["inventory"]["host_status"] == "rogue"
    kinds = [a.kind.value for a in alerts.list_alerts(env.platform, env.admin)]
    assert kinds.count("device.rogue_seen") == 1 and kinds.count("device.new") == 1
    assert [h.id for h in inventory.list_hosts(env.platform, env.admin, "rogue")] == [host_id]


def test_overrides_win_and_survive_the_next_scan(env: Env, tmp_path: Path) -> None:
    dev = _shadow("DS-OVR-01", "24:48:45:00:01:05")
    host_id = _queued(env, dev, tmp_path / "a")
    with pytest.raises(InputError, match="attribute"):
        inventory.set_overrides(env.platform, env.admin, host_id, {"colour": "red"})
    host = inventory.set_overrides(env.platform, env.admin, host_id,
                                   {"model": "DS-2CD2385G1-I", "device_type": "anpr_camera"})
    assert (host.model, host.device_type) == ("DS-2CD2385G1-I", "anpr_camera")
    evidence = [e for e in host.fingerprint["evidence"] if e["rule"] == "override"]
    assert {e["attribute"] for e in evidence} == {"model", "device_type"}
    with running_lab([dev], tmp_path / "b"):
        report = _scan(env, dev.ip)
    assert report.hosts[0]["fingerprint"]["model"] == "DS-2CD2385G1-I"
    host = inventory.set_overrides(env.platform, env.admin, host_id, {}, clear=["model"])
    assert host.model == "DS-2CD2143G2-I"
    actions = [e.action for e in audit.export(env.platform, env.admin)]
    assert actions.count("discovery.override") == 2


def test_viewer_may_look_but_not_scan_or_decide(env: Env, tmp_path: Path) -> None:
    viewer = Principal(env.admin.tenant, "viewer@x", Role.VIEWER)
    dev = _shadow("DS-VIEW-01", "24:48:45:00:01:06")
    host_id = _queued(env, dev, tmp_path / "a")
    assert inventory.list_hosts(env.platform, viewer)[0].id == host_id
    for action in (lambda: inventory.mark_rogue(env.platform, viewer, host_id, "x"),
                   lambda: disc.discover(env.platform, viewer,
                                         disc.DiscoverRequest(targets=(dev.ip,))),
                   lambda: schedules.add_schedule(env.platform, viewer, "lab", 3600)):
        with pytest.raises(PermissionDenied):
            action()


def test_schedule_runs_when_due_and_records_the_scan(env: Env, tmp_path: Path) -> None:
    # This worker's own address (the SQLite and PostgreSQL runs may overlap on two
    # workers), alone in a /32 segment.
    ip = next_ip()
    registry.create(env.platform, env.admin, RecordKind.SEGMENT,
                    {"name": "small", "cidrs": [f"{ip}/32"]})
    with pytest.raises(InputError, match="between"):
        schedules.add_schedule(env.platform, env.admin, "small", 5)
    with pytest.raises(NotFound):
        schedules.add_schedule(env.platform, env.admin, "nope", 3600)
    made = schedules.add_schedule(env.platform, env.admin, "small", 3600,
                                  ScanOptions(ports="80", profile="fast"))
    with pytest.raises(Conflict):
        schedules.add_schedule(env.platform, env.admin, "small", 3600)
    dev = _shadow("DS-SCHED-01", "24:48:45:00:01:07")
    dev = make_device((Service.HTTP,), ip=ip, serial="DS-SCHED-01",
                      mac="24:48:45:00:01:07", registered=False)
    with running_lab([dev], tmp_path / "lab"):
        BackgroundWorker(env.platform).run_once()
    (after,) = schedules.list_schedules(env.platform, env.admin)
    assert after.last_scan_id is not None and after.last_error is None
    assert after.next_run_at - (after.last_run_at or after.next_run_at) == timedelta(hours=1)
    scan = inventory.get_scan(env.platform, env.admin, after.last_scan_id)
    assert scan.actor == "scheduler" and scan.schedule_id == made.id
    assert [h.ip for h in inventory.list_hosts(env.platform, env.admin)] == [ip]
    assert schedules.run_due(env.platform) == 0  # not due again for an hour
    schedules.remove_schedule(env.platform, env.admin, made.id or 0)
    assert schedules.list_schedules(env.platform, env.admin) == []


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    status = 204

    def do_POST(self) -> None:  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 204})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_alerts_reach_the_webhook_signed(env: Env, tmp_path: Path,
                                         receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    with pytest.raises(InputError):
        alerts.set_webhook(env.platform, env.admin, "ftp://x", None)
    alerts.set_webhook(env.platform, env.admin, url, "s3cret-key")
    _queued(env, _shadow("DS-HOOK-01", "24:48:45:00:01:08"), tmp_path / "a")
    tenant = accounts.resolve_tenant(env.platform, None)
    handler.status = 500
    assert alerts.deliver(env.platform, tenant, post) == (0, 1)
    handler.status = 204
    assert alerts.deliver(env.platform, tenant, post) == (1, 0)
    assert alerts.deliver(env.platform, tenant, post) == (0, 0)
    headers, body = handler.received[-1]
    expected = "sha256=" + hmac.new(b"s3cret-key", body, hashlib.sha256).hexdigest()
    assert headers["X-Fleetwarden-Signature"] == expected
    sent = json.loads(body)
    assert sent["alert"]["kind"] == "device.new" and sent["tenant"] == "Northshire"
    (alert,) = alerts.list_alerts(env.platform, env.admin)
    assert alert.delivered_at is not None
    acked = alerts.acknowledge(env.platform, env.admin, alert.id or 0)
    assert acked.acknowledged_by == env.admin.actor
    assert alerts.list_alerts(env.platform, env.admin, unacknowledged=True) == []
    events = list(audit.export(env.platform, env.admin))
    assert not any("s3cret-key" in json.dumps([e.before, e.after]) for e in events)
    with pytest.raises(WebhookError, match="unreachable"):
        post("http://127.0.0.1:9/none", b"{}", None)
