"""The discovery commands run as a user would: ``fleetwarden discover``, ``unregistered``,
``alerts`` and ``settings discovery`` in a subprocess, against real lab devices on loopback
and a real database. Exit codes 0/2, one-line errors, never a traceback; JSON on stdout is
exactly the contract; device-supplied text is inert in tables.
"""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fleetwarden.adapters.lab.pcap import write_pcap
from fleetwarden.adapters.lab.plan import plan_lab
from fleetwarden.domain.lab import Service, Weakness
from fleetwarden.domain.records import RecordKind
from fleetwarden.entrypoints.presenters import event_view
from fleetwarden.services import accounts, alerts, audit, devices, inventory, registry, schedules
from tests.integration.helpers import Env, make_env, run_cli
from tests.integration.lab.harness import make_device, next_ip, running_lab

SCOPE = "127.76.0.0/14"  # every address harness.next_ip hands out
DATA = Path(__file__).resolve().parents[1] / "data" / "discovery"
CAMERA = (Service.HTTP, Service.HTTPS, Service.RTSP, Service.SSH, Service.SSDP, Service.UPNP)


@pytest.fixture
def env(sqlite_url: str) -> Iterator[Env]:
    yield from _env(sqlite_url)


@pytest.fixture
def env_any(database_url: str) -> Iterator[Env]:
    yield from _env(database_url)


def _env(url: str) -> Iterator[Env]:
    """A tenant with a site and a segment covering the lab's addresses (the scan scope)."""
    e = make_env(url)
    registry.create(e.platform, e.admin, RecordKind.SITE, {"name": "HQ"})
    registry.create(e.platform, e.admin, RecordKind.SEGMENT,
                    {"name": "lab", "cidrs": [SCOPE], "site": "HQ"})
    e.app.engine.dispose()
    yield e
    e.app.engine.dispose()


def _url(env: Env) -> str:
    return env.app.settings.db_url


def cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    r = run_cli(*args, db=_url(env))
    assert "Traceback" not in r.stderr, r.stderr
    return r


