"""The one certificate reader of discovery, on real certificates made here with
``cryptography``: key types and sizes, signature names, validity, self-signed, SANs, and
bytes that are no certificate at all."""

from __future__ import annotations

import hashlib
import ipaddress
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    padding,
    rsa,
    x25519,
)
from cryptography.x509.oid import NameOID

from fleetwarden.adapters.discovery.certificates import certificate_info
from fleetwarden.adapters.discovery.passive import _tls
from fleetwarden.domain.discovery import MAX_TEXT, CertificateInfo

_Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | dsa.DSAPrivateKey \
    | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
#: AlgorithmIdentifier DER of the signatures swapped in by ``_resigned``.
SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")
UNKNOWN_RSA = bytes.fromhex("300d06092a864886f70d0101630500")  # 1.2.840.113549.1.1.99
ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
ECDSA_SHA1 = bytes.fromhex("300906072a8648ce3d0401")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hikvision")])


def _certificate(key: _Key | x25519.X25519PrivateKey, subject: str = "hq-cam-0001", *,
                 issuer: str | None = None, signer: _Key | None = None,
                 start: datetime = START, end: datetime = END,
                 sans: list[x509.GeneralName] | None = None) -> bytes:
    """DER of a certificate for ``key``, self-signed unless ``signer`` is given."""
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(_name(issuer or subject))
               .public_key(key.public_key()).serial_number(1)
               .not_valid_before(start).not_valid_after(end))
    if sans is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    signer = signer or key
    assert not isinstance(signer, x25519.X25519PrivateKey)  # a key that cannot sign
    digest = None if isinstance(signer, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) \
        else hashes.SHA256()
    return builder.sign(signer, digest).public_bytes(serialization.Encoding.DER)


def _der(tag: int, body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _body(der: bytes) -> bytes:
    """The contents of the DER element that ``der`` is."""
    return der[2 + (der[1] & 0x7F if der[1] & 0x80 else 0):]


def _resigned(der: bytes, swap: tuple[bytes, bytes], algorithm: bytes,
              sign: Callable[[bytes], bytes]) -> bytes:
    """``der`` with the first ``swap[0]`` in its TBS (same length or not) made ``swap[1]``,
    signed again by ``sign`` as ``algorithm`` says: how to get SHA-1 certificates, which
    ``cryptography`` no longer makes, and ones it would refuse to make."""
    tbs = x509.load_der_x509_certificate(der).tbs_certificate_bytes
    tbs = _der(0x30, _body(tbs).replace(*swap, 1))
    return _der(0x30, tbs + algorithm + _der(0x03, b"\0" + sign(tbs)))


@pytest.fixture(scope="module")
def rsa1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 1024)  # noqa: S505 - what old devices have


@pytest.fixture(scope="module")
def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ca() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def _read(der: bytes) -> CertificateInfo:
    info = certificate_info(der)
    assert info is not None
    return info


# ------------------------------------------------------------------ keys and signatures
@pytest.mark.parametrize(("make", "key_type", "bits", "signature"), [
    (lambda: rsa.generate_private_key(65537, 1024),  # noqa: S505 - what old devices have
     "rsa", 1024, "sha256WithRSAEncryption"),
    (lambda: rsa.generate_private_key(65537, 2048), "rsa", 2048, "sha256WithRSAEncryption"),
    (lambda: ec.generate_private_key(ec.SECP256R1()), "ec", 256, "ecdsa-with-SHA256"),
    (lambda: ec.generate_private_key(ec.SECP384R1()), "ec", 384, "ecdsa-with-SHA256"),
    (lambda: dsa.generate_private_key(1024),  # noqa: S505 - what old devices have
     "dsa", 1024, "dsa-with-sha256"),
    (ed25519.Ed25519PrivateKey.generate, "ed25519", 256, "ed25519"),
    (ed448.Ed448PrivateKey.generate, "ed448", 456, "ed448"),
])
def test_key_type_size_fingerprint_and_signature_name(
        make: Callable[[], _Key], key_type: str, bits: int, signature: str):
    key = make()
    der = _certificate(key)
    info = _read(der)
    assert (info.key_type, info.key_bits, info.signature_algorithm) == (key_type, bits,
                                                                        signature)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    assert info.public_key_sha256 == hashlib.sha256(spki).hexdigest()
    assert info.sha256 == hashlib.sha256(der).hexdigest()
    assert info.subject == info.issuer == "O=Hikvision,CN=hq-cam-0001"
    assert info.self_signed


