"""Generated NVD CVE JSON 2.0 feeds of real shape, for the size tests and the benchmark.

Records look like the NVD's: CNA and NVD metrics (v4.0 on some, v3.1 on most, v2 on
older ones), configurations with OR nodes of ranged CPE criteria and AND
configurations pairing firmware with its (``vulnerable: false``) hardware, references,
weaknesses. Criteria come from a pool of products with escaped characters, so the CPE
parser's cache sees a realistic mix of repeats and new names.

Run as a script to measure: ``python -m tests.integration.feeds.nvdgen 300000``
(writes a ``.json.gz`` to a temporary directory and reads it back with ``iter_nvd``
and ``read_feed``, printing records/s, MB/s and peak memory).
"""

from __future__ import annotations

import gzip
import json
import lzma
import random
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_V31 = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
    ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8),
    ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),
    ("CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", 4.3),
]
_V2 = [("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5), ("AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3),
       ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0), ("AV:L/AC:L/Au:N/C:P/I:P/A:P", 4.6)]
_V40 = [("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.7),
        ("CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", 7.1)]
_TEXT = ("buffer overflow in the HTTP handler of the web management interface allows "
         "remote attackers to execute arbitrary code via a crafted request to the cgi "
         "endpoint; improper neutralization of special elements in the firmware update "
         "service lets an authenticated user inject commands; missing authentication "
         "for a critical function exposes the configuration backup")
_WORDS = _TEXT.split(" ")
_VENDORS = [f"vendor{i:04d}" for i in range(1500)]


def _product(rng: random.Random) -> tuple[str, str, str]:
    vendor = rng.choice(_VENDORS)
    n = rng.randrange(4000)
    kind = rng.random()
    if kind < 0.3:
        return "o", vendor, f"ipc-{n}\\/x_firmware"
    if kind < 0.4:
        return "h", vendor, f"ipc-{n}\\/x"
    return "a", vendor, f"lib{n}"


def _version(rng: random.Random) -> str:
    return f"{rng.randrange(12)}.{rng.randrange(30)}.{rng.randrange(200)}"


def _match(rng: random.Random, part: str, vendor: str, product: str,
           vulnerable: bool = True) -> dict[str, Any]:
    m: dict[str, Any] = {"vulnerable": vulnerable}
    if not vulnerable:
        m["criteria"] = f"cpe:2.3:{part}:{vendor}:{product}:-:*:*:*:*:*:*:*"
    elif rng.random() < 0.4:
        m["criteria"] = f"cpe:2.3:{part}:{vendor}:{product}:{_version(rng)}:*:*:*:*:*:*:*"
    else:
        m["criteria"] = f"cpe:2.3:{part}:{vendor}:{product}:*:*:*:*:*:*:*:*"
        if rng.random() < 0.6:
            m["versionStartIncluding"] = _version(rng)
        m["versionEndExcluding"] = _version(rng)
    m["matchCriteriaId"] = f"{rng.getrandbits(128):032X}"
    return m


def record(index: int, rng: random.Random) -> dict[str, Any]:
    """One ``{"cve": ...}`` item of a feed, numbered ``index``."""
    year = 1999 + index % 26
    cve: dict[str, Any] = {
        "id": f"CVE-{year}-{100000 + index}",
        "sourceIdentifier": "cve@mitre.org" if index % 3 else "psirt@vendor.example",
        "published": f"{year}-0{1 + index % 9}-1{index % 10}T13:15:07.{index % 1000:03d}",
        "lastModified": f"2025-0{1 + index % 9}-2{index % 8}T06:13:20.460",
        "vulnStatus": "Analyzed" if index % 97 else "Rejected",
        "cveTags": [{"sourceIdentifier": "cve@mitre.org", "tags": ["disputed"]}]
        if index % 211 == 0 else [],
        "descriptions": [{"lang": "en", "value": " ".join(
            rng.choice(_WORDS) for _ in range(rng.randrange(20, 90)))},
            {"lang": "es", "value": "Descripcion de prueba."}],
        "metrics": {},
        "weaknesses": [{"source": "nvd@nist.gov", "type": "Primary",
                        "description": [{"lang": "en", "value": f"CWE-{rng.randrange(20, 900)}"}]}],
        "configurations": [],
        "references": [{"url": f"https://advisories.example.com/{year}/{index}/{k}",
                        "source": "cve@mitre.org", "tags": ["Vendor Advisory"]}
                       for k in range(rng.randrange(1, 8))],
    }
    metrics = cve["metrics"]
    vector, score = rng.choice(_V31)
    metrics["cvssMetricV31"] = [{"source": "nvd@nist.gov", "type": "Primary", "cvssData": {
        "version": "3.1", "vectorString": vector, "baseScore": score,
        "baseSeverity": "HIGH"}, "exploitabilityScore": 3.9, "impactScore": 5.9}]
    if rng.random() < 0.3:
        vector, score = rng.choice(_V31)
        metrics["cvssMetricV31"].append({"source": "psirt@vendor.example", "type": "Secondary",
                                         "cvssData": {"version": "3.1", "vectorString": vector,
                                                      "baseScore": score}})
    if rng.random() < 0.15:
        vector, score = rng.choice(_V40)
        metrics["cvssMetricV40"] = [{"source": "psirt@vendor.example", "type": "Secondary",
                                     "cvssData": {"version": "4.0", "vectorString": vector,
                                                  "baseScore": score}}]
    if year < 2016:
        vector, score = rng.choice(_V2)
        metrics["cvssMetricV2"] = [{"source": "nvd@nist.gov", "type": "Primary", "cvssData": {
            "version": "2.0", "vectorString": vector, "baseScore": score},
            "baseSeverity": "HIGH"}]
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        part, vendor, product = _product(rng)
        if part == "o" and rng.random() < 0.7:
            cve["configurations"].append({"operator": "AND", "nodes": [
                {"operator": "OR", "negate": False,
                 "cpeMatch": [_match(rng, "o", vendor, product)]},
                {"operator": "OR", "negate": False,
                 "cpeMatch": [_match(rng, "h", vendor, product.replace("_firmware", ""),
                                     vulnerable=False)]}]})
        else:
            cve["configurations"].append({"nodes": [{"operator": "OR", "negate": False,
                                                     "cpeMatch": [
                _match(rng, part, vendor, product) for _ in range(rng.randrange(1, 12))]}]})
    return {"cve": cve}


def records(count: int, seed: int = 5) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(count):
        yield record(i, rng)


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "wb", compresslevel=6)  # type: ignore[return-value]
    if path.name.endswith(".xz"):
        return lzma.open(path, "wb", preset=1)
    return path.open("wb")


