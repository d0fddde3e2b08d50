"""The real ``fleetwarden`` command, run as a user would: init, import, list, show,
transition, audit; exit codes 0/1/2 and one-line errors, never a traceback."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.integration.helpers import run_cli

HEADER = "name,device_type,vendor,model,serial,mac_addresses,ip_addresses,site,lifecycle_state\n"


@pytest.fixture
def db(database_url: str) -> str:
    r = run_cli("init", "--tenant", "Northshire", "--admin", "admin@northshire.example",
                db=database_url)
    assert r.returncode == 0, r.stderr
    token_lines = [ln for ln in r.stdout.splitlines() if ln.startswith("token: ")]
    assert len(token_lines) == 1 and token_lines[0].startswith("token: fw_")
    assert run_cli("sites", "add", "-s", "name=HQ", db=database_url).returncode == 0
    return database_url


def _write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


def test_import_list_show_transition_verify(db: str, tmp_path: Path) -> None:
    rows = "".join(
        f"cam-{i},cctv_camera,Axis,P3245,AX{i},aa:bb:cc:00:01:{i:02x},127.20.1.{i + 1},HQ,"
        "in_service\n" for i in range(20)
    )
    f = _write(tmp_path, "devices.csv", HEADER + rows)
    r = run_cli("devices", "import", str(f), "--dry-run", db=db)
    assert r.returncode == 0 and "nothing was written" in r.stdout
    r = run_cli("devices", "list", "--format", "json", db=db)
    assert json.loads(r.stdout) == []
    r = run_cli("devices", "import", str(f), db=db)
    assert r.returncode == 0, r.stderr
    r = run_cli("devices", "list", "--type", "cctv_camera", "--site", "HQ", "--format", "json",
                db=db)
    devices = json.loads(r.stdout)
    assert len(devices) == 20
    required = {"id", "name", "tenant", "device_type", "vendor", "model", "serial",
                "mac_addresses", "ip_addresses", "firmware_version", "site", "segment",
                "lifecycle_state", "owner", "criticality", "last_seen"}
    assert required <= devices[0].keys() and devices[0]["tenant"] == "Northshire"
    first = devices[0]["id"]
    r = run_cli("devices", "transition", str(first), "maintenance", "--reason", "lens clean",
                db=db)
    assert r.returncode == 0, r.stderr
    r = run_cli("devices", "show", str(first), "--format", "json", db=db)
    shown = json.loads(r.stdout)
    assert shown["lifecycle_state"] == "maintenance"
    assert shown["history"][-1]["reason"] == "lens clean"
    r = run_cli("audit", "verify", db=db)
    assert r.returncode == 0 and "intact" in r.stdout


def test_list_csv_round_trips_into_another_tenant(db: str, tmp_path: Path) -> None:
    f = _write(tmp_path, "d.csv", HEADER + "lock-1,door_lock,Salto,XS4,SL1,,,HQ,planned\n")
    assert run_cli("devices", "import", str(f), db=db).returncode == 0
    exported = run_cli("devices", "list", "--format", "csv", db=db).stdout
    assert next(csv.reader([exported.splitlines()[0]]))[0] == "id"
    assert run_cli("init", "--tenant", "Southshire", "--admin", "a@s.example",
                   db=db).returncode == 0
    assert run_cli("--tenant", "Southshire", "sites", "add", "-s", "name=HQ",
                   db=db).returncode == 0
    # the tenant column names Northshire, so importing into Southshire is refused ...
    f2 = _write(tmp_path, "export.csv", exported)
    r = run_cli("--tenant", "Southshire", "devices", "import", str(f2), db=db)
    assert r.returncode == 2 and "tenant" in r.stderr
    # ... and accepted once it is blanked
    rows = list(csv.DictReader(exported.splitlines()))
    rows[0]["tenant"] = ""
    with (tmp_path / "fixed.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = run_cli("--tenant", "Southshire", "devices", "import", str(tmp_path / "fixed.csv"), db=db)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name,colour\nx,red\n", "unknown column"),
        (HEADER + "cam,cctv_camera,Axis,P1,S1,zz,,HQ,planned\n", "row 1: mac_addresses"),
        (HEADER + "cam,cctv_camera,Axis,P1,S1,,,Nowhere,planned\n", "unknown site"),
        (HEADER + "a,cctv_camera,Axis,P1,S1,,,HQ,planned\nb,cctv_camera,Axis,P1,S1,,,HQ,planned\n",
         "duplicate serial"),
        (HEADER + "cam,cctv_camera\n", "cells"),
        ("", "empty"),
        ("name\n\x00\n", "control characters"),
    ],
)
def test_bad_files_exit_2_with_one_line_and_change_nothing(
    db: str, tmp_path: Path, body: str, message: str
) -> None:
    f = _write(tmp_path, "bad.csv", body)
    r = run_cli("devices", "import", str(f), db=db)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert json.loads(run_cli("devices", "list", "-f", "json", db=db).stdout) == []


def test_json_array_and_invalid_utf8(db: str, tmp_path: Path) -> None:
    f = tmp_path / "d.json"
    f.write_text(json.dumps([{"name": "nvr-1", "device_type": "nvr", "serial": "N1",
                              "mac_addresses": ["aa:bb:cc:00:00:09"]}]))
    assert run_cli("devices", "import", str(f), db=db).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"name\n\xff\xfe\n")
    r = run_cli("devices", "import", str(bad), db=db)
    assert r.returncode == 2 and "UTF-8" in r.stderr


def test_usage_and_unknown_ids(db: str) -> None:
    r = run_cli("devices", "show", "999", db=db)
    assert r.returncode == 2 and r.stderr.strip() == "error: device 999 not found"
    r = run_cli("devices", "transition", "999", "bogus", "--reason", "x", db=db)
    assert r.returncode == 2 and "unknown lifecycle state" in r.stderr
    r = run_cli("devices", "list", "--state", "nope", db=db)
    assert r.returncode == 2
    r = run_cli("devices", "frobnicate", db=db)
    assert r.returncode == 2


def test_illegal_transition_exits_2_with_reason(db: str) -> None:
    r = run_cli("devices", "add", "cam-x", "-s", "device_type=cctv_camera", db=db)
    assert r.returncode == 0, r.stderr
    r = run_cli("devices", "transition", "1", "disposed", "--reason", "x", db=db)
    assert r.returncode == 0  # planned -> disposed is allowed (never bought)
    r = run_cli("devices", "transition", "1", "in_service", "--reason", "x", db=db)
    assert r.returncode == 2 and "final state" in r.stderr


def test_audit_export_formats(db: str) -> None:
    r = run_cli("audit", "export", "--format", "json", db=db)
    events = json.loads(r.stdout)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert "fw_" not in r.stdout  # tokens never reach the log
    r = run_cli("audit", "export", "--format", "csv", db=db)
    assert r.stdout.splitlines()[0].startswith("seq,at,actor,action")


def test_missing_schema_gives_a_hint(tmp_path: Path) -> None:
    r = run_cli("devices", "list", db=f"sqlite:///{tmp_path}/empty.db")
    assert r.returncode == 1 and "fleetwarden init" in r.stderr


def test_change_control_from_the_cli(db: str) -> None:
    assert run_cli("devices", "add", "door-1", "-s", "device_type=door_lock", "-s",
                   "lifecycle_state=in_service", db=db).returncode == 0
    assert run_cli("settings", "change-control", "on", db=db).returncode == 0
    r = run_cli("devices", "transition", "1", "maintenance", "--reason", "battery", db=db)
    assert r.returncode == 2 and "change request" in r.stderr
    r = run_cli("changes", "request", "1", "--reason", "battery swap", "--reference", "CAB-7",
                db=db)
    assert r.returncode == 0, r.stderr
    r = run_cli("changes", "approve", "1", db=db)
    assert r.returncode == 2 and "own change request" in r.stderr
    r = run_cli("changes", "approve", "1", "--approver", "cab@northshire.example", db=db)
    assert r.returncode == 0, r.stderr
    r = run_cli("devices", "transition", "1", "maintenance", "--reason", "battery",
                "--change-request", "1", db=db)
    assert r.returncode == 0, r.stderr
    listed = json.loads(run_cli("changes", "list", "-f", "json", db=db).stdout)
    assert listed[0]["status"] == "used"
    assert listed[0]["approver"].startswith("cab@northshire.example (via cli:")