def test_the_signature_is_named_after_the_issuers_key(rsa1024, ca):
    info = _read(_certificate(rsa1024, issuer="Device CA", signer=ca))
    assert (info.key_type, info.key_bits) == ("rsa", 1024)
    assert info.signature_algorithm == "ecdsa-with-SHA256"


def test_a_key_of_another_kind_is_only_fingerprinted(ca):
    key = x25519.X25519PrivateKey.generate()
    info = _read(_certificate(key, issuer="Device CA", signer=ca))
    assert (info.key_type, info.key_bits) == (None, None)
    assert info.public_key_sha256 == hashlib.sha256(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def test_a_signature_without_an_openssl_name_is_its_oid(rsa1024):
    der = _resigned(_certificate(rsa1024), (SHA256_RSA, UNKNOWN_RSA), UNKNOWN_RSA,
                    lambda tbs: rsa1024.sign(tbs, padding.PKCS1v15(), hashes.SHA256()))
    info = _read(der)
    assert info.signature_algorithm == "1.2.840.113549.1.1.99"
    assert not info.self_signed  # a signature nobody can check proves nothing


# ------------------------------------------------------------------ self-signed
def test_ca_issued_is_not_self_signed(p256, ca):
    info = _read(_certificate(p256, issuer="Northshire Police Device CA", signer=ca))
    assert not info.self_signed
    assert info.issuer == "O=Hikvision,CN=Northshire Police Device CA"


def test_own_name_as_issuer_but_another_key_is_not_self_signed(p256, ca):
    assert not _read(_certificate(p256, signer=ca)).self_signed


def test_a_broken_self_signature_is_not_self_signed(p256):
    der = bytearray(_certificate(p256))
    der[-3] ^= 0x01
    info = _read(bytes(der))
    assert not info.self_signed and info.key_type == "ec"


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_sha1_self_signed_certificates_of_old_devices_are_self_signed(kind, rsa1024, p256):
    if kind == "rsa":
        der = _resigned(_certificate(rsa1024), (SHA256_RSA, SHA1_RSA), SHA1_RSA,
                        lambda tbs: rsa1024.sign(tbs, padding.PKCS1v15(),
                                                 hashes.SHA1()))  # noqa: S303 - as devices do
        name = "sha1WithRSAEncryption"
    else:
        der = _resigned(_certificate(p256), (ECDSA_SHA256, ECDSA_SHA1), ECDSA_SHA1,
                        lambda tbs: p256.sign(tbs, ec.ECDSA(hashes.SHA1())))  # noqa: S303
        name = "ecdsa-with-SHA1"
    info = _read(der)
    assert info.signature_algorithm == name and info.self_signed
    broken = bytearray(der)
    broken[-3] ^= 0x01
    assert not _read(bytes(broken)).self_signed


# ------------------------------------------------------------------ validity
def test_validity_is_iso_8601_utc_with_z(p256):
    info = _read(_certificate(p256))
    assert (info.not_before, info.not_after) == ("2026-01-01T00:00:00Z",
                                                 "2027-01-01T00:00:00Z")


def test_expired_certificate(p256):
    info = _read(_certificate(p256, start=datetime(2019, 3, 1, 12, 30, 5, tzinfo=UTC),
                              end=datetime(2020, 3, 1, 12, 30, 5, tzinfo=UTC)))
    assert info.not_after == "2020-03-01T12:30:05Z"
    assert info.not_after < datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_generalized_times_far_out_keep_the_format(p256):
    der = _certificate(p256, end=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    end = b"\x18\x0f99991231235959Z"  # cryptography will not make a start before 1950
    der = _resigned(der, (_der(0x30, b"\x17\x0d260101000000Z" + end),
                          _der(0x30, b"\x18\x0f09000101000000Z" + end)),
                    ECDSA_SHA256, lambda tbs: p256.sign(tbs, ec.ECDSA(hashes.SHA256())))
    info = _read(der)
    assert (info.not_before, info.not_after) == ("0900-01-01T00:00:00Z",
                                                 "9999-12-31T23:59:59Z")


def test_a_serial_of_zero_is_read_without_a_warning(p256):
    der = _resigned(_certificate(p256), (b"\x02\x01\x01", b"\x02\x01\x00"), ECDSA_SHA256,
                    lambda tbs: p256.sign(tbs, ec.ECDSA(hashes.SHA256())))
    assert b"\x02\x01\x00\x30\x0a" in der  # serial 0, then the signature algorithm
    assert _read(der).self_signed  # warnings are errors in the tests


# ------------------------------------------------------------------ SANs
def test_sans_of_each_kind_are_prefixed_in_certificate_order(p256):
    sans: list[x509.GeneralName] = [
        x509.DNSName("hq-cam-0001"), x509.IPAddress(ipaddress.ip_address("10.20.0.5")),
        x509.RFC822Name("ops@example.org"),
        x509.UniformResourceIdentifier("https://hq-cam-0001/"),
        x509.IPAddress(ipaddress.ip_address("fd00::5")),
        x509.DirectoryName(_name("elsewhere")),
        x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4")),
        x509.OtherName(x509.ObjectIdentifier("1.2.3.5"), b"\x05\x00"),
        x509.DNSName("*.cams.example.org"),
    ]
    assert _read(_certificate(p256, sans=sans)).sans == (
        "DNS:hq-cam-0001", "IP:10.20.0.5", "email:ops@example.org",
        "URI:https://hq-cam-0001/", "IP:fd00::5", "DNS:*.cams.example.org")


def test_no_san_extension_is_no_sans(p256):
    assert _read(_certificate(p256)).sans == ()


def test_sans_are_capped_and_bounded(p256):
    sans: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier("https://x/" + "a" * (2 * MAX_TEXT))]
    sans += [x509.DNSName(f"h{i}.example.org") for i in range(100)]
    got = _read(_certificate(p256, sans=sans)).sans
    assert len(got) == 64 and len(got[0]) == MAX_TEXT and got[-1] == "DNS:h62.example.org"


def test_an_unreadable_san_extension_leaves_the_rest(p256):
    der = _certificate(p256, sans=[x509.DNSName("hq-cam-0001")])
    broken = _resigned(der, (b"\x82\x0bhq-cam-0001", b"\x87\x0bhq-cam-0001"),  # 11-byte IP
                       ECDSA_SHA256, lambda tbs: p256.sign(tbs, ec.ECDSA(hashes.SHA256())))
    info = _read(broken)
    assert info.sans == () and info.self_signed and info.subject.endswith("hq-cam-0001")


# ------------------------------------------------------------------ not certificates
def test_garbage_is_none():
    for junk in (b"", b"\x30", b"\x30\x03\x02\x01\x00", b"garbage, not DER",
                 b"\x30\x84\xff\xff\xff\xff", random.Random(1).randbytes(300)):
        assert certificate_info(junk) is None


def test_a_certificate_of_an_unknown_version_is_none(p256):
    der = _certificate(p256)
    assert b"\xa0\x03\x02\x01\x02" in der  # [0] INTEGER 2: v3
    assert certificate_info(der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07",
                                        1)) is None


