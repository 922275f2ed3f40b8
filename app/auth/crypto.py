"""Password hashing (argon2id), random tokens and their digests, and the HMAC used for CSRF."""

import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 10
# argon2 cost grows with input length; a bound stops a megabyte "password" tying up a worker.
MAX_PASSWORD_CHARS = 1024

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the username does not exist, so timing does not reveal which
    do. Made on first use, not at import (it costs a full hash)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of the password (salt and parameters included)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; always spends one hash's time, even with no hash."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


def new_token(prefix: str = "") -> str:
    """A fresh random token (256 bits), URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of a high-entropy token."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value` for one purpose, hex."""
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time string comparison."""
    return hmac.compare_digest(a.encode(), b.encode())
