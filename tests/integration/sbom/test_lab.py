"""The device lab's SBOMs -- what its simulated suppliers publish -- read back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetwarden.adapters.lab.catalogue import families
from fleetwarden.adapters.lab.plan import plan_lab
from fleetwarden.adapters.lab.sbom import CREATED, firmware_components, write_sboms
from fleetwarden.adapters.sbom import read_sbom
from tests.integration.helpers import run_cli


@pytest.fixture(scope="module")
def lab_sboms(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("lab-sboms")
    write_sboms(plan_lab("small-force", count=60, seed=11), directory)
    return directory


def _entries(directory: Path) -> list[dict]:
    return json.loads((directory / "index.json").read_text())["sboms"]


def test_every_lab_sbom_reads_as_the_supplier_wrote_it(lab_sboms: Path):
    entries = _entries(lab_sboms)
    assert {e["format"] for e in entries} == {"cyclonedx-1.5", "spdx-2.3"}
    fams = families()
    for entry in entries:
        sbom = read_sbom(lab_sboms / entry["file"])
        family = fams[entry["family"]]
        model = next(m for m in family.models
                     if m["vendor"] == entry["vendor"] and m["model"] == entry["model"])
        parts = firmware_components(family, model, entry["firmware"])
        assert sbom.format == entry["format"]
        assert (sbom.name, sbom.version) == (entry["model"], entry["firmware"])
        assert sbom.created == CREATED
        assert sbom.serial
        assert len(sbom.components) == entry["components"] == len(parts)
        got = sorted((c.name, c.version, c.purl, c.cpe, c.supplier) for c in sbom.components)
        assert got == sorted((p.name, p.version, p.purl, p.cpe, p.supplier) for p in parts)
        if entry["format"].startswith("cyclonedx"):
            for c in sbom.components:
                kernel = c.cpe is not None and c.cpe.startswith("cpe:2.3:o:")
                assert c.type == ("operating-system" if kernel else "library")


def test_sboms_written_by_the_lab_cli_all_read(tmp_path: Path, sqlite_url: str):
    out = tmp_path / "sboms"
    done = run_cli("lab", "sboms", str(out), "--scenario", "small-force", "--count", "20",
                   db=sqlite_url)
    assert done.returncode == 0, done.stderr
    entries = _entries(out)
    assert entries
    for entry in entries:
        sbom = read_sbom(out / entry["file"])
        assert sbom.format == entry["format"]
        assert len(sbom.components) == entry["components"]
        assert all(c.purl and c.cpe for c in sbom.components)
