"""Ed25519 checkpoint signing with real keys in real files under tmp_path."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fleetwarden.adapters.crypto import signing
from fleetwarden.adapters.crypto.signing import (
    Ed25519Signer,
    Ed25519Verifier,
    load_or_create_signer,
    load_verifier,
)
from fleetwarden.domain.audit import Checkpoint
from fleetwarden.errors import ConfigurationError

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")

AT = "2026-11-23T10:00:00.123456Z"
HASH = "ab" * 32


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def pem_body(path: Path) -> str:
    """The base64 lines of a PEM file: what must never appear in messages."""
    lines = path.read_text().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "audit" / "signing.pem"


# ------------------------------------------------------------------------- in memory


def test_key_id_is_sha256_prefix_of_raw_public_key() -> None:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signer = Ed25519Signer(key)
    assert signer.key_id == hashlib.sha256(raw).hexdigest()[:16]
    assert len(signer.key_id) == 16


def test_sign_returns_base64_of_64_bytes() -> None:
    sig = Ed25519Signer.generate().sign(b"hello")
    assert len(base64.b64decode(sig, validate=True)) == 64


def test_signature_round_trip_and_tampered_message() -> None:
    signer = Ed25519Signer.generate()
    sig = signer.sign(b"message")
    assert signer.verifier.verify(b"message", sig)
    assert not signer.verifier.verify(b"messagE", sig)
    assert not signer.verifier.verify(b"message ", sig)


def test_sign_checkpoint_fills_key_id_and_verifies() -> None:
    signer = Ed25519Signer.generate()
    cp = signer.sign_checkpoint(3, 500, HASH, AT)
    assert (cp.tenant_id, cp.seq, cp.hash, cp.at, cp.key_id) == (3, 500, HASH, AT, signer.key_id)
    assert signer.verify_checkpoint(cp)
    assert signer.verifier.verify(cp.message(), cp.signature)


@pytest.mark.parametrize(
    "change",
    [{"tenant_id": 4}, {"seq": 499}, {"hash": "cd" * 32}, {"at": "2026-11-23T10:00:01.000000Z"}],
)
def test_tampered_checkpoint_fails(change: dict[str, object]) -> None:
    signer = Ed25519Signer.generate()
    cp = signer.sign_checkpoint(3, 500, HASH, AT)
    assert not signer.verify_checkpoint(dataclasses.replace(cp, **change))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "not base64!!",
        "AAAA",
        "====",
        "é",
        base64.b64encode(b"x" * 64).decode(),
        base64.b64encode(b"x" * 63).decode(),
        12345,
        None,
    ],
)
def test_bad_signatures_return_false_without_raising(signature: object) -> None:
    signer = Ed25519Signer.generate()
    cp = dataclasses.replace(signer.sign_checkpoint(1, 1, HASH, AT), signature=signature)  # type: ignore[arg-type]
    assert signer.verify_checkpoint(cp) is False


def test_wrong_key_id_fails_even_with_valid_signature() -> None:
    signer = Ed25519Signer.generate()
    cp = signer.sign_checkpoint(1, 10, HASH, AT)
    relabelled = dataclasses.replace(cp, key_id="0" * 16)
    assert not signer.verify_checkpoint(relabelled)


def test_other_key_does_not_verify() -> None:
    a, b = Ed25519Signer.generate(), Ed25519Signer.generate()
    cp = a.sign_checkpoint(1, 10, HASH, AT)
    assert not b.verify_checkpoint(cp)
    # Even relabelled with b's key id, a's signature does not verify under b's key.
    assert not b.verify_checkpoint(dataclasses.replace(cp, key_id=b.key_id))


def test_unencodable_checkpoint_returns_false() -> None:
    signer = Ed25519Signer.generate()
    cp = Checkpoint(1, 10, HASH, AT, signer.key_id, "AAAA")
    weird = dataclasses.replace(cp, at=float("nan"))  # type: ignore[arg-type]
    assert signer.verify_checkpoint(weird) is False


def test_repr_shows_only_the_key_id() -> None:
    signer = Ed25519Signer.generate()
    assert repr(signer) == f"Ed25519Signer(key_id={signer.key_id!r})"
    assert repr(signer.verifier) == f"Ed25519Verifier(key_id={signer.key_id!r})"


# ---------------------------------------------------------------------------- files


@posix_only
def test_creates_key_with_private_modes(key_path: Path, tmp_path: Path) -> None:
    signer = load_or_create_signer(key_path)
    assert key_path.is_file()
    assert mode(key_path) == 0o600
    assert mode(key_path.parent) == 0o700
    assert mode(key_path.parent.parent) == 0o700
    pub = key_path.with_name("signing.pem.pub")
    assert pub.is_file()
    assert b"PRIVATE" not in pub.read_bytes()
    assert pub.read_bytes() == signer.public_key_pem()
    # No temporary files left behind.
    assert sorted(p.name for p in key_path.parent.iterdir()) == ["signing.pem", "signing.pem.pub"]


def test_created_key_is_unencrypted_pkcs8_ed25519(key_path: Path) -> None:
    signer = load_or_create_signer(key_path)
    data = key_path.read_bytes()
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(data, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    assert Ed25519Signer(key).key_id == signer.key_id


@posix_only
def test_existing_parent_directory_mode_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)  # noqa: S103 - a typical shared directory
    load_or_create_signer(shared / "k.pem")
    assert mode(shared) == 0o755


def test_key_id_stable_across_reloads(key_path: Path) -> None:
    first = load_or_create_signer(key_path)
    cp = first.sign_checkpoint(1, 100, HASH, AT)
    second = load_or_create_signer(key_path)
    assert second.key_id == first.key_id
    assert second.verify_checkpoint(cp)
    assert load_or_create_signer(key_path).key_id == first.key_id


def test_accepts_str_path(key_path: Path) -> None:
    assert load_or_create_signer(str(key_path)).key_id == load_or_create_signer(key_path).key_id  # type: ignore[arg-type]


@posix_only
@pytest.mark.parametrize("bad_mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o620])
def test_refuses_key_readable_or_writable_by_others(key_path: Path, bad_mode: int) -> None:
    load_or_create_signer(key_path)
    body = pem_body(key_path)
    os.chmod(key_path, bad_mode)
    with pytest.raises(ConfigurationError) as err:
        load_or_create_signer(key_path)
    message = str(err.value)
    assert str(key_path) in message
    assert f"chmod 600 {key_path}" in message
    assert body not in message and body[:20] not in message


@posix_only
def test_owner_read_only_is_accepted(key_path: Path) -> None:
    signer = load_or_create_signer(key_path)
    os.chmod(key_path, 0o400)
    assert load_or_create_signer(key_path).key_id == signer.key_id


def test_corrupt_key_refused_without_leaking_content(key_path: Path) -> None:
    key_path.parent.mkdir(parents=True, mode=0o700)
    junk_pem = (
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWp1bmstbm90LWEta2V5\n-----END PRIVATE KEY-----\n"
    )
    key_path.write_text(junk_pem)
    os.chmod(key_path, 0o600)
    with pytest.raises(ConfigurationError) as err:
        load_or_create_signer(key_path)
    assert str(key_path) in str(err.value)
    assert "c2VjcmV0" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_encrypted_key_refused(key_path: Path) -> None:
    key_path.parent.mkdir(parents=True, mode=0o700)
    key_path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    os.chmod(key_path, 0o600)
    with pytest.raises(ConfigurationError, match="encrypted"):
        load_or_create_signer(key_path)


def test_non_ed25519_key_refused(key_path: Path) -> None:
    key_path.parent.mkdir(parents=True, mode=0o700)
    key_path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    with pytest.raises(ConfigurationError, match="Ed25519"):
        load_or_create_signer(key_path)


def test_missing_pub_file_is_rewritten_on_load(key_path: Path) -> None:
    signer = load_or_create_signer(key_path)
    pub = key_path.with_name(key_path.name + ".pub")
    pub.unlink()
    load_or_create_signer(key_path)
    assert pub.read_bytes() == signer.public_key_pem()


def test_concurrent_creation_keeps_the_first_key(key_path: Path) -> None:
    winner = load_or_create_signer(key_path)
    # A second process that saw no file and generated its own key must not replace it.
    loser = signing._create_signer(key_path)
    assert loser.key_id == winner.key_id
    assert load_or_create_signer(key_path).key_id == winner.key_id
    assert sorted(p.name for p in key_path.parent.iterdir()) == ["signing.pem", "signing.pem.pub"]


def test_creation_logs_key_id_not_key(key_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="fleetwarden"):
        signer = load_or_create_signer(key_path)
    body = pem_body(key_path)
    assert signer.key_id in caplog.text
    assert body not in caplog.text and "PRIVATE" not in caplog.text


def test_unwritable_directory_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError, match="cannot"):
        load_or_create_signer(blocker / "k.pem")


# ------------------------------------------------------------------------ verifiers


def test_verifier_from_pub_file(key_path: Path) -> None:
    signer = load_or_create_signer(key_path)
    cp = signer.sign_checkpoint(7, 1000, HASH, AT)
    verifier = load_verifier(key_path.with_name(key_path.name + ".pub"))
    assert isinstance(verifier, Ed25519Verifier)
    assert verifier.key_id == signer.key_id
    assert verifier.verify_checkpoint(cp)
    assert not verifier.verify_checkpoint(dataclasses.replace(cp, seq=999))


def test_verifier_from_private_key_file(key_path: Path) -> None:
    signer = load_or_create_signer(key_path)
    cp = signer.sign_checkpoint(7, 1000, HASH, AT)
    verifier = load_verifier(key_path)
    assert verifier.key_id == signer.key_id
    assert verifier.verify_checkpoint(cp)


def test_auditor_with_only_the_pub_file(key_path: Path, tmp_path: Path) -> None:
    signer = load_or_create_signer(key_path)
    cp = signer.sign_checkpoint(7, 1000, HASH, AT)
    auditor_dir = tmp_path / "auditor"
    auditor_dir.mkdir()
    (auditor_dir / "signing.pem.pub").write_bytes(signer.public_key_pem())
    # Configured with the private key's path, which the auditor does not have.
    verifier = load_verifier(auditor_dir / "signing.pem")
    assert verifier.verify_checkpoint(cp)


@posix_only
def test_verifier_refuses_exposed_private_key(key_path: Path) -> None:
    load_or_create_signer(key_path)
    os.chmod(key_path, 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_verifier(key_path)


def test_verifier_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_verifier(tmp_path / "nope.pem")


def test_verifier_rejects_non_key_file(tmp_path: Path) -> None:
    p = tmp_path / "junk.pub"
    p.write_text("hello")
    with pytest.raises(ConfigurationError, match="not a PEM Ed25519 public key"):
        load_verifier(p)


def test_verifier_rejects_other_algorithm(tmp_path: Path) -> None:
    p = tmp_path / "ec.pub"
    p.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigurationError, match="Ed25519"):
        load_verifier(p)
