"""parse_device's fast path must agree with the checked reference implementation."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from fleetwarden.adapters.demo.estate import iter_device_rows
from fleetwarden.domain.device_input import _parse_checked, _parse_clean, parse_device
from fleetwarden.errors import InputError

BASE: dict[str, Any] = {
    "name": "hq-cam-0001",
    "device_type": "cctv_camera",
    "vendor": "Axis",
    "model": "P3245",
    "serial": "AXI-0001",
    "mac_addresses": "ac:cc:8e:00:00:01",
    "ip_addresses": "127.20.1.10",
    "hostname": "hq-cam-0001",
    "lifecycle_state": "in_service",
    "criticality": "high",
    "first_seen": "2025-01-02T03:04:05Z",
    "last_seen": "2026-01-02T03:04:05+01:00",
    "tags": "system:cctv;internal",
}

VARIANTS: dict[str, list[Any]] = {
    "name": [None, "", "  ", " x ", "x" * 256, "x" * 257, "bad\x1b", 5, 5.5, True, "ünïcode"],
    "device_type": [None, "CCTV_Camera", "toaster", " other "],
    "lifecycle_state": [None, "Planned", "retired", ""],
    "criticality": [None, "LOW", "meh"],
    "mac_addresses": [
        None, "", ";", "AC:CC:8E:00:00:01", "ac-cc-8e-00-00-01", "accc.8e00.0001",
        "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "ac:cc:8e:00:00:01;ac:cc:8e:00:00:01",
        "ac:cc:8e:00:00:01; ac:cc:8e:00:00:02", "nope", ["ac:cc:8e:00:00:01"], [1],
        ";".join(f"02:00:00:00:00:{i:02x}" for i in range(33)), ("ac:cc:8e:00:00:01",),
    ],
    "ip_addresses": [
        None, "10.0.0.1", "010.0.0.1", "10.0.0.256", "::1", "2001:DB8::1", "1.2.3.4;1.2.3.4",
        "\u0661.2.3.4", "0.0.0.0", "255.255.255.255", " 8.8.8.8 ", ["127.0.0.1", " "],
    ],
    "serial": [None, "", "has space", "ok-123", "x" * 129, "é"],
    "imei": [None, "490154203237518", "490154203237519", "4901 5420 3237 518", "123"],
    "iccid": [None, "8944100000000000026", "8944100000000000027"],
    "vin": [None, "1m8gdm9axkp042788", "IOQ00000000000000"],
    "hostname": [None, "Host.Example.", "-bad", "a..b", "x" * 64],
    "cert_sha256": [None, "AB" * 32, "ab:" * 31 + "ab", "zz" * 32],
    "first_seen": [None, "2025-01-01", "2025-01-01T00:00:00", "yesterday", "2030-01-01Z"],
    "last_seen": [None, "2024-01-01T00:00:00+05:00", "2026-06-01T00:00:00Z"],
    "tags": [None, "a;b;a", "x" * 65, ["a;b"], ["tab\there"], "; ;", [" a ", "a"]],
    "tenant": [None, "someone", 7],
    "id": [None, 12, "12"],
    "colour": ["red"],
}


def _outcome(fn: Any, raw: dict[str, Any], partial: bool) -> Any:
    try:
        return fn(raw, partial)
    except InputError as exc:
        return ("error", str(exc))


def _check(raw: dict[str, Any], partial: bool = False) -> None:
    expected = _outcome(_parse_checked, raw, partial)
    fast = _parse_clean(raw, partial)
    if fast is not None:
        assert fast == expected, raw
    got = _outcome(lambda r, p: parse_device(r, partial=p), raw, partial)
    assert got == expected, raw


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_every_variant_of_one_field(key: str) -> None:
    for value in VARIANTS[key]:
        for partial in (False, True):
            _check(BASE | {key: value}, partial)


def test_random_combinations() -> None:
    rng = random.Random(11)
    keys = sorted(VARIANTS)
    for _ in range(3000):
        raw = dict(BASE)
        for key in rng.sample(keys, rng.randint(1, 4)):
            raw[key] = rng.choice(VARIANTS[key])
        _check(raw)


def test_generated_rows_take_the_fast_path_and_agree() -> None:
    for row in itertools.islice(iter_device_rows(3, 3000), 3000):
        as_csv = {k: (";".join(v) if isinstance(v, list) else v) or None for k, v in row.items()}
        for raw in (row, as_csv):
            fast = _parse_clean(raw, False)
            assert fast is not None
            assert fast == _parse_checked(raw, False)
