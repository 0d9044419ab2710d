"""Signed tokens (itsdangerous): one salt per purpose, an expiry, and key rotation.

A token minted for one purpose never verifies for another, because the salt is part of
the signing key. Keys are listed oldest first: the newest signs, every listed key
verifies, so a rotated-out key keeps old tokens valid until it is removed from
``SECRET_KEYS_PREVIOUS``.
"""

from __future__ import annotations

import enum
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from chat.clock import Clock
from chat.errors import Unauthenticated


class Purpose(enum.StrEnum):
    SESSION = "session"  # a password login; names an auth_sessions row
    VISITOR = "visitor"  # a widget visitor (anonymous or vouched for by the site)
    # Links in mails (chat.mail.links): each purpose its own salt, so a link of one kind
    # never works as another.
    MAIL_RATING = "mail_rating"
    MAIL_UNSUBSCRIBE = "mail_unsubscribe"
    MAIL_ATTACHMENT = "mail_attachment"
    PASSWORD_RESET = "password_reset"
    INVITATION = "invitation"
    MAIL_VIEW = "mail_view"  # a support admin's console showing an outbox mail's HTML


class InvalidToken(Unauthenticated):
    code = "invalid_token"


class ExpiredToken(Unauthenticated):
    code = "token_expired"


class Tokens:
    def __init__(self, secret_keys: tuple[str, ...], clock: Clock) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is needed")

        class ClockSigner(TimestampSigner):
            # Token age is measured on the product's clock, so expiry is testable.
            def get_timestamp(self) -> int:
                return int(clock.now().timestamp())

        self._serializers = {
            purpose: URLSafeTimedSerializer(list(secret_keys), salt=f"supportchat.{purpose.value}", signer=ClockSigner)
            for purpose in Purpose
        }

    def issue(self, purpose: Purpose, payload: dict[str, Any]) -> str:
        return self._serializers[purpose].dumps(payload)

    def verify(self, purpose: Purpose, token: str, *, max_age: int) -> dict[str, Any]:
        """The payload of a genuine, unexpired token of ``purpose``; raise otherwise."""
        try:
            payload = self._serializers[purpose].loads(token, max_age=max_age)
        except SignatureExpired:
            raise ExpiredToken("the token has expired; sign in again") from None
        except BadSignature:
            raise InvalidToken("the token is not valid") from None
        if not isinstance(payload, dict):
            raise InvalidToken("the token is not valid")
        return payload
