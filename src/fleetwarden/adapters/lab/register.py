"""Joins a lab plan to the demo estate, so the demo register and the live lab agree.

The lab's registered devices become register rows (same IP, MAC, serial, firmware);
its shadow devices stay out, to be found by discovery. Generated demo devices that
would clash with a lab device (address, MAC or serial) are moved or left without
that identifier, so every identifier in the result belongs to one device.

Must not: change the plan (the lab is a pure function of its options).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Any

from fleetwarden.adapters.demo.estate import DemoEstate, estate_catalogue
from fleetwarden.adapters.lab.plan import LabPlan
from fleetwarden.domain.lab import LabDevice

#: When lab devices entered the register: the demo estate's reference time.
_SEEN = "2026-03-02T09:00:00Z"


def merge_lab_into_estate(estate: DemoEstate, plan: LabPlan) -> DemoEstate:
    lab_ips = {d.ip for d in plan.devices}
    lab_macs = {d.mac for d in plan.devices}
    lab_serials = {d.serial for d in plan.devices}
    used_ips = set(lab_ips) | {ip for row in estate.devices for ip in row["ip_addresses"]}
    segments = {s["name"]: s for s in estate.segments}
    rows = []
    for row in estate.devices:
        if row["serial"] in lab_serials:
            continue  # the lab device of that serial stands in for it
        row = dict(row)
        row["mac_addresses"] = [m for m in row["mac_addresses"] if m not in lab_macs]
        if any(ip in lab_ips for ip in row["ip_addresses"]):
            row["ip_addresses"] = _free_ip(segments.get(row["segment"]), used_ips)
        rows.append(row)
    rows += [_row(d) for d in plan.devices if d.registered]
    return dataclasses.replace(estate, devices=tuple(rows))


def _free_ip(segment: Mapping[str, Any] | None, used: set[str]) -> list[str]:
    if segment is None:
        return []
    for host in list(ipaddress.ip_network(segment["cidrs"][0]).hosts())[9:250]:
        if str(host) not in used:
            used.add(str(host))
            return [str(host)]
    return []


def _row(device: LabDevice) -> dict[str, Any]:
    types = estate_catalogue()["device_types"]
    return {
        "name": device.hostname,
        "device_type": device.device_type,
        "vendor": device.vendor,
        "model": device.model,
        "serial": device.serial,
        "mac_addresses": [device.mac],
        "ip_addresses": [device.ip],
        "imei": None,
        "iccid": None,
        "vin": None,
        "hostname": device.hostname,
        "firmware_version": device.firmware_version,
        "site": device.site,
        "segment": device.segment,
        "lifecycle_state": "in_service",
        "owner": None,
        "criticality": types[device.device_type]["criticality"],
        "first_seen": _SEEN,
        "last_seen": _SEEN,
        "tags": ["lab", f"lab-family:{device.family}"],
    }
