"""A 5,000-component SBOM is read completely in every format.

How fast is measured by ``bench/bench_sbom.py``, not here (no timed tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetwarden.adapters.sbom import read_sbom
from tests.integration.sbom.builders import BUILDERS, FIRMWARE

COUNT = 5_000


@pytest.mark.parametrize("syntax", sorted(BUILDERS))
def test_5000_components_are_all_read(syntax: str, tmp_path: Path):
    build, name = BUILDERS[syntax]
    path = build(tmp_path / name, COUNT)
    sbom = read_sbom(path)
    assert len(sbom.components) == COUNT
    assert (sbom.name, sbom.version) == FIRMWARE
    last = sbom.components[-1]
    assert last.name == f"lib{COUNT - 1:05d}" and last.purl and last.cpe and last.supplier
