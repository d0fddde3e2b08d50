"""A small estate with firmware SBOMs and feeds, shared by the findings tests.

Two Hikvision camera models (one named by CVE-2021-36260's configurations, one not),
a door controller with its own per-device SBOM, the real-shape NVD records, KEV and EPSS
from ``tests/integration/feeds/data``, all written as files in the standard formats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleetwarden.domain.records import RecordKind
from fleetwarden.services import devices, feeds, registry, software
from tests.integration.feeds.helpers import data as feed_data
from tests.integration.feeds.helpers import feed, hikvision, openssl
from tests.integration.helpers import Env

CAM_MODEL = "Hikvision/DS-2CD2026G2-IU/SL"
CAM_HW = r"cpe:2.3:h:hikvision:ds-2cd2026g2-iu\/sl:-:*:*:*:*:*:*:*"
CAM_FW = r"cpe:2.3:o:hikvision:ds-2cd2026g2-iu\/sl_firmware:{v}:*:*:*:*:*:*:*"
OTHER_MODEL = "Hikvision/DS-2CD1043G0-I"
OLD, NEW = "V5.5.0 build 200101", "V5.5.800 build 210628"


def cyclonedx(path: Path, components: list[dict[str, Any]]) -> Path:
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
           "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
           "metadata": {"component": {"type": "firmware", "name": "camera firmware"}},
           "components": [{"type": "library", **c} for c in components]}
    path.write_text(json.dumps(doc))
    return path


def firmware_components(version: str, openssl_version: str) -> list[dict[str, Any]]:
    v = version.lower().replace(" build ", "_build")  # as NVD writes Hikvision versions
    return [
        {"name": "camera-firmware", "version": v, "cpe": CAM_FW.format(v=v)},
        {"name": "openssl", "version": openssl_version,
         "purl": f"pkg:generic/openssl@{openssl_version}",
         "cpe": f"cpe:2.3:a:openssl:openssl:{openssl_version}:*:*:*:*:*:*:*"},
        {"name": "busybox", "version": "1.31.1", "purl": "pkg:generic/busybox@1.31.1"},
    ]


def build(env: Env, tmp: Path) -> dict[str, Any]:
    """Register the estate and import SBOMs and feeds; returns the device ids by name."""
    p, admin = env.platform, env.admin
    registry.create(p, admin, RecordKind.SITE, {"name": "HQ"})
    registry.create(p, admin, RecordKind.SITE, {"name": "Depot"})
    registry.create(p, admin, RecordKind.SEGMENT, {"name": "hq-cctv", "zone": "iot-cctv",
                                                   "cidrs": ["127.30.1.0/24"], "site": "HQ"})
    registry.create(p, admin, RecordKind.SEGMENT, {"name": "dmz", "zone": "dmz",
                                                   "cidrs": ["127.30.9.0/24"], "site": "HQ"})
    vendor, model = CAM_MODEL.split("/", 1)
    registry.create(p, admin, RecordKind.MODEL, {"vendor": vendor, "model": model,
                                                 "device_type": "cctv_camera", "cpe": CAM_HW})
    v2, m2 = OTHER_MODEL.split("/", 1)
    registry.create(p, admin, RecordKind.MODEL, {"vendor": v2, "model": m2,
                                                 "device_type": "cctv_camera"})
    ids: dict[str, int] = {}

    def add(name: str, **fields: Any) -> None:
        d = devices.create_device(p, admin, {"name": name, "device_type": "cctv_camera",
                                             **fields})
        assert d.id is not None
        ids[name] = d.id

    add("cam-old-1", vendor=vendor, model=model, firmware_version=OLD, site="HQ",
        segment="hq-cctv")
    add("cam-old-2", vendor=vendor, model=model, firmware_version=OLD, site="HQ",
        segment="dmz", criticality="critical")
    add("cam-new", vendor=vendor, model=model, firmware_version=NEW, site="Depot")
    add("cam-other", vendor=v2, model=m2, firmware_version=OLD, site="Depot")
    software.import_sbom(p, admin, str(cyclonedx(tmp / "old.cdx.json",
                                                 firmware_components(OLD, "1.0.2k"))),
                         model=CAM_MODEL, firmware=OLD)
    software.import_sbom(p, admin, str(cyclonedx(tmp / "new.cdx.json",
                                                 firmware_components(NEW, "1.1.1n"))),
                         model=CAM_MODEL, firmware=NEW)
    software.import_sbom(p, admin, str(cyclonedx(tmp / "other.cdx.json",
                                                 firmware_components(OLD, "1.0.2k"))),
                         model=OTHER_MODEL, firmware=OLD)
    nvd = feed(tmp / "nvd.json", [hikvision(), openssl()])
    ids["_import"] = feeds.import_feeds(p, admin, [str(nvd), str(feed_data("kev.json")),
                                                   str(feed_data("epss.csv"))])  # type: ignore[assignment]
    return ids
