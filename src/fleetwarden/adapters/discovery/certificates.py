"""The one reader of the DER certificates discovery sees (active TLS handshakes, captured
handshakes, nmap's PEM), so each source reports a certificate the same way.

``certificate_info`` gives, with ``cryptography``: subject and issuer (RFC 4514),
validity as ISO 8601 UTC with ``Z`` (``2027-01-01T00:00:00Z``), SHA-256 of the DER,
self-signed, SANs prefixed by kind as OpenSSL's configuration writes them (``DNS:``,
``IP:``, ``email:``, ``URI:``; other kinds are left out), SHA-256 of the
SubjectPublicKeyInfo, key type and size, and the signature algorithm under OpenSSL's name
(``sha256WithRSAEncryption``, ``ecdsa-with-SHA256``; the dotted OID when it has none).
A part that does not parse is left empty; a certificate whose names or validity do not
parse is ``None``.

Must not: raise on any bytes (a device's certificate is hostile input), trust or verify
a certificate beyond checking whether it signed itself, or do I/O.
"""

from __future__ import annotations

import hashlib
import warnings
from datetime import datetime
from itertools import islice

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning

from fleetwarden.domain.discovery import CertificateInfo, bounded

_MAX_SANS = 64
#: What ``cryptography`` raises for bytes that are not the certificate they claim to be.
# KeyError: cryptography 46 raises it for a name attribute with an unknown string tag.
_UNREADABLE = (ValueError, TypeError, KeyError, UnsupportedAlgorithm, x509.InvalidVersion,
               x509.DuplicateExtension, x509.UnsupportedGeneralNameType)
_SAN_PREFIXES: dict[type[x509.GeneralName], str] = {
    x509.DNSName: "DNS", x509.IPAddress: "IP", x509.RFC822Name: "email",
    x509.UniformResourceIdentifier: "URI"}


def certificate_info(der: bytes) -> CertificateInfo | None:
    """The facts of a DER certificate; ``None`` when its names or validity cannot be read."""
    with warnings.catch_warnings():
        # Devices often use a serial of zero: cryptography warns about it (an error under
        # ``-W error``), but it is the device's fault and the certificate is still worth reading.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            cert = x509.load_der_x509_certificate(der)
            subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
            not_before = _iso_utc(cert.not_valid_before_utc)
            not_after = _iso_utc(cert.not_valid_after_utc)
        except _UNREADABLE:
            return None
        key_type, key_bits, key_sha256 = _key(cert)
        return CertificateInfo(
            subject=bounded(subject) or "", issuer=bounded(issuer) or "",
            not_before=not_before, not_after=not_after,
            sha256=hashlib.sha256(der).hexdigest(), self_signed=_self_signed(cert),
            sans=_sans(cert), public_key_sha256=key_sha256, key_type=key_type,
            key_bits=key_bits, signature_algorithm=_signature_algorithm(cert))


def _iso_utc(moment: datetime) -> str:
    # isoformat, not strftime: it pads years before 1000 to four digits.
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _signature_algorithm(cert: x509.Certificate) -> str | None:
    oid = cert.signature_algorithm_oid
    # ``_name`` is cryptography's table of OpenSSL's names, the ones nmap prints too.
    name = oid._name
    return bounded(oid.dotted_string if name == "Unknown OID" else name)


def _key(cert: x509.Certificate) -> tuple[str | None, int | None, str | None]:
    """Type, size in bits (the encoded size for Edwards keys), SHA-256 of the SPKI."""
    try:
        key = cert.public_key()
        spki = key.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
    except _UNREADABLE:
        return None, None, None
    digest = hashlib.sha256(spki).hexdigest()
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, digest
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.key_size, digest
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", key.key_size, digest
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, digest
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456, digest
    return None, None, digest


def _self_signed(cert: x509.Certificate) -> bool:
    """Issued by its own key: the issuer is the subject and the signature checks out."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except InvalidSignature:
        return False
    except _UNREADABLE:
        return _legacy_signature_checks_out(cert)
    return True


def _legacy_signature_checks_out(cert: x509.Certificate) -> bool:
    """``cryptography`` will not verify a certificate signed with SHA-1 or MD5, which is
    what old devices sign themselves with; their key still can."""
    try:
        key, algorithm = cert.public_key(), cert.signature_hash_algorithm
        if algorithm is None:
            return False
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                       algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, *_UNREADABLE):
        return False
    return True


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, *_UNREADABLE):
        return ()
    names = (f"{prefix}:{n.value}" for n in ext if (prefix := _SAN_PREFIXES.get(type(n))))
    return tuple(bounded(n) or "" for n in islice(names, _MAX_SANS))
