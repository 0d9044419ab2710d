"""A user's mail preferences: which kinds of mail they receive, in which time zone, and the
one-click unsubscribe link (RFC 8058) that switches one kind off from the mail itself.

The switches live in ``users.notification_prefs`` (``{kind: bool}``, absent means on:
:func:`chat.mail.kinds.wants`). Staff switch staff kinds, everyone else customer kinds
(``KINDS[kind].audience``); essential kinds (password reset, invitation) have no switch.
The profile write itself is :func:`chat.directory.update_profile`, which validates with
:func:`clean_switches` and :func:`clean_time_zone` here; the unsubscribe link writes
through :func:`unsubscribe`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat import validation
from chat.authz import Action, Principal, require
from chat.errors import NotFound, ValidationFailed
from chat.mail import links, outbox
from chat.mail.kinds import KINDS, LEGACY_KEYS, SWITCHABLE, Audience, MailKind, wants
from chat.mail.models import MailSuppression
from chat.models import STAFF_ROLES, Role, User
from chat.services import Services
from chat.tokens import InvalidToken, Purpose
from chat.wire import View

# The profile's three switches before mail had kinds (issue 15). A client that still sends
# them sets every kind each one stood for in the caller's audience; they are never stored.
# Longest IANA name today is 32 characters ("America/Argentina/ComodRivadavia"); the column
# holds 64.
MAX_TIME_ZONE = 64


def audience_of(role: Role) -> Audience:
    """Which kinds a user of ``role`` can receive: staff kinds for platform staff, customer
    kinds for everyone else (customers, visitors, reseller admins)."""
    return Audience.STAFF if role in STAFF_ROLES else Audience.CUSTOMER


def kinds_for(role: Role) -> list[MailKind]:
    """The switchable kinds of ``role``'s audience, in the order :data:`KINDS` lists them."""
    audience = audience_of(role)
    return [kind for kind, info in KINDS.items() if kind in SWITCHABLE and info.audience is audience]


def clean_switches(prefs: Mapping[str, bool], role: Role) -> dict[str, bool]:
    """The switches a profile update may store for a user of ``role``; raises
    :class:`ValidationFailed` (422) naming the first bad key: an unknown kind, a kind of the
    other audience, or an essential kind switched off (``essential_mail``). An essential
    kind switched on is a no-op and is not stored. Legacy keys expand (:data:`LEGACY_KEYS`)."""
    allowed = set(kinds_for(role))
    legacy = LEGACY_KEYS[audience_of(role)]
    clean: dict[str, bool] = {}
    for key, on in prefs.items():
        if not isinstance(on, bool):
            raise ValidationFailed(f"notification_prefs.{key}: must be true or false")
        if key in legacy:
            clean.update({kind.value: on for kind in legacy[key]})
            continue
        try:
            kind = MailKind(key)
        except ValueError:
            known = ", ".join(k.value for k in kinds_for(role))
            raise ValidationFailed(f"notification_prefs: unknown kind {key!r}; known: {known}") from None
        if KINDS[kind].essential:
            if not on:
                raise ValidationFailed(f"notification_prefs.{key}: this mail cannot be switched off",
                                       code="essential_mail")
            continue
        if kind not in allowed:
            raise ValidationFailed(f"notification_prefs.{key}: not a mail a {role.value.replace('_', ' ')} receives")
        clean[kind.value] = on
    return clean


def merged_switches(stored: Mapping[str, Any], changes: Mapping[str, bool], role: Role) -> dict[str, bool]:
    """The new stored preferences: ``changes`` over ``stored``, keeping only known kinds. A
    legacy key still stored from before mail had kinds becomes the kinds it stood for (so
    its "off" survives the save that drops it)."""
    known = {kind.value for kind in SWITCHABLE}
    merged = {k: v for k, v in stored.items() if k in known and isinstance(v, bool)}
    for legacy_key, kinds in LEGACY_KEYS[audience_of(role)].items():
        if stored.get(legacy_key) is False:
            for kind in kinds:
                merged.setdefault(kind.value, False)
    merged.update(changes)
    return merged


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    # The system's tz database; read once (it lists ~600 names from disk).
    return frozenset(available_timezones())


def clean_time_zone(raw: str | None) -> str | None:
    """An IANA time zone name as stored, ``None`` for "not set" (``None`` or blank); raises
    :class:`ValidationFailed` for a name the tz database does not know."""
    if raw is None or not raw.strip():
        return None
    name = raw.strip()
    if len(name) > MAX_TIME_ZONE or name not in _zones():
        raise ValidationFailed(f"time_zone: {raw[:MAX_TIME_ZONE]!r} is not an IANA time zone such as 'Europe/Berlin'")
    return name


def user_wants(user: User, kind: MailKind) -> bool:
    """Whether ``user`` receives ``kind`` by their switches (essential kinds always);
    honours a legacy key still stored from before mail had kinds."""
    return wants(user.notification_prefs or {}, kind)


# -- reading one's own preferences --------------------------------------------------------


class MailSwitchView(View, frozen=True, kw_only=True):
    kind: str
    on: bool


