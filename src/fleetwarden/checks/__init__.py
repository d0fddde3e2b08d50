"""Automated compliance checks: code plus a metadata sidecar, one pair per check.

A check is a pure function ``check(facts: DeviceFacts) -> Outcome`` in its own module
(``<id with - replaced by _>.py``) that decides one thing about one device from the facts
gathered before checks run: no I/O, no clock but ``facts.now``. Beside it, a TOML sidecar
of the same name says what the check is: title, severity, rationale, remediation, the
parts of the facts it reads (``needs``) and the public requirements it evidences
(``FRAMEWORK/ID``). Catalogues map requirements to checks; checks never decide a
requirement's status alone.

The rule every check keeps: **never PASS on missing data.** Not probed, not scanned, not
recorded or not authorised is MANUAL (a person must look), a probe that failed is ERROR,
a device without the thing checked is NOT_APPLICABLE; PASS needs positive evidence for
everything the check covers. Device-supplied text is untrusted: it is bounded before it
goes into a reason or evidence, and evidence never holds a secret.

To add a check: write ``checks/<name>.py`` with ``check``, write ``checks/<name>.toml``,
add the id to ``CheckId`` and the function to ``_REGISTRY``, map it in the catalogues,
and give it FAIL, PASS/NA and missing-data tests.

Must not: do I/O in a check, discover checks by scanning modules, or let one check's
exception stop the others.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from fleetwarden.checks import (
    cert_expired,
    cert_expiring,
    cert_self_signed,
    cert_shared,
    cert_weak_key,
    cert_weak_signature,
    debug_port_open,
    default_credentials,
    device_unregistered,
    end_of_support,
    findings_overdue,
    firmware_kev,
    ftp_open,
    http_admin_cleartext,
    http_basic_cleartext,
    key_shared,
    mqtt_no_auth,
    sbom_missing,
    services_unapproved,
    snmp_public,
    telnet_open,
    tftp_open,
    tls_downgrade,
    tls_legacy_protocol,
    tls_mozilla_profile,
    tls_weak_ciphers,
    update_stale,
    upnp_exposed,
)
from fleetwarden.checks._helpers import clip
from fleetwarden.domain.compliance.catalogue import split_id
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, Severity, error
from fleetwarden.errors import InputError

__all__ = ["NEEDS", "Check", "CheckId", "CheckMeta", "all_checks", "load_sidecar",
           "parse_sidecar", "run_checks"]

#: The parts of ``DeviceFacts`` a check may declare it reads.
NEEDS = ("services", "tls", "credentials", "register", "vulns")


class CheckId(StrEnum):
    CERT_EXPIRED = "cert-expired"
    CERT_EXPIRING = "cert-expiring"
    CERT_SELF_SIGNED = "cert-self-signed"
    CERT_SHARED = "cert-shared"
    CERT_WEAK_KEY = "cert-weak-key"
    CERT_WEAK_SIGNATURE = "cert-weak-signature"
    DEBUG_PORT_OPEN = "debug-port-open"
    DEFAULT_CREDENTIALS = "default-credentials"
    DEVICE_UNREGISTERED = "device-unregistered"
    END_OF_SUPPORT = "end-of-support"
    FINDINGS_OVERDUE = "findings-overdue"
    FIRMWARE_KEV = "firmware-kev"
    FTP_OPEN = "ftp-open"
    HTTP_ADMIN_CLEARTEXT = "http-admin-cleartext"
    HTTP_BASIC_CLEARTEXT = "http-basic-cleartext"
    KEY_SHARED = "key-shared"
    MQTT_NO_AUTH = "mqtt-no-auth"
    SBOM_MISSING = "sbom-missing"
    SERVICES_UNAPPROVED = "services-unapproved"
    SNMP_PUBLIC = "snmp-public"
    TELNET_OPEN = "telnet-open"
    TFTP_OPEN = "tftp-open"
    TLS_DOWNGRADE = "tls-downgrade"
    TLS_LEGACY_PROTOCOL = "tls-legacy-protocol"
    TLS_MOZILLA_PROFILE = "tls-mozilla-profile"
    TLS_WEAK_CIPHERS = "tls-weak-ciphers"
    UPDATE_STALE = "update-stale"
    UPNP_EXPOSED = "upnp-exposed"


CheckFunction = Callable[[DeviceFacts], Outcome]

_REGISTRY: Mapping[CheckId, CheckFunction] = {
    CheckId.CERT_EXPIRED: cert_expired.check,
    CheckId.CERT_EXPIRING: cert_expiring.check,
    CheckId.CERT_SELF_SIGNED: cert_self_signed.check,
    CheckId.CERT_SHARED: cert_shared.check,
    CheckId.CERT_WEAK_KEY: cert_weak_key.check,
    CheckId.CERT_WEAK_SIGNATURE: cert_weak_signature.check,
    CheckId.DEBUG_PORT_OPEN: debug_port_open.check,
    CheckId.DEFAULT_CREDENTIALS: default_credentials.check,
    CheckId.DEVICE_UNREGISTERED: device_unregistered.check,
    CheckId.END_OF_SUPPORT: end_of_support.check,
    CheckId.FINDINGS_OVERDUE: findings_overdue.check,
    CheckId.FIRMWARE_KEV: firmware_kev.check,
    CheckId.FTP_OPEN: ftp_open.check,
    CheckId.HTTP_ADMIN_CLEARTEXT: http_admin_cleartext.check,
    CheckId.HTTP_BASIC_CLEARTEXT: http_basic_cleartext.check,
    CheckId.KEY_SHARED: key_shared.check,
    CheckId.MQTT_NO_AUTH: mqtt_no_auth.check,
    CheckId.SBOM_MISSING: sbom_missing.check,
    CheckId.SERVICES_UNAPPROVED: services_unapproved.check,
    CheckId.SNMP_PUBLIC: snmp_public.check,
    CheckId.TELNET_OPEN: telnet_open.check,
    CheckId.TFTP_OPEN: tftp_open.check,
    CheckId.TLS_DOWNGRADE: tls_downgrade.check,
    CheckId.TLS_LEGACY_PROTOCOL: tls_legacy_protocol.check,
    CheckId.TLS_MOZILLA_PROFILE: tls_mozilla_profile.check,
    CheckId.TLS_WEAK_CIPHERS: tls_weak_ciphers.check,
    CheckId.UPDATE_STALE: update_stale.check,
    CheckId.UPNP_EXPOSED: upnp_exposed.check,
}


@dataclass(frozen=True, slots=True)
class CheckMeta:
    """What a check is, from its sidecar."""

    id: str
    title: str
    severity: Severity
    """How bad a FAIL is, before the device's own context (exposure, role) is weighed."""
    rationale: str
    remediation: str
    needs: tuple[str, ...]
    """Parts of ``DeviceFacts`` it reads: services, tls, credentials, register, vulns."""
    requirements: tuple[str, ...]
    """Public requirement ids (``FRAMEWORK/ID``) a FAIL or PASS of it evidences."""


