"""Turns ``catalogues/demo/estate.toml`` into synthetic devices.

Two generators share the catalogue. ``generate_demo_estate`` builds a few hundred
consistent devices for ``fleetwarden demo`` (identities unique across the estate, IPs
inside their segment). ``iter_device_rows`` streams millions of import rows for
benchmarks: every identity is derived from the row number, so memory stays flat and a
row costs a few microseconds. Both are deterministic for a seed and use only the stdlib.

Must not: read anything but the catalogue, or emit an address outside 127.0.0.0/8 or
a mailbox outside ``.example`` (the demo must never reach or name anything real).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import random
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import fleetwarden
from fleetwarden.domain.classification import Classification
from fleetwarden.domain.identifiers import vin_check_digit
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.vocab import Category, Criticality, DeviceType, Zone
from fleetwarden.errors import ConfigurationError, InputError

CATALOGUE = Path(fleetwarden.__file__).parent / "catalogues" / "demo" / "estate.toml"

#: Keys of every device dict, in import-format column order.
DEVICE_FIELDS: tuple[str, ...] = (
    "name", "device_type", "vendor", "model", "serial", "mac_addresses", "ip_addresses",
    "imei", "iccid", "vin", "hostname", "firmware_version", "site", "segment",
    "lifecycle_state", "owner", "criticality", "first_seen", "last_seen", "tags",
)  # fmt: skip
_MODEL_FIELDS = ("vendor", "model", "category", "device_type", "supplier",
                 "end_of_support", "firmware_versions", "oui", "weight")  # fmt: skip
_IDENTIFIERS = frozenset({"mac", "ip", "imei", "iccid", "vin"})
_CRIT = [c.value for c in Criticality]  # low .. critical
_ZONES = frozenset(z.value for z in Zone)
_TYPES = frozenset(t.value for t in DeviceType)
_CATEGORIES = frozenset(c.value for c in Category)
_STATES = frozenset(s.value for s in LifecycleState)
_NOT_SEEN = frozenset({"planned", "procured"})
_NO_IP = frozenset({"planned", "procured", "disposed"})
_QUARANTINE_TAGS = ("quarantine:suspected-compromise", "quarantine:unsupported-firmware",
                    "quarantine:unexpected-traffic")  # fmt: skip
_VIN_YEAR = {2021: "M", 2022: "N", 2023: "P", 2024: "R", 2025: "S"}


@dataclass(frozen=True)
class DemoEstate:
    """Plain, JSON-able dicts (dates as ISO strings), ready for the seeding service."""

    sites: tuple[dict[str, Any], ...]
    segments: tuple[dict[str, Any], ...]
    """``site`` is the site's name, as in device rows; ``site_code`` its short code."""
    suppliers: tuple[dict[str, Any], ...]
    models: tuple[dict[str, Any], ...]
    devices: tuple[dict[str, Any], ...]
    """In the import format: exactly the keys of ``DEVICE_FIELDS``."""
    iot_systems: tuple[dict[str, Any], ...]
    data_items: tuple[dict[str, Any], ...]
    """``aggregate_of`` lists the items a collection is made of (empty for single items)."""
    owners: tuple[dict[str, Any], ...]


# --------------------------------------------------------------------------- catalogue


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _ts(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@cache
def _catalogue() -> dict[str, Any]:
    """The parsed catalogue, checked once; callers must treat it as read-only."""
    try:
        with CATALOGUE.open("rb") as fh:
            cat = tomllib.load(fh)
        problems = _problems(cat)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"demo estate catalogue {CATALOGUE}: {exc!r}") from None
    if problems:
        raise ConfigurationError(f"demo estate catalogue: {'; '.join(problems[:5])}")
    return cat


def _segments_for(cat: Mapping[str, Any], model: Mapping[str, Any]) -> list[dict[str, Any]]:
    patterns = model.get("segments") or cat["device_types"][model["device_type"]]["segments"]
    return [s for s in cat["segments"] if any(fnmatch.fnmatchcase(s["name"], p) for p in patterns)]


