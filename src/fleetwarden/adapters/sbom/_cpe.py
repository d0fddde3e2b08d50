"""CPE names as SBOMs write them -> one CPE 2.3 formatted string.

CycloneDX's ``cpe`` field may hold a CPE 2.3 formatted string or a CPE 2.2 URI; SPDX
has ``cpe23Type`` and ``cpe22Type`` external references. Well-formedness is checked
with the regular expressions spdx-tools validates those references with; a 2.2 URI is
converted to the 2.3 formatted string (NISTIR 7695 6.1.3 unbind, 6.2.2 bind: empty
is ANY, ``-`` is NA, ``%01``/``%02`` are the ``?``/``*`` wildcards, packed ``~``
editions are unpacked) so the rest of the product sees one binding. No maintained
library is pinned for this conversion; it is twenty lines.

Must not: match CPEs or compare versions (``domain/cpe.py`` and ``domain/versions.py``
do), or guess a vendor or product the SBOM did not state.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from spdx_tools.spdx.validation.external_package_ref_validator import (
    CPE22TYPE_REGEX,
    CPE23TYPE_REGEX,
)

_CPE23 = re.compile(CPE23TYPE_REGEX)
_CPE22 = re.compile(CPE22TYPE_REGEX)
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.")


def normalise_cpe(value: str) -> str:
    """The CPE 2.3 formatted string for ``value``; ``ValueError`` saying why if malformed."""
    if value.startswith("cpe:2.3:"):
        if not _CPE23.match(value):
            raise ValueError("not a well-formed CPE 2.3 formatted string")
        return value
    if value[:5].lower() == "cpe:/":
        if not _CPE22.match(value):
            raise ValueError("not a well-formed CPE 2.2 URI")
        converted = _uri_to_formatted(value)
        if not _CPE23.match(converted):
            raise ValueError("CPE 2.2 URI has no CPE 2.3 equivalent")
        return converted
    raise ValueError("neither a CPE 2.3 name (cpe:2.3:...) nor a CPE 2.2 URI (cpe:/...)")


def _uri_to_formatted(uri: str) -> str:
    parts = uri[5:].split(":")
    parts += [""] * (7 - len(parts))
    part, vendor, product, version, update, edition, language = parts
    extended = ["", "", "", ""]  # sw_edition, target_sw, target_hw, other
    if edition.startswith("~"):
        packed = edition[1:].split("~")
        if len(packed) != 5:
            raise ValueError("packed edition must have five ~-separated fields")
        edition, *extended = packed
    elif "~" in edition:
        raise ValueError("'~' in an unpacked edition")
    fields = [vendor, product, version, update, edition, language, *extended]
    return ":".join(["cpe", "2.3", part.lower() or "*", *(_bind(f) for f in fields)])


def _bind(component: str) -> str:
    """One URI component -> its formatted-string form."""
    if component == "":
        return "*"
    if component == "-":
        return "-"
    if _PERCENT.search(component):
        raise ValueError("bad percent-encoding")
    out: list[str] = []
    i = 0
    while i < len(component):
        if component.startswith(("%01", "%02"), i):
            out.append("?" if component[i + 2] == "1" else "*")
            i += 3
            continue
        if component[i] == "%":
            char = unquote(component[i:i + 3])
            i += 3
        else:
            char = component[i]
            i += 1
        char = char.lower()
        out.append(char if char in _LITERAL else "\\" + char)
    return "".join(out)
