"""Data classification rules (aggregates) and identity matching (strong before weak)."""

import pytest

from fleetwarden.domain.classification import Classification as C
from fleetwarden.domain.classification import check_aggregate, highest, parse_classification
from fleetwarden.domain.identifiers import IdentifierKind as K
from fleetwarden.domain.identity import match


def test_classification_order_and_parsing() -> None:
    assert C.OFFICIAL.rank < C.OFFICIAL_SENSITIVE.rank < C.SECRET.rank < C.TOP_SECRET.rank
    assert parse_classification("official sensitive") is C.OFFICIAL_SENSITIVE
    assert parse_classification("top_secret") is C.TOP_SECRET
    with pytest.raises(ValueError, match="valid"):
        parse_classification("RESTRICTED")
    assert highest([C.OFFICIAL, C.SECRET]) is C.SECRET
    assert highest([]) is None


def test_aggregate_may_be_higher_but_never_lower_than_items() -> None:
    assert check_aggregate(C.OFFICIAL_SENSITIVE, [C.OFFICIAL, C.OFFICIAL]) is None
    assert check_aggregate(C.SECRET, [C.SECRET]) is None
    problem = check_aggregate(C.OFFICIAL, [C.OFFICIAL_SENSITIVE])
    assert problem is not None and "below" in problem


def test_strong_identifier_wins_over_a_reused_ip() -> None:
    known = {(K.MAC, "aa:bb:cc:00:00:01"): [1], (K.IP, "127.20.1.5"): [2]}
    m = match([(K.MAC, "aa:bb:cc:00:00:01"), (K.IP, "127.20.1.5")], known)
    assert (m.device_id, m.strength) == (1, "strong")


def test_unknown_strong_identifier_means_new_device_even_if_ip_matches() -> None:
    known = {(K.IP, "127.20.1.5"): [2]}
    m = match([(K.SERIAL, "NEW1"), (K.IP, "127.20.1.5")], known)
    assert m.device_id is None and m.strength == "none"


def test_weak_identifiers_only_when_nothing_strong_is_known() -> None:
    known = {(K.HOSTNAME, "hq-cam-1"): [3]}
    assert match([(K.HOSTNAME, "hq-cam-1")], known).device_id == 3


def test_conflicting_strong_identifiers_are_reported() -> None:
    known = {(K.SERIAL, "S1"): [1], (K.MAC, "aa:bb:cc:00:00:02"): [2]}
    m = match([(K.SERIAL, "S1"), (K.MAC, "aa:bb:cc:00:00:02")], known)
    assert m.strength == "conflict" and set(m.conflicting) == {1, 2} and m.device_id is None
