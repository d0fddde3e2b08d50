"""bench/gen_vulns.py at tiny scale: every file it writes reads back through the
project's own readers, with the counts asked for (no timing here: bench/ measures)."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from fleetwarden.adapters.feeds import FeedKind, read_feed
from fleetwarden.adapters.sbom import read_sbom
from fleetwarden.domain.cpe import parse_cpe
from fleetwarden.domain.device_input import IMPORT_COLUMNS, parse_device
from fleetwarden.domain.vocab import DeviceType, Zone
from fleetwarden.domain.vulnmatch import CpeIndex, VulnIndex

GEN = Path(__file__).resolve().parents[2] / "bench" / "gen_vulns.py"
CVES, IMAGES, COMPONENTS, DEVICES = 300, 3, 5, 50


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_vulns", GEN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_vulns", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load()


@pytest.fixture(scope="module")
def out(gen: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("genvulns")
    gen.generate(path, cves=CVES, images=IMAGES, components=COMPONENTS, devices=DEVICES,
                 seed=7, jobs=1)
    return path


def test_nvd_feed_reads_back_whole(out: Path) -> None:
    feed = read_feed(out / "nvd.json.gz")
    assert feed.kind is FeedKind.NVD
    assert feed.counts.read == CVES
    assert feed.counts.skipped == 0
    assert feed.warnings == ()  # every stated CVSS score is the library's
    assert len({v.id for v in feed.vulnerabilities}) == CVES
    withdrawn = sum(v.withdrawn is not None for v in feed.vulnerabilities)
    assert 0 <= withdrawn < CVES // 10
    assert sum(bool(v.configurations) for v in feed.vulnerabilities) > CVES * 0.9


def test_delta_kev_and_epss_read_back(out: Path) -> None:
    main_ids = {v.id for v in read_feed(out / "nvd.json.gz").vulnerabilities}
    delta = read_feed(out / "nvd-delta.json")
    assert delta.counts.skipped == 0 and delta.warnings == ()
    ids = {v.id for v in delta.vulnerabilities}
    assert ids & main_ids and ids - main_ids  # some modified, some new
    kev = read_feed(out / "kev.json")
    assert kev.kind is FeedKind.KEV and kev.counts.skipped == 0
    assert {e.cve_id for e in kev.kev} <= main_ids
    epss = read_feed(out / "epss.csv.gz")
    assert epss.kind is FeedKind.EPSS and epss.version == "v2025.03.14"
    assert epss.counts.read == CVES and {s.cve_id for s in epss.epss} == main_ids


def test_sboms_read_back_and_match(out: Path) -> None:
    index = VulnIndex(read_feed(out / "nvd.json.gz").vulnerabilities)
    with (out / "images.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == IMAGES
    assert list(rows[0]) == ["image", "vendor", "model", "device_type", "firmware", "sbom",
                             "hardware_cpe"]
    for row in rows:
        sbom = read_sbom(out / row["sbom"])
        assert sbom.format == "cyclonedx-1.5"
        assert len(sbom.components) == COMPONENTS
        firmware = [c for c in sbom.components if c.type == "firmware"]
        assert len(firmware) == 1 and firmware[0].version == row["firmware"]
        cpes = [parse_cpe(c.cpe) for c in sbom.components if c.cpe]
        platform = CpeIndex([*cpes, parse_cpe(row["hardware_cpe"])])
        for component in sbom.components:
            index.match(component, platform)  # decides without raising


def test_devices_csv_imports_against_records(out: Path) -> None:
    records = json.loads((out / "records.json").read_text(encoding="utf-8"))
    sites = {s["name"] for s in records["sites"]}
    segments = {s["name"] for s in records["segments"]}
    models = {(m["vendor"], m["model"]) for m in records["models"]}
    assert all(s["zone"] in {z.value for z in Zone} and s["site"] in sites
               for s in records["segments"])
    assert all(m["device_type"] in {t.value for t in DeviceType} for m in records["models"])
    with (out / "images.csv").open(encoding="utf-8") as fh:
        images = {(r["vendor"], r["model"], r["firmware"]) for r in csv.DictReader(fh)}
    with (out / "devices.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames is not None and set(reader.fieldnames) <= IMPORT_COLUMNS
        rows = list(reader)
    assert len(rows) == DEVICES
    drafts = [parse_device(r) for r in rows]
    for draft in drafts:
        assert draft.site in sites and draft.segment in segments
        assert (draft.vendor, draft.model) in models
        assert (draft.vendor, draft.model, draft.firmware_version) in images
    for ids in ([d.name for d in drafts], [d.serial for d in drafts],
                [d.mac_addresses[0] for d in drafts], [d.ip_addresses[0] for d in drafts]):
        assert len(set(ids)) == DEVICES


def test_same_seed_same_bytes(gen: ModuleType, out: Path, tmp_path: Path) -> None:
    gen.generate(tmp_path, cves=CVES, images=IMAGES, components=COMPONENTS, devices=DEVICES,
                 seed=7, jobs=1)
    for name in ("nvd.json.gz", "nvd-delta.json", "kev.json", "epss.csv.gz", "images.csv",
                 "devices.csv", "sboms/image_0001.cdx.json"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