def write_feed(path: Path, items: Iterator[dict[str, Any]] | list[dict[str, Any]],
               total: int | None = None) -> Path:
    """An NVD 2.0 feed file (plain, .gz or .xz by name), written one record at a time."""
    with _open(path) as out:
        head = {"resultsPerPage": total or 0, "startIndex": 0, "totalResults": total or 0,
                "format": "NVD_CVE", "version": "2.0",
                "timestamp": "2025-03-15T03:00:00.000"}
        out.write(json.dumps(head)[:-1].encode() + b', "vulnerabilities": [')
        for n, item in enumerate(items):
            if n:
                out.write(b",\n")
            out.write(json.dumps(item).encode())
        out.write(b"]}\n")
    return path


def _measure(count: int) -> None:  # pragma: no cover - a benchmark, run by hand
    import resource
    import tempfile
    import time

    from fleetwarden.adapters.feeds import iter_nvd, read_feed

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"nvd-{count}.json.gz"
        started = time.perf_counter()
        write_feed(path, records(count), count)
        raw_mb = 0
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                raw_mb += len(chunk)
        print(f"generated {count} records in {time.perf_counter() - started:.1f} s: "
              f"{path.stat().st_size / 1e6:.1f} MB gz, {raw_mb / 1e6:.1f} MB JSON")
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        n = sum(1 for _ in iter_nvd(path))
        took = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"iter_nvd: {n} records in {took:.1f} s = {n / took:,.0f} records/s, "
              f"{raw_mb / 1e6 / took:.1f} MB/s of JSON; peak RSS {peak:.0f} MB "
              f"(+{peak - base:.0f} MB)")
        started = time.perf_counter()
        read = read_feed(path)
        took = time.perf_counter() - started
        peak2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"read_feed: {read.counts.read} records in {took:.1f} s = "
              f"{read.counts.read / took:,.0f} records/s; peak RSS {peak2:.0f} MB "
              f"(+{peak2 - base:.0f} MB holding all records)")


if __name__ == "__main__":  # pragma: no cover
    import sys

    _measure(int(sys.argv[1]) if len(sys.argv) > 1 else 300_000)
