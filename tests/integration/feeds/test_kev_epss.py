"""CISA KEV catalogue and FIRST EPSS CSV files."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.adapters.feeds import FeedKind, read_feed
from fleetwarden.domain.vulns import FeedSource
from fleetwarden.errors import FeedError
from tests.integration.feeds.helpers import data, gz, load, write_json


def test_kev_catalogue() -> None:
    read = read_feed(data("kev.json"))
    assert read.kind is FeedKind.KEV and read.source is FeedSource.KEV
    assert read.version == "2025.03.14"
    assert read.data_date == datetime(2025, 3, 14, 17, 2, 11, 601200, tzinfo=UTC)
    hik, tplink, _ = read.kev
    assert hik.cve_id == "CVE-2021-36260" and hik.vendor == "Hikvision"
    assert hik.date_added == date(2022, 1, 10) and hik.due_date == date(2022, 1, 24)
    assert not hik.known_ransomware
    assert tplink.known_ransomware and tplink.product == "Archer AX-21"
    assert tplink.required_action is not None and "mitigations" in tplink.required_action
    assert read.counts.read == 3 and read.warnings == ()
    assert read.as_feed_data().kev == read.kev


def test_kev_gzipped(tmp_path: Path) -> None:
    assert read_feed(gz(data("kev.json"), tmp_path / "kev.json.gz")).counts.read == 3


def _kev(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    doc = copy.deepcopy(load("kev.json"))
    change(doc)
    return write_json(tmp_path / "kev.json", doc)


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["vulnerabilities"][1].update(dateAdded="2023-02-30"), "dateAdded"),
    (lambda d: d["vulnerabilities"][1].update(cveID="CVE-2023"), "is not a CVE id"),
    (lambda d: d["vulnerabilities"][1].pop("dateAdded"), "dateAdded is missing"),
    (lambda d: d["vulnerabilities"][1].update(product={"name": "x"}), "product must be"),
])
def test_kev_bad_entry(tmp_path: Path, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = _kev(tmp_path, change)
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert str(err.value).startswith(f"{path}: vulnerabilities[1]")
    assert expected in str(err.value)
    read = read_feed(path, skip_bad_records=True)
    assert read.counts.read == 2 and read.counts.skipped == 1


def test_kev_duplicates_and_count_mismatch_warn(tmp_path: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["vulnerabilities"].append(copy.deepcopy(doc["vulnerabilities"][0]))
        doc["vulnerabilities"][-1]["dueDate"] = "2022-02-01"

    read = read_feed(_kev(tmp_path, change))
    assert [e.cve_id for e in read.kev] == ["CVE-2023-1389", "CVE-2017-7921", "CVE-2021-36260"]
    assert read.kev[-1].due_date == date(2022, 2, 1)
    assert len(read.warnings) == 2
    assert "vulnerabilities[3] (CVE-2021-36260): listed again" in read.warnings[0]
    assert "count says 3, the file lists 4" in read.warnings[1]


def test_kev_without_entries_is_refused(tmp_path: Path) -> None:
    path = write_json(tmp_path / "kev.json", {"title": "x", "catalogVersion": "1"})
    with pytest.raises(FeedError, match="not a CISA KEV catalogue"):
        read_feed(path)


# --- EPSS ----------------------------------------------------------------------------


def test_epss_with_comment_line() -> None:
    read = read_feed(data("epss.csv"))
    assert read.kind is FeedKind.EPSS and read.source is FeedSource.EPSS
    assert read.version == "v2025.03.14"
    assert read.data_date == datetime(2025, 3, 15, tzinfo=UTC)
    first = read.epss[0]
    assert (first.cve_id, first.epss, first.percentile, first.scored_on) == (
        "CVE-2021-36260", 0.94432, 0.99957, date(2025, 3, 15))
    assert read.counts.read == 5


def test_epss_gzipped_without_comment_and_columns_reordered(tmp_path: Path) -> None:
    text = "cve,percentile,epss\r\nCVE-2022-0778,0.78512,0.01233\r\n\r\n"
    read = read_feed(gz(text.encode(), tmp_path / "epss.csv.gz"))
    (score,) = read.epss
    assert (score.epss, score.percentile, score.scored_on) == (0.01233, 0.78512, None)


@pytest.mark.parametrize("row, expected", [
    ("CVE-2022-0778,1.5,0.5", "epss '1.5' is outside 0..1"),
    ("CVE-2022-0778,nan,0.5", "outside 0..1"),
    ("CVE-2022-0778,abc,0.5", "epss 'abc' is not a number"),
    ("CVE-22-0778,0.1,0.5", "is not a CVE id"),
    ("CVE-2022-0778,0.1", "2 fields where the header has 3"),
])
def test_epss_bad_row_names_the_line(tmp_path: Path, row: str, expected: str) -> None:
    path = tmp_path / "epss.csv"
    path.write_text("#model_version:v2025.03.14,score_date:2025-03-15T00:00:00+0000\n"
                    "cve,epss,percentile\nCVE-2021-36260,0.9,0.99\n" + row + "\n"
                    "CVE-2023-1389,0.9,0.99\n")
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert str(err.value).startswith(f"{path}: line 4") and expected in str(err.value)
    read = read_feed(path, skip_bad_records=True)
    assert [s.cve_id for s in read.epss] == ["CVE-2021-36260", "CVE-2023-1389"]
    assert read.counts.skipped == 1 and "line 4" in read.warnings[0]


def test_epss_header_missing(tmp_path: Path) -> None:
    path = tmp_path / "epss.csv"
    path.write_text("cve,epss\nCVE-2021-36260,0.9\n")
    with pytest.raises(FeedError, match="line 1: expected a header"):
        read_feed(path)


def test_epss_overlong_line(tmp_path: Path) -> None:
    path = tmp_path / "epss.csv"
    path.write_text("cve,epss,percentile\nCVE-2021-36260,0.9," + "9" * 100_000 + "\n")
    with pytest.raises(FeedError, match="line 2 is longer than 4096 bytes"):
        read_feed(path)


def test_epss_bad_score_date_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "epss.csv"
    path.write_text("#model_version:v1,score_date:someday\ncve,epss,percentile\n"
                    "CVE-2021-36260,0.9,0.99\n")
    read = read_feed(path)
    assert read.epss[0].scored_on is None and "score_date 'someday'" in read.warnings[0]
