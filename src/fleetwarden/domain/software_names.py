"""What a banner says a device runs, as components vulnerability matching can use (R5).

Fingerprint rules conclude ``software`` values such as ``Dropbear SSH 2019.78``; a small
catalogue (``catalogues/software/products.toml``) names the CPE vendor and product of
each. Only a known name followed by a version becomes a component: a guessed CPE would
bring the false positives matching is built to avoid.

Must not: do I/O or guess a vendor for a name the catalogue does not know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from fleetwarden.domain.vulns import SbomComponent

_VERSION = re.compile(r"[0-9][0-9A-Za-z._+~-]{0,63}")


def components_from_software(values: Iterable[str], products: Mapping[str, str]
                             ) -> list[SbomComponent]:
    """Components for the ``values`` the catalogue knows (``products``: name -> cpe
    ``vendor:product``), each once, in the order seen."""
    names = sorted(products, key=len, reverse=True)
    out: dict[tuple[str, str], SbomComponent] = {}
    for value in values:
        text = value.strip()
        for name in names:
            if not text.lower().startswith(name.lower() + " "):
                continue
            version = text[len(name) + 1:].strip()
            if not _VERSION.fullmatch(version):
                break
            vendor, product = products[name].split(":", 1)
            cpe = f"cpe:2.3:a:{vendor}:{product}:{version}:*:*:*:*:*:*:*"
            key = (products[name], version)
            out.setdefault(key, SbomComponent(
                name=product, version=version, cpe=cpe,
                purl=f"pkg:generic/{product}@{version}", supplier=vendor))
            break
    return list(out.values())