@dataclass(frozen=True, slots=True)
class Check:
    meta: CheckMeta
    run: CheckFunction


_TEXT_FIELDS = ("id", "title", "rationale", "remediation")
_FIELDS = frozenset({*_TEXT_FIELDS, "severity", "needs", "requirements"})


def parse_sidecar(data: Mapping[str, Any], origin: str) -> CheckMeta:
    """A check's metadata from its parsed sidecar; InputError naming ``origin`` and the
    field when anything is missing, mistyped or unknown."""
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InputError(f"{origin}: unknown field(s) {', '.join(map(repr, unknown))}")
    text: dict[str, str] = {}
    for key in _TEXT_FIELDS:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{origin}: {key!r} must be a non-empty string")
        text[key] = " ".join(value.split())
    severity = data.get("severity")
    if not isinstance(severity, str) or severity not in {s.value for s in Severity}:
        raise InputError(f"{origin}: 'severity' must be one of "
                         f"{', '.join(s.value for s in Severity)}")
    needs = _strings(data, "needs", origin)
    if not needs:
        raise InputError(f"{origin}: 'needs' must name at least one of {', '.join(NEEDS)}")
    for need in needs:
        if need not in NEEDS:
            raise InputError(f"{origin}: 'needs' has {need!r}; expected {', '.join(NEEDS)}")
    requirements = _strings(data, "requirements", origin)
    for rid in requirements:
        try:
            split_id(rid)
        except InputError as exc:
            raise InputError(f"{origin}: {exc}") from None
    for name, values in (("needs", needs), ("requirements", requirements)):
        if len(set(values)) != len(values):
            raise InputError(f"{origin}: {name!r} lists an entry twice")
    return CheckMeta(id=text["id"], title=text["title"], severity=Severity(severity),
                     rationale=text["rationale"], remediation=text["remediation"],
                     needs=needs, requirements=requirements)


def _strings(data: Mapping[str, Any], key: str, origin: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"{origin}: {key!r} must be a list of non-empty strings")
    return tuple(value)


def module_name(check_id: str) -> str:
    return check_id.replace("-", "_")


def load_sidecar(check_id: str) -> CheckMeta:
    """Read and validate the sidecar shipped beside the check's module."""
    name = f"{module_name(check_id)}.toml"
    origin = f"checks/{name}"
    try:
        raw = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
        data = tomllib.loads(raw)
    except FileNotFoundError:
        raise InputError(f"{origin}: missing sidecar for check {check_id!r}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{origin}: not valid TOML ({exc})") from None
    meta = parse_sidecar(data, origin)
    if meta.id != check_id:
        raise InputError(f"{origin}: id {meta.id!r} does not match the registry's "
                         f"{check_id!r}")
    return meta


@cache
def all_checks() -> Mapping[str, Check]:
    """Every registered check with its metadata, ordered by id (read once, then cached)."""
    return MappingProxyType({
        cid.value: Check(meta=load_sidecar(cid.value), run=_REGISTRY[cid])
        for cid in sorted(_REGISTRY, key=lambda c: c.value)})


def run_checks(facts: DeviceFacts, checks: Iterable[Check] | None = None
               ) -> list[tuple[Check, Outcome]]:
    """Run ``checks`` (default: all) on one device's facts, in the order given.

    A check that raises, or returns something other than an Outcome, gives ERROR with the
    exception's type and first line: never a traceback, never a stopped run.
    """
    out: list[tuple[Check, Outcome]] = []
    for item in all_checks().values() if checks is None else checks:
        try:
            outcome = item.run(facts)
        except Exception as exc:  # noqa: BLE001 - one broken check must not stop the rest
            # KeyError's str() is the repr of its key; the message itself reads better.
            message = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
            first = message.strip().splitlines()[0] if message.strip() else ""
            detail = f"{type(exc).__name__}: {clip(first)}" if first else type(exc).__name__
            outcome = error(f"The check failed ({detail}); report it to the maintainers.",
                            exception=type(exc).__name__)
        else:
            if not isinstance(outcome, Outcome):
                outcome = error("The check returned no outcome; report it to the maintainers.",
                                returned=type(outcome).__name__)
        out.append((item, outcome))
    return out
