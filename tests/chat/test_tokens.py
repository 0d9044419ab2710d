from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat.clock import ManualClock
from chat.tokens import ExpiredToken, InvalidToken, Purpose, Tokens

KEY_A, KEY_B = "a" * 40, "b" * 40


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


def test_round_trip(clock: ManualClock) -> None:
    tokens = Tokens((KEY_A,), clock)
    token = tokens.issue(Purpose.SESSION, {"sid": "abc"})
    assert tokens.verify(Purpose.SESSION, token, max_age=60) == {"sid": "abc"}


def test_tampered_token_is_refused(clock: ManualClock) -> None:
    tokens = Tokens((KEY_A,), clock)
    token = tokens.issue(Purpose.SESSION, {"sid": "abc"})
    _, _, rest = token.partition(".")
    forged_payload = Tokens((KEY_B,), clock).issue(Purpose.SESSION, {"sid": "admin"}).partition(".")[0]
    for forged in (forged_payload + "." + rest, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), "garbage", ""):
        with pytest.raises(InvalidToken):
            tokens.verify(Purpose.SESSION, forged, max_age=60)


def test_token_signed_with_an_unknown_key_is_refused(clock: ManualClock) -> None:
    token = Tokens((KEY_B,), clock).issue(Purpose.SESSION, {"sid": "abc"})
    with pytest.raises(InvalidToken):
        Tokens((KEY_A,), clock).verify(Purpose.SESSION, token, max_age=60)


def test_expired_token_is_refused(clock: ManualClock) -> None:
    tokens = Tokens((KEY_A,), clock)
    token = tokens.issue(Purpose.VISITOR, {"uid": 1})
    clock.advance(timedelta(seconds=60))
    assert tokens.verify(Purpose.VISITOR, token, max_age=60) == {"uid": 1}
    clock.advance(timedelta(seconds=1))
    with pytest.raises(ExpiredToken):
        tokens.verify(Purpose.VISITOR, token, max_age=60)


@pytest.mark.parametrize(("issued", "checked"), [(Purpose.SESSION, Purpose.VISITOR), (Purpose.VISITOR, Purpose.SESSION)])
def test_wrong_purpose_is_refused(clock: ManualClock, issued: Purpose, checked: Purpose) -> None:
    tokens = Tokens((KEY_A,), clock)
    with pytest.raises(InvalidToken):
        tokens.verify(checked, tokens.issue(issued, {"x": 1}), max_age=60)


def test_key_rotation_keeps_old_tokens_until_the_key_is_dropped(clock: ManualClock) -> None:
    old_token = Tokens((KEY_A,), clock).issue(Purpose.SESSION, {"sid": "old"})
    rotated = Tokens((KEY_A, KEY_B), clock)
    assert rotated.verify(Purpose.SESSION, old_token, max_age=60) == {"sid": "old"}
    new_token = rotated.issue(Purpose.SESSION, {"sid": "new"})
    # The newest key signs: a server that only knows the new key accepts new tokens...
    assert Tokens((KEY_B,), clock).verify(Purpose.SESSION, new_token, max_age=60) == {"sid": "new"}
    # ...and refuses the old ones once the old key is gone.
    with pytest.raises(InvalidToken):
        Tokens((KEY_B,), clock).verify(Purpose.SESSION, old_token, max_age=60)


def test_non_dict_payload_is_refused(clock: ManualClock) -> None:
    tokens = Tokens((KEY_A,), clock)
    raw = tokens._serializers[Purpose.SESSION].dumps([1, 2])
    with pytest.raises(InvalidToken):
        tokens.verify(Purpose.SESSION, raw, max_age=60)