def _system_for(cat: Mapping[str, Any], device_type: str, site_code: str) -> dict[str, Any] | None:
    for system in cat["iot_systems"]:
        if device_type in system["device_types"] and site_code in system.get("sites", [site_code]):
            return system
    return None


def _problems(cat: Mapping[str, Any]) -> list[str]:
    """Cross-references a hand-edited catalogue could break; each becomes one message."""
    out: list[str] = []
    supernet = ipaddress.ip_network(cat["meta"]["supernet"])
    sites = {s["code"] for s in cat["sites"]}
    suppliers = {s["name"] for s in cat["suppliers"]}
    owners = {o["email"] for o in cat["owners"]}
    emails = [*owners, *(s["contact_email"] for s in cat["suppliers"])]
    out += [f"{e}: not on a .example domain" for e in emails if not e.endswith(".example")]
    cidrs: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
    for seg in cat["segments"]:
        if seg["site"] not in sites or seg["zone"] not in Zone.__members__.values():
            out.append(f"segment {seg['name']}: unknown site or zone")
        for net in map(ipaddress.ip_network, seg["cidrs"]):
            if net.version != 4 or net.prefixlen != 24 or not net.subnet_of(supernet) or net in cidrs:  # type: ignore[arg-type]
                out.append(f"segment {seg['name']}: {net} is not a fresh /24 in {supernet}")
            cidrs.add(net)
    for name, spec in cat["device_types"].items():
        if name not in DeviceType.__members__.values() or spec["criticality"] not in _CRIT:
            out.append(f"device type {name}: unknown type or criticality")
        out += [f"device type {name}: unknown identifier {i}" for i in spec["identifiers"] if i not in _IDENTIFIERS]
    for m in cat["models"]:
        label = f"model {m['vendor']} {m['model']}"
        ids = set(cat["device_types"][m["device_type"]]["identifiers"])
        if m["category"] not in Category.__members__.values() or m["supplier"] not in suppliers:
            out.append(f"{label}: unknown category or supplier")
        needs = {"mac": "oui", "imei": "tac", "iccid": "iccid_prefix", "vin": "wmi"}
        out += [f"{label}: {k} needs {f}" for k, f in needs.items() if k in ids and f not in m]
        out += [f"{label}: serial uses {{{k}}}" for k in ("mac", "imei", "iccid", "vin")
                if f"{{{k}}}" in m["serial"] and k not in ids]  # fmt: skip
        segs = _segments_for(cat, m)
        if not segs:
            out.append(f"{label}: no segment matches its placement")
        out += [f"{label} on {s['name']}: in no IoT system" for s in segs
                if _system_for(cat, m["device_type"], s["site"]) is None]  # fmt: skip
    for system in cat["iot_systems"]:
        if system["owner"] not in owners or not set(system.get("sites", [])) <= sites:
            out.append(f"IoT system {system['name']}: unknown owner or site")
    systems = {s["name"] for s in cat["iot_systems"]}
    items = {d["name"]: Classification(d["classification"]) for d in cat["data_items"]}
    for d in cat["data_items"]:
        if d["system"] not in systems or not set(d.get("aggregate_of", [])) <= set(items):
            out.append(f"data item {d['name']}: unknown system or aggregated item")
    return out


# ------------------------------------------------------------------------- identifiers


def _luhn_digit(payload: str) -> str:
    """Check digit making ``payload + digit`` pass the Luhn test (IMEI, ICCID)."""
    total = 0
    for pos, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if pos % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


