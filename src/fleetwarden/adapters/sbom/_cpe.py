"""CPE names as SBOMs write them -> one CPE 2.3 formatted string.

CycloneDX's ``cpe`` field may hold a CPE 2.3 formatted string or a CPE 2.2 URI; SPDX
has ``cpe23Type`` and ``cpe22Type`` external references. Well-formedness is checked
with the regular expressions spdx-tools validates those references with; a 2.2 URI is
converted to the 2.3 formatted string by ``domain/cpe.py`` (the one CPE parser of the
product) so the rest of the product sees one binding.

Must not: match CPEs or compare versions (``domain/cpe.py`` and ``domain/versions.py``
do), or guess a vendor or product the SBOM did not state.
"""

from __future__ import annotations

import re

from spdx_tools.spdx.validation.external_package_ref_validator import (
    CPE22TYPE_REGEX,
    CPE23TYPE_REGEX,
)

from fleetwarden.domain.cpe import format_cpe, parse_cpe
from fleetwarden.errors import InputError

_CPE23 = re.compile(CPE23TYPE_REGEX)
_CPE22 = re.compile(CPE22TYPE_REGEX)


def normalise_cpe(value: str) -> str:
    """The CPE 2.3 formatted string for ``value``; ``ValueError`` saying why if malformed."""
    if value.startswith("cpe:2.3:"):
        if not _CPE23.match(value):
            raise ValueError("not a well-formed CPE 2.3 formatted string")
        return value
    if value[:5].lower() == "cpe:/":
        if not _CPE22.match(value):
            raise ValueError("not a well-formed CPE 2.2 URI")
        try:
            converted = format_cpe(parse_cpe(value))
        except InputError as exc:  # "CPE '<value>': <reason>": the caller names the value
            raise ValueError(str(exc).rsplit("': ", 1)[-1]) from None
        if not _CPE23.match(converted):
            raise ValueError("CPE 2.2 URI has no CPE 2.3 equivalent")
        return converted
    raise ValueError("neither a CPE 2.3 name (cpe:2.3:...) nor a CPE 2.2 URI (cpe:/...)")
