"""A service observation while probes are still filling it in.

Probes write into a ``Draft`` (fields, banner, product, TLS) and the scanner freezes it
into the domain's ``ServiceObservation``. Every text that enters goes through
``bounded`` here, so no probe can forget to.

Must not: do I/O or interpret what devices said beyond storing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleetwarden.domain.discovery import ServiceObservation, TlsInfo, bounded

#: Longest product or version string kept (they are identifiers, not prose).
_NAME_MAX = 128


@dataclass
class Draft:
    port: int
    transport: str
    service: str = "unknown"
    product: str | None = None
    version: str | None = None
    banner: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    tls: TlsInfo | None = None

    def put(self, name: str, text: str | bytes | None) -> None:
        """Record a field; empty text is no evidence and is left out."""
        value = bounded(text)
        if value is not None and value.strip():
            self.fields[name] = value.strip()

    def set_banner(self, text: str | bytes | None) -> None:
        value = bounded(text)
        if value is not None and value.strip():
            self.banner = value.strip()

    def set_product(self, product: str | None, version: str | None = None) -> None:
        if product and not self.product:
            self.product = (bounded(product) or "")[:_NAME_MAX].strip() or None
            if version:
                self.version = (bounded(version) or "")[:_NAME_MAX].strip() or None

    def freeze(self) -> ServiceObservation:
        return ServiceObservation(
            port=self.port, transport=self.transport, service=self.service,
            product=self.product, version=self.version, banner=self.banner,
            fields=dict(self.fields), tls=self.tls)