def ok(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    r = cli(env, *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def refused(env: Env, *args: str, match: str) -> str:
    """Exit 2 with exactly one ``error: ...`` line on stderr, nothing on stdout."""
    r = cli(env, *args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert match in lines[0], lines[0]
    assert r.stdout == ""
    return lines[0]


def _camera(serial: str, mac: str, **fields: object):  # type: ignore[no-untyped-def]
    return make_device(CAMERA, serial=serial, mac=mac, **fields)


def _by_ip(hosts: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {h["ip"]: h for h in hosts}


# ------------------------------------------------------------------ the main flow
def test_discover_json_contract_then_queue_decisions_and_alerts(env_any: Env,
                                                               tmp_path: Path) -> None:
    env = env_any
    a = _camera("DS-CLI-A", "24:48:45:00:20:01", hostname="cam-a")
    b = _camera("DS-CLI-B", "24:48:45:00:20:02", hostname="cam-b")
    c = make_device((Service.HTTP,), serial="DS-CLI-C", mac="24:48:45:00:20:03",
                    hostname="cam-c")
    with running_lab([a, b, c], tmp_path / "lab"):
        r = ok(env, "discover", a.ip, b.ip, c.ip, "--udp", "--format", "json")
    hosts = json.loads(r.stdout)  # stdout is the array and nothing else
    assert isinstance(hosts, list) and set(_by_ip(hosts)) == {a.ip, b.ip, c.ip}
    for host in hosts:
        assert {"ip", "mac", "hostname", "services", "fingerprint", "inventory"} <= host.keys()
        for s in host["services"]:
            assert {"port", "transport", "service", "product", "version", "banner",
                    "tls"} <= s.keys()
        fp = host["fingerprint"]
        assert {"vendor", "model", "device_type", "firmware_version", "os", "confidence",
                "evidence"} <= fp.keys()
        for e in fp["evidence"]:
            assert {"attribute", "value", "source", "rule", "certainty"} <= e.keys()
        assert {"device_id", "status", "changes"} <= host["inventory"].keys()
        assert host["inventory"]["status"] == "new" and host["inventory"]["device_id"] is None
    seen = _by_ip(hosts)[a.ip]
    assert seen["fingerprint"]["vendor"] == "Hikvision"
    assert seen["fingerprint"]["evidence"]
    https = [s for s in seen["services"] if s["tls"] is not None]
    assert https, seen["services"]
    cert = https[0]["tls"]["certificate"]
    assert https[0]["tls"]["version"]
    assert {"subject", "issuer", "not_after", "sha256", "self_signed"} <= cert.keys()
    assert len(cert["sha256"]) == 64
    # the summary goes to stderr, so stdout stays machine-readable
    assert "scan 1 done" in r.stderr and "3 new" in r.stderr

    queue = json.loads(ok(env, "unregistered", "list", "--format", "json").stdout)
    host_of = {h["ip"]: h["id"] for h in queue}
    assert set(host_of) == {a.ip, b.ip, c.ip}
    r = ok(env, "unregistered", "approve", str(host_of[a.ip]), "--name", "cam-a",
           "--site", "HQ", "--owner", "Estates")
    assert "registered as device" in r.stdout
    registered_b = devices.create_device(env.platform, env.admin, {
        "name": "cam-b-registered", "device_type": "cctv_camera", "vendor": "Hikvision",
        "model": "DS-2CD2143G2-I", "lifecycle_state": "in_service"})
    r = ok(env, "unregistered", "merge", str(host_of[b.ip]), "--into", str(registered_b.id),
           "--note", "the same camera")
    assert f"merged into device {registered_b.id}" in r.stdout
    ok(env, "unregistered", "rogue", str(host_of[c.ip]), "--reason", "not one of ours")
    refused(env, "unregistered", "rogue", str(host_of[c.ip]), "--reason", "again",
            match="not in the unregistered queue")
    assert inventory.list_hosts(env.platform, env.admin, "unregistered") == []
    approved = devices.lookup(env.platform, env.admin, "ip", a.ip)
    assert [d.name for d in approved] == ["cam-a"] and approved[0].owner == "Estates"

    # The approved camera comes back with new firmware; the rogue device shows up again.
    upgraded = replace(a, firmware_version="V5.8.0 build 230101")
    with running_lab([upgraded, b, c], tmp_path / "lab"):  # same certificates
        r = ok(env, "discover", a.ip, b.ip, c.ip, "--udp")
    table = r.stdout
    lines = {ip: next(ln for ln in table.splitlines() if ip in ln) for ip in (a.ip, b.ip, c.ip)}
    assert f"changed: device {approved[0].id}" in lines[a.ip]
    assert "firmware" in table and "V5.8.0" in table
    assert f"known: device {registered_b.id}" in lines[b.ip]
    assert "ROGUE" in lines[c.ip]
    assert "80/http" in lines[c.ip]
    assert "scan 2 done" in table and "1 changed" in table and "alerts raised" in table

    raised = json.loads(ok(env, "alerts", "list", "--format", "json").stdout)
    kinds = sorted(x["kind"] for x in raised)
    assert kinds == ["device.changed", "device.new", "device.new", "device.new",
                     "device.rogue_seen"]
    r = ok(env, "alerts", "list", "--kind", "rogue_seen", "--kind", "changed", "--since", "1h",
           "--format", "csv")
    changed, rogue = sorted(csv.DictReader(r.stdout.splitlines()), key=lambda x: x["kind"])
    assert changed["device_id"] == str(approved[0].id) and "firmware" in changed["details"]
    assert rogue["kind"] == "device.rogue_seen" and rogue["severity"] == "high"
    assert "ack" in ok(env, "alerts", "ack", rogue["id"]).stdout
    assert json.loads(ok(env, "alerts", "list", "--kind", "rogue_seen", "--unacknowledged",
                         "--format", "json").stdout) == []
    refused(env, "alerts", "list", "--since", "yesterday", match="--since")
    assert audit.verify(env.platform, env.admin).ok


# ------------------------------------------------ scope, --no-register, show, override
def test_scope_no_register_show_and_override(env: Env, tmp_path: Path) -> None:
    refused(env, "discover", "127.1.2.3", "--udp", match="outside the scan scope")
    assert inventory.list_scans(env.platform, env.admin) == []  # refused before any scan
    refused(env, "discover", next_ip(), "--ports", "80,99999", match="99999")
    cam = _camera("DS-CLI-S", "24:48:45:00:21:01")
    with running_lab([cam], tmp_path / "lab"):
        r = ok(env, "discover", cam.ip, "--no-register", "--format", "json")
        [host] = json.loads(r.stdout)
        assert host["inventory"]["status"] == "new"
        assert "--no-register" in r.stderr
        assert inventory.list_hosts(env.platform, env.admin, "all") == []
        assert alerts.list_alerts(env.platform, env.admin) == []
        ok(env, "discover", cam.ip)
    [stored] = inventory.list_hosts(env.platform, env.admin, "all")
    hid = str(stored.id)

    shown = ok(env, "discover", "show", hid).stdout
    assert "evidence" in shown and "certainty" in shown and "matched" in shown
    assert "hikvision" in shown.lower()
    assert "TLS and certificate" in shown and "self_signed" in shown
    sha = next(s["tls"]["certificate"]["sha256"] for s in stored.services if s.get("tls"))
    assert sha in shown

    ok(env, "discover", "override", hid, "--set", "model=DS-OVERRIDDEN", "--set",
       "device_type=nvr")
    shown = ok(env, "discover", "show", hid).stdout
    assert "DS-OVERRIDDEN" in shown and "override" in shown
    assert "model=DS-OVERRIDDEN" in shown
    ok(env, "discover", "override", hid, "--clear", "model")
    host = inventory.get_host(env.platform, env.admin, stored.id or 0)
    assert host.overrides == {"device_type": "nvr"} and host.model == "DS-2CD2143G2-I"
    refused(env, "discover", "override", hid, match="nothing to change")
    hosts = json.loads(ok(env, "discover", "hosts", "--status", "unregistered", "--format",
                          "json").stdout)
    assert [h["id"] for h in hosts] == [stored.id] and hosts[0]["fingerprint"]["evidence"]
    scans = json.loads(ok(env, "discover", "scans", "--format", "json").stdout)
    assert [s["registered"] for s in scans] == [True, False]  # newest first
    assert '"registered": false' in ok(env, "discover", "scan", str(scans[1]["id"]),
                                       "--format", "json").stdout


# --------------------------------------------------------- hostile device text
def test_hostile_banners_render_inert(env: Env, tmp_path: Path) -> None:
    evil = make_device(
        (Service.HTTP, Service.TELNET, Service.SNMP),
        weaknesses=[Weakness.HOSTILE_BANNER, Weakness.SNMP_PUBLIC],
        serial="EVIL-0001", mac="24:48:45:00:22:01", hostname="evil\x1b[31mcam[/]",
        persona={"http_title": "[bold red]pwned[/] \x1b[2J<script>x</script>",
                 "telnet_banner": "\x1b[2J\x1b[31mWARNING[/red]\x07 [link=file:///etc]x",
                 "snmp_sysdescr": "cam \x1b]0;owned\x07 [/] \x9b31m"})
    with running_lab([evil], tmp_path / "lab"):
        r = ok(env, "discover", evil.ip, "--udp")
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "\x9b" not in r.stdout
    assert evil.ip in r.stdout and "[/]" in r.stdout  # shown literally, not as markup
    [host] = inventory.list_hosts(env.platform, env.admin, "all")
    r = ok(env, "discover", "show", str(host.id))
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "WARNING[/red]" in r.stdout  # the banner, as text
    r = ok(env, "discover", "hosts")
    assert "\x1b" not in r.stdout


# ---------------------------------------------------------------- passive files
def test_pcap_and_nmap_xml_and_bad_files(env: Env, tmp_path: Path) -> None:
    capture = tmp_path / "estate.pcap"
    plan = plan_lab("small-force", count=3)
    write_pcap(plan, capture, None)
    r = ok(env, "discover", "--pcap", str(capture), "--format", "json")
    hosts = json.loads(r.stdout)
    by_mac = {h["mac"]: h for h in hosts if h["mac"]}
    for device in plan.devices:
        assert by_mac[device.mac]["ip"] == device.ip
        assert by_mac[device.mac]["inventory"]["status"] == "new"
    r = ok(env, "discover", "--nmap-xml", str(DATA / "nmap-scan.xml"))
    assert "192.0.2.5" in r.stdout and "22/ssh" in r.stdout and "Axis" in r.stdout
    before = len(inventory.list_hosts(env.platform, env.admin, "all"))
    alerts_before = len(alerts.list_alerts(env.platform, env.admin))

    truncated = tmp_path / "cut.pcap"
    truncated.write_bytes(capture.read_bytes()[:100])
    refused(env, "discover", "--pcap", str(truncated), match="cut.pcap")
    refused(env, "discover", "--nmap-xml", str(DATA / "nmap-bomb.xml"), match="nmap-bomb.xml")
    refused(env, "discover", "--dhcp-leases", str(DATA / "leases-garbage.txt"),
            match="leases-garbage.txt")
    refused(env, "discover", "--arp-table", str(tmp_path / "absent.txt"),
            match="no such file")
    assert len(inventory.list_hosts(env.platform, env.admin, "all")) == before
    assert len(alerts.list_alerts(env.platform, env.admin)) == alerts_before
    failed = [s for s in inventory.list_scans(env.platform, env.admin) if s.status == "failed"]
    assert len(failed) == 3  # each bad file is on record, named, and changed nothing else


# ------------------------------------------------------- schedules and settings
def test_schedules_and_discovery_settings(env: Env, tmp_path: Path) -> None:
    r = ok(env, "discover", "schedule", "add", "--segment", "lab", "--every", "1h", "--udp",
           "--profile", "gentle")
    assert "every 1 hour" in r.stdout
    refused(env, "discover", "schedule", "add", "--segment", "lab", "--every", "2h",
            match="already has a schedule")
    refused(env, "discover", "schedule", "add", "--segment", "lab", "--every", "10s",
            match="--every")
    [s] = json.loads(ok(env, "discover", "schedule", "list", "--format", "json").stdout)
    assert s["segment"] == "lab" and s["every_seconds"] == 3600
    assert s["options"]["udp"] is True and s["options"]["profile"] == "gentle"
    ok(env, "discover", "schedule", "remove", str(s["id"]))
    assert schedules.list_schedules(env.platform, env.admin) == []

    secret = "hook-secret-5f1c9e"
    key = tmp_path / "hook.key"
    key.write_text(secret + "\n", encoding="utf-8")
    r = ok(env, "settings", "discovery", "--missing-after", "2d", "--webhook",
           "http://127.0.0.1:9/alerts", "--webhook-secret-file", str(key))
    assert "2 days" in r.stdout and "(signed)" in r.stdout and secret not in r.stdout
    r = ok(env, "settings", "discovery")
    assert "2 days" in r.stdout and "http://127.0.0.1:9/alerts (signed)" in r.stdout
    assert secret not in r.stdout + r.stderr
    refused(env, "settings", "discovery", "--missing-after", "90m", match="whole hours")
    refused(env, "settings", "discovery", "--webhook-secret-file", str(tmp_path / "none"),
            match="cannot read")
    ok(env, "settings", "discovery", "--no-webhook")
    tenant = accounts.resolve_tenant(env.platform, None)
    assert tenant.settings.alert_webhook_url is None
    assert tenant.settings.missing_after_hours == 48
    exported = json.dumps([event_view(e) for e in audit.export(env.platform, env.admin)],
                          default=str)
    assert secret not in exported and "missing_after_hours" in exported


# --------------------------------------------------------------- help and usage
def test_discover_group_help_and_default_command(env: Env) -> None:
    r = cli(env, "discover")
    assert r.returncode in (0, 2)
    out = r.stdout + r.stderr
    assert "Usage" in out and "schedule" in out
    r = ok(env, "discover", "--help")
    for name in ("run", "hosts", "show", "override", "scans", "scan", "schedule"):
        assert name in r.stdout
    assert "short for" in r.stdout and "TARGET" in r.stdout
    r = ok(env, "discover", "127.1.1.1", "--help")  # the default command's own help
    assert "--pcap" in r.stdout and "--no-register" in r.stdout
