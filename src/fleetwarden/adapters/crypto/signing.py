"""Ed25519 signing of audit checkpoints, with the key in a file outside the database.

Someone who can rewrite the database must not be able to re-sign rewritten history,
so the private key lives in a file readable only by its owner (mode 0600). Auditors
can verify with the public key alone (``<key>.pub``).

This module only signs and verifies bytes handed to it; what is signed is defined by
:meth:`fleetwarden.domain.audit.Checkpoint.message`. It must never put key material
in exception messages or logs: errors name the file and the fix, nothing more.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import logging
import os
import stat
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from fleetwarden.domain.audit import Checkpoint
from fleetwarden.errors import ConfigurationError

__all__ = ["Ed25519Signer", "Ed25519Verifier", "load_or_create_signer", "load_verifier"]

log = logging.getLogger(__name__)

_MAX_KEY_FILE_BYTES = 64 * 1024
"""Key PEMs are a few hundred bytes; refuse to slurp anything much larger."""


def _key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Ed25519Verifier:
    """Checks checkpoint signatures with a public key; all an auditor needs."""

    __slots__ = ("_key_id", "_public_key")

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self._public_key = public_key
        self._key_id = _key_id(public_key)

    @property
    def key_id(self) -> str:
        """First 16 hex chars of SHA-256 of the raw public key."""
        return self._key_id

    def public_key_pem(self) -> bytes:
        return self._public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, message: bytes, signature: str) -> bool:
        """True only for a valid base64 Ed25519 signature; never raises on junk."""
        try:
            raw = base64.b64decode(signature, validate=True)
        except (ValueError, TypeError):
            return False
        try:
            self._public_key.verify(raw, message)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    def verify_checkpoint(self, cp: Checkpoint) -> bool:
        """False for another key's checkpoint, a bad signature or unhashable content."""
        if cp.key_id != self._key_id:
            return False
        try:
            message = cp.message()
        except (TypeError, ValueError):
            return False
        return self.verify(message, cp.signature)

    def __repr__(self) -> str:
        return f"Ed25519Verifier(key_id={self._key_id!r})"


class Ed25519Signer:
    """Signs checkpoints. Holds the private key in memory only; ``repr`` shows the id."""

    __slots__ = ("_private_key", "_verifier")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._verifier = Ed25519Verifier(private_key.public_key())

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A signer with a fresh in-memory key (tests, or before writing it out)."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def key_id(self) -> str:
        """First 16 hex chars of SHA-256 of the raw public key."""
        return self._verifier.key_id

    @property
    def verifier(self) -> Ed25519Verifier:
        return self._verifier

    def sign(self, message: bytes) -> str:
        """Base64 (standard alphabet, padded) Ed25519 signature of ``message``."""
        return base64.b64encode(self._private_key.sign(message)).decode("ascii")

    def public_key_pem(self) -> bytes:
        return self._verifier.public_key_pem()

    def private_key_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM; only for writing the key file."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign_checkpoint(self, tenant_id: int, seq: int, hash: str, at: str) -> Checkpoint:
        """Sign "tenant ``tenant_id``'s chain had ``hash`` at ``seq``" as of ``at``."""
        unsigned = Checkpoint(
            tenant_id=tenant_id, seq=seq, hash=hash, at=at, key_id=self.key_id, signature=""
        )
        return dataclasses.replace(unsigned, signature=self.sign(unsigned.message()))

    def verify_checkpoint(self, cp: Checkpoint) -> bool:
        return self._verifier.verify_checkpoint(cp)

    def __repr__(self) -> str:
        return f"Ed25519Signer(key_id={self.key_id!r})"


# ---------------------------------------------------------------------------- files


def _public_path(path: Path) -> Path:
    return path.with_name(path.name + ".pub")


def _read_key_file(path: Path) -> bytes:
    """Read a small key file; ``FileNotFoundError`` passes through, other errors don't."""
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read key file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigurationError(f"key file {path} is too large to be a key")
    return data


