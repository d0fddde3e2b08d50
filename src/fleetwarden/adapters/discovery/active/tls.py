"""TLS as a device offers it: negotiated version and cipher, and its certificate, parsed.

The client accepts anything a device may still speak (TLS 1.0/1.1, 1024-bit RSA, CBC
and 3DES suites: ``@SECLEVEL=0`` with the ``OP_NO_TLSv1*`` flags cleared) and verifies
nothing, because the point is to see what is there. A second handshake capped at TLS 1.1
tells whether a device that negotiated something newer still accepts a legacy version;
its answer goes to the ``tls.legacy`` field (``TLSv1`` or ``TLSv1.1``).

The certificate is read by ``discovery.certificates`` into ``CertificateInfo``, as the
passive readers do; one that does not parse leaves only the TLS version and cipher.

Must not: trust, verify or store the peer's certificate anywhere but the observation,
or send application data (the caller does, over the returned stream).
"""

from __future__ import annotations

import ssl
import warnings
from functools import cache

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Dialer, Stream
from fleetwarden.adapters.discovery.certificates import certificate_info
from fleetwarden.domain.discovery import Field, TlsInfo

#: Field for the highest legacy version (TLS 1.0/1.1) a device still accepts.
TLS_LEGACY_FIELD = "tls.legacy"
_LEGACY = ("TLSv1", "TLSv1.1")
_CIPHERS = "ALL:@SECLEVEL=0"


def _base_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(_CIPHERS)
    # Clearing the flags (not setting minimum_version = TLSv1, which Python deprecates)
    # lets OpenSSL offer TLS 1.0 and 1.1 to devices that speak nothing newer.
    ctx.options &= ~(ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return ctx


@cache
def client_context() -> ssl.SSLContext:
    """Accepts every version and suite OpenSSL still has; verifies nothing."""
    return _base_context()


@cache
def legacy_context() -> ssl.SSLContext:
    """Offers only TLS 1.0 and 1.1: whether a device still takes them is a finding."""
    ctx = _base_context()
    with warnings.catch_warnings():
        # Capping at TLS 1.1 is deprecated for clients that mean to use it; this one
        # only asks whether the device would.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def tls_info(stream: Stream) -> TlsInfo | None:
    obj = stream.ssl_object()
    if obj is None:
        return None
    cipher = obj.cipher()
    der = obj.getpeercert(binary_form=True)
    return TlsInfo(version=obj.version(), cipher=cipher[0] if cipher else None,
                   certificate=certificate_info(der) if der else None)


def record(info: TlsInfo, draft: Draft) -> None:
    draft.tls = info
    if info.certificate is not None:
        draft.put(Field.TLS_SUBJECT, info.certificate.subject)
        draft.put(Field.TLS_ISSUER, info.certificate.issuer)


async def legacy_version(dialer: Dialer, port: int) -> str | None:
    """The legacy version a second, capped handshake gets; None when refused."""
    async with dialer.stream(port, tls=legacy_context()) as stream:
        obj = stream.ssl_object() if stream else None
        version = obj.version() if obj else None
    return version if version in _LEGACY else None
