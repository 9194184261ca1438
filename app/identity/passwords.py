"""Password hashing with argon2id (OWASP's first choice)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults are RFC 9106's "low memory" profile (argon2id, 64 MiB, t=3).
_hasher = PasswordHasher()
# Verified against when the email is unknown, so that timing does not reveal accounts.
# Made on first use: a hash costs ~0.1 s and 64 MiB, which every process (each `crm`
# command, each worker) would otherwise pay at import.
_DUMMY_HASH: str | None = None

MIN_PASSWORD_LENGTH = 8


def configure(*, time_cost: int, memory_cost_kib: int) -> None:
    """Set the hashing cost (lower only in tests, where thousands of hashes are made)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=1)
    _DUMMY_HASH = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("not-a-real-password")
    return _DUMMY_HASH


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; always spends the same work, even with no hash."""
    try:
        stored = password_hash or _dummy_hash()
        return _hasher.verify(stored, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
