"""Certificates and TLS settings of simulated devices, made on first use.

A device's TLS shows its weaknesses exactly: an expired or self-signed certificate, the
one certificate and key baked into every unit of a model, TLS 1.0/1.1, or only weak
cipher suites with a 1024-bit RSA key. Healthy devices get a P-256 certificate from the
lab's own CA. Keys and contexts are made lazily (a 1,000-device lab starts in seconds)
and contexts are cached, most recently used first.

Must not: write outside the lab's run directory, or be used for anything but the lab.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import ssl
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from fleetwarden.domain.lab import (
    LabDevice,
    LabService,
    Weakness,
    certificate_key_kind,
    shared_certificate_group,
)

log = logging.getLogger("fleetwarden.lab")

CA_NAME = "Northshire Police Device CA (lab)"
_CACHE_SIZE = 512
_MODERN = "ECDHE+AESGCM:ECDHE+CHACHA20"
_WEAK = "DES-CBC3-SHA:AES128-SHA:AES256-SHA:@SECLEVEL=0"
_PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class LabCertificates:
    """The lab's TLS provider: one CA per run directory, one context per device."""

    def __init__(self, run_dir: Path, now: datetime | None = None, *,
                 fresh: bool = False) -> None:
        """``fresh`` drops device certificates an earlier run left (the CA stays)."""
        self.dir = run_dir / "tls"
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if fresh:
            for old in [*self.dir.glob("device-*.pem"), *self.dir.glob("model-*.pem"),
                        *self.dir.glob(".*.tmp")]:
                old.unlink(missing_ok=True)
        self.now = now or datetime.now(UTC)
        self._lock = threading.Lock()
        self._contexts: OrderedDict[int, ssl.SSLContext] = OrderedDict()
        self._ca_key, self._ca_cert = self._load_or_make_ca()

    def listener_context(self, device: LabDevice, service: LabService) -> ssl.SSLContext:
        """A certificate-less context for the listening socket; the device's certificate
        is swapped in during the handshake (the SNI callback runs with or without SNI),
        so keys are only made for devices somebody actually talks to."""
        ctx = self._settings(device)

        def pick(sslobj: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
            try:
                sslobj.context = self.server_context(device, service)
            except (ssl.SSLError, OSError, ValueError):  # the handshake then fails cleanly
                log.exception("lab %s: no TLS context", device.ip)

        ctx.sni_callback = pick
        return ctx

    def server_context(self, device: LabDevice, service: LabService) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get(device.index)
            if ctx is not None:
                self._contexts.move_to_end(device.index)
                return ctx
            ctx = self._context(device)
            self._contexts[device.index] = ctx
            if len(self._contexts) > _CACHE_SIZE:
                self._contexts.popitem(last=False)
            return ctx

    def certificate_der(self, device: LabDevice) -> bytes:
        """The DER certificate the device presents (made now if it is the first use)."""
        return x509.load_pem_x509_certificate(self._file(device).read_bytes()).public_bytes(
            serialization.Encoding.DER)

    # ----------------------------------------------------------------- contexts
    def _context(self, device: LabDevice) -> ssl.SSLContext:
        ctx = self._settings(device)
        ctx.load_cert_chain(self._file(device))
        return ctx

    @staticmethod
    def _settings(device: LabDevice) -> ssl.SSLContext:
        weak = device.weaknesses
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if Weakness.LEGACY_TLS in weak or Weakness.WEAK_CIPHERS in weak:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            if Weakness.LEGACY_TLS in weak:
                # Clearing the OP_NO_ flags (not setting minimum_version = TLSv1, which
                # Python deprecates) lets OpenSSL offer TLS 1.0 and 1.1 again.
                ctx.options &= ~(ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1)
                ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            else:
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(_WEAK if Weakness.WEAK_CIPHERS in weak else "DEFAULT:@SECLEVEL=0")
        else:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(_MODERN)
        return ctx

    def _file(self, device: LabDevice) -> Path:
        """The device's PEM (certificate, then key), made once even with several lab
        processes: the first to link its file into place wins, the others use it."""
        kind = certificate_key_kind(device.weaknesses)
        group = shared_certificate_group(device.vendor, device.model, device.weaknesses)
        if group is not None:  # one file per group: every unit of it serves the same
            vendor, model, kind = group
            stem = f"model-{_digest(vendor, model)}-{kind}"
        else:  # what the certificate says is in its name, so no other device reuses it
            tls_weak = sorted(w.value for w in device.weaknesses & _CERT_WEAKNESSES)
            stem = f"device-{device.index}-" + _digest(
                device.serial, device.ip, device.hostname, device.vendor, kind, *tls_weak)
        path = self.dir / f"{stem}.pem"
        if not path.exists():
            key, cert = self._issue(device)
            tmp = self.dir / f".{stem}.{os.getpid()}.tmp"
            tmp.touch(mode=0o600)
            tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + _key_pem(key))
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            tmp.unlink()
        return path

    # --------------------------------------------------------------- certificates
    def _issue(self, device: LabDevice) -> tuple[_PrivateKey, x509.Certificate]:
        weak = device.weaknesses
        key: _PrivateKey
        if Weakness.WEAK_CIPHERS in weak:
            key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weakness
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        shared = Weakness.SHARED_CERTIFICATE in weak
        common_name = f"{device.vendor} {device.model}" if shared else device.hostname
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, device.vendor[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ])
        if Weakness.EXPIRED_CERTIFICATE in weak:
            start, end = self.now - timedelta(days=760), self.now - timedelta(days=30)
        elif shared or Weakness.SELF_SIGNED_CERTIFICATE in weak:
            start, end = self.now - timedelta(days=1200), self.now + timedelta(days=3650 * 2)
        else:
            start, end = self.now - timedelta(days=30), self.now + timedelta(days=365)
        self_signed = shared or Weakness.SELF_SIGNED_CERTIFICATE in weak
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
        )
        if not shared:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName(device.hostname),
                x509.IPAddress(ipaddress.ip_address(device.ip)),
            ]), critical=False)
        signer: _PrivateKey = key if self_signed else self._ca_key
        return key, builder.sign(signer, hashes.SHA256())

    def _load_or_make_ca(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        cert_path, key_path = self.dir / "ca.pem", self.dir / "ca.key"
        if cert_path.exists() and key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Northshire Police"),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
        ])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=365))
            .not_valid_after(self.now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256())
        )
        _write_key(key_path, key)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return key, cert


_CERT_WEAKNESSES = frozenset({Weakness.EXPIRED_CERTIFICATE, Weakness.SELF_SIGNED_CERTIFICATE})


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _key_pem(key: _PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_key(path: Path, key: _PrivateKey) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(_key_pem(key))
