"""Ratings by e-mail (issue 15, item 4; SKAI, BX): the close mail's three links Good / No
rating / Bad open a page with the choice preselected, and the vote is recorded when that
page's form is submitted.

A link is a signed, expiring, single-use token (:mod:`chat.mail.links`, purpose
``MAIL_RATING``) carrying ``{"t": ticket, "r": resolution round, "u": user, "c": choice,
"jti": link id}``. Two use cases:

- :func:`open_rating` only *reads*: mail scanners and link previews follow every link in a
  mail, so a GET must never count as a vote.
- :func:`cast_vote` records the vote through the widget's own rule (``escalation.closing``:
  the requester rates a proposed or closed ticket, once per resolution round) and spends
  the link's ``jti`` in the same transaction.

Every refusal is a :class:`LinkRefused` carrying a stable ``code`` and ``status`` (the page
says what happened) and, when the link was genuine, the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat.auth import principal_of
from chat.authz import Action
from chat.errors import AppError
from chat.mail import links
from chat.mail.models import SpentToken
from chat.models import Conversation, User
from chat.services import Services
from chat.tokens import ExpiredToken, InvalidToken, Purpose
from escalation.access import require_on_ticket

# The widget's rating step, run inside our own unit so the vote and the spent link commit
# together (see cast_vote).
from escalation.closing import rate_in_unit, rating_of
from escalation.errors import EscalationError
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket, TicketRating
from escalation.ratings import RatingValue
from escalation.unit_of_work import Work, run_unit

# Postgres' BIGINT: a number outside it in a (genuine but odd) payload must not reach SQL.
_MAX_ID = 2**63 - 1
_RATEABLE = (TicketStatus.PROPOSED_TO_CLOSE, TicketStatus.CLOSED)


class LinkRefused(AppError):
    """A mail link that cannot do what it says. ``language``: the page's language when the
    link named a user (``None``: unknown, e.g. a forged link)."""

    def __init__(self, message: str, *, code: str, status: int, language: str | None = None) -> None:
        super().__init__(message, code=code, status=status)
        self.language = language


def invalid_link() -> LinkRefused:
    return LinkRefused("this link is not valid", code="invalid_token", status=400)


def expired_link() -> LinkRefused:
    # 410 Gone: the link was genuine, and will never work again.
    return LinkRefused("this link has expired", code="token_expired", status=410)


@dataclass(frozen=True)
class RatingLink:
    """What a genuine rating link says."""

    ticket_id: int
    round: int
    user_id: int
    choice: RatingValue
    jti: str


def read_link(svc: Services, token: str) -> RatingLink:
    """The genuine, unexpired rating link ``token``; :class:`LinkRefused` ``invalid_token``
    (400) for a forged or malformed one, ``token_expired`` (410) after
    :data:`chat.mail.links.RATING_LINK_SECONDS`."""
    try:
        payload = links.read(svc.tokens, Purpose.MAIL_RATING, token)
    except ExpiredToken:
        raise expired_link() from None
    except InvalidToken:
        raise invalid_link() from None
    return _link_of(payload)


def _link_of(payload: dict[str, Any]) -> RatingLink:
    ticket, rnd, user, choice, jti = (payload.get(k) for k in ("t", "r", "u", "c", "jti"))
    # Signed by us, so this only fails for a link minted by a buggy planner: still a page,
    # never a 500.
    ids_ok = all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _MAX_ID for v in (ticket, rnd, user))
    if not ids_ok or choice not in set(RatingValue) or not isinstance(jti, str) or not 0 < len(jti) <= 64:
        raise invalid_link()
    assert isinstance(ticket, int) and isinstance(rnd, int) and isinstance(user, int) and isinstance(jti, str)
    return RatingLink(ticket_id=ticket, round=rnd, user_id=user, choice=RatingValue(choice), jti=jti)


@dataclass(frozen=True)
class RatingForm:
    """What the rating page shows: the ticket, the preselected choice, the token to post."""

    token: str
    ticket_id: int
    subject: str
    choice: RatingValue
    language: str


@dataclass(frozen=True)
class Vote:
    """A recorded vote, for the "thank you" page."""

    ticket_id: int
    subject: str
    value: RatingValue
    language: str


async def open_rating(svc: Services, token: str) -> RatingForm:
    """The page behind a rating link, if the vote could still be cast; records nothing.

    Refusals (:class:`LinkRefused`): ``invalid_token`` 400, ``token_expired`` 410,
    ``token_used`` 410 (its vote was cast), ``account_disabled`` 403, ``not_found`` 404 (the
    ticket is gone or no longer the user's), ``stale_link`` 409 (a later resolution round:
    the link rated an earlier one), ``rating_not_allowed`` 409 (reopened: nothing to rate
    now), ``already_rated`` 409 (once per close: rated already, e.g. in the widget)."""
    link = read_link(svc, token)
    async with svc.reads() as db:
        user = await _enabled_user(db, link)
        language = user.language
        if await db.get(SpentToken, link.jti) is not None:
            raise _used(language)
        ticket, conv = await db.get(Ticket, link.ticket_id), await db.get(Conversation, link.ticket_id)
        if ticket is None or conv is None:
            raise LinkRefused("this ticket no longer exists", code="not_found", status=404, language=language)
        await _may_rate(db, user, conv, ticket, link, language)
        if ticket.status not in _RATEABLE:
            raise LinkRefused("this ticket is open again: there is nothing to rate now", code="rating_not_allowed",
                              status=409, language=language)
        rated = await db.scalar(select(TicketRating.id).where(
            TicketRating.conversation_id == ticket.conversation_id, TicketRating.round == ticket.resolution_round))
        if rated is not None:
            raise LinkRefused("this ticket is already rated", code="already_rated", status=409, language=language)
        return RatingForm(token=token, ticket_id=ticket.conversation_id, subject=conv.subject, choice=link.choice,
                          language=language)


async def cast_vote(
    svc: Services, token: str, value: str, *, reason: str | None = None, comment: str | None = None
) -> Vote:
    """Record the vote of the rating link ``token`` as its user: ``value`` may differ from
    the link's preselected choice (the page lets them change their mind). The same rules as
    the widget's rating (:func:`escalation.closing.rate_ticket`), and the link counts once.

    Refusals as :func:`open_rating`, plus ``invalid_rating`` 422 (an unknown value, a reason
    or comment over the limits). Nothing is recorded on any refusal."""
    link = read_link(svc, token)
    try:
        rating = rating_of(value, reason, comment)
    except AppError as exc:
        raise LinkRefused(exc.message, code=exc.code, status=exc.status) from None

    async def change(work: Work) -> Vote:
        user = await _enabled_user(work.db, link)
        # The vote and the spent link are one transaction: run_unit's. Spending the link in
        # a transaction of its own first would burn it whenever the rating is then refused
        # or the process dies in between (a link spent, no vote); rating first would leave
        # a window where the vote stands and its link still works. Here both commit or
        # neither. Two clicks of the same link wait for each other on the conversation's
        # lock (run_unit takes it first), and the primary key on jti is the backstop.
        if await work.db.get(SpentToken, link.jti) is not None:
            raise _used(user.language)
        # Checked in the order open_rating checks, so the page after a submit says the same.
        await _may_rate(work.db, user, work.conv, work.ticket, link, user.language)
        try:
            async with work.db.begin_nested():
                work.db.add(SpentToken(jti=link.jti, purpose=Purpose.MAIL_RATING.value, spent_at=work.now))
        except IntegrityError:
            raise _used(user.language) from None
        try:
            await rate_in_unit(work, user, rating)
        except EscalationError as exc:  # the lifecycle's guard: rating_not_allowed, already_rated
            raise LinkRefused(exc.message, code=exc.code, status=exc.status, language=user.language) from None
        except AppError as exc:  # already_rated by a concurrent vote (the unique round)
            raise LinkRefused(exc.message, code=exc.code, status=exc.status, language=user.language) from None
        return Vote(ticket_id=work.ticket.conversation_id, subject=work.conv.subject, value=rating.value,
                    language=user.language)

    try:
        done = await run_unit(svc, link.ticket_id, change, create=False)
    except LinkRefused:
        raise
    except AppError as exc:  # no such ticket any more: the unit found nothing to lock
        raise LinkRefused(exc.message, code=exc.code, status=exc.status) from None
    assert done is not None  # run_unit returns None only with skip_locked
    return done[0]


def _used(language: str | None) -> LinkRefused:
    return LinkRefused("this link has already been used", code="token_used", status=410, language=language)


async def _enabled_user(db: AsyncSession, link: RatingLink) -> User:
    user = await db.get(User, link.user_id)
    if user is None:
        raise invalid_link()
    if user.disabled:
        raise LinkRefused("this account is disabled", code="account_disabled", status=403, language=user.language)
    return user


async def _may_rate(
    db: AsyncSession, user: User, conv: Conversation, ticket: Ticket, link: RatingLink, language: str
) -> None:
    """The user may still rate this ticket as themselves, and the link is for its current
    resolution round (a link from an earlier round must not rate the present one)."""
    try:
        # Acting as the link's user, as a session of theirs would (chat.auth).
        await require_on_ticket(db, principal_of(user), conv, ticket, Action.RATE_TICKET)
    except AppError as exc:
        raise LinkRefused(exc.message, code=exc.code, status=exc.status, language=language) from None
    if ticket.resolution_round != link.round:
        raise LinkRefused("this link was for an earlier resolution of the ticket", code="stale_link", status=409,
                          language=language)
