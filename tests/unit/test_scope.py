"""Scan scope arithmetic and duration parsing."""

from __future__ import annotations

import ipaddress

import pytest

from fleetwarden.domain.durations import parse_duration
from fleetwarden.domain.scope import cidr_ranges, contains, describe, outside
from fleetwarden.errors import InputError


def _r(a: str, b: str) -> tuple[int, int]:
    return int(ipaddress.IPv4Address(a)), int(ipaddress.IPv4Address(b))


def test_inside_the_segments_nothing_is_left() -> None:
    allowed = cidr_ranges(["10.0.0.0/24", "10.0.1.0/24", "2001:db8::/64"])
    assert allowed == [_r("10.0.0.0", "10.0.1.255")]
    assert outside([_r("10.0.0.5", "10.0.1.9")], allowed) == []


def test_the_parts_outside_are_named_exactly() -> None:
    allowed = cidr_ranges(["10.0.0.0/25", "10.0.0.192/26"])
    left = outside([_r("9.255.255.250", "10.0.1.3")], allowed)
    assert [describe(r) for r in left] == ["9.255.255.250-9.255.255.255",
                                           "10.0.0.128-10.0.0.191", "10.0.1.0-10.0.1.3"]
    assert outside([_r("10.0.0.1", "10.0.0.1")], []) == [_r("10.0.0.1", "10.0.0.1")]
    assert describe(_r("10.0.0.1", "10.0.0.1")) == "10.0.0.1"


def test_contains() -> None:
    ranges = cidr_ranges(["127.20.4.0/24"])
    assert contains(ranges, "127.20.4.9") and not contains(ranges, "127.20.5.1")
    assert not contains(ranges, "not-an-ip")


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30m", 1800), ("1h", 3600),
                                               ("1.5h", 5400), ("2d", 172800)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, option="--every", maximum=366 * 86400) == seconds


@pytest.mark.parametrize("text", ["", "h", "soon", "-1h", "inf", "nan", "400d", "1e400"])
def test_bad_durations_are_one_line_errors(text: str) -> None:
    with pytest.raises(InputError, match="--every"):
        parse_duration(text, option="--every", maximum=366 * 86400)