def test_truncated_certificates_are_none(rsa1024):
    der = _certificate(rsa1024, sans=[x509.DNSName("hq-cam-0001")])
    for size in range(len(der)):
        assert certificate_info(der[:size]) is None


def test_corrupted_certificates_never_raise(p256, rsa1024, ca):
    rng = random.Random(20260101)
    originals = [
        _certificate(p256, sans=[x509.DNSName("a"), x509.RFC822Name("e@x"),
                                 x509.UniformResourceIdentifier("http://u"),
                                 x509.IPAddress(ipaddress.ip_address("10.0.0.1"))]),
        _certificate(rsa1024, issuer="Device CA", signer=ca),
        _certificate(ed25519.Ed25519PrivateKey.generate()),
    ]
    read = 0
    for _ in range(3000):
        der = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 4)):
            der[rng.randrange(len(der))] = rng.randrange(256)
        info = certificate_info(bytes(der))
        read += info is not None
    assert 0 < read < 3000  # some mutations still parse; every one returned


# ------------------------------------------------------------------ the passive contract
def test_passive_reader_gives_the_same_facts_and_raises_its_tls_error(p256):
    der = _certificate(p256, sans=[x509.DNSName("hq-cam-0001")])
    assert _tls.certificate_info(der) == certificate_info(der)
    with pytest.raises(_tls.TlsError, match="unreadable certificate"):
        _tls.certificate_info(b"garbage, not DER")