def _check_private_permissions(path: Path) -> None:
    """Refuse a private key others can read or replace: it would not be secret."""
    if os.name != "posix":
        return  # POSIX modes do not describe Windows ACLs
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise ConfigurationError(f"audit signing key {path} is not a regular file")
    if st.st_mode & 0o077:
        raise ConfigurationError(
            f"audit signing key {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); fix with: chmod 600 {path}"
        )


def _parse_private_key(path: Path, data: bytes) -> Ed25519PrivateKey:
    # "from None" everywhere: the library's messages and chained tracebacks are not
    # ours to vet for key material.
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigurationError(
            f"audit signing key {path} is encrypted; fleetwarden needs an unencrypted "
            "PKCS#8 PEM protected by file permissions (chmod 600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigurationError(
            f"audit signing key {path} is not a PEM Ed25519 private key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"audit signing key {path} is not an Ed25519 key")
    return key


def _make_private_dirs(directory: Path) -> None:
    """Create missing directories with mode 0700; existing ones are left alone."""
    missing: list[Path] = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create directory {d} for the audit signing key: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_temp(directory: Path, name: str, data: bytes, mode: int) -> str:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        if os.name == "posix":
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _write_public_file(path: Path, pem: bytes) -> None:
    """Best effort: the signer works without it, and the next load retries."""
    pub = _public_path(path)
    try:
        tmp = _write_temp(pub.parent, pub.name, pem, 0o644)
        try:
            os.replace(tmp, pub)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError as exc:
        log.warning("could not write audit public key %s: %s", pub, exc.strerror)


def _load_signer(path: Path) -> Ed25519Signer:
    data = _read_key_file(path)
    _check_private_permissions(path)
    signer = Ed25519Signer(_parse_private_key(path, data))
    if not _public_path(path).exists():
        _write_public_file(path, signer.public_key_pem())
    return signer


def _create_signer(path: Path) -> Ed25519Signer:
    _make_private_dirs(path.parent)
    signer = Ed25519Signer.generate()
    try:
        tmp = _write_temp(path.parent, path.name, signer.private_key_pem(), 0o600)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write audit signing key {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    try:
        try:
            # link() refuses to overwrite, so two processes starting together cannot
            # each keep a different key: the loser loads the winner's.
            os.link(tmp, path)
        except FileExistsError:
            return _load_signer(path)
        except OSError:
            # Filesystems without hard links: still atomic, just not exclusive.
            os.replace(tmp, path)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write audit signing key {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(path.parent)
    _write_public_file(path, signer.public_key_pem())
    log.info("created audit signing key %s (key id %s)", path, signer.key_id)
    return signer


def load_or_create_signer(path: Path) -> Ed25519Signer:
    """Load the checkpoint signing key from ``path``, creating it on first use.

    An existing key must be an unencrypted PKCS#8 PEM with mode 0600 (refused with
    ``ConfigurationError`` otherwise). A new key is written atomically with mode 0600
    in a directory created with mode 0700, and its public key beside it as
    ``<path>.pub`` for auditors.
    """
    path = Path(path)
    try:
        return _load_signer(path)
    except FileNotFoundError:
        return _create_signer(path)


def load_verifier(path: Path) -> Ed25519Verifier:
    """A verifier from the private key file or from its ``.pub`` public key.

    Auditors may hold only the public key; if ``path`` names a missing private key
    file but ``<path>.pub`` exists, that is used.
    """
    path = Path(path)
    if not path.exists() and _public_path(path).exists():
        path = _public_path(path)
    try:
        data = _read_key_file(path)
    except FileNotFoundError:
        raise ConfigurationError(f"audit verification key {path} not found") from None
    if b"PRIVATE KEY" in data:
        _check_private_permissions(path)
        return Ed25519Signer(_parse_private_key(path, data)).verifier
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigurationError(
            f"audit verification key {path} is not a PEM Ed25519 public key"
        ) from None
    if not isinstance(public, Ed25519PublicKey):
        raise ConfigurationError(f"audit verification key {path} is not an Ed25519 key")
    return Ed25519Verifier(public)
