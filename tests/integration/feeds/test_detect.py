"""Format detection from content, whatever the file is called."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fleetwarden.adapters.feeds import FeedKind, detect, read_feed
from fleetwarden.errors import FeedError
from tests.integration.feeds.helpers import data, gz, xz

KINDS = {
    "nvd-CVE-2021-36260.json": FeedKind.NVD,
    "nvd-CVE-2022-0778.json": FeedKind.NVD,
    "osv-GHSA-v845-jxx5-vc9f.json": FeedKind.OSV,
    "osv-DSA-5103-1.json": FeedKind.OSV,
    "kev.json": FeedKind.KEV,
    "epss.csv": FeedKind.EPSS,
    "cyclonedx-vex.json": FeedKind.CYCLONEDX_VEX,
    "openvex.json": FeedKind.OPENVEX,
    "csaf-vex.json": FeedKind.CSAF_VEX,
}


@pytest.mark.parametrize("name", list(KINDS))
def test_detects_each_kind_under_any_name(tmp_path: Path, name: str) -> None:
    assert detect(data(name)) is KINDS[name]
    misnamed = shutil.copy(data(name), tmp_path / "download.bin")
    assert detect(misnamed) is KINDS[name]
    assert detect(gz(data(name), tmp_path / "x.txt")) is KINDS[name]
    assert detect(xz(data(name), tmp_path / "y.dat")) is KINDS[name]


@pytest.mark.parametrize("content, expected", [
    (b"", "the file is empty"),
    (b"   \n", "the file is empty"),
    (json.dumps({"hello": "world"}).encode(), "not a feed format we read"),
    (b"[1, 2, 3]", "a JSON array"),
    (b'<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>',
     "not a feed format we read"),
    (bytes(range(256)) * 4, "not a feed format we read"),
    (b"name,version\nopenssl,1.1.1k\n", "not a feed format we read"),
    (b'{"id": ', "malformed JSON"),
    (b'{"a": [' * 100, "nested deeper than 64 levels"),
])
def test_unknown_content_is_refused_naming_the_file(tmp_path: Path, content: bytes,
                                                    expected: str) -> None:
    path = tmp_path / "mystery.json"
    path.write_bytes(content)
    for call in (detect, read_feed):
        with pytest.raises(FeedError) as err:
            call(path)
        message = str(err.value)
        assert message.startswith(f"{path}: ") and expected in message
        assert "\n" not in message


def test_keys_after_the_first_mebibyte_are_not_needed(tmp_path: Path) -> None:
    """The NVD header comes first; a feed is told apart before its records are read."""
    doc = json.loads(data("nvd-CVE-2022-0778.json").read_text())
    path = tmp_path / "feed.json"
    path.write_text(json.dumps({"format": "NVD_CVE", "version": "2.0",
                                "vulnerabilities": [{"cve": doc}] * 2000}))
    assert path.stat().st_size > 1 << 20
    assert detect(path) is FeedKind.NVD
