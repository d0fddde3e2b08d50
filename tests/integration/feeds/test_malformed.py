"""Damaged and hostile JSON feeds: refused in one line naming the file, nothing returned."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fleetwarden.adapters.feeds import _source, read_feed
from fleetwarden.errors import FeedError
from tests.integration.feeds.helpers import cve, feed, gz, xz


def _one_line(err: pytest.ExceptionInfo[FeedError], path: Path) -> str:
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert err.value.exit_code == 2 and err.value.http_status == 422
    return message


def test_invalid_json_mid_stream_names_the_record(tmp_path: Path) -> None:
    good = feed(tmp_path / "good.json", [cve(n) for n in range(50)]).read_bytes()
    cut = good.index(b'{"cve": {"id": "CVE-2024-00030"')
    path = tmp_path / "bad.json"
    path.write_bytes(good[:cut] + b'{"cve": {"id": "CVE-2024-00030", oops}}' + good[cut:])
    with pytest.raises(FeedError) as err:
        read_feed(path, skip_bad_records=True)  # syntax damage is never skippable
    assert "malformed JSON in vulnerabilities[30]" in _one_line(err, path)


def test_truncated_plain_json(tmp_path: Path) -> None:
    good = feed(tmp_path / "good.json", [cve(n) for n in range(20)]).read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert "malformed JSON" in _one_line(err, path)


@pytest.mark.parametrize("compress", [gz, xz])
def test_truncated_compressed_file(tmp_path: Path, compress) -> None:  # type: ignore[no-untyped-def]
    whole = compress(feed(tmp_path / "good.json", [cve(n) for n in range(200)]),
                     tmp_path / "whole")
    path = tmp_path / "cut"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert "truncated" in _one_line(err, path)


def test_corrupt_gzip_data(tmp_path: Path) -> None:
    data = bytearray(gz(feed(tmp_path / "g.json", [cve(n) for n in range(50)]),
                        tmp_path / "x.gz").read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\x00" * 64
    path = tmp_path / "corrupt.json.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert "compressed data" in _one_line(err, path)


def test_trailing_garbage(tmp_path: Path) -> None:
    path = feed(tmp_path / "f.json", [cve(1)])
    path.write_bytes(path.read_bytes() + b"{}")
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert "malformed JSON" in _one_line(err, path)


def test_nan_is_not_json(tmp_path: Path) -> None:
    item = cve(1)
    text = json.dumps(item).replace('"baseScore": 7.5', '"baseScore": NaN')
    path = tmp_path / "nan.json"
    path.write_text('{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": [' + text
                    + "]}")
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert "malformed JSON" in _one_line(err, path)


def test_deep_nesting_is_refused_fast_and_small(tmp_path: Path) -> None:
    """ijson's own ``items`` needs memory quadratic in depth (20+ GB for this file)."""
    path = tmp_path / "deep.json"
    depth = 200_000
    path.write_bytes(b'{"format": "NVD_CVE", "vulnerabilities": [{"cve": {"id": '
                     b'"CVE-2024-0001", "x": ' + b"[" * depth + b"]" * depth + b"}}]}")
    started = time.perf_counter()
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert "vulnerabilities[0]: nested deeper than 64 levels" in _one_line(err, path)
    assert time.perf_counter() - started < 5


def test_deep_nesting_in_a_single_record_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"id": "CVE-2024-0001", "sourceIdentifier": "x", "x": '
                     + b"{\"a\":" * 5000 + b"1" + b"}" * 5000 + b"}")
    with pytest.raises(FeedError, match="nested deeper than 64 levels"):
        read_feed(path)


def test_record_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    """A 40 MB string would be built whole before any check on the value could run."""
    item = cve(2, descriptions=[{"lang": "en", "value": "A" * (40 << 20)}])
    path = feed(tmp_path / "big.json", [cve(1), item, cve(3)])
    with pytest.raises(FeedError) as err:
        read_feed(path, skip_bad_records=True)
    assert "vulnerabilities[1] is larger than 16 MiB" in _one_line(err, path)


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    monkeypatch.setattr(_source, "MAX_DECOMPRESSED", 8 << 20)
    path = tmp_path / "bomb.json.gz"
    with gzip.open(path, "wb") as out:
        out.write(b'{"format": "NVD_CVE", "version": "2.0", "vulnerabilities": [')
        for _ in range(32):
            out.write(b" " * (1 << 20))
        out.write(b"]}")
    assert path.stat().st_size < 100_000
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert "decompression bomb" in _one_line(err, path)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert "cannot read" in _one_line(err, path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    doc = json.dumps(cve(1)).replace("Test fixture", "Test fixtur\u00e9")
    path.write_bytes(('{"format": "NVD_CVE", "vulnerabilities": [' + doc + "]}")
                     .encode("latin-1"))
    with pytest.raises(FeedError) as err:
        read_feed(path)
    assert "malformed JSON" in _one_line(err, path)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = feed(tmp_path / "f.json", [cve(1)])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_feed(path).counts.read == 1


def test_deep_nesting_memory_stays_small(tmp_path: Path) -> None:
    """Measured in a child process: its peak RSS is this read's, not the suite's."""
    path = tmp_path / "deep.json.gz"
    depth = 2_000_000
    path.write_bytes(gzip.compress(b'{"vulnerabilities": [{"cve": ' + b"[" * depth
                                   + b"]" * depth + b"}]}"))
    script = textwrap.dedent(f"""
        import resource
        from fleetwarden.adapters.feeds import iter_nvd
        from fleetwarden.errors import FeedError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            list(iter_nvd({str(path)!r}))
        except FeedError as exc:
            print("refused", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out[0] == "refused" and int(out[1]) < 50 * 1024  # KiB
