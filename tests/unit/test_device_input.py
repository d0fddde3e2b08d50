"""Validation of one device record (the import format)."""

from datetime import UTC, datetime

import pytest

from fleetwarden.domain.device_input import LIST_COLUMNS, parse_device
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.errors import InputError

GOOD = {
    "name": "hq-cam-0001",
    "device_type": "cctv_camera",
    "vendor": "Hikvision",
    "model": "DS-2CD2143G2-I",
    "serial": "DS2CD-0001",
    "mac_addresses": "AA-BB-CC-00-00-01;aa:bb:cc:00:00:01;aa:bb:cc:00:00:02",
    "ip_addresses": ["127.20.1.10"],
    "lifecycle_state": "in_service",
    "criticality": "HIGH",
    "first_seen": "2025-01-02T03:04:05Z",
    "last_seen": "2026-01-02T03:04:05+01:00",
    "tags": "cctv;hq",
}


def test_a_good_row_is_normalised() -> None:
    d = parse_device(GOOD)
    assert d.mac_addresses == ("aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02")
    assert d.lifecycle_state is LifecycleState.IN_SERVICE and d.ever_in_service
    assert d.criticality.value == "high"
    assert d.last_seen == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert d.tags == ("cctv", "hq")
    assert [k for k, _ in d.strong_identifiers()] == ["serial", "mac", "mac"]


def test_list_columns_are_all_accepted() -> None:
    parse_device({c: None for c in LIST_COLUMNS} | {"name": "x", "device_type": "other"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": None}, "name: required"),
        ({"colour": "red"}, "unknown field"),
        ({"device_type": "toaster"}, "device_type: unknown type"),
        ({"lifecycle_state": "retired"}, "lifecycle_state"),
        ({"mac_addresses": "not-a-mac"}, "mac_addresses"),
        ({"ip_addresses": "1.2.3.999"}, "ip_addresses"),
        ({"imei": "123"}, "imei"),
        ({"name": 5.5j}, "name: expected text"),
        ({"name": "x" * 300}, "longer than"),
        ({"name": "bad\x1b[31m"}, "control characters"),
        ({"first_seen": "yesterday"}, "first_seen"),
        ({"first_seen": "2026-02-01", "last_seen": "2026-01-01"}, "earlier than"),
        ({"mac_addresses": [1, 2]}, "expected a list of text"),
        ({"tags": ";".join(str(i) for i in range(40))}, "more than"),
    ],
)
def test_bad_values_get_one_clear_message(change: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_device(GOOD | change)


def test_partial_records_may_omit_the_name() -> None:
    assert parse_device({"firmware_version": "5.7.3"}, partial=True).firmware_version == "5.7.3"