class _LuhnNumbers:
    """``prefix`` + ``width`` digits of ``n`` + check digit, in about a microsecond.

    Why tables: the per-digit loop is too slow for a million rows; a 3-digit chunk's
    contribution depends only on its value and the parity of its position.
    """

    def __init__(self, prefix: str, width: int) -> None:
        self.prefix, self.width, self.mod = prefix, width, 10**width
        self._base = (-int(_luhn_digit(prefix + "0" * width))) % 10
        self._chunks = (width + 2) // 3

    def __call__(self, n: int) -> str:
        n %= self.mod
        total, rest = self._base, n
        for k in range(self._chunks):
            total += _LUHN3[k % 2][rest % 1000]
            rest //= 1000
        return f"{self.prefix}{n:0{self.width}d}{-total % 10}"


# _LUHN3[0]: chunk whose last digit is doubled (the payload's rightmost); [1]: the next.
_LUHN3 = tuple(
    [(-int(_luhn_digit(f"{n:03d}" + "0" * odd))) % 10 for n in range(1000)] for odd in (0, 1)
)


class _Vins:
    """17-character VINs with a valid position-9 check digit, serial taken from ``n``."""

    _W = (7, 6, 5, 4, 3, 2)  # weights of positions 12..17

    def __init__(self, wmi: str, vds: str, year: str, plant: str) -> None:
        self._head, self._tail = wmi + vds, year + plant
        self._base = "0123456789X".index(vin_check_digit(f"{self._head}0{self._tail}000000"))

    def __call__(self, n: int) -> str:
        serial = f"{n % 1_000_000:06d}"
        total = self._base + sum(int(c) * w for c, w in zip(serial, self._W, strict=True))
        check = "0123456789X"[total % 11]
        return f"{self._head}{check}{self._tail}{serial}"


# --------------------------------------------------------------------------- demo estate


def _quota(rng: random.Random, mix: Mapping[str, float], n: int) -> list[str]:
    """Exactly ``n`` states in the catalogue's proportions (largest remainder), shuffled."""
    total = sum(mix.values())
    exact = {k: v * n / total for k, v in mix.items()}
    counts = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: counts[k] - exact[k])[: n - sum(counts.values())]:
        counts[k] += 1
    out = [k for k, c in counts.items() for _ in range(c)]
    rng.shuffle(out)
    return out


def _seen(rng: random.Random, state: str, start: datetime, ref: datetime) -> tuple[str, str] | tuple[None, None]:
    """First/last seen fitting the state: retired devices went quiet long ago."""
    if state in _NOT_SEEN:
        return None, None
    day = timedelta(days=1)
    if state == "commissioning":
        return _ts(ref - rng.uniform(1, 30) * day), _ts(ref - rng.uniform(0, 0.25) * day)
    back = {"maintenance": (0, 14), "quarantined": (0, 3), "decommissioning": (3, 40),
            "disposed": (40, 300)}.get(state, (0, 2))  # fmt: skip
    if state == "in_service" and rng.random() < 0.04:
        back = (30, 90)  # gone quiet: something the demo should surface
    last = ref - rng.uniform(*back) * day
    first = start + rng.random() * (ref - 45 * day - start)
    if first >= last:
        first = start + rng.random() * (last - start)
    return _ts(first), _ts(last)


def _firmware(rng: random.Random, versions: list[str]) -> str | None:
    if not versions:
        return None
    return versions[-1] if rng.random() < 0.6 else rng.choice(versions)


def _criticality(rng: random.Random, base: str) -> str:
    i = _CRIT.index(base) + rng.choices((-1, 0, 1), (15, 70, 15))[0]
    return _CRIT[min(max(i, 0), len(_CRIT) - 1)]


class _Unique:
    """Draws values until one is new, so identities are unique across one estate."""

    def __init__(self) -> None:
        self._seen: dict[str, set[str]] = {}

    def __call__(self, kind: str, make: Callable[[], str]) -> str:
        seen = self._seen.setdefault(kind, set())
        while (value := make()) in seen:
            pass
        seen.add(value)
        return value


