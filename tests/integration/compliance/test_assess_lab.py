"""``assess`` end to end against real lab devices: every planted weakness found, no FAIL
where the truth has none (issue 6's measure, on a small sample of the plan).

Devices come from the small-force plan (moved to this worker's addresses); discovery,
sslyze and the credential prober talk to them over real loopback sockets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetwarden.adapters.lab.control import LabOptions, make_plan
from fleetwarden.domain.lab import DETECTED_BY, LabDevice, Weakness
from fleetwarden.domain.records import RecordKind
from fleetwarden.ports import ScanOptions
from fleetwarden.services import attestations, devices, registry
from fleetwarden.services.assessment import AssessRequest, assess
from tests.integration.helpers import Env, make_env
from tests.integration.lab.harness import next_ip, running_lab

PLAN = make_plan(LabOptions(scenario="small-force", seed=7))
WANTED = (Weakness.TELNET_OPEN, Weakness.FTP_OPEN, Weakness.HTTP_BASIC_CLEARTEXT,
          Weakness.DEFAULT_CREDENTIALS, Weakness.LEGACY_TLS, Weakness.WEAK_CIPHERS,
          Weakness.EXPIRED_CERTIFICATE, Weakness.SELF_SIGNED_CERTIFICATE,
          Weakness.SNMP_PUBLIC, Weakness.UPNP_EXPOSED, Weakness.DEBUG_PORT_OPEN,
          Weakness.MQTT_NO_AUTH)


def _sample() -> list[LabDevice]:
    """One device per weakness (a device often carries several), plus two clean ones."""
    chosen: dict[str, LabDevice] = {}
    for w in WANTED:
        for d in PLAN.devices:
            if w in d.weaknesses and Weakness.SHARED_CERTIFICATE not in d.weaknesses:
                chosen.setdefault(d.serial, d)
                break
    clean = [d for d in PLAN.devices if not d.weaknesses - {Weakness.VULNERABLE_FIRMWARE}]
    for d in clean[:2]:
        chosen.setdefault(d.serial, d)
    return [dataclasses.replace(d, ip=next_ip()) for d in chosen.values()]


SAMPLE = _sample()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = make_env(f"sqlite:///{tmp_path / 'fw.db'}")
    registry.create(e.platform, e.admin, RecordKind.SITE, {"name": "HQ"})
    registry.create(e.platform, e.admin, RecordKind.SEGMENT,
                    {"name": "lab", "cidrs": ["127.76.0.0/14"], "site": "HQ"})
    yield e
    e.app.engine.dispose()


def test_assess_finds_every_planted_weakness_and_no_false_fail(env: Env, tmp_path: Path
                                                               ) -> None:
    registered = SAMPLE[::2]
    for d in registered:
        devices.create_device(env.platform, env.admin, {
            "name": d.hostname, "device_type": d.device_type, "vendor": d.vendor,
            "model": d.model, "serial": d.serial, "ip_addresses": [d.ip],
            "firmware_version": d.firmware_version, "lifecycle_state": "in_service",
            "segment": "lab", "site": "HQ"})
    tenant = attestations.set_assess_settings(env.platform, env.admin, allow_segments=["lab"])
    admin = dataclasses.replace(env.admin, tenant=tenant)
    with running_lab(SAMPLE, tmp_path / "lab"):
        run = assess(env.platform, admin, AssessRequest(
            targets=tuple(d.ip for d in SAMPLE),
            options=ScanOptions(udp=True, profile="fast")))
    fails = {(f["ip"], f["check_id"]) for f in run.findings if f["status"] == "FAIL"}
    statuses = {(f["ip"], f["check_id"]): f["status"] for f in run.findings}
    missed, false = [], []
    for d in SAMPLE:
        for weakness, check in DETECTED_BY.items():
            if weakness is Weakness.SHARED_CERTIFICATE:
                continue
            has = weakness in d.weaknesses
            found = (d.ip, check) in fails
            if has and not found:
                missed.append((d.family, weakness.value, statuses.get((d.ip, check))))
            if found and not has:
                false.append((d.family, check))
    assert not missed, f"planted weaknesses not found: {missed}"
    assert not false, f"FAIL without the weakness: {false}"
    assert run.devices == len(registered) and run.unregistered == len(SAMPLE) - len(registered)
    unregistered = {f["ip"] for f in run.findings
                    if f["check_id"] == "device-unregistered" and f["status"] == "FAIL"}
    assert unregistered == {d.ip for d in SAMPLE[1::2]}
