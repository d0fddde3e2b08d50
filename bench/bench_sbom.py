"""SBOM import at 5,000 components (issue 5: <= 2 s for the whole import).

    .venv/bin/python bench/bench_sbom.py [--count 5000] [--rounds 5]

For each format (CycloneDX JSON and XML, SPDX JSON and tag-value) a file of ``--count``
components of real shape (supplier, purl, CPE, hash, licence; the generator the test
suite uses) is read with ``read_sbom``, then imported end to end with
``fleetwarden sbom import --model ... --firmware ...`` into a fresh SQLite database
(reading, storing the components, the audit event). Prints the median of ``--rounds``
and writes bench/out/sbom.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.sbom.builders import BUILDERS  # noqa: E402

from fleetwarden.adapters.sbom import read_sbom  # noqa: E402

FLEETWARDEN = str(Path(sys.executable).parent / "fleetwarden")
OUT = ROOT / "bench" / "out"


def _cli(home: Path, *args: str) -> None:
    subprocess.run([FLEETWARDEN, "--home", str(home), *args], check=True,
                   capture_output=True, text=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fw-bench-sbom-"))
    _cli(work, "init", "--tenant", "Bench", "--admin", "a@bench.example")
    _cli(work, "models", "add", "-s", "vendor=Acme", "-s", "model=IPC-9000",
         "-s", "device_type=cctv_camera")
    results = {}
    for syntax in sorted(BUILDERS):
        build, name = BUILDERS[syntax]
        path = build(work / name, args.count)
        reads, imports = [], []
        for n in range(args.rounds):
            t0 = time.perf_counter()
            read_sbom(path)
            reads.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _cli(work, "sbom", "import", str(path), "--model", "Acme/IPC-9000",
                 "--firmware", f"{syntax}-{n}")
            imports.append(time.perf_counter() - t0)
        results[syntax] = {"read_s": round(statistics.median(reads), 3),
                           "cli_import_s": round(statistics.median(imports), 3),
                           "size_mb": round(path.stat().st_size / 1e6, 1)}
        print(f"{syntax:22} {results[syntax]['size_mb']:5.1f} MB  read "
              f"{results[syntax]['read_s']:.2f} s  whole CLI import "
              f"{results[syntax]['cli_import_s']:.2f} s")
    OUT.mkdir(exist_ok=True)
    (OUT / "sbom.json").write_text(json.dumps({"count": args.count, **results}, indent=2))


if __name__ == "__main__":
    main()
