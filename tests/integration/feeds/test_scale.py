"""Big feeds: memory stays flat while streaming, and one bad record among thousands."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fleetwarden.adapters.feeds import read_feed
from fleetwarden.errors import FeedError
from tests.integration.feeds.helpers import feed, gz
from tests.integration.feeds.nvdgen import record, records, write_feed

MiB = 1 << 20


@pytest.fixture(scope="module")
def big_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nvd") / "nvdcve-2.0-big.json"
    write_feed(path, records(15_000), 15_000)
    assert path.stat().st_size > 45 * MiB
    return path


def test_streaming_a_50_mb_feed_keeps_memory_flat(big_feed: Path) -> None:
    """Peak RSS of a child process, before and after reading every record."""
    script = textwrap.dedent(f"""
        import resource
        from fleetwarden.adapters.feeds import iter_nvd
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        count = sum(1 for _ in iter_nvd({str(big_feed)!r}))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(count, after - before)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=True).stdout.split()
    count, grown_kib = int(out[0]), int(out[1])
    assert count == 15_000
    assert grown_kib < 100 * 1024, f"peak RSS grew by {grown_kib // 1024} MiB"


def test_one_bad_record_in_thousands(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    items = [record(i, rng) for i in range(3000)]
    items[2345]["cve"]["metrics"]["cvssMetricV31"][0]["cvssData"]["vectorString"] = \
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:Z"
    bad_id = items[2345]["cve"]["id"]
    path = gz(feed(tmp_path / "f.json", items), tmp_path / "nvdcve-2.0-2024.json.gz")
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert str(err.value).startswith(
        f"{path}: vulnerabilities[2345] ({bad_id}): invalid CVSS vector")
    read = read_feed(path, skip_bad_records=True)
    assert read.counts.read == 2999 and read.counts.skipped == 1
    assert len([w for w in read.warnings if "skipped" in w]) == 1
    assert bad_id not in {v.id for v in read.vulnerabilities}
