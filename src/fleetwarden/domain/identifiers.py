"""Normalising and validating device identifiers.

Identifiers arrive from CSV files, APIs and (later) the network in many spellings.
Each is reduced to one canonical form here so that duplicates are caught and lookups
hit an index. Pure: raises ``InputError`` with a message naming the bad value.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum

from fleetwarden.errors import InputError


class IdentifierKind(StrEnum):
    """Kinds of identifier, strongest first (the order matching uses)."""

    SERIAL = "serial"
    MAC = "mac"
    IMEI = "imei"
    ICCID = "iccid"
    VIN = "vin"
    CERT_SHA256 = "cert_sha256"
    IP = "ip"
    HOSTNAME = "hostname"


STRONG_KINDS: tuple[IdentifierKind, ...] = (
    IdentifierKind.SERIAL,
    IdentifierKind.MAC,
    IdentifierKind.IMEI,
    IdentifierKind.ICCID,
    IdentifierKind.VIN,
    IdentifierKind.CERT_SHA256,
)
WEAK_KINDS: tuple[IdentifierKind, ...] = (IdentifierKind.IP, IdentifierKind.HOSTNAME)

_MAC_HEX = re.compile(r"^[0-9a-f]{12}$")
_MAC_SEPARATORS = re.compile(r"[:\-.\s]")
_DIGITS = re.compile(r"^\d+$")
_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SERIAL = re.compile(r"^[\x21-\x7e]{1,128}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _shorten(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn check (IMEI, ICCID)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def normalise_mac(value: str) -> str:
    """Return ``aa:bb:cc:dd:ee:ff``; accepts colon, dash, dot and bare-hex spellings."""
    raw = _MAC_SEPARATORS.sub("", value.strip().lower())
    if not _MAC_HEX.match(raw):
        raise InputError(f"bad MAC address {_shorten(value)!r}")
    if raw == "000000000000" or raw == "ffffffffffff":
        raise InputError(f"MAC address {value!r} is not a device address")
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def normalise_ip(value: str) -> str:
    """Return the compressed textual form of an IPv4 or IPv6 address."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise InputError(f"bad IP address {_shorten(value)!r}") from None


def normalise_serial(value: str) -> str:
    """Serials are kept as written (vendors mix case) but trimmed and printable."""
    v = value.strip()
    if not _SERIAL.match(v):
        raise InputError(f"bad serial number {_shorten(value)!r}: printable, no spaces, ≤128")
    return v


def normalise_imei(value: str) -> str:
    v = value.strip().replace(" ", "").replace("-", "")
    if not (_DIGITS.match(v) and len(v) == 15 and luhn_ok(v)):
        raise InputError(f"bad IMEI {_shorten(value)!r}: 15 digits with a valid check digit")
    return v


def normalise_iccid(value: str) -> str:
    v = value.strip().replace(" ", "")
    if not (_DIGITS.match(v) and 18 <= len(v) <= 22 and v.startswith("89") and luhn_ok(v)):
        raise InputError(
            f"bad ICCID {_shorten(value)!r}: 18-22 digits starting 89 with a valid check digit"
        )
    return v


_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """ISO 3779 / North-American check digit (position 9) of a 17-character VIN."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    r = total % 11
    return "X" if r == 10 else str(r)


def normalise_vin(value: str) -> str:
    """Upper-case 17-character VIN without I, O or Q.

    The check digit is not enforced: it is mandatory only in North America and
    European VINs often carry a plain character there.
    """
    v = value.strip().upper()
    if not _VIN.match(v):
        raise InputError(f"bad VIN {_shorten(value)!r}: 17 characters, no I, O or Q")
    return v


def normalise_hostname(value: str) -> str:
    v = value.strip().lower().rstrip(".")
    if not v or len(v) > 253 or not all(_HOSTNAME_LABEL.match(p) for p in v.split(".")):
        raise InputError(f"bad hostname {_shorten(value)!r}")
    return v


def normalise_cert_sha256(value: str) -> str:
    v = value.strip().lower().replace(":", "")
    if not _SHA256.match(v):
        raise InputError(f"bad certificate fingerprint {_shorten(value)!r}: SHA-256 hex")
    return v


NORMALISERS = {
    IdentifierKind.SERIAL: normalise_serial,
    IdentifierKind.MAC: normalise_mac,
    IdentifierKind.IMEI: normalise_imei,
    IdentifierKind.ICCID: normalise_iccid,
    IdentifierKind.VIN: normalise_vin,
    IdentifierKind.CERT_SHA256: normalise_cert_sha256,
    IdentifierKind.IP: normalise_ip,
    IdentifierKind.HOSTNAME: normalise_hostname,
}


def normalise(kind: IdentifierKind, value: str) -> str:
    """Canonical form of ``value`` as an identifier of ``kind``."""
    return NORMALISERS[kind](value)
