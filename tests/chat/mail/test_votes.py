"""Ratings by e-mail (chat.mail.votes) on real databases (SQLite and PostgreSQL): a link
opens the form and records nothing; the submitted vote follows the widget's rules and the
link counts once; forged, expired, reused, stale and refused links record nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from chat import directory
from chat.clock import ManualClock
from chat.mail import links, votes
from chat.mail.models import SpentToken
from chat.models import User
from chat.services import Services
from chat.tokens import Purpose
from escalation import tickets
from escalation.models import TicketRating
from tests.escalation.world import Desk, chat, make_desk, say


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc)


def rating_token(desk: Desk, ticket: int, rnd: int, user: int, choice: str) -> str:
    """The token of a link as the planner mints it (the ``t`` of ``/mail/rate?t=…``)."""
    return links.mint(desk.svc.tokens, Purpose.MAIL_RATING, {"t": ticket, "r": rnd, "u": user, "c": choice},
                      single_use=True)


async def proposed(desk: Desk) -> int:
    """A chat whose answer is proposed to close: resolution round 1, rateable."""
    conv = await chat(desk, subject="Printer <b>on fire</b>")
    await say(desk, desk.agent, conv, "Try turning it off and on.")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    return conv


async def recorded(desk: Desk) -> tuple[list[tuple[int, int, str, str | None, str | None, int | None]], int]:
    """Every stored rating ``(ticket, round, value, reason, comment, by)`` and the number of
    spent links."""
    async with desk.svc.reads() as db:
        rows = (await db.scalars(select(TicketRating).order_by(TicketRating.id))).all()
        spent = await db.scalar(select(func.count()).select_from(SpentToken))
    return [(r.conversation_id, r.round, r.value, r.reason, r.comment, r.rated_by_id) for r in rows], int(spent or 0)


async def refusal(call: Awaitable[object]) -> tuple[int, str]:
    """The ``(status, code)`` a use case refused with."""
    with pytest.raises(votes.LinkRefused) as info:
        await call
    return info.value.status, info.value.code


async def test_opening_a_link_shows_its_choice_and_records_nothing(desk: Desk) -> None:
    conv = await proposed(desk)
    token = rating_token(desk, conv, 1, desk.customer.user_id, "bad")
    for _ in range(3):  # a mail scanner, a link preview, the person
        form = await votes.open_rating(desk.svc, token)
    assert (form.ticket_id, form.subject, form.choice, form.language) == (conv, "Printer <b>on fire</b>", "bad", "en")
    assert await recorded(desk) == ([], 0)


async def test_the_vote_is_recorded_once_with_the_choice_made_on_the_page(desk: Desk) -> None:
    conv = await proposed(desk)
    token = rating_token(desk, conv, 1, desk.customer.user_id, "bad")
    vote = await votes.cast_vote(desk.svc, token, "good", reason=" fixed ", comment="thanks, all good")
    assert (vote.ticket_id, vote.value, vote.language) == (conv, "good", "en")
    assert await recorded(desk) == ([(conv, 1, "good", "fixed", "thanks, all good", desk.customer.user_id)], 1)
    ticket = await tickets.get_ticket(desk.svc, desk.customer, conv)
    assert [(r["value"], r["round"]) for r in ticket["ratings"]] == [("good", 1)]
    # The same link again, on the page or submitted: already used, nothing more stored.
    assert await refusal(votes.open_rating(desk.svc, token)) == (410, "token_used")
    assert await refusal(votes.cast_vote(desk.svc, token, "bad")) == (410, "token_used")
    assert (await recorded(desk))[1] == 1 and len((await recorded(desk))[0]) == 1


async def test_two_submits_of_one_link_at_once_count_once(desk: Desk) -> None:
    conv = await proposed(desk)
    token = rating_token(desk, conv, 1, desk.customer.user_id, "good")
    results = await asyncio.gather(votes.cast_vote(desk.svc, token, "good"), votes.cast_vote(desk.svc, token, "bad"),
                                   return_exceptions=True)
    refused = [(r.status, r.code) for r in results if isinstance(r, votes.LinkRefused)]
    cast = [r.value for r in results if isinstance(r, votes.Vote)]
    assert len(cast) == 1 and refused == [(410, "token_used")]
    assert await recorded(desk) == ([(conv, 1, cast[0], None, None, desk.customer.user_id)], 1)


async def test_another_link_of_the_same_mail_finds_the_ticket_rated(desk: Desk) -> None:
    conv = await proposed(desk)
    good = rating_token(desk, conv, 1, desk.customer.user_id, "good")
    bad = rating_token(desk, conv, 1, desk.customer.user_id, "bad")
    await votes.cast_vote(desk.svc, good, "good")
    assert await refusal(votes.open_rating(desk.svc, bad)) == (409, "already_rated")
    assert await refusal(votes.cast_vote(desk.svc, bad, "bad")) == (409, "already_rated")
    # Refused: the second link is not spent, and the one vote stays.
    assert await recorded(desk) == ([(conv, 1, "good", None, None, desk.customer.user_id)], 1)


async def test_once_per_close_a_widget_rating_comes_first(desk: Desk) -> None:
    conv = await proposed(desk)
    await tickets.rate_ticket(desk.svc, desk.customer, conv, "none")
    token = rating_token(desk, conv, 1, desk.customer.user_id, "good")
    assert await refusal(votes.open_rating(desk.svc, token)) == (409, "already_rated")
    assert await refusal(votes.cast_vote(desk.svc, token, "good")) == (409, "already_rated")
    assert await recorded(desk) == ([(conv, 1, "none", None, None, desk.customer.user_id)], 0)


async def test_a_forged_or_foreign_token_is_refused(desk: Desk) -> None:
    conv = await proposed(desk)
    token = rating_token(desk, conv, 1, desk.customer.user_id, "good")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_purpose = links.mint(desk.svc.tokens, Purpose.MAIL_UNSUBSCRIBE,
                               {"t": conv, "r": 1, "u": desk.customer.user_id, "c": "good"}, single_use=True)
    no_jti = links.mint(desk.svc.tokens, Purpose.MAIL_RATING, {"t": conv, "r": 1, "u": desk.customer.user_id,
                                                               "c": "good"})
    bad_choice = rating_token(desk, conv, 1, desk.customer.user_id, "great")
    huge_id = rating_token(desk, 2**70, 1, desk.customer.user_id, "good")
    for bad in (forged, other_purpose, no_jti, bad_choice, huge_id, "", "not-a-token"):
        assert await refusal(votes.open_rating(desk.svc, bad)) == (400, "invalid_token")
        assert await refusal(votes.cast_vote(desk.svc, bad, "good")) == (400, "invalid_token")
    assert await refusal(votes.cast_vote(desk.svc, token, "great")) == (422, "invalid_rating")
    assert await refusal(votes.cast_vote(desk.svc, token, "good", comment="x" * 4001)) == (422, "invalid_rating")
    assert await recorded(desk) == ([], 0)


async def test_a_link_expires_after_fourteen_days(desk: Desk, clock: ManualClock) -> None:
    conv = await proposed(desk)
    token = rating_token(desk, conv, 1, desk.customer.user_id, "good")
    clock.advance(timedelta(days=14) - timedelta(seconds=1))
    assert (await votes.open_rating(desk.svc, token)).choice == "good"
    clock.advance(timedelta(seconds=2))
    assert await refusal(votes.open_rating(desk.svc, token)) == (410, "token_expired")
    assert await refusal(votes.cast_vote(desk.svc, token, "good")) == (410, "token_expired")
    assert await recorded(desk) == ([], 0)


async def test_a_link_of_an_earlier_resolution_does_not_rate_the_current_one(desk: Desk) -> None:
    conv = await proposed(desk)
    old = rating_token(desk, conv, 1, desk.customer.user_id, "good")
    await say(desk, desk.customer, conv, "It is still on fire!")  # reopens
    assert await refusal(votes.open_rating(desk.svc, old)) == (409, "rating_not_allowed")
    assert await refusal(votes.cast_vote(desk.svc, old, "good")) == (409, "rating_not_allowed")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")  # round 2
    assert await refusal(votes.open_rating(desk.svc, old)) == (409, "stale_link")
    assert await refusal(votes.cast_vote(desk.svc, old, "good")) == (409, "stale_link")
    assert await recorded(desk) == ([], 0)
    current = rating_token(desk, conv, 2, desk.customer.user_id, "bad")
    await votes.cast_vote(desk.svc, current, "bad", comment="twice")
    assert await recorded(desk) == ([(conv, 2, "bad", None, "twice", desk.customer.user_id)], 1)


async def test_a_disabled_user_or_someone_else_cannot_vote(desk: Desk) -> None:
    conv = await proposed(desk)
    stranger = rating_token(desk, conv, 1, desk.stranger.user_id, "good")
    assert await refusal(votes.open_rating(desk.svc, stranger)) == (404, "not_found")
    assert await refusal(votes.cast_vote(desk.svc, stranger, "good")) == (404, "not_found")
    agent = rating_token(desk, conv, 1, desk.agent.user_id, "good")
    assert await refusal(votes.cast_vote(desk.svc, agent, "good")) == (403, "forbidden")
    token = rating_token(desk, conv, 1, desk.customer.user_id, "good")
    await directory.set_user_disabled(desk.svc, None, desk.customer.user_id, disabled=True)
    assert await refusal(votes.open_rating(desk.svc, token)) == (403, "account_disabled")
    assert await refusal(votes.cast_vote(desk.svc, token, "good")) == (403, "account_disabled")
    assert await recorded(desk) == ([], 0)


async def test_the_page_speaks_the_users_language(desk: Desk) -> None:
    conv = await proposed(desk)
    async with desk.svc.sessions.begin() as db:
        await db.execute(update(User).where(User.id == desk.customer.user_id).values(language="pt-BR"))
    token = rating_token(desk, conv, 1, desk.customer.user_id, "none")
    assert (await votes.open_rating(desk.svc, token)).language == "pt-BR"
    gone = rating_token(desk, conv, 0, desk.customer.user_id, "none")
    with pytest.raises(votes.LinkRefused) as info:
        await votes.open_rating(desk.svc, gone)
    assert (info.value.code, info.value.language) == ("stale_link", "pt-BR")
