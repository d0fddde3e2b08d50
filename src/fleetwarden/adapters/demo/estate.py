"""Turns ``catalogues/demo/estate.toml`` into synthetic devices.

Two generators share the catalogue. ``generate_demo_estate`` builds a few hundred
consistent devices for ``fleetwarden demo`` (identities unique across the estate, IPs
inside their segment). ``iter_device_rows`` streams millions of import rows for
benchmarks: every identity is derived from the row number, so memory stays flat and a
row costs a few microseconds. Both are deterministic for a seed and use only the stdlib.

Must not: read anything but the catalogue, or emit an address outside 127.0.0.0/8 or a
mailbox outside ``.example`` (the demo must never reach or name anything real).
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
_CLASSIFICATIONS = frozenset(c.value for c in Classification)
_NOT_SEEN = frozenset({"planned", "procured"})
_NO_IP = frozenset({"planned", "procured", "disposed"})
_QUARANTINE_TAGS = (
    "quarantine:suspected-compromise",
    "quarantine:unsupported-firmware",
    "quarantine:unexpected-traffic",
)
_VIN_YEAR = {2021: "M", 2022: "N", 2023: "P", 2024: "R", 2025: "S"}
_DAY = timedelta(days=1)


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
    """``sites`` names the sites a system is limited to (empty: every site)."""
    data_items: tuple[dict[str, Any], ...]
    """``aggregate_of`` lists the items a collection is made of (empty for single items)."""
    owners: tuple[dict[str, Any], ...]


# ---------------------------------------------------------------------------- catalogue


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _jsonable(value: Any) -> Any:
    """A deep copy with dates as ISO strings, so callers never share catalogue state."""
    if isinstance(value, datetime):
        return _ts(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@cache
def _catalogue() -> dict[str, Any]:
    """The parsed catalogue, checked once; read-only for everyone."""
    try:
        with CATALOGUE.open("rb") as fh:
            cat = tomllib.load(fh)
        problems = _problems(cat)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"demo estate catalogue {CATALOGUE}: {exc!r}") from None
    if problems:
        raise ConfigurationError(f"demo estate catalogue: {'; '.join(problems[:5])}")
    return cat


def estate_catalogue() -> Mapping[str, Any]:
    """The checked demo-estate catalogue (sites, segments, models); do not mutate it."""
    return _catalogue()


def segments_for(cat: Mapping[str, Any], model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The segments a model's devices may be placed on (its own patterns, else its type's)."""
    dtype = cat["device_types"][model["device_type"]]
    patterns = model.get("segments") or dtype["segments"]
    return [s for s in cat["segments"] if any(fnmatch.fnmatchcase(s["name"], p) for p in patterns)]


def _system_for(cat: Mapping[str, Any], device_type: str, site_code: str) -> dict[str, Any]:
    """The first IoT system taking this device type at this site ({} when none does)."""
    for system in cat["iot_systems"]:
        if device_type in system["device_types"] and site_code in system.get("sites", [site_code]):
            return dict(system)
    return {}


