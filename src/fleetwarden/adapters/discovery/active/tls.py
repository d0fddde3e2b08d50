"""TLS as a device offers it: negotiated version and cipher, and its certificate, parsed.

The client accepts anything a device may still speak (TLS 1.0/1.1, 1024-bit RSA, CBC
and 3DES suites: ``@SECLEVEL=0`` with the ``OP_NO_TLSv1*`` flags cleared) and verifies
nothing, because the point is to see what is there. A second handshake capped at TLS 1.1
tells whether a device that negotiated something newer still accepts a legacy version;
its answer goes to the ``tls.legacy`` field (``TLSv1`` or ``TLSv1.1``).

The certificate is parsed with ``cryptography`` into ``CertificateInfo``: subject and
issuer (RFC 4514), validity (ISO 8601 UTC), SHA-256 of the DER, self-signed, SANs,
SHA-256 of the public key (the same key on many devices is a finding), key type and
size, and signature algorithm. A certificate that does not parse leaves only the TLS
version and cipher.

Must not: trust, verify or store the peer's certificate anywhere but the observation,
or send application data (the caller does, over the returned stream).
"""

from __future__ import annotations

import hashlib
import ssl
import warnings
from functools import cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Dialer, Stream
from fleetwarden.domain.discovery import CertificateInfo, Field, TlsInfo, bounded

#: Field for the highest legacy version (TLS 1.0/1.1) a device still accepts.
TLS_LEGACY_FIELD = "tls.legacy"
_LEGACY = ("TLSv1", "TLSv1.1")
_MAX_SANS = 64
_CIPHERS = "ALL:@SECLEVEL=0"
_SIGNATURES = {
    value: name.lower().replace("_", "-")
    for name, value in vars(SignatureAlgorithmOID).items()
    if isinstance(value, x509.ObjectIdentifier)
}


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


def certificate_info(der: bytes) -> CertificateInfo | None:
    """A DER certificate as the domain's value; None when it does not parse."""
    try:
        cert = x509.load_der_x509_certificate(der)
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        not_before = cert.not_valid_before_utc.isoformat()
        not_after = cert.not_valid_after_utc.isoformat()
    except (ValueError, TypeError):
        return None
    key_type, key_bits, key_hash = _key(cert)
    return CertificateInfo(
        subject=bounded(subject) or "", issuer=bounded(issuer) or "",
        not_before=not_before, not_after=not_after,
        sha256=hashlib.sha256(der).hexdigest(),
        self_signed=_self_signed(cert), sans=_sans(cert), public_key_sha256=key_hash,
        key_type=key_type, key_bits=key_bits,
        signature_algorithm=_SIGNATURES.get(cert.signature_algorithm_oid,
                                            cert.signature_algorithm_oid.dotted_string),
    )


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, NotImplementedError):
        return False
    return True


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    names = [str(n.value) for n in ext if isinstance(n, (x509.DNSName, x509.IPAddress,
                                                           x509.RFC822Name,
                                                           x509.UniformResourceIdentifier))]
    return tuple(bounded(n) or "" for n in names[:_MAX_SANS])


def _key(cert: x509.Certificate) -> tuple[str | None, int | None, str | None]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, NotImplementedError):
        return None, None, None
    spki = key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(spki).hexdigest()
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, digest
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size, digest
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, digest
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456, digest
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", key.key_size, digest
    return None, None, digest
