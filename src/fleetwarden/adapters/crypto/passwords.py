"""argon2id password hashes for web sign-in (argon2-cffi, its RFC 9106 low-memory profile).

Must not: log or keep a password; raise for a malformed stored hash (it just fails).
"""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Passwords:
    def __init__(self, hasher: _Argon2 | None = None) -> None:
        self._argon2 = hasher or _Argon2()

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        try:
            return bool(self._argon2.verify(hashed, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        try:
            return bool(self._argon2.check_needs_rehash(hashed))
        except InvalidHashError:
            return True