def _problems(cat: Mapping[str, Any]) -> list[str]:
    """Cross-references a hand edit could break, so a bad catalogue fails with a reason."""
    out: list[str] = []
    supernet = ipaddress.ip_network(cat["meta"]["supernet"])
    sites = {s["code"] for s in cat["sites"]}
    owners = {o["email"] for o in cat["owners"]}
    emails = [*owners, *(s["contact_email"] for s in cat["suppliers"])]
    out += [f"{e}: not on a .example domain" for e in emails if not e.endswith(".example")]
    out += [f"lifecycle state {s}: unknown" for s in cat["lifecycle_mix"] if s not in _STATES]
    seen: set[Any] = set()
    for seg in cat["segments"]:
        if seg["site"] not in sites or seg["zone"] not in _ZONES:
            out.append(f"segment {seg['name']}: unknown site or zone")
        for net in map(ipaddress.ip_network, seg["cidrs"]):
            ok = net.version == 4 and net.prefixlen == 24 and net.subnet_of(supernet)  # type: ignore[arg-type]
            if not ok or net in seen:
                out.append(f"segment {seg['name']}: {net} is not a fresh /24 in {supernet}")
            seen.add(net)
    for name, spec in cat["device_types"].items():
        if name not in _TYPES or spec["criticality"] not in _CRIT:
            out.append(f"device type {name}: unknown type or criticality")
        if not set(spec["identifiers"]) <= _IDENTIFIERS:
            out.append(f"device type {name}: unknown identifier")
    for m in cat["models"]:
        out += [f"model {m['vendor']} {m['model']}: {p}" for p in _model_problems(cat, m)]
    for system in cat["iot_systems"]:
        if system["owner"] not in owners or not set(system.get("sites", [])) <= sites:
            out.append(f"IoT system {system['name']}: unknown owner or site")
    systems = {s["name"] for s in cat["iot_systems"]}
    items = {d["name"] for d in cat["data_items"]}
    for d in cat["data_items"]:
        if d["system"] not in systems or not set(d.get("aggregate_of", [])) <= items:
            out.append(f"data item {d['name']}: unknown system or aggregated item")
        if d["classification"] not in _CLASSIFICATIONS:
            out.append(f"data item {d['name']}: unknown classification")
    return out