class MailPreferencesView(View, frozen=True, kw_only=True):
    """What the profile page shows: one switch per kind of the user's audience, the
    language and time zone mails use, and the languages one may pick."""

    audience: str
    switches: list[MailSwitchView]
    essential: list[str]
    """Kinds that are always sent (no switch)."""
    language: str
    languages: list[str]
    time_zone: str | None

    @classmethod
    def of(cls, user: User) -> MailPreferencesView:
        return cls(
            audience=audience_of(user.role).value,
            switches=[MailSwitchView(kind=k.value, on=user_wants(user, k)) for k in kinds_for(user.role)],
            # Of the user's audience: staff are never told that support entered their account.
            essential=[k.value for k, info in KINDS.items()
                       if info.essential and info.audience in (Audience.ANYONE, audience_of(user.role))],
            language=user.language, languages=list(validation.LANGUAGES), time_zone=user.time_zone,
        )


async def mail_preferences(svc: Services, actor: Principal) -> MailPreferencesView:
    """The caller's own mail preferences (anyone signed in may read their own)."""
    require(actor, Action.READ_PROFILE)
    async with svc.reads() as db:
        user = await db.get(User, actor.user_id)
        if user is None:
            raise NotFound("no such user", code="user_not_found")
        return MailPreferencesView.of(user)


# -- one-click unsubscribe ----------------------------------------------------------------


def unsubscribe_url(svc: Services, *, user_id: int | None, address: str, kind: MailKind) -> str | None:
    """The unsubscribe link a mail to this recipient carries (:func:`chat.mail.links.unsubscribe_link`)."""
    return links.unsubscribe_link(svc.tokens, svc.settings.public_url, user_id=user_id, address=address, kind=kind)


class Subject(enum.StrEnum):
    USER = "user"
    ADDRESS = "address"


@dataclass(frozen=True)
class Unsubscription:
    """Whom a genuine unsubscribe link speaks for, as its pages show it."""

    kind: MailKind
    subject: Subject
    user_id: int | None
    address: str | None
    language: str
    """The user's language; ``""`` for a bare address (the page asks the browser)."""
    role: Role | None
    done: bool
    """Already switched off (the page says so instead of asking again)."""


def _read_link(svc: Services, token: str) -> tuple[MailKind, int | None, str | None]:
    """The kind and the user id or address of a genuine, unexpired link; raises
    :class:`chat.tokens.InvalidToken` / :class:`chat.tokens.ExpiredToken`."""
    payload = links.read(svc.tokens, Purpose.MAIL_UNSUBSCRIBE, token)
    try:
        kind = MailKind(str(payload.get("k")))
    except ValueError:
        raise InvalidToken("the link names no kind of mail") from None
    if kind not in SWITCHABLE:
        raise InvalidToken("this mail cannot be switched off")
    user_id, address = payload.get("u"), payload.get("a")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        return kind, user_id, None
    if isinstance(address, str) and address:
        return kind, None, address.strip().lower()
    raise InvalidToken("the link names nobody")


async def _subject(db: AsyncSession, kind: MailKind, user_id: int | None, address: str | None) -> Unsubscription:
    if user_id is not None:
        user = await db.get(User, user_id)
        if user is None:
            # The account was deleted: the link is no longer anyone's.
            raise InvalidToken("the link's account no longer exists")
        return Unsubscription(kind, Subject.USER, user.id, user.email, user.language, user.role,
                              done=not user_wants(user, kind))
    assert address is not None
    suppressed = await outbox.is_suppressed(db, address)
    return Unsubscription(kind, Subject.ADDRESS, None, address, "", None, done=suppressed)


async def unsubscribe_preview(svc: Services, token: str) -> Unsubscription:
    """What the link would switch off — changes nothing (mail scanners follow links).
    Raises :class:`chat.tokens.InvalidToken` / :class:`chat.tokens.ExpiredToken`."""
    kind, user_id, address = _read_link(svc, token)
    async with svc.reads() as db:
        return await _subject(db, kind, user_id, address)


async def unsubscribe(svc: Services, token: str) -> Unsubscription:
    """Switch the link's kind off for its user (or suppress its bare address with reason
    ``"unsubscribed"``), in one transaction. Idempotent: a second use changes nothing and
    answers the same. Raises :class:`chat.tokens.InvalidToken` /
    :class:`chat.tokens.ExpiredToken` and then changes nothing."""
    kind, user_id, address = _read_link(svc, token)
    try:
        async with svc.sessions.begin() as db:
            found = await _subject(db, kind, user_id, address)
            if not found.done:
                if user_id is not None:
                    user = await db.get(User, user_id, with_for_update=True)
                    assert user is not None
                    user.notification_prefs = merged_switches(user.notification_prefs or {}, {kind.value: False}, user.role)
                else:
                    assert address is not None
                    db.add(MailSuppression(address=address, reason="unsubscribed", mail_id=None,
                                           created_at=svc.clock.now()))
    except IntegrityError:
        # The same address was suppressed meanwhile (a second click, the provider's POST):
        # what the link asked for is done.
        async with svc.reads() as db:
            found = await _subject(db, kind, user_id, address)
    return Unsubscription(found.kind, found.subject, found.user_id, found.address, found.language, found.role, done=True)
