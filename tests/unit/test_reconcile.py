"""Reconciliation rules: which stored host a sighting is, and what changed."""

from __future__ import annotations

from fleetwarden.domain.discovery import (
    CertificateInfo,
    Field,
    HostObservation,
    ServiceObservation,
    Source,
    TlsInfo,
)
from fleetwarden.domain.fingerprint import Attribute, Evidence, Fingerprint, with_overrides
from fleetwarden.domain.reconcile import (
    HostStatus,
    KnownHost,
    Outcome,
    ServiceKey,
    Strength,
    changes,
    group_observations,
    match,
    outcome,
    sighting,
)

T = "2026-11-23T10:00:00Z"


def _cert(sha: str) -> TlsInfo:
    return TlsInfo("TLSv1.2", certificate=CertificateInfo("CN=x", "CN=x", None, T, sha, True))


def _obs(ip: str | None = "10.0.0.5", mac: str | None = None, services=(),  # type: ignore[no-untyped-def]
         source: Source = Source.ACTIVE) -> HostObservation:
    return HostObservation(source, T, ip=ip, mac=mac, services=tuple(services))


def _seen(*obs: HostObservation, serial: str | None = None, fw: str | None = None):  # type: ignore[no-untyped-def]
    return sighting(list(obs), Fingerprint(serial=serial, firmware_version=fw))


def _known(host_id: int, **kw) -> KnownHost:  # type: ignore[no-untyped-def]
    kw.setdefault("status", HostStatus.REGISTERED)
    kw.setdefault("device_id", host_id)
    return KnownHost(host_id=host_id, **kw)


def test_grouping_joins_mac_only_observations_to_their_address() -> None:
    arp = _obs(ip="10.0.0.5", mac="aa:bb:cc:00:00:01", source=Source.ARP_TABLE)
    dhcp = _obs(ip=None, mac="aa:bb:cc:00:00:01", source=Source.DHCP_LEASES)
    lone = _obs(ip=None, mac="aa:bb:cc:00:00:02", source=Source.PCAP)
    active = _obs(ip="10.0.0.5")
    groups = group_observations([arp, dhcp, lone, active])
    assert sorted(len(g) for g in groups) == [1, 3]


def test_strong_identifier_beats_address_so_a_moved_device_stays_itself() -> None:
    s = _seen(_obs(ip="10.0.0.9", mac="aa:bb:cc:00:00:01"))
    moved = _known(1, ip="10.0.0.5", macs=("aa:bb:cc:00:00:01",))
    squatter = _known(2, ip="10.0.0.9")
    m = match(s, [squatter, moved])
    assert m.host is moved and m.by is Strength.MAC
    found = changes(moved, s, complete=True)
    assert [(c.field, c.before, c.after) for c in found] == [("ip", "10.0.0.5", "10.0.0.9")]


def test_address_match_refused_when_a_strong_identifier_differs() -> None:
    s = _seen(_obs(ip="10.0.0.9", mac="aa:bb:cc:00:00:99"))
    old = _known(1, ip="10.0.0.9", macs=("aa:bb:cc:00:00:01",))
    assert match(s, [old]).host is None
    plain = _known(2, ip="10.0.0.9")
    assert match(s, [old, plain]).host is plain


def test_a_shared_certificate_identifies_no_device() -> None:
    svc = ServiceObservation(443, "tcp", "https", tls=_cert("ab" * 32))
    s = _seen(_obs(ip="10.0.0.7", services=[svc]))
    a = _known(1, ip="10.0.0.1", certificates=("ab" * 32,))
    assert match(s, [a], shared_certificates=frozenset({"ab" * 32})).host is None
    assert match(s, [a]).by is Strength.CERTIFICATE
    b = _known(2, ip="10.0.0.2", certificates=("ab" * 32,))
    assert match(s, [a, b]).host is None  # two owners: ambiguous, not a guess


def test_changes_firmware_services_and_certificates() -> None:
    old_svc = (ServiceKey(80, "tcp", "http"), ServiceKey(23, "tcp", "telnet"))
    before = _known(1, ip="10.0.0.5", firmware_version="V5.5.0", services=old_svc,
                    service_certificates={"443/tcp": "11" * 32}, seen_before=True)
    now = _seen(_obs(services=[ServiceObservation(80, "tcp", "http"),
                               ServiceObservation(443, "tcp", "https", tls=_cert("22" * 32))]),
                fw="V5.7.3")
    found = {(c.field, c.before, c.after) for c in changes(before, now, complete=True)}
    assert ("firmware_version", "V5.5.0", "V5.7.3") in found
    assert ("service_opened", None, "443/tcp https") in found
    assert ("service_closed", "23/tcp telnet", None) in found
    assert ("certificate", f"443/tcp {'11' * 32}", f"443/tcp {'22' * 32}") in found
    partial = {c.field for c in changes(before, now, complete=False)}
    assert "service_closed" not in partial  # a passive source saw only some ports


def test_a_first_sighting_of_a_registered_device_is_not_a_service_change() -> None:
    before = _known(1, ip="10.0.0.5", seen_before=False)
    now = _seen(_obs(services=[ServiceObservation(80, "tcp", "http")]))
    assert changes(before, now, complete=True) == []
    assert outcome(HostStatus.REGISTERED, []) is Outcome.KNOWN
    assert outcome(HostStatus.UNREGISTERED, []) is Outcome.NEW
    assert outcome(None, []) is Outcome.NEW


def test_ssh_host_key_and_serial_are_taken_from_the_sighting() -> None:
    ssh = ServiceObservation(22, "tcp", "ssh", fields={Field.SSH_HOST_KEY: "SHA256:abc"})
    s = _seen(_obs(services=[ssh]), serial="SN-1")
    assert s.identifier(Strength.SSH_HOST_KEY) == ("SHA256:abc",)
    assert match(s, [_known(3, ssh_host_key="SHA256:abc")]).by is Strength.SSH_HOST_KEY
    assert match(s, [_known(4, serial="SN-1"), _known(3, ssh_host_key="SHA256:abc")]
                 ).by is Strength.SERIAL


def test_overrides_replace_earlier_ones_and_keep_rule_evidence() -> None:
    rule = Evidence(Attribute.VENDOR, "Axis", "active:http.server@80/tcp", "axis-http", 0.8,
                    "AXIS")
    fp = with_overrides(Fingerprint(evidence=(rule,)), {Attribute.VENDOR: "Hikvision"})
    assert fp.vendor == "Hikvision" and rule in fp.evidence
    cleared = with_overrides(fp, {})
    assert cleared.vendor == "Axis"
    assert all(e.rule != "override" for e in cleared.evidence)