def generate_demo_estate(seed: int = 7, device_count: int = 300) -> DemoEstate:
    """A realistic, internally consistent estate; the same seed gives the same estate."""
    if device_count < 0:
        raise InputError("device_count must not be negative")
    cat, rng, unique = _catalogue(), random.Random(seed), _Unique()
    ref, start = cat["meta"]["reference_time"], cat["meta"]["history_start"]
    sites = {s["code"]: s for s in cat["sites"]}
    models = cat["models"]
    picks = list(models) if device_count >= len(models) else []  # show every model
    picks += rng.choices(models, [m["weight"] for m in models], k=device_count - len(picks))
    rng.shuffle(picks)
    free_ips: dict[str, list[str]] = {}
    numbers: dict[str, int] = {}
    seq = iter(range(rng.randrange(10_000, 90_000), 10**12, 7))
    devices = []
    for model, state in zip(picks, _quota(rng, cat["lifecycle_mix"], device_count), strict=True):
        dtype = cat["device_types"][model["device_type"]]
        segs = _segments_for(cat, model)
        seg = rng.choices(segs, [s["weight"] for s in segs])[0]
        site = sites[seg["site"]]
        system = _system_for(cat, model["device_type"], site["code"]) or {}
        ids = set(dtype["identifiers"])
        key = f"{site['code'].lower()}-{dtype['host']}"
        numbers[key] = numbers.get(key, 0) + 1
        name = f"{key}-{numbers[key]:04d}"
        mac = imei = iccid = vin = None
        if "mac" in ids:
            mac = unique("mac", lambda: model["oui"] + rng.randbytes(3).hex(":", 1).join(("", "")) if False else f"{model['oui']}:{rng.randbytes(3).hex(':')}")  # noqa: E501
        if "imei" in ids:
            imei = unique("imei", lambda: (p := f"{model['tac']}{rng.randrange(10**6):06d}") + _luhn_digit(p))
        if "iccid" in ids:
            iccid = unique("iccid", lambda: (p := f"{model['iccid_prefix']}{rng.randrange(10**10):010d}") + _luhn_digit(p))
        if "vin" in ids:
            make_vin = _Vins(model["wmi"], model["vds"], _VIN_YEAR[rng.randrange(2021, 2026)], model["plant"])
            vin = unique("vin", lambda: make_vin(rng.randrange(10**6)))
        ip = None
        if "ip" in ids and state not in _NO_IP:
            pool = free_ips.setdefault(seg["name"], _host_pool(rng, seg["cidrs"][0]))
            ip = pool.pop() if pool else None  # a full /24 leaves the device without one
        built = date(2019, 1, 1) + timedelta(days=rng.randrange(2300))
        serial = unique("serial", lambda: model["serial"].format(
            date=built.strftime("%Y%m%d"), yy=built.strftime("%y"), ww=built.strftime("%V"),
            seq=next(seq), hex=rng.randbytes(4).hex().upper(), mac=(mac or "").replace(":", "").upper(),
            imei=imei, iccid=iccid, vin=vin))  # fmt: skip
        first_seen, last_seen = _seen(rng, state, start, ref)
        tags = [f"system:{system.get('code', 'none')}"]
        if dtype["tags"] and rng.random() < 0.7:
            tags.append(rng.choice(dtype["tags"]))
        if model["end_of_support"] < ref.date():
            tags.append("end-of-support")
        if state == "quarantined":
            tags.append(rng.choice(_QUARANTINE_TAGS))
        devices.append({
            "name": name, "device_type": model["device_type"], "vendor": model["vendor"],
            "model": model["model"], "serial": serial, "mac_addresses": [mac] if mac else [],
            "ip_addresses": [ip] if ip else [], "imei": imei, "iccid": iccid, "vin": vin,
            "hostname": name if "ip" in ids else None,
            "firmware_version": None if state == "planned" else _firmware(rng, model["firmware_versions"]),
            "site": site["name"], "segment": seg["name"], "lifecycle_state": state,
            "owner": system.get("owner"), "criticality": _criticality(rng, dtype["criticality"]),
            "first_seen": first_seen, "last_seen": last_seen, "tags": tags,
        })  # fmt: skip
    return _estate(cat, devices)


