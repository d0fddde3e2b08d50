"""Software inventory: import an SBOM for one device or for a model's firmware (R5).

A model+firmware SBOM describes every device of that model running that firmware, so it
is stored once against the firmware image; a device SBOM against the device. Re-importing
replaces that subject's SBOM components and the change (added, removed and re-versioned
components) is recorded in the audit event.

Must not: read files itself (``DataReaders`` does) or keep components of a bad file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetwarden.domain.model import DeviceModel
from fleetwarden.domain.records import RecordKind
from fleetwarden.domain.vulns import SbomComponent
from fleetwarden.errors import InputError, NotFound
from fleetwarden.ports import UnitOfWork
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.digests import file_sha256
from fleetwarden.services.matching import rematch_subject

#: Names listed in one audit event per kind of change (the counts are always exact).
MAX_LISTED = 200


@dataclass(frozen=True, slots=True)
class SbomImport:
    sbom_id: int
    subject: str
    """``device 42`` or ``Hikvision DS-2CD2143G2-I firmware V5.7.3 build 220112``."""
    format: str
    components: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    """``name old -> new`` for components whose version changed."""
    new_matches: int = 0
    """Vulnerabilities newly matched on the subject's components."""
    fixed_matches: int = 0



def find_model(uow: UnitOfWork, ref: str) -> DeviceModel:
    found = None
    if ref.isdigit():
        found = uow.records.get(RecordKind.MODEL, int(ref))
    elif "/" in ref:
        found = uow.records.by_name(RecordKind.MODEL, ref)
    else:
        raise InputError(f"model {ref[:64]!r}: give its id or VENDOR/MODEL")
    if not isinstance(found, DeviceModel):
        raise NotFound(f"model {ref[:64]!r} not found")
    return found


def _key(c: SbomComponent) -> str:
    return c.purl.split("@")[0] if c.purl else f"{(c.supplier or '').lower()}/{c.name}"


def diff(before: Iterable[SbomComponent], after: Iterable[SbomComponent]
         ) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, changed) between two component lists, by package identity."""
    old: dict[str, set[str]] = {}
    new: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for target, items in ((old, before), (new, after)):
        for c in items:
            target.setdefault(_key(c), set()).add(c.version or "")
            names[_key(c)] = c.name
    added = [f"{names[k]} {' '.join(sorted(new[k]))}".strip() for k in sorted(new.keys() - old)]
    removed = [f"{names[k]} {' '.join(sorted(old[k]))}".strip()
               for k in sorted(old.keys() - new)]
    changed = [f"{names[k]} {'/'.join(sorted(old[k]))} -> {'/'.join(sorted(new[k]))}"
               for k in sorted(old.keys() & new) if old[k] != new[k]]
    return added, removed, changed


def import_sbom(platform: Platform, principal: Principal, path: str, *,
                device_id: int | None = None, model: str | None = None,
                firmware: str | None = None) -> SbomImport:
    """Read ``path`` and make it the software inventory of a device or a firmware image."""
    require(principal, Permission.WRITE)
    if (device_id is None) == (model is None):
        raise InputError("say what the SBOM describes: --device ID, or --model and --firmware")
    if model is not None and not (firmware and firmware.strip()):
        raise InputError("--model needs --firmware VERSION (the release the SBOM describes)")
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{path}: no such file")
    sbom = platform.data_readers().read_sbom(path)
    sha = file_sha256(file)
    now = platform.now()
    with platform.uow(principal.tenant, True) as uow:
        firmware_id = None
        if device_id is not None:
            device = uow.devices.get(device_id)
            if device is None:
                raise NotFound(f"device {device_id} not found")
            subject = f"device {device_id} ({device.name})"
            before = uow.software.components_of(device_id=device_id, source="sbom")
        else:
            assert model is not None and firmware is not None
            found = find_model(uow, model.strip())
            assert found.id is not None
            firmware_id = uow.software.firmware(found.id, firmware.strip()[:256], now)
            subject = f"{found.vendor} {found.model} firmware {firmware.strip()[:256]}"
            before = uow.software.components_of(firmware_id=firmware_id, source="sbom")
        components = _unique(sbom.components)
        sbom_id = uow.software.add_sbom(
            device_id=device_id, firmware_id=firmware_id, fmt=sbom.format, name=sbom.name,
            version=sbom.version, serial=sbom.serial, file_name=file.name, sha256=sha,
            components=len(components), now=now, actor=principal.actor)
        uow.software.replace_components(components, source="sbom", sbom_id=sbom_id,
                                        device_id=device_id, firmware_id=firmware_id)
        added, removed, changed = diff(before, components)
        run = rematch_subject(uow, now, firmware_id=firmware_id, device_id=device_id)
        audit.record(platform, uow, principal.actor, "sbom.import", "sbom", sbom_id,
                     after={**_audit_view(subject, sbom.format, file.name, sha, components,
                                          added, removed, changed),
                            "matching": run.view()})
        uow.commit()
    return SbomImport(sbom_id, subject, sbom.format, len(components), tuple(added),
                      tuple(removed), tuple(changed), run.new, run.fixed)


def _unique(components: Sequence[SbomComponent]) -> list[SbomComponent]:
    """Each (name, version, purl, cpe) once: nested SBOMs list shared libraries often."""
    return list(dict.fromkeys(components))


def _audit_view(subject: str, fmt: str, file_name: str, sha: str,
                components: Sequence[SbomComponent], added: list[str], removed: list[str],
                changed: list[str]) -> dict[str, Any]:
    return {"subject": subject, "format": fmt, "file": file_name, "sha256": sha,
            "components": len(components),
            "added": added[:MAX_LISTED], "removed": removed[:MAX_LISTED],
            "changed": changed[:MAX_LISTED],
            "counts": {"added": len(added), "removed": len(removed), "changed": len(changed)}}


def components(platform: Platform, principal: Principal, *, device_id: int | None = None,
               model: str | None = None, firmware: str | None = None) -> list[SbomComponent]:
    """The software a device runs: its own components plus its firmware image's."""
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        if device_id is not None:
            device = uow.devices.get(device_id)
            if device is None:
                raise NotFound(f"device {device_id} not found")
            found = uow.software.components_of(device_id=device_id)
            if device.model_id is not None and device.firmware_version:
                fw = uow.software.firmware_id(device.model_id, device.firmware_version)
                if fw is not None:
                    found += uow.software.components_of(firmware_id=fw)
            return found
        if model is None or firmware is None:
            raise InputError("give --device ID, or --model and --firmware")
        m = find_model(uow, model)
        assert m.id is not None
        fw = uow.software.firmware_id(m.id, firmware)
        if fw is None:
            raise NotFound(f"no SBOM for {m.vendor} {m.model} firmware {firmware[:64]!r}")
        return uow.software.components_of(firmware_id=fw)