def _model_problems(cat: Mapping[str, Any], m: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    if m["device_type"] not in cat["device_types"]:
        return ["no placement for its device type"]
    ids = set(cat["device_types"][m["device_type"]]["identifiers"])
    if m["category"] not in _CATEGORIES or m["supplier"] not in _names(cat["suppliers"]):
        out.append("unknown category or supplier")
    needs = {"mac": "oui", "imei": "tac", "iccid": "iccid_prefix", "vin": "wmi"}
    out += [f"a {k} needs {f}" for k, f in needs.items() if k in ids and f not in m]
    out += [
        f"serial uses {{{k}}}, which it does not have"
        for k in ("mac", "imei", "iccid", "vin")
        if f"{{{k}}}" in m["serial"] and k not in ids
    ]
    segs = segments_for(cat, m)
    if not segs:
        out.append("no segment matches its placement")
    out += [f"on {s['name']}: in no IoT system" for s in segs
            if not _system_for(cat, m["device_type"], s["site"])]  # fmt: skip
    return out


def _names(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    return {r["name"] for r in rows}


# -------------------------------------------------------------------------- identifiers


def _luhn_digit(payload: str) -> str:
    """Check digit making ``payload + digit`` pass the Luhn test (IMEI, ICCID)."""
    total = 0
    for pos, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if pos % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


# Luhn sum (mod 10) of every 3-digit chunk: [0] when its last digit is doubled (chunks
# 0, 2, ... from the right of the payload), [1] when it is not.
_LUHN3 = tuple(
    [-int(_luhn_digit(f"{n:03d}" + "0" * odd)) % 10 for n in range(1000)] for odd in (0, 1)
)


class _LuhnNumbers:
    """``prefix`` + ``width`` digits of ``n`` + Luhn digit, in about a microsecond.

    Why tables: a per-digit loop is too slow for a million rows, and a 3-digit chunk's
    share of the sum depends only on its value and the parity of its position.
    """

    def __init__(self, prefix: str, width: int) -> None:
        self.prefix, self.width, self.mod = prefix, width, 10**width
        self._base = -int(_luhn_digit(prefix + "0" * width)) % 10
        self._chunks = (width + 2) // 3

    def __call__(self, n: int) -> str:
        n %= self.mod
        total, rest = self._base, n
        for k in range(self._chunks):
            total += _LUHN3[k % 2][rest % 1000]
            rest //= 1000
        return f"{self.prefix}{n:0{self.width}d}{-total % 10}"


class _Vins:
    """17-character VINs with a valid position-9 check digit; the serial comes from ``n``."""

    _WEIGHTS = (7, 6, 5, 4, 3, 2)  # positions 12..17

    def __init__(self, wmi: str, vds: str, year: str, plant: str) -> None:
        self._head, self._tail = wmi + vds, year + plant
        self._base = "0123456789X".index(vin_check_digit(f"{self._head}0{self._tail}000000"))

    def __call__(self, n: int) -> str:
        serial = f"{n % 1_000_000:06d}"
        total = self._base + sum(int(c) * w for c, w in zip(serial, self._WEIGHTS, strict=True))
        return f"{self._head}{'0123456789X'[total % 11]}{self._tail}{serial}"


class _Unique:
    """Draws until a value is new, so identities are unique across one estate."""

    def __init__(self) -> None:
        self._seen: dict[str, set[str]] = {}

    def __call__(self, kind: str, make: Callable[[], str]) -> str:
        seen = self._seen.setdefault(kind, set())
        while (value := make()) in seen:
            pass
        seen.add(value)
        return value


# ------------------------------------------------------------------------ shared rules


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


def _seen(
    rng: random.Random, state: str, start: datetime, ref: datetime
) -> tuple[str | None, str | None]:
    """First/last seen fitting the state: retired devices went quiet long ago."""
    if state in _NOT_SEEN:
        return None, None
    if state == "commissioning":
        return _ts(ref - rng.uniform(1, 30) * _DAY), _ts(ref - rng.uniform(0, 0.25) * _DAY)
    days_back = {"maintenance": (0, 14), "quarantined": (0, 3), "decommissioning": (3, 40),
                 "disposed": (40, 300)}.get(state, (0, 2))  # fmt: skip
    if state == "in_service" and rng.random() < 0.04:
        days_back = (30, 90)  # gone quiet: something the demo should surface
    last = ref - rng.uniform(*days_back) * _DAY
    first = start + rng.random() * (ref - 45 * _DAY - start)
    if first >= last:
        first = start + rng.random() * (last - start)
    return _ts(first), _ts(last)


def _firmware(rng: random.Random, versions: list[str]) -> str | None:
    """Mostly the newest version; the rest lag behind, as real estates do."""
    if not versions:
        return None
    return versions[-1] if rng.random() < 0.6 else rng.choice(versions)


def _shift(rng: random.Random) -> int:
    return rng.choices((-1, 0, 1), (15, 70, 15))[0]


def _bump(base: str, shift: int) -> str:
    return _CRIT[min(max(_CRIT.index(base) + shift, 0), len(_CRIT) - 1)]


# -------------------------------------------------------------------------- demo estate


def generate_demo_estate(seed: int = 7, device_count: int = 300) -> DemoEstate:
    """A realistic, internally consistent estate; the same seed gives the same estate."""
    if device_count < 0:
        raise InputError("device_count must not be negative")
    cat, rng = _catalogue(), random.Random(seed)  # noqa: S311 - reproducible, not secret
    models = cat["models"]
    picks = list(models) if device_count >= len(models) else []  # show every model
    picks += rng.choices(models, [m["weight"] for m in models], k=device_count - len(picks))
    rng.shuffle(picks)
    states = _quota(rng, cat["lifecycle_mix"], device_count)
    builder = _DemoBuilder(cat, rng)
    devices = [builder.device(m, s) for m, s in zip(picks, states, strict=True)]
    return _estate(cat, devices)


class _DemoBuilder:
    """Places devices and hands out identities unique across one estate."""

    def __init__(self, cat: Mapping[str, Any], rng: random.Random) -> None:
        self.cat, self.rng, self.unique = cat, rng, _Unique()
        self.sites = {s["code"]: s for s in cat["sites"]}
        self.ref: datetime = cat["meta"]["reference_time"]
        self.start: datetime = cat["meta"]["history_start"]
        self.free_ips: dict[str, list[str]] = {}
        self.numbers: dict[str, int] = {}
        self._seq = rng.randrange(10_000, 90_000)

    def device(self, model: Mapping[str, Any], state: str) -> dict[str, Any]:
        rng, unique = self.rng, self.unique
        dtype = self.cat["device_types"][model["device_type"]]
        segs = segments_for(self.cat, model)
        seg = rng.choices(segs, [s["weight"] for s in segs])[0]
        site = self.sites[seg["site"]]
        system = _system_for(self.cat, model["device_type"], site["code"])
        ids = set(dtype["identifiers"])
        stem = f"{site['code'].lower()}-{dtype['host']}"
        self.numbers[stem] = self.numbers.get(stem, 0) + 1
        name = f"{stem}-{self.numbers[stem]:04d}"
        mac = imei = iccid = vin = ip = None
        if "mac" in ids:
            mac = unique("mac", lambda: f"{model['oui']}:{rng.randbytes(3).hex(':')}")
        if "imei" in ids:
            imei = unique("imei", lambda: _LuhnNumbers(model["tac"], 6)(rng.randrange(10**6)))
        if "iccid" in ids:
            make_iccid = _LuhnNumbers(model["iccid_prefix"], 10)
            iccid = unique("iccid", lambda: make_iccid(rng.randrange(10**10)))
        if "vin" in ids:
            year = _VIN_YEAR[rng.randrange(2021, 2026)]
            make_vin = _Vins(model["wmi"], model["vds"], year, model["plant"])
            vin = unique("vin", lambda: make_vin(rng.randrange(10**6)))
        if "ip" in ids and state not in _NO_IP:
            pool = self.free_ips.setdefault(seg["name"], self._hosts(seg["cidrs"][0]))
            ip = pool.pop() if pool else None  # a full /24 leaves the device without one
        made = date(2019, 1, 1) + rng.randrange(2300) * _DAY
        fields = {
            "date": made.strftime("%Y%m%d"), "yy": made.strftime("%y"),
            "ww": made.strftime("%V"), "mac": (mac or "").replace(":", "").upper(),
            "imei": imei, "iccid": iccid, "vin": vin,
        }  # fmt: skip
        serial = unique(
            "serial",
            lambda: model["serial"].format(
                seq=self._next_seq(), hex=rng.randbytes(4).hex().upper(), **fields
            ),
        )
        first_seen, last_seen = _seen(rng, state, self.start, self.ref)
        tags = [f"system:{system.get('code', 'none')}"]
        if dtype["tags"] and rng.random() < 0.7:
            tags.append(rng.choice(dtype["tags"]))
        if model["end_of_support"] < self.ref.date():
            tags.append("end-of-support")
        if state == "quarantined":
            tags.append(rng.choice(_QUARANTINE_TAGS))
        firmware = _firmware(rng, model["firmware_versions"])
        return {
            "name": name,
            "device_type": model["device_type"],
            "vendor": model["vendor"],
            "model": model["model"],
            "serial": serial,
            "mac_addresses": [mac] if mac else [],
            "ip_addresses": [ip] if ip else [],
            "imei": imei,
            "iccid": iccid,
            "vin": vin,
            "hostname": name if "ip" in ids else None,
            "firmware_version": None if state == "planned" else firmware,
            "site": site["name"],
            "segment": seg["name"],
            "lifecycle_state": state,
            "owner": system.get("owner"),
            "criticality": _bump(dtype["criticality"], _shift(rng)),
            "first_seen": first_seen,
            "last_seen": last_seen,
            "tags": tags,
        }

    def _next_seq(self) -> int:
        # Rising with gaps, like serials from several production batches.
        self._seq += self.rng.randrange(1, 400)
        return self._seq

    def _hosts(self, cidr: str) -> list[str]:
        # .1-.9 and .251-.254 stay free for gateways and infrastructure, as on real VLANs.
        pool = [str(h) for h in list(ipaddress.ip_network(cidr).hosts())[9:250]]
        self.rng.shuffle(pool)
        return pool


def _estate(cat: Mapping[str, Any], devices: list[dict[str, Any]]) -> DemoEstate:
    names = {s["code"]: s["name"] for s in cat["sites"]}
    segments = [
        {"name": s["name"], "cidrs": list(s["cidrs"]), "vlan": s["vlan"], "zone": s["zone"],
         "site": names[s["site"]], "site_code": s["site"]}
        for s in cat["segments"]
    ]  # fmt: skip
    return DemoEstate(
        sites=tuple(_jsonable(cat["sites"])),
        segments=tuple(segments),
        suppliers=tuple(_jsonable(cat["suppliers"])),
        models=tuple({f: _jsonable(m.get(f)) for f in _MODEL_FIELDS} for m in cat["models"]),
        devices=tuple(devices),
        iot_systems=tuple(
            {**_jsonable(s), "sites": [names[c] for c in s.get("sites", [])]}
            for s in cat["iot_systems"]
        ),
        data_items=tuple(
            {**_jsonable(d), "aggregate_of": list(d.get("aggregate_of", []))}
            for d in cat["data_items"]
        ),
        owners=tuple(_jsonable(cat["owners"])),
    )


# ----------------------------------------------------------------------- benchmark rows

_PLAN_CYCLE, _STATE_CYCLE, _CRIT_CYCLE = 4093, 997, 1009  # primes: the cycles never align
_BYTE = [f"{b:02x}" for b in range(256)]
_MAC_SPAN = 1 << 24  # rows whose MAC fits in the OUI's 24 bits
_IP_SPAN = 254 * 256  # hosts .1-.254 of each /24 in a /16


@cache
def _fast_tables() -> tuple[list[str], list[str], list[str]]:
    pairs = [f"{a}:{b}" for a in _BYTE for b in _BYTE]
    low = [f"{third}.{host}" for third in range(256) for host in range(1, 255)]
    second = [f"127.{20 + k}." for k in range(236)]  # 127.20.0.1 .. 127.255.255.254
    return pairs, low, second


def _allowed_sites(cat: Mapping[str, Any], tenant_sites: Iterable[str] | None) -> set[str]:
    if tenant_sites is None:
        return {s["code"] for s in cat["sites"]}
    wanted = set(tenant_sites)
    found = {s["code"]: s["name"] for s in cat["sites"] if wanted & {s["code"], s["name"]}}
    unknown = wanted - set(found) - set(found.values())
    if unknown:
        raise InputError(f"unknown site(s): {', '.join(sorted(unknown)[:5])}")
    return set(found)


def _row_plans(
    rng: random.Random, cat: Mapping[str, Any], tenant_sites: Iterable[str] | None
) -> list[tuple[Any, ...]]:
    """A weighted deck of (model, segment) placements, every per-row constant precomputed."""
    allowed = _allowed_sites(cat, tenant_sites)
    combos, weights = [], []
    for m in cat["models"]:
        segs = [s for s in segments_for(cat, m) if s["site"] in allowed]
        combos += [(m, s) for s in segs]
        weights += [m["weight"] * s["weight"] / sum(t["weight"] for t in segs) for s in segs]
    if not combos:
        raise InputError("no device model can be placed at the given sites")
    plans: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    deck = []
    for m, seg in rng.choices(combos, weights, k=_PLAN_CYCLE):
        key = (m["vendor"], m["model"], seg["name"])
        if key not in plans:
            plans[key] = _row_plan(rng, cat, m, seg)
        deck.append(plans[key])
    return deck


def _row_plan(
    rng: random.Random, cat: Mapping[str, Any], m: Mapping[str, Any], seg: Mapping[str, Any]
) -> tuple[Any, ...]:
    dtype = cat["device_types"][m["device_type"]]
    site = next(s for s in cat["sites"] if s["code"] == seg["site"])
    ids = set(dtype["identifiers"])
    # The serial is "<literal head of the template>-<row number>": the head never ends in a
    # digit, so the number after the last '-' alone tells rows apart.
    head = m["serial"].split("{", 1)[0].rstrip("-/_") or m["vendor"][:3].upper()
    system = _system_for(cat, m["device_type"], site["code"])
    tags = (f"system:{system.get('code', 'none')}", *dtype["tags"][:1])
    return (
        f"{site['code'].lower()}-{dtype['host']}-",
        m["device_type"],
        m["vendor"],
        m["model"],
        head + "-",
        m["oui"] + ":" if "mac" in ids else "",
        "ip" in ids,
        _LuhnNumbers(m["tac"], 6) if "imei" in ids else None,
        _LuhnNumbers(m["iccid_prefix"], 10) if "iccid" in ids else None,
        _Vins(m["wmi"], m["vds"], "R", m["plant"]) if "vin" in ids else None,
        tuple(_firmware(rng, m["firmware_versions"]) for _ in range(16)),
        site["name"],
        seg["name"],
        system.get("owner"),
        tuple(_bump(dtype["criticality"], d) for d in (-1, 0, 1)),
        tags,
    )


def iter_device_rows(
    seed: int, count: int, *, tenant_sites: Iterable[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` import-format device dicts in O(1) memory, for benchmarks.

    Names, serials and MACs are unique (MACs come from the model's OUI for the first
    16,777,216 rows, then are locally administered). IPs are unique too, but drawn from
    127.20.0.1-127.255.255.254 rather than the segment's /24, which cannot hold a
    million hosts. IMEIs and VINs repeat every million rows. ``tenant_sites`` (site
    names or codes) keeps every row on those sites.
    """
    if count < 0:
        raise InputError("count must not be negative")
    cat, rng = _catalogue(), random.Random(seed)  # noqa: S311 - reproducible, not secret
    plans = _row_plans(rng, cat, tenant_sites)
    ref, start = cat["meta"]["reference_time"], cat["meta"]["history_start"]
    cycle = []
    for state in _quota(rng, cat["lifecycle_mix"], _STATE_CYCLE):
        extra = (rng.choice(_QUARANTINE_TAGS),) if state == "quarantined" else ()
        first, last = _seen(rng, state, start, ref)
        cycle.append((state, first, last, state not in _NO_IP, state != "planned", extra))
    shifts = [_shift(rng) + 1 for _ in range(_CRIT_CYCLE)]  # index into (down, same, up)
    pairs, low, second = _fast_tables()
    n_plans = len(plans)
    for i in range(count):
        (stem, dtype, vendor, model, serial, oui, has_ip, imei_of, iccid_of, vin_of,
         firmware, site, segment, owner, crits, tags) = plans[i % n_plans]  # fmt: skip
        state, first_seen, last_seen, live, fw_known, extra = cycle[i % _STATE_CYCLE]
        name = f"{stem}{i:07d}"
        if not oui:
            macs = []
        elif i < _MAC_SPAN:
            macs = [oui + _BYTE[i >> 16] + ":" + pairs[i & 0xFFFF]]
        else:
            macs = ["02:" + (i % (1 << 40)).to_bytes(5, "big").hex(":")]
        yield {
            "name": name,
            "device_type": dtype,
            "vendor": vendor,
            "model": model,
            "serial": f"{serial}{i:010d}",
            "mac_addresses": macs,
            "ip_addresses": (
                [second[(i // _IP_SPAN) % 236] + low[i % _IP_SPAN]] if has_ip and live else []
            ),
            "imei": imei_of(i) if imei_of else None,
            "iccid": iccid_of(i) if iccid_of else None,
            "vin": vin_of(i) if vin_of else None,
            "hostname": name if has_ip else None,
            "firmware_version": firmware[i & 15] if fw_known else None,
            "site": site,
            "segment": segment,
            "lifecycle_state": state,
            "owner": owner,
            "criticality": crits[shifts[i % _CRIT_CYCLE]],
            "first_seen": first_seen,
            "last_seen": last_seen,
            "tags": [*tags, *extra],
        }
