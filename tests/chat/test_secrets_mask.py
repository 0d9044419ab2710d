"""The corpus of chat.secrets_mask: every kind masked in English and Russian prose, and the
near-misses of a support chat (orders, phones, UUIDs, hashes in logs, IBANs) left alone."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.secrets_mask import ELLIPSIS, KINDS, PRIVATE_KEY_SHOWN, luhn_ok, mask_secrets

STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dcA1B2"
AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
GITHUB_PAT = "github_pat_11ABCDEFG0abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"
GITLAB = "glpat-xYz12AbCdEfGhIjKlMnOp"
SLACK = "xoxb-2401234567-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
       ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PRIVATE_KEY = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\nZ1BjP5CE/Wm/Rr500P\n"
               "-----END RSA PRIVATE KEY-----")
SENDGRID = "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TELEGRAM = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
CARD = "4111 1111 1111 1111"

# (text, kind, the secret that must be gone)
MASKED = [
    (f"Here is my key: {STRIPE}, please check", "stripe_key", STRIPE),
    (f"Вот мой ключ {STRIPE} — проверьте", "stripe_key", STRIPE),
    ("test key sk_test_4eC39HqLyjWDarjtT1zdp7dc", "stripe_key", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    (f"aws access key {AWS}", "aws_key", AWS),
    (f"ключ доступа AWS: {AWS}", "aws_key", AWS),
    (f"our CI uses {GITHUB} to pull", "github_token", GITHUB),
    (f"токен гитхаба {GITHUB_PAT}", "github_token", GITHUB_PAT),
    (f"gitlab token {GITLAB}", "gitlab_token", GITLAB),
    (f"bot token {SLACK}", "slack_token", SLACK),
    (f"Токен бота слака: {SLACK}", "slack_token", SLACK),
    (f"the session is {JWT} and it expired", "jwt", JWT),
    (f"Сессия: {JWT}", "jwt", JWT),
    (f"my key:\n{PRIVATE_KEY}\nthanks", "private_key", "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi"),
    (f"вот ключ\n{PRIVATE_KEY}", "private_key", "Z1BjP5CE/Wm/Rr500P"),
    ("part of it: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n(cut)", "private_key", "b3BlbnNzaC1rZXktdjEAAAAA"),
    ("the feed is at https://admin:Sup3rS3cret@feeds.example.com/x.xml", "basic_auth", "Sup3rS3cret"),
    ("фид: https://ivan:Parol2024@feeds.example.ru/", "basic_auth", "Parol2024"),
    ("Authorization: Basic YWRtaW46c2VjcmV0cGFzcw==", "basic_auth", "YWRtaW46c2VjcmV0cGFzcw=="),
    ("curl -H 'Authorization: Bearer 8f3kQ9zLmN2pR7sT1vW4xY6b' https://api", "bearer_token", "8f3kQ9zLmN2pR7sT1vW4xY6b"),
    ("заголовок bearer 8f3kQ9zLmN2pR7sT1vW4xY6b", "bearer_token", "8f3kQ9zLmN2pR7sT1vW4xY6b"),
    (f"SendGrid: {SENDGRID}", "sendgrid_key", SENDGRID),
    (f"telegram bot {TELEGRAM}", "telegram_token", TELEGRAM),
    ("login: anna, password: Tr0ub4dor&3", "password_pair", "Tr0ub4dor&3"),
    ("password=hunter2hunter2", "password_pair", "hunter2hunter2"),
    ("my password is hunter2", "password_pair", "hunter2"),
    ("pwd: qwerty123", "password_pair", "qwerty123"),
    ("passwd = 'letmein!'", "password_pair", "letmein!"),
    ("логин ivan, пароль: Qwerty123!", "password_pair", "Qwerty123!"),
    ("Пароль — zaq1xsw2", "password_pair", "zaq1xsw2"),
    ("пароль= котик2024", "password_pair", "котик2024"),
    ("api_key=abc123def456ghi789", "secret_pair", "abc123def456ghi789"),
    ("токен: a1b2c3d4e5f6g7h8", "secret_pair", "a1b2c3d4e5f6g7h8"),
    (f"card {CARD} exp 12/28", "card_number", CARD),
    ("карта 5555555555554444, срок 01/27", "card_number", "5555555555554444"),
    ("amex 3782-822463-10005", "card_number", "3782-822463-10005"),
]


@pytest.mark.parametrize(("text", "kind", "secret"), MASKED)
def test_every_kind_is_masked(text: str, kind: str, secret: str) -> None:
    masked = mask_secrets(text)
    assert masked.kinds == (kind,)
    assert secret not in masked.text
    assert ELLIPSIS in masked.text or PRIVATE_KEY_SHOWN in masked.text
    # The prose before it stays as written.
    assert masked.text.startswith(text[: text.index(secret)].split("-----")[0])
    # Masking is idempotent: nothing is left to mask.
    assert mask_secrets(masked.text) == type(masked)(masked.text)


def test_kept_characters() -> None:
    assert mask_secrets(f"key {STRIPE}").text == "key sk_live_…A1B2"
    assert mask_secrets(f"card {CARD}").text == "card 411111…1111"
    assert mask_secrets(f"a\n{PRIVATE_KEY}\nb").text == f"a\n{PRIVATE_KEY_SHOWN}\nb"
    assert mask_secrets("password: Tr0ub4dor&3").text == "password: T…3"
    assert mask_secrets("password: abc12").text == "password: …"  # short: nothing of it shown


def test_several_kinds_in_one_text_in_the_documented_order() -> None:
    masked = mask_secrets(f"card {CARD}, key {AWS}, пароль: Secret123")
    assert masked.kinds == ("aws_key", "password_pair", "card_number")
    assert all(k in KINDS for k in masked.kinds)
    assert masked.text == "card 411111…1111, key AKIA…MPLE, пароль: S…3"


NEAR_MISSES = [
    "My order number is 1234567890123456, where is it?",
    "Заказ № 2024-000123456 не пришёл",
    "call me at +7 (999) 123-45-67 or +1 415 555 2671",
    "Телефон 8 800 555-35-35",
    "request id 123e4567-e89b-12d3-a456-426614174000 failed",
    "2026-12-06 03:12:44 ERROR commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 not found",
    "fixed in git a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 (deploy 3f2c1a9)",
    "see ticket #123 and #4567",
    "IBAN DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX",
    "счёт GB29 NWBK 6016 1331 9268 19",
    "card 4111 1111 1111 1112 was declined",  # fails Luhn
    "I clicked the password reset link but nothing came",
    "I forgot my password",
    "Забыл пароль, помогите восстановить",
    "пароль не подходит",
    "my password is expired",
    "Where do I change my password? The password field is greyed out",
    "https://shop.example.com/orders/123?page=2&sort=date",
    "go to https://example.com/login and press Forgot password",
    "the API key is in the dashboard under Settings",
    "token: expired",
    "Thanks a lot, this is internationalization at its best!",
    "Сумма 1 234 567 руб., ИНН 7707083893, КПП 770701001",
    "timestamps 1733452800000 and 1733452800001",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_alone(text: str) -> None:
    assert mask_secrets(text).text == text
    assert mask_secrets(text).kinds == ()


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")


def test_a_typical_message_is_cheap() -> None:
    # A body is checked on every send: a 200-character message in well under a millisecond
    # (measured 11-17 µs in English, 29-44 µs in Russian with the word "пароль").
    texts = [
        "Hello, I have a problem with my order 12345: the invoice shows the wrong address and the delivery was two "
        "days late. Could you please check it and tell me when the courier will come? Thanks, Anna",
        "Здравствуйте! Не могу войти в личный кабинет, пишет что пароль неверный. Заказ 45678, оплачен вчера картой. "
        "Подскажите пожалуйста, что делать и когда придёт курьер? Спасибо",
    ]
    for text in texts:
        started = time.perf_counter()
        for _ in range(200):
            mask_secrets(text)
        per_message = (time.perf_counter() - started) / 200
        assert per_message < 0.001, per_message


PIECES = st.sampled_from([
    STRIPE, AWS, GITHUB, JWT, PRIVATE_KEY, CARD, SLACK, "password: ", "пароль: ", "Bearer ", "https://u:p4ss@h/",
    "-----BEGIN PRIVATE KEY-----", "BEGIN PRIVATE KEY", "eyJ", "sk_live_", "4111", " ", "\n", "…", "=", ":", "-",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=12)), max_size=12))
def test_masking_never_grows_a_text_and_is_idempotent(parts: list[str]) -> None:
    text = "".join(parts)
    masked = mask_secrets(text)
    # Never longer: a field at its length limit (a 300-character subject) stays within it.
    assert len(masked.text) <= len(text)
    assert mask_secrets(masked.text).text == masked.text
    assert set(masked.kinds) <= set(KINDS)
    assert (masked.text == text) == (not masked.kinds)
