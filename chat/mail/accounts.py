"""Accounts by e-mail (issue 15, item 6): "forgot password" and invitations, so that no
password is ever passed around by hand.

Both work through signed, single-use mail links (:mod:`chat.mail.links`):

- a **password reset** link names the user and a fingerprint of their password hash as it
  was when the link was sent, so any password change (by this link, another one, the CLI)
  kills every older link; it expires after an hour and its ``jti`` is spent on use;
- an **invitation** link names a user created without a password; it lasts a week, its
  ``jti`` is spent on use, and it is dead anyway once the user has a password.

A link that cannot be honoured is refused with one of three codes, nothing changed:
``invalid_token`` (400: forged, malformed, for a user who is gone or disabled),
``token_expired`` (410) and ``token_used`` (410: spent, or superseded by a newer password).

Each public function is one use case in one transaction; the mail is an outbox row
committed in that transaction (:func:`chat.mail.queue.queue_mail`).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat import throttle, validation
from chat.auth import Login, open_session, signed_session_token
from chat.authz import Action, Principal, require
from chat.directory import (
    add_user,
    publish_revoked,
    require_user_admin,
    revoke_sessions,
    user_ref,
    visible_user,
)
from chat.errors import AppError, BadRequest, Conflict, TooManyRequests
from chat.mail import links
from chat.mail.kinds import MailKind
from chat.mail.models import SpentToken
from chat.mail.queue import queue_mail
from chat.models import STAFF_ROLES, Organization, Role, User
from chat.passwords import hash_new_password
from chat.services import Services
from chat.tokens import ExpiredToken, InvalidToken, Purpose

# Requests for a reset link, per e-mail address and per client address, inside the sign-in
# throttle's window (LOGIN_FAILURE_WINDOW_SECONDS); the next one waits out its lockout.
# Three covers "the mail did not come, try again" twice; more is someone else's mailbox
# being flooded. Twenty per client address still lets an office behind one NAT work.
RESET_REQUESTS_PER_ACCOUNT = 3
RESET_REQUESTS_PER_ADDRESS = 20

# Anonymous widget visitors have no password to reset; everyone else signs in with one.
PASSWORD_ROLES = frozenset(Role) - {Role.VISITOR}


class LinkRefusal(AppError):
    """Why a reset or invitation link cannot be used (one of the three below)."""

    def __init__(self, message: str, *, language: str | None = None) -> None:
        super().__init__(message)
        self.language = language
        """The language of the user the link names, when it was genuine (the page speaks it)."""


class LinkInvalid(LinkRefusal, BadRequest):
    code = "invalid_token"


class LinkExpired(LinkRefusal):
    status = 410
    code = "token_expired"


class LinkUsed(LinkRefusal):
    status = 410
    code = "token_used"


def password_fingerprint(password_hash: str | None) -> str:
    """A short, stable digest of a stored password hash (``""`` when there is none).

    It travels in the reset link (signed, not encrypted: readable by whoever holds the
    mail), so it is a digest of the salted Argon2 hash, never the hash itself; 64 bits are
    plenty to notice that the password changed."""
    if not password_hash:
        return ""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def sign_in_path(role: Role) -> str:
    """Where a user of ``role`` signs in: staff and partners the console, customers the portal."""
    return "/console/" if role in STAFF_ROLES or role is Role.RESELLER_ADMIN else "/portal/"


@dataclass(frozen=True)
class MailLink:
    """What a genuine, unexpired reset or invitation link says."""

    purpose: Purpose
    user_id: int
    jti: str
    fingerprint: str
    """The password fingerprint the link was minted for (reset links only)."""


def read_link(svc: Services, purpose: Purpose, token: str) -> MailLink:
    """The link's claims, or :class:`LinkInvalid` / :class:`LinkExpired`. No I/O."""
    try:
        payload = links.read(svc.tokens, purpose, token)
    except ExpiredToken:
        raise LinkExpired("this link has expired; ask for a new one") from None
    except InvalidToken:
        raise LinkInvalid("this link is not valid; check that it was copied whole") from None
    user_id, jti, fingerprint = payload.get("u"), payload.get("jti"), payload.get("h", "")
    if not isinstance(user_id, int) or not isinstance(jti, str) or not isinstance(fingerprint, str):
        raise LinkInvalid("this link is not valid; check that it was copied whole")
    return MailLink(purpose, user_id, jti, fingerprint)


@dataclass(frozen=True)
class LinkTarget:
    """Whom a usable link is for, as the page that opens it shows them."""

    user_id: int
    email: str | None
    name: str
    role: Role
    language: str


