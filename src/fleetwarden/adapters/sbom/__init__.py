"""Reading SBOM files into ``Sbom`` values: CycloneDX 1.4-1.6 and SPDX 2.3 (R5).

``read_sbom(path)`` detects the format by content, not by file name: CycloneDX JSON
(``bomFormat``/``specVersion``) and XML (the ``http://cyclonedx.org/schema/bom/1.x``
namespace), SPDX JSON (``spdxVersion``) and tag-value (``SPDXVersion:``). Anything else,
CycloneDX other than 1.4-1.6 and SPDX other than 2.3 are refused naming what was found.

Bad input is refused whole with one ``SbomError`` whose one-line message names the file,
the record where there is one (a CycloneDX location such as ``components[3]`` and its
``bom-ref``, an SPDX package's SPDXID, a tag-value line) and the problem. Nothing is
returned for a file with any bad record. Hostile files are refused before they can
cost anything: the size limit is checked from ``stat`` before reading, XML is parsed
only by defusedxml with DTDs, entities and external references forbidden, and deep
nesting is refused. Libraries: cyclonedx-python-lib supplies CycloneDX's vocabulary
but not its deserialiser, which is too slow at 5,000 components (``_cyclonedx`` says
why); spdx-tools parses SPDX, with its quadratic spots avoided (``_spdx``,
``_tagvalue``); packageurl-python checks purls. Reads at 5,000 components: 0.15 s
(CycloneDX JSON) to 0.94 s (SPDX tag-value).

Must not: store anything, decide what an SBOM applies to (services do), touch the
network, or let a library exception or a traceback reach the caller.
"""

from __future__ import annotations

from pathlib import Path

from fleetwarden.adapters.sbom import _cyclonedx, _spdx
from fleetwarden.adapters.sbom._common import Refused
from fleetwarden.adapters.sbom._input import Syntax, decode, read_limited
from fleetwarden.domain.vulns import Sbom
from fleetwarden.errors import SbomError

__all__ = ["MAX_SBOM_BYTES", "SUPPORTED_FORMATS", "parse_sbom", "read_sbom"]

#: Largest SBOM file accepted (checked before reading).
MAX_SBOM_BYTES = 256 * 1024 * 1024
#: ``Sbom.format`` values this package produces.
SUPPORTED_FORMATS = (*(f"cyclonedx-{v}" for v in _cyclonedx.SUPPORTED), _spdx.FORMAT)


def read_sbom(path: Path, *, max_bytes: int = MAX_SBOM_BYTES) -> Sbom:
    """The SBOM in ``path``; ``SbomError`` naming the file if it is refused."""
    try:
        data = read_limited(path, max_bytes)
    except Refused as exc:
        raise SbomError(f"{path}: {exc}") from None
    return parse_sbom(data, source=str(path), max_bytes=max_bytes)


def parse_sbom(data: bytes, *, source: str, max_bytes: int = MAX_SBOM_BYTES) -> Sbom:
    """The SBOM in ``data`` (an upload); ``source`` names it in error messages."""
    try:
        if len(data) > max_bytes:
            raise Refused(f"{len(data)} bytes is over the {max_bytes}-byte limit for an SBOM")
        return _parse(data)
    except Refused as exc:
        raise SbomError(f"{source}: {exc}") from None


def _parse(data: bytes) -> Sbom:
    document = decode(data)
    match document.syntax:
        case Syntax.CYCLONEDX_JSON:
            assert document.json is not None
            return _cyclonedx.from_json(document.json, document.version)
        case Syntax.CYCLONEDX_XML:
            assert document.xml is not None
            return _cyclonedx.from_xml(document.xml, document.version)
        case Syntax.SPDX_JSON:
            assert document.json is not None
            return _spdx.from_json(document.json, document.version)
        case Syntax.SPDX_TAG_VALUE:
            assert document.text is not None
            return _spdx.from_tag_value(document.text, document.version)
