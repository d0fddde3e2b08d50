"""The demo's vulnerability data: the lab suppliers' firmware SBOMs and a bundled feed set.

``catalogues/vulns/demo`` holds a small offline NVD / CISA KEV / EPSS set about real,
well-known vulnerabilities of the components the lab's firmware contains (its README
says what is real and what is a demonstration value). ``write_firmware_sboms`` writes
the SBOM of every firmware release of every lab model, as ``fleetwarden lab sboms``
does for a scenario's models.

Must not: reach the network, or write anywhere but the directory it is given.
"""

from __future__ import annotations

from pathlib import Path

import fleetwarden
from fleetwarden.adapters.lab.sbom import SbomFile, write_catalogue_sboms

FEED_DIR = Path(fleetwarden.__file__).parent / "catalogues" / "vulns" / "demo"
FEED_FILES = ("nvd-demo.json", "kev-demo.json", "epss-demo.csv")
"""In import order: vulnerabilities before the signals about them."""


def feed_files() -> list[Path]:
    """The bundled demonstration feeds (NVD CVE JSON 2.0, CISA KEV JSON, EPSS CSV)."""
    return [FEED_DIR / name for name in FEED_FILES]


def write_firmware_sboms(out_dir: Path) -> list[SbomFile]:
    """Every lab model's SBOM per firmware release, in ``out_dir`` (with ``index.json``)."""
    return write_catalogue_sboms(out_dir)
