"""A small register with stored discovery observations, shared by the compliance tests.

Two sites; two HQ segments (a dedicated IoT zone and a DMZ); one gateway model whose
approved service profile is HTTPS and MQTTS only; three gateways on the IoT segment and a
sensor at the depot; one IoT system with a business impact assessment and a data item
held in an aggregate classified SECRET. What discovery saw is written straight into the
discovery repository (no network): ``gw-1`` offers Telnet, HTTPS with a self-signed
certificate and an anonymous MQTT broker, ``gw-2`` only approved HTTPS, ``gw-silent``
was never seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from fleetwarden.domain.discovery import (
    CertificateInfo,
    Field,
    ServiceObservation,
    TlsInfo,
)
from fleetwarden.domain.inventory import DiscoveredHost, service_view
from fleetwarden.domain.reconcile import HostStatus
from fleetwarden.domain.records import RecordKind
from fleetwarden.services import devices, registry
from tests.integration.helpers import Env

MODEL = ("Acme", "Gateway-1")
APPROVED = ("tcp/443", "tcp/8883")
IOT_SEGMENT, DMZ_SEGMENT = "hq-building", "hq-dmz"
SYSTEM = "Building management"
SECRET_ITEM = "Access history"
GW1_IP, GW2_IP, SILENT_IP, DEPOT_IP = "127.40.1.10", "127.40.1.11", "127.40.1.12", "127.41.0.5"
UNREGISTERED_IP = "127.40.1.99"


def certificate(cn: str, *, sha: str, self_signed: bool) -> CertificateInfo:
    return CertificateInfo(
        subject=f"CN={cn}", issuer=f"CN={cn}" if self_signed else "CN=Northshire Device CA",
        not_before="2026-01-01T00:00:00Z", not_after="2099-01-01T00:00:00Z", sha256=sha,
        self_signed=self_signed, sans=(cn,), public_key_sha256=sha[::-1], key_type="rsa",
        key_bits=2048, signature_algorithm="sha256WithRSAEncryption")


def https(cn: str, *, sha: str, self_signed: bool) -> ServiceObservation:
    return ServiceObservation(
        port=443, transport="tcp", service="https", product="lighttpd",
        tls=TlsInfo(version="TLSv1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256",
                    certificate=certificate(cn, sha=sha, self_signed=self_signed)))


TELNET = ServiceObservation(port=23, transport="tcp", service="telnet",
                            banner="gw-1 login:")
MQTT_OPEN = ServiceObservation(port=1883, transport="tcp", service="mqtt",
                               fields={Field.MQTT_AUTH.value: "open"})
GW1_CERT, GW2_CERT, GW1_NEW_CERT = "a1" * 32, "b2" * 32, "c3" * 32
GW1_SERVICES = (TELNET, https("gw-1", sha=GW1_CERT, self_signed=True), MQTT_OPEN)
GW2_SERVICES = (https("gw-2", sha=GW2_CERT, self_signed=False),)
GW1_FIXED = (https("gw-1", sha=GW1_NEW_CERT, self_signed=False),)
"""gw-1 after its fix: Telnet and MQTT off, a certificate from the device CA."""


def add_host(env: Env, *, device_id: int | None, ip: str,
             services: Sequence[ServiceObservation], ago: timedelta = timedelta(hours=1)
             ) -> int:
    """Store one discovery observation (what a scan would have kept), no network."""
    p = env.platform
    seen = p.now() - ago
    views = tuple(service_view(s) for s in services)
    certs = tuple(s.tls.certificate.sha256 for s in services
                  if s.tls is not None and s.tls.certificate is not None)
    with p.uow(env.admin.tenant, True) as uow:
        host = uow.discovery.add_host(DiscoveredHost(
            id=None, tenant_id=env.admin.tenant.id or 0,
            status=HostStatus.REGISTERED if device_id else HostStatus.UNREGISTERED,
            device_id=device_id, ip=ip, vendor=MODEL[0] if device_id else None,
            certificates=certs, services=views, sources=("active",), first_seen=seen,
            last_seen=seen))
        uow.commit()
    assert host.id is not None
    return host.id


def build(env: Env) -> dict[str, int]:
    """Register the estate and store what discovery saw; returns the ids by name."""
    p, admin = env.platform, env.admin
    registry.create(p, admin, RecordKind.SITE, {"name": "HQ"})
    registry.create(p, admin, RecordKind.SITE, {"name": "Depot"})
    registry.create(p, admin, RecordKind.SEGMENT, {
        "name": IOT_SEGMENT, "zone": "iot-building", "cidrs": ["127.40.1.0/24"],
        "site": "HQ"})
    registry.create(p, admin, RecordKind.SEGMENT, {
        "name": DMZ_SEGMENT, "zone": "dmz", "cidrs": ["127.40.9.0/24"], "site": "HQ"})
    model = registry.create(p, admin, RecordKind.MODEL, {
        "vendor": MODEL[0], "model": MODEL[1], "device_type": "gateway",
        "approved_services": list(APPROVED)})
    ids: dict[str, int] = {"model": model.id}

    def add(name: str, **fields: Any) -> int:
        d = devices.create_device(p, admin, {"name": name, **fields})
        assert d.id is not None
        ids[name] = d.id
        return d.id

    gateway: Mapping[str, Any] = {"vendor": MODEL[0], "model": MODEL[1], "site": "HQ",
                                  "segment": IOT_SEGMENT, "firmware_version": "1.4.2"}
    add("gw-1", ip_addresses=[GW1_IP], **gateway)
    add("gw-2", ip_addresses=[GW2_IP], **gateway)
    add("gw-silent", ip_addresses=[SILENT_IP], **gateway)
    add("sensor-depot", device_type="bms_controller", site="Depot",
        ip_addresses=[DEPOT_IP])
    system = registry.create(p, admin, RecordKind.SYSTEM, {
        "name": SYSTEM, "scope": "HQ doors and gateways", "device_ids": [ids["gw-1"]],
        "impact_confidentiality": "high", "impact_integrity": "medium",
        "impact_availability": "high"})
    ids["system"] = system.id
    registry.create(p, admin, RecordKind.DATA_ITEM, {
        "name": "Door event", "classification": "OFFICIAL", "system": SYSTEM})
    registry.create(p, admin, RecordKind.DATA_ITEM, {
        "name": SECRET_ITEM, "classification": "SECRET", "system": SYSTEM,
        "aggregate_of": ["Door event"]})
    ids["host-gw-1"] = add_host(env, device_id=ids["gw-1"], ip=GW1_IP, services=GW1_SERVICES)
    ids["host-gw-2"] = add_host(env, device_id=ids["gw-2"], ip=GW2_IP, services=GW2_SERVICES)
    ids["host-unregistered"] = add_host(env, device_id=None, ip=UNREGISTERED_IP,
                                        services=(TELNET,))
    return ids
