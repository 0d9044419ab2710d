"""The password policy: length, then zxcvbn's score with the account's own words (issue 20)."""

from __future__ import annotations

import pytest

from chat.errors import ValidationFailed
from chat.passwords import check_policy, hash_password, verify_password

ACCOUNT = ["boss@small.example", "Robin Hartley"]


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "at least 10 characters"),
        ("x" * 1025, "at most 1024"),
        ("aaaaaaaaaa", "repeats"),
        (" " * 10, "repeats"),
        ("password12", "common password"),
        ("qwertyuiop", "common password"),
        ("1234567890", "common password"),
        ("boss@small.example", "e-mail address or name"),
        ("Boss@Small.Example!", "e-mail address or name"),
        ("robin hartley", "e-mail address or name"),
        ("robinhartley1", "your e-mail address, your name or the product's name"),
        ("supportchat1", "your e-mail address, your name or the product's name"),
        ("a" * 1024, "repeats"),
    ],
)
def test_weak_passwords_are_refused_saying_why(password: str, why: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_policy(password, ACCOUNT)
    assert refused.value.status == 422 and refused.value.code == "validation_failed"
    assert why in refused.value.message.lower()


@pytest.mark.parametrize("password", ["correct horse battery", "plum kettle orbit violin", "Tr0ub4dor&3xq", "x7#Lq9!vR2mK"])
def test_strong_passwords_pass(password: str) -> None:
    check_policy(password, ACCOUNT)


def test_without_context_the_products_words_still_count() -> None:
    with pytest.raises(ValidationFailed):
        check_policy("supportchat2026")
    check_policy("robinhartley1")  # somebody else's name is just a word


async def test_a_rehash_of_an_old_password_is_not_judged_by_the_new_policy() -> None:
    # Sign-in rehashes when Argon2's parameters change: an old weak password must not lock its owner out.
    stored = await hash_password("password12")
    assert await verify_password(stored, "password12")