def _host_pool(rng: random.Random, cidr: str) -> list[str]:
    # .1-.9 and .251-.254 are left for gateways and infrastructure, as on real VLANs.
    pool = [str(h) for h in list(ipaddress.ip_network(cidr).hosts())[9:250]]
    rng.shuffle(pool)
    return pool


def _estate(cat: Mapping[str, Any], devices: list[dict[str, Any]]) -> DemoEstate:
    names = {s["code"]: s["name"] for s in cat["sites"]}
    segments = [{"name": s["name"], "cidrs": list(s["cidrs"]), "vlan": s["vlan"], "zone": s["zone"],
                 "site": names[s["site"]], "site_code": s["site"]} for s in cat["segments"]]  # fmt: skip
    models = [{f: _jsonable(m.get(f)) for f in _MODEL_FIELDS} for m in cat["models"]]
    systems = [{**_jsonable(s), "sites": [names[c] for c in s.get("sites", [])]}
               for s in cat["iot_systems"]]  # fmt: skip
    items = [{**_jsonable(d), "aggregate_of": list(d.get("aggregate_of", []))} for d in cat["data_items"]]
    return DemoEstate(
        sites=tuple(_jsonable(cat["sites"])),
        segments=tuple(segments),
        suppliers=tuple(_jsonable(cat["suppliers"])),
        models=tuple(models),
        devices=tuple(devices),
        iot_systems=tuple(systems),
        data_items=tuple(items),
        owners=tuple(_jsonable(cat["owners"])),
    )


# ----------------------------------------------------------------------- benchmark rows

_PLAN_CYCLE, _STATE_CYCLE, _CRIT_CYCLE = 4093, 997, 1009  # primes: cycles never line up
_BYTE = [f"{b:02x}" for b in range(256)]
_MAC_SPAN = 1 << 24
_IP_SPAN = 254 * 256  # hosts .1-.254 of each /24 in a /16


@cache
def _fast_tables() -> tuple[list[str], list[str], list[str]]:
    pairs = [f"{a}:{b}" for a in _BYTE for b in _BYTE]
    low = [f"{t}.{h}" for t in range(256) for h in range(1, 255)]
    second = [f"127.{20 + k}." for k in range(236)]  # 127.20.0.0 .. 127.255.255.254
    return pairs, low, second


def _row_plans(rng: random.Random, cat: Mapping[str, Any], tenant_sites: Iterable[str] | None) -> list[tuple[Any, ...]]:
    """A weighted deck of (model, segment) placements with every per-row constant precomputed."""
    allowed = {s["code"] for s in cat["sites"]}
    if tenant_sites is not None:
        wanted = set(tenant_sites)
        allowed = {s["code"] for s in cat["sites"] if s["code"] in wanted or s["name"] in wanted}
        if unknown := wanted - allowed - {s["name"] for s in cat["sites"] if s["code"] in allowed}:
            raise InputError(f"unknown site(s): {', '.join(sorted(unknown)[:5])}")
    sites = {s["code"]: s for s in cat["sites"]}
    combos, weights = [], []
    for m in cat["models"]:
        segs = [s for s in _segments_for(cat, m) if s["site"] in allowed]
        total = sum(s["weight"] for s in segs)
        combos += [(m, s) for s in segs]
        weights += [m["weight"] * s["weight"] / total for s in segs]
    if not combos:
        raise InputError("no device model can be placed at the given sites")
    plans: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    deck = []
    for m, seg in rng.choices(combos, weights, k=_PLAN_CYCLE):
        key = (m["vendor"], m["model"], seg["name"])
        if key not in plans:
            dtype, site = cat["device_types"][m["device_type"]], sites[seg["site"]]
            ids = set(dtype["identifiers"])
            head = m["serial"].split("{", 1)[0].rstrip("-/_") or m["vendor"][:3].upper()
            system = _system_for(cat, m["device_type"], site["code"]) or {}
            tags = (f"system:{system.get('code', 'none')}",) + ((dtype["tags"][0],) if dtype["tags"] else ())
            crit = _CRIT.index(dtype["criticality"])
            plans[key] = (
                f"{site['code'].lower()}-{dtype['host']}-", m["device_type"], m["vendor"], m["model"],
                head + "-", m.get("oui", "") + ":" if "mac" in ids else "", "ip" in ids,
                _LuhnNumbers(m["tac"], 6) if "imei" in ids else None,
                _LuhnNumbers(m["iccid_prefix"], 10) if "iccid" in ids else None,
                _Vins(m["wmi"], m["vds"], "R", m["plant"]) if "vin" in ids else None,
                tuple(_firmware(rng, m["firmware_versions"]) for _ in range(16)),
                site["name"], seg["name"], system.get("owner"),
                tuple(_CRIT[min(max(crit + d, 0), 3)] for d in (-1, 0, 1)), tags,
            )  # fmt: skip
        deck.append(plans[key])
    return deck