async def _usable(db: AsyncSession, link: MailLink, *, lock: bool = True) -> User:
    """The user a link may still act on, or the reason it may not (``LinkInvalid``/``LinkUsed``).
    ``lock``: two links of one user used at once take turns (PostgreSQL; SQLite's writes
    take turns anyway), so the second sees the first's new password."""
    query = select(User).where(User.id == link.user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    user = await db.scalar(query)
    if user is None or user.disabled or user.role not in PASSWORD_ROLES:
        raise LinkInvalid("this link is no longer valid", language=user.language if user is not None else None)
    if await db.get(SpentToken, link.jti) is not None:
        raise LinkUsed("this link has already been used; ask for a new one", language=user.language)
    if link.purpose is Purpose.PASSWORD_RESET and password_fingerprint(user.password_hash) != link.fingerprint:
        raise LinkUsed("the password was changed since this link was sent; ask for a new one", language=user.language)
    if link.purpose is Purpose.INVITATION and user.password_hash is not None:
        raise LinkUsed("this invitation has already been accepted; sign in with your password", language=user.language)
    return user


async def _spend(db: AsyncSession, link: MailLink, user: User, now: datetime) -> None:
    db.add(SpentToken(jti=link.jti, purpose=link.purpose.value, spent_at=now))
    try:
        await db.flush()
    except IntegrityError:
        # The same link submitted twice at once: the other request won.
        raise LinkUsed("this link has already been used; ask for a new one", language=user.language) from None


@asynccontextmanager
async def _password_by_link(
    svc: Services, purpose: Purpose, token: str, password: str, *, name: str | None = None
) -> AsyncIterator[_Used]:
    """Read the link, hash ``password``, then in one transaction check the link is still
    usable, spend it and set the hash; the caller's block runs inside that transaction
    (an error there undoes it all). Nothing changes when the link is refused or the
    password breaks the policy (422, :func:`chat.passwords.check_policy`)."""
    link = read_link(svc, purpose, token)
    async with svc.reads() as db:
        # The account's own words make a guessable password (chat.passwords.check_policy).
        owner = await db.get(User, link.user_id)
    context = [owner.email, owner.name, name] if owner is not None else [name]
    # Argon2 outside the transaction: on SQLite it would hold the one write lock ~50 ms.
    new_hash = await hash_new_password(password, context)
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        user = await _usable(db, link)
        await _spend(db, link, user, now)
        user.password_hash = new_hash
        yield _Used(db, user, now)


@dataclass(frozen=True)
class _Used:
    """Inside :func:`_password_by_link`'s transaction: the user whose password was set."""

    db: AsyncSession
    user: User
    now: datetime


async def inspect_link(svc: Services, purpose: Purpose, token: str) -> LinkTarget:
    """Whether a reset or invitation link can still be used, for the page it opens. Reads
    only: mail scanners follow links, so opening one spends nothing."""
    link = read_link(svc, purpose, token)
    async with svc.reads() as db:
        user = await _usable(db, link, lock=False)
        return LinkTarget(user.id, user.email, user.name, user.role, user.language)


def _mail_key(kind: MailKind, user_id: int, token: str) -> str:
    # Each link is its own mail: a second request sends a second mail (within the throttle).
    return f"{kind.value}:u{user_id}:{hashlib.sha256(token.encode()).hexdigest()[:24]}"


# -- forgot password -------------------------------------------------------------------


async def request_password_reset(svc: Services, email: str, *, address: str | None) -> None:
    """Mail a reset link to ``email`` if it names an enabled user who signs in with a
    password; otherwise do nothing. Either way the caller answers the same, so the answer
    tells nobody which addresses have accounts.

    Every request counts against the e-mail address and the client address (whether the
    account exists or not); past :data:`RESET_REQUESTS_PER_ACCOUNT` /
    :data:`RESET_REQUESTS_PER_ADDRESS` within the sign-in window, :class:`TooManyRequests`
    (429, ``too_many_requests``, Retry-After) until the lockout ends.
    """
    now = svc.clock.now()
    wanted = email.strip().lower()
    keys = {
        # Own keys: a successful sign-in clears the login counter, not this one.
        "reset:" + throttle.account_key(wanted): RESET_REQUESTS_PER_ACCOUNT,
        "reset:" + throttle.address_key(address): RESET_REQUESTS_PER_ADDRESS,
    }
    async with svc.sessions.begin() as db:
        try:
            await throttle.check_not_locked(db, list(keys), now)
        except TooManyRequests as exc:
            raise TooManyRequests(
                "too many password reset requests; try again later", retry_after=exc.retry_after, code="too_many_requests"
            ) from None
        await throttle.record_failure(db, svc.settings, keys, now)
        user = await db.scalar(select(User).where(User.email == wanted[:320]))
        if user is None or user.disabled or user.role not in PASSWORD_ROLES:
            return
        await queue_password_reset(db, svc, user, now)


async def queue_password_reset(db: AsyncSession, svc: Services, user: User, now: datetime) -> bool:
    """Queue the reset-link mail for ``user`` in the caller's transaction (the caller
    decided they get one: "forgot password" above, or an admin's
    ``POST /api/users/{id}/reset-password``); whether a row was queued (not when the
    address is suppressed)."""
    token = links.mint(
        svc.tokens, Purpose.PASSWORD_RESET, {"u": user.id, "h": password_fingerprint(user.password_hash)},
        single_use=True,
    )
    row = await queue_mail(
        db, svc, key=_mail_key(MailKind.PASSWORD_RESET, user.id, token), kind=MailKind.PASSWORD_RESET, user=user,
        context={
            "url": links.url(svc.settings.public_url, Purpose.PASSWORD_RESET, token),
            "expires_minutes": links.PASSWORD_RESET_SECONDS // 60,
        },
        now=now,
    )
    return row is not None



async def reset_password(svc: Services, token: str, password: str) -> User:
    """Set a new password through a reset link: the link's ``jti`` is spent, every session
    of the user is revoked (their open sockets closed), and the sign-in lockout of the
    account is lifted (whoever reads its mail owns it). Nothing changes when the link is
    refused (``invalid_token``, ``token_expired``, ``token_used``) or the password breaks
    the policy (422, :func:`chat.passwords.check_policy`)."""
    async with _password_by_link(svc, Purpose.PASSWORD_RESET, token, password) as used:
        user = used.user
        revoked = await revoke_sessions(used.db, user.id, used.now)
        if user.email:
            await throttle.clear(used.db, throttle.account_key(user.email))
    await publish_revoked(svc, user.id, revoked)
    return user


# -- invitations -------------------------------------------------------------------------


async def _queue_invitation(db: AsyncSession, svc: Services, actor: Principal | None, target: User, now: datetime) -> bool:
    """Queue an invitation mail for ``target`` in the caller's transaction (the caller has
    authorized it); whether a row was queued (:func:`chat.mail.queue.queue_mail`)."""
    inviter = await db.get(User, actor.user_id) if actor is not None else None
    organization = await db.get(Organization, target.organization_id) if target.organization_id else None
    token = links.mint(svc.tokens, Purpose.INVITATION, {"u": target.id}, single_use=True)
    row = await queue_mail(
        db, svc, key=_mail_key(MailKind.INVITATION, target.id, token), kind=MailKind.INVITATION, user=target,
        context={
            "url": links.url(svc.settings.public_url, Purpose.INVITATION, token),
            "invited_by": (inviter.name or inviter.email) if inviter is not None else None,
            "organization": organization.name if organization is not None else None,
            "expires_days": links.INVITATION_SECONDS // links.DAY,
        },
        now=now,
    )
    return row is not None


async def send_invitation(svc: Services, actor: Principal | None, user_id: int) -> bool:
    """Queue an invitation mail for a user who has never set a password. Who may invite
    whom is who may create whom (``Action.CREATE_USER``). Returns whether a mail was
    queued: not when the user has no address or their address is suppressed.

    Refused (409): ``password_already_set`` (they sign in, or use "forgot password"),
    ``account_disabled``."""
    now = svc.clock.now()
    require_user_admin(actor)
    async with svc.sessions.begin() as db:
        target = await visible_user(db, actor, user_id)
        if actor is not None:
            require(actor, Action.CREATE_USER, await user_ref(db, target))
        if target.password_hash is not None:
            raise Conflict("this user has already set a password", code="password_already_set")
        if target.disabled:
            raise Conflict("this account is disabled; enable it first", code="account_disabled")
        return await _queue_invitation(db, svc, actor, target, now)


@dataclass(frozen=True)
class Invited:
    user: User
    queued: bool
    """Whether the invitation mail was queued (not when the address is suppressed)."""


async def invite_user(
    svc: Services,
    actor: Principal | None,
    *,
    email: str,
    role: Role,
    organization: int | str | None = None,
    name: str = "",
    language: str = "en",
    language_chosen: bool = False,
) -> Invited:
    """Create a user without a password (the rules and errors of
    :func:`chat.directory.create_user`: 422 for an invalid address, 409 ``email_taken``,
    403 for whom the actor may not create) and mail them an invitation to set one.

    One transaction: the user and the outbox row commit together or not at all, so there is
    never a user whose invitation was lost, nor a mail naming a user who was not stored.
    ``POST /api/users/{id}/invite`` (:func:`send_invitation`) sends another one later."""
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        user = await add_user(
            db, svc, actor, email=email, role=role, organization=organization, password_hash=None, name=name,
            language=language, language_chosen=language_chosen, audit_action="config.user.invite",
        )
        queued = await _queue_invitation(db, svc, actor, user, now)
    return Invited(user, queued)


async def accept_invitation(
    svc: Services,
    token: str,
    password: str,
    *,
    name: str | None = None,
    address: str | None,
    user_agent: str | None,
) -> Login:
    """Set the invited user's first password (and name), spend the link and sign them in:
    the same session a password login opens."""
    # Checked first so that a bad name costs no Argon2 hash; a bad link is still reported
    # before it (read_link needs no I/O, and the link is what the page is about).
    read_link(svc, Purpose.INVITATION, token)
    clean_name = validation.text(name, "name", max_length=200, required=False) if name is not None else None
    async with _password_by_link(svc, Purpose.INVITATION, token, password, name=clean_name) as used:
        user = used.user
        if clean_name:
            user.name = clean_name
        session = open_session(user.id, used.now, timedelta(seconds=svc.settings.session_ttl_seconds), address, user_agent)
        used.db.add(session)
    return Login(token=signed_session_token(svc, session), user=user, session=session)
