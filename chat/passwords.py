"""Password hashing with Argon2id (memory-hard), off the event loop, and the policy a new
password must meet."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # no stubs shipped

from chat.errors import ValidationFailed

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte-long "password" is a cheap denial of service
# zxcvbn's score (0-4): 3 is "safely unguessable" — about 10^8 guesses, beyond an online
# attack and costly offline against Argon2. 2 still lets `password12`-style choices through.
MIN_STRENGTH_SCORE = 3
# zxcvbn's matching is super-linear in the length; it refuses more than 72 characters. A
# longer password is judged by its first 72: `aaaa…` stays weak, a long phrase stays strong.
_SCORED_PREFIX = 72
# Letters a password must keep once the account's and the product's words are taken out.
_OWN_WORDS_REST = 4
# Words an attacker tries first against this product's accounts (issue 20).
PRODUCT_WORDS = ("supportchat", "support chat", "support", "chat")

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that a miss costs as long as a wrong
# password and response time does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-burns-time")


def _context_words(context: Iterable[str | None]) -> list[str]:
    """The account's own words, as zxcvbn's ``user_inputs``: each value, and an e-mail's
    local part and domain labels (``boss@small.example`` -> boss, small, example)."""
    words: list[str] = list(PRODUCT_WORDS)
    for value in context:
        if not value or not value.strip():
            continue
        clean = value.strip().lower()
        words.append(clean)
        local, at, domain = clean.partition("@")
        if at:
            words.append(local)
            words.extend(label for label in domain.split(".") if len(label) >= 3)
        words.extend(part for part in clean.split() if len(part) >= 3)
    return words


def check_policy(password: str, context: Iterable[str | None] = ()) -> None:
    """Refuse (422 ``validation_failed``, the message naming why) a password that is too
    short or long, or easy to guess: common passwords, keyboard walks, repeats, dates, and
    words from ``context`` — the account's e-mail and name — or the product's name, scored
    by zxcvbn (the Dropbox estimator, its frequency lists included)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    words = _context_words(context)
    lowered = password.lower()
    for value in context:
        # The whole address or name inside the password: guessed first by anyone who knows it.
        if value and len(value.strip()) >= 3 and value.strip().lower() in lowered:
            raise ValidationFailed("the password must not contain your e-mail address or name")
    result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=words)
    # zxcvbn prices two of the account's words plus a digit (`robinhartley1`) as strong:
    # what is left once they are taken out must be a password of its own.
    rest = lowered
    for word in sorted(words, key=len, reverse=True):
        if len(word) >= 3:
            rest = rest.replace(word, "")
    own_only = rest != lowered and len("".join(ch for ch in rest if ch.isalpha())) < _OWN_WORDS_REST
    if int(result["score"]) >= MIN_STRENGTH_SCORE and not own_only:
        return
    own = own_only or any(m.get("dictionary_name") == "user_inputs" for m in result["sequence"])
    feedback = result["feedback"]
    if own:
        why = "it is built from your e-mail address, your name or the product's name"
    elif feedback.get("warning"):
        why = str(feedback["warning"]).rstrip(".").lower()
    else:
        why = "it would be guessed quickly"
    hints = " ".join(str(s) for s in feedback.get("suggestions", []))
    raise ValidationFailed(f"the password is too easy to guess: {why}. {hints}".strip())


def check_length(password: str) -> None:
    """Only the bounds: what may be hashed at all."""
    if not 1 <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"the password must be 1 to {MAX_PASSWORD_LENGTH} characters long")


async def hash_new_password(password: str, context: Iterable[str | None] = ()) -> str:
    """The hash of a password being chosen now, once it passes :func:`check_policy`."""
    check_policy(password, context)
    return await asyncio.to_thread(_hasher.hash, password)


async def hash_password(password: str) -> str:
    """The hash of a password already in use (a rehash at sign-in when Argon2's parameters
    changed): bounds only — an older, weaker password must not lock its owner out. A new
    password goes through :func:`hash_new_password`."""
    check_length(password)
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored_hash: str | None, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; a ``None`` hash (no password set) never matches."""
    return await asyncio.to_thread(_verify, stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