def iter_device_rows(seed: int, count: int, *, tenant_sites: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``count`` import-format device dicts in O(1) memory, for benchmarks.

    Serials, names and MACs are unique for up to 16,777,216 rows (beyond that MACs
    are locally administered, still unique); IPs are unique across the file but drawn
    from 127.20.0.0-127.255.255.255 rather than the segment's /24, which cannot hold a
    million hosts. IMEIs and VINs repeat every million rows. ``tenant_sites`` (site
    names or codes) keeps rows on those sites only.
    """
    if count < 0:
        raise InputError("count must not be negative")
    cat, rng = _catalogue(), random.Random(seed)
    plans = _row_plans(rng, cat, tenant_sites)
    ref, start = cat["meta"]["reference_time"], cat["meta"]["history_start"]
    states = []
    for state in _quota(rng, cat["lifecycle_mix"], _STATE_CYCLE):
        extra = (rng.choice(_QUARANTINE_TAGS),) if state == "quarantined" else ()
        states.append((state, *_seen(rng, state, start, ref), state not in _NO_IP, state != "planned", extra))
    shifts = rng.choices((0, 1, 2), (15, 70, 15), k=_CRIT_CYCLE)
    pairs, low, second = _fast_tables()
    n_plans = len(plans)
    for i in range(count):
        (prefix, dtype, vendor, model, serial, oui, has_ip, imei_of, iccid_of, vin_of,
         firmware, site, segment, owner, crits, tags) = plans[i % n_plans]  # fmt: skip
        state, first_seen, last_seen, live, fw_known, extra = states[i % _STATE_CYCLE]
        name = f"{prefix}{i:07d}"
        if not oui:
            macs = []
        elif i < _MAC_SPAN:
            macs = [oui + _BYTE[i >> 16] + ":" + pairs[i & 0xFFFF]]
        else:
            macs = [":".join(["02", *(f"{b:02x}" for b in (i % (1 << 40)).to_bytes(5, "big"))])]
        yield {
            "name": name, "device_type": dtype, "vendor": vendor, "model": model,
            "serial": f"{serial}{i:010d}", "mac_addresses": macs,
            "ip_addresses": [second[(i // _IP_SPAN) % 236] + low[i % _IP_SPAN]] if has_ip and live else [],
            "imei": imei_of(i) if imei_of else None,
            "iccid": iccid_of(i) if iccid_of else None,
            "vin": vin_of(i) if vin_of else None,
            "hostname": name if has_ip else None,
            "firmware_version": firmware[i & 15] if fw_known else None,
            "site": site, "segment": segment, "lifecycle_state": state, "owner": owner,
            "criticality": crits[shifts[i % _CRIT_CYCLE]],
            "first_seen": first_seen, "last_seen": last_seen,
            "tags": [*tags, *extra],
        }  # fmt: skip


__all__ = ["CATALOGUE", "DEVICE_FIELDS", "DemoEstate", "LifecycleState", "generate_demo_estate", "iter_device_rows"]
