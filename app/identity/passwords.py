"""Password hashing with argon2id (OWASP's first choice)."""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id baseline: 19 MiB, two passes, one lane. It costs ~25 ms here, so a
# sign-in stays fast on a busy 2-core web node, and the small memory per hash keeps a
# burst of logins from exhausting a worker's RAM. Hashes made with other parameters
# (argon2-cffi's 64 MiB/t=3/p=4 default, used before) are upgraded at the next sign-in.
TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)
# Verified against when the email is unknown, so that timing does not reveal accounts.
# Made on first use: a hash costs ~25 ms and 19 MiB, which every process (each `crm`
# command, each worker) would otherwise pay at import.
_DUMMY_HASH: str | None = None

MIN_PASSWORD_LENGTH = 8
# New passwords chosen in the product (signup, reset, change, invitation) must be at
# least this long and not guessable (see :func:`password_problem`).
MIN_CHOSEN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
# zxcvbn's 0-4 scale; 3 is "safely unguessable: moderate protection from offline
# slow-hash scenarios" (< 10^10 guesses), which argon2id makes very slow indeed.
MIN_STRENGTH_SCORE = 3


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


def password_problem(password: str, *, user_inputs: Iterable[str] = ()) -> str | None:
    """Why ``password`` may not be chosen, or None if it is fine.

    Length first, then zxcvbn's estimate, which knows the common and breached-password
    lists, dictionary words, keyboard walks, dates and l33t substitutions. ``user_inputs``
    (email, names, the workspace) count as guessable too. The message is English and
    callers translate it with the same text.
    """
    from zxcvbn import zxcvbn  # imported lazily: its dictionaries take ~0.3 s to load

    if len(password) < MIN_CHOSEN_PASSWORD_LENGTH:
        return f"Use at least {MIN_CHOSEN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    inputs = [part for value in user_inputs for part in _input_parts(value)]
    # zxcvbn's cost grows with length; the first 100 characters decide any real case.
    result = zxcvbn(password[:100], user_inputs=inputs)
    if result["score"] >= MIN_STRENGTH_SCORE:
        return None
    warning = (result.get("feedback") or {}).get("warning") or ""
    if "common" in warning.lower():
        return "This password is on lists of common or leaked passwords. Choose another."
    return "This password is too easy to guess. Add more words or characters."


def _input_parts(value: str) -> list[str]:
    value = (value or "").strip().lower()
    if not value:
        return []
    local = value.split("@", 1)[0]
    return [value, local, *local.replace(".", " ").replace("-", " ").split()]
