"""TLS weaknesses as `openssl s_client` and Python's ssl see them on the wire."""

from __future__ import annotations

import hashlib
import socket
import ssl
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from fleetwarden.domain.lab import Service, Weakness
from tests.integration.lab.harness import client_tool, make_device, running_lab

HEALTHY = make_device([Service.HTTPS], index=9001)
LEGACY = make_device([Service.HTTPS], index=9002, weaknesses=[Weakness.LEGACY_TLS])
WEAK = make_device([Service.HTTPS], index=9003, weaknesses=[Weakness.WEAK_CIPHERS])
EXPIRED = make_device([Service.HTTPS], index=9004, weaknesses=[Weakness.EXPIRED_CERTIFICATE])
SELF_SIGNED = make_device([Service.HTTPS], index=9005,
                          weaknesses=[Weakness.SELF_SIGNED_CERTIFICATE])
SHARED = [make_device([Service.HTTPS, Service.MQTTS], index=9006 + i,
                      weaknesses=[Weakness.SHARED_CERTIFICATE,
                                  Weakness.SELF_SIGNED_CERTIFICATE])
          for i in range(2)]
ALL = [HEALTHY, LEGACY, WEAK, EXPIRED, SELF_SIGNED, *SHARED]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    run_dir = tmp_path_factory.mktemp("tls-lab")
    with running_lab(ALL, run_dir) as runtime:
        yield run_dir
    assert runtime.stats.handler_errors == 0


def _s_client(device, *args: str) -> str:
    openssl = client_tool("openssl")
    port = device.service(Service.HTTPS).port
    done = subprocess.run([openssl, "s_client", "-connect", f"{device.ip}:{port}", *args],
                          input="", capture_output=True, text=True, timeout=20, check=False)
    return done.stdout + done.stderr


def _certificate(device, service: Service = Service.HTTPS) -> x509.Certificate:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with socket.create_connection((device.ip, device.service(service).port), 5) as raw, \
            ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der
    return x509.load_der_x509_certificate(der)


def _negotiated(output: str) -> str:
    line = next(ln for ln in output.splitlines() if "Cipher is" in ln)
    return line.rsplit("Cipher is", 1)[1].strip()


def test_healthy_device_refuses_tls_1_0_and_verifies_against_the_lab_ca(lab: Path):
    assert _negotiated(_s_client(HEALTHY, "-tls1", "-cipher", "ALL:@SECLEVEL=0")) == "(NONE)"
    out = _s_client(HEALTHY, "-CAfile", str(lab / "tls" / "ca.pem"))
    assert "Verify return code: 0 (ok)" in out
    assert "TLSv1.3" in out


def test_legacy_device_accepts_tls_1_0(lab: Path):
    out = _s_client(LEGACY, "-tls1", "-cipher", "ALL:@SECLEVEL=0")
    assert _negotiated(out) != "(NONE)"
    assert "Protocol  : TLSv1\n" in out


def test_weak_cipher_device_offers_only_cbc_suites_with_a_1024_bit_rsa_key(lab: Path):
    out = _s_client(WEAK, "-tls1_2", "-cipher", "ALL:@SECLEVEL=0")
    assert _negotiated(out) in {"AES128-SHA", "AES256-SHA", "DES-CBC3-SHA"}
    assert _negotiated(_s_client(WEAK, "-tls1_3")) == "(NONE)"
    key = _certificate(WEAK).public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 1024


def test_expired_and_self_signed_certificates_are_what_they_say(lab: Path):
    assert "certificate has expired" in _s_client(EXPIRED, "-CAfile", str(lab / "tls" / "ca.pem"))
    assert _certificate(EXPIRED).not_valid_after_utc < datetime.now(UTC)
    cert = _certificate(SELF_SIGNED)
    assert cert.issuer == cert.subject
    assert "self-signed certificate" in _s_client(SELF_SIGNED)


def test_devices_of_a_model_share_one_certificate_across_services(lab: Path):
    prints = {hashlib.sha256(_certificate(d, s).tbs_certificate_bytes).hexdigest()
              for d in SHARED for s in (Service.HTTPS, Service.MQTTS)}
    assert len(prints) == 1
    own = {hashlib.sha256(_certificate(d).tbs_certificate_bytes).hexdigest()
           for d in (HEALTHY, SELF_SIGNED)}
    assert not own & prints and len(own) == 2
