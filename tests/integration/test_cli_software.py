"""`sbom` and `feeds` end to end: real files in the standard formats, the real CLI, a real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.feeds.helpers import cve, feed, gz
from tests.integration.feeds.helpers import data as feed_file
from tests.integration.helpers import run_cli


@pytest.fixture
def db(database_url: str) -> str:
    done = run_cli("init", "--tenant", "Northshire", "--admin", "iso@northshire.example",
                   db=database_url)
    assert done.returncode == 0, done.stderr
    return database_url


def _lab_sboms(tmp_path: Path) -> list[dict[str, str]]:
    """The SBOMs the lab's suppliers publish (CycloneDX or SPDX, per supplier)."""
    out = tmp_path / "sboms"
    done = subprocess.run([sys.executable, "-m", "fleetwarden", "lab", "sboms", str(out),
                           "--scenario", "small-force"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    index = json.loads((out / "index.json").read_text())
    return [{**e, "path": str(out / e["file"])} for e in index["sboms"]]


def _cli(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, db=db)


def test_firmware_and_device_sboms_record_what_changed(db: str, tmp_path: Path) -> None:
    entries = _lab_sboms(tmp_path)
    releases: dict[tuple[str, str], list[dict[str, str]]] = {}
    for e in entries:
        releases.setdefault((e["vendor"], e["model"]), []).append(e)
    (vendor, name), (old, new) = next(
        (k, (v[0], v[-1])) for k, v in releases.items()
        if len(v) > 1 and v[0]["format"].startswith("cyclonedx"))
    model = f"{vendor}/{name}"
    done = _cli(db, "devices", "add", "cam-1", "-s", "device_type=cctv_camera",
                "-s", f"vendor={vendor}", "-s", f"model={name}")
    assert done.returncode == 0, done.stderr
    done = _cli(db, "sbom", "import", old["path"], "--model", model,
                "--firmware", old["firmware"])
    assert done.returncode == 0, done.stderr
    assert f"{old['components']} components for" in done.stdout
    listed = _cli(db, "sbom", "components", "--model", model, "--firmware", old["firmware"],
                  "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == int(old["components"])
    again = _cli(db, "sbom", "import", old["path"], "--model", model,
                 "--firmware", old["firmware"])
    assert "0 added, 0 removed, 0 changed" in again.stdout, again.stdout
    assert _cli(db, "sbom", "import", old["path"], "--device", "1").returncode == 0
    upgraded = _cli(db, "sbom", "import", new["path"], "--device", "1")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "changed:" in upgraded.stdout  # the newer firmware ships newer components
    spdx = next(e for e in entries if e["format"].startswith("spdx"))
    done = _cli(db, "models", "add", "-s", f"vendor={spdx['vendor']}",
                "-s", f"model={spdx['model']}", "-s", "device_type=other")
    assert done.returncode == 0, done.stderr
    done = _cli(db, "sbom", "import", spdx["path"], "--model",
                f"{spdx['vendor']}/{spdx['model']}", "--firmware", spdx["firmware"])
    assert done.returncode == 0, done.stderr
    log = _cli(db, "audit", "export", "--format", "json")
    assert log.returncode == 0
    assert sum(1 for e in json.loads(log.stdout) if e["action"] == "sbom.import") == 5


def test_sbom_needs_a_subject_and_a_good_file(db: str, tmp_path: Path) -> None:
    entry = _lab_sboms(tmp_path)[0]
    done = _cli(db, "sbom", "import", entry["path"])
    assert done.returncode == 2 and "--device ID, or --model" in done.stderr
    done = _cli(db, "sbom", "import", entry["path"], "--device", "999")
    assert done.returncode == 2 and "not found" in done.stderr
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaa">'
                    '<!ENTITY b "&a;&a;&a;&a;">]><bom xmlns="http://cyclonedx.org/schema/bom/1.5">'
                    "&b;</bom>")
    done = _cli(db, "sbom", "import", str(bomb), "--device", "1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_feeds_import_all_or_nothing_and_status(db: str, tmp_path: Path) -> None:
    nvd = feed_file("nvd-CVE-2022-0778.json")
    kev = feed_file("kev.json")
    epss = tmp_path / "epss.csv.gz"
    epss.write_bytes(gzip.compress(feed_file("epss.csv").read_bytes()))
    bad = tmp_path / "bad.json"
    bad.write_text('{"vulnerabilities": [{"cve": {"id": "CVE-2024-0001"')
    refused = _cli(db, "feeds", "import", str(nvd), str(bad))
    assert refused.returncode == 2, refused.stderr
    assert "bad.json" in refused.stderr and refused.stderr.count("\n") == 1
    status = json.loads(_cli(db, "feeds", "status", "--format", "json").stdout)
    assert {s["source"]: s["stored"] for s in status}["nvd"] == 0  # nothing applied
    done = _cli(db, "feeds", "import", str(nvd), str(kev), str(epss),
                str(feed_file("osv-GHSA-v845-jxx5-vc9f.json")), str(feed_file("openvex.json")))
    assert done.returncode == 0, done.stderr
    status = {s["source"]: s for s in
              json.loads(_cli(db, "feeds", "status", "--format", "json").stdout)}
    assert status["nvd"]["stored"] == 1 and status["kev"]["stored"] >= 1
    assert status["epss"]["stored"] >= 1 and status["osv"]["stored"] == 1
    assert status["vex"]["stored"] >= 1
    assert status["nvd"]["age_days"] is not None
    again = _cli(db, "feeds", "import", str(nvd))
    assert again.returncode == 0 and "1 replaced" in again.stdout
    table = _cli(db, "feeds", "status")
    assert table.returncode == 0 and "nvd" in table.stdout


def test_a_bad_record_deep_in_a_streamed_nvd_file_rolls_back_every_file(
        db: str, tmp_path: Path) -> None:
    items = [cve(i) for i in range(12_000)]  # more than two streaming batches
    items[11_000]["cve"]["metrics"]["cvssMetricV31"][0]["cvssData"]["vectorString"] = \
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Z"
    items.append(cve(7))  # the same id again later in the file: the later record wins
    nvd = gz(feed(tmp_path / "f.json", items), tmp_path / "nvdcve-2.0-2024.json.gz")
    refused = _cli(db, "feeds", "import", str(feed_file("kev.json")), str(nvd))
    assert refused.returncode == 2, refused.stderr
    assert "vulnerabilities[11000]" in refused.stderr and refused.stderr.count("\n") == 1
    status = {s["source"]: s["stored"] for s in
              json.loads(_cli(db, "feeds", "status", "--format", "json").stdout)}
    assert status["nvd"] == 0 and status["kev"] == 0
    done = _cli(db, "feeds", "import", "--skip-bad-records", str(nvd))
    assert done.returncode == 0, done.stderr
    assert "12000 nvd records" in done.stdout and "1 bad records skipped" in done.stdout
    status = {s["source"]: s["stored"] for s in
              json.loads(_cli(db, "feeds", "status", "--format", "json").stdout)}
    assert status["nvd"] == 11_999
