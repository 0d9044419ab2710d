"""Impersonation, audited (issue 20, item 2): support enters a customer's account "with
the user's rights" to diagnose.

A support admin (agents too when ``IMPERSONATION_BY_AGENTS`` is on) starts a session as a
*customer* user — never staff or a partner, never a disabled user, never from a session
that is itself impersonating — with a stated reason. The session is an ordinary
``auth_sessions`` row of the customer that also names the impersonator, so every rule
judges the customer while every event written in it names both people
(:func:`chat.events.attribution`). It lasts :data:`IMPERSONATION_MINUTES` at most
(``authenticate`` refuses it after that), or until ``POST /api/impersonation/end``.

Start and end are audit rows (:mod:`chat.audit`); the customer sees the sessions on their
account (``GET /api/account/access-log``) and is mailed when one ends: who, why, from
when to when. An expired session is ended by the sweeper job :func:`expire_job`, which
writes its end and queues that mail too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from chat import audit, validation
from chat.auth import open_session, signed_session_token
from chat.authz import Action, Principal, UserRef, can
from chat.directory import publish_revoked, user_ref
from chat.errors import Conflict, Forbidden, NotFound
from chat.mail.kinds import MailKind
from chat.mail.queue import queue_mail
from chat.models import AuthSession, Role, User
from chat.services import Services

# Long enough to reproduce a problem in the customer's account, short enough that a
# forgotten tab does not leave support inside it: the PSD asks for a bounded visit.
IMPERSONATION_MINUTES = 30
REASON_MAX = 500  # auth_sessions.impersonation_reason is String(500)
ACCESS_LOG_MAX = 100  # the customer's list shows the latest sessions
EXPIRE_BATCH = 200

START, END = "impersonation.start", "impersonation.end"


class ImpersonationNested(Conflict):
    code = "impersonation_nested"


class NotImpersonating(Conflict):
    code = "not_impersonating"


class NotImpersonable(Forbidden):
    code = "impersonation_target"


@dataclass(frozen=True)
class Started:
    token: str
    session: AuthSession
    target: User
    impersonator: User


def _action(svc: Services) -> Action:
    return Action.IMPERSONATE_AS_AGENT if svc.settings.impersonation_by_agents else Action.IMPERSONATE


def may_impersonate(svc: Services, principal: Principal) -> bool:
    """Whether ``principal`` may sign in as customers at all (the console's button)."""
    return principal.session_id is not None and can(principal, _action(svc), UserRef(None, Role.CUSTOMER, None, None))


def session_ref(session_id: str) -> str:
    """How the audit log and the access log name an impersonated session: a digest, never
    the id itself (which, signed, is the bearer token's whole content)."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:16]


async def start(
    svc: Services, principal: Principal, user_id: int, reason: str, *, address: str | None, user_agent: str | None
) -> Started:
    """Open a session as customer ``user_id`` for ``principal``; returns its token.

    Refused: 422 ``validation_failed`` (reason empty or longer than :data:`REASON_MAX`),
    409 ``impersonation_nested`` (the caller's own session is an impersonation), 403
    ``forbidden`` (the caller may not impersonate at all — checked before the user is
    looked up, so a refusal tells nothing about which ids exist), 404 ``not_found``, 403
    ``impersonation_target`` (not a customer), 409 ``account_disabled``."""
    clean_reason = validation.text(reason, "reason", max_length=REASON_MAX)
    if principal.impersonated:
        raise ImpersonationNested("end this impersonation first; impersonations do not nest")
    action = _action(svc)
    if not may_impersonate(svc, principal):
        raise Forbidden("you may not sign in as another user")
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        target = await db.get(User, user_id)
        if target is None:
            raise NotFound("no such user", code="not_found")
        # The caller may impersonate (checked above), so a refusal here is about the target.
        if not can(principal, action, await user_ref(db, target)):
            raise NotImpersonable("only a customer's account can be entered; never staff, a partner or a visitor")
        if target.disabled:
            raise Conflict("this account is disabled", code="account_disabled")
        impersonator = await db.get(User, principal.user_id)
        assert impersonator is not None
        session = open_session(
            target.id, now, timedelta(minutes=IMPERSONATION_MINUTES), address, user_agent,
            impersonator_id=impersonator.id, impersonation_reason=clean_reason,
        )
        db.add(session)
        await audit.record(
            db, at=now, actor_id=impersonator.id, on_behalf_of_id=target.id, action=START, target_kind="user",
            target_id=target.id, reason=clean_reason,
            after={"session": session_ref(session.id), "ends_at": session.expires_at.isoformat()},
        )
    return Started(token=signed_session_token(svc, session), session=session, target=target, impersonator=impersonator)


@dataclass(frozen=True)
class Ended:
    impersonator_id: int
    target_id: int


async def end(svc: Services, principal: Principal) -> Ended:
    """End the caller's impersonated session (409 ``not_impersonating`` for any other):
    revoked, its end audited, the customer mailed, its sockets closed."""
    if not principal.impersonated or principal.session_id is None:
        raise NotImpersonating("this session is not an impersonation")
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        session = await db.get(AuthSession, principal.session_id)
        if session is None or session.impersonator_id is None:
            raise NotImpersonating("this session is not an impersonation")
        await _close(db, svc, session, now, by="impersonator")
    await publish_revoked(svc, session.user_id, [session.id])
    assert session.impersonator_id is not None
    return Ended(session.impersonator_id, session.user_id)


async def _close(db: AsyncSession, svc: Services, session: AuthSession, at: datetime, *, by: str) -> bool:
    """Revoke ``session`` at ``at`` if nobody did (conditional: an end and the expiry job
    racing record one end), audit it and queue the customer's mail."""
    done = await db.execute(
        update(AuthSession)
        .where(AuthSession.id == session.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    if int(done.rowcount) != 1:  # type: ignore[attr-defined]
        return False
    session.revoked_at = at
    await audit.record(
        db, at=at, actor_id=session.impersonator_id, on_behalf_of_id=session.user_id, action=END, target_kind="user",
        target_id=session.user_id, reason=session.impersonation_reason,
        before={"session": session_ref(session.id), "started_at": session.created_at.isoformat()},
        after={"ended_at": at.isoformat(), "ended_by": by},
    )
    target = await db.get(User, session.user_id)
    impersonator = await db.get(User, session.impersonator_id) if session.impersonator_id else None
    if target is not None:
        await queue_mail(
            db, svc, key=f"{MailKind.ACCOUNT_ACCESSED.value}:{session_ref(session.id)}", kind=MailKind.ACCOUNT_ACCESSED,
            user=target, now=at,
            context={
                "staff_name": (impersonator.name or "Support") if impersonator is not None else "Support",
                "reason": session.impersonation_reason or "",
                "started_at": session.created_at.isoformat(),
                "ended_at": at.isoformat(),
            },
        )
    return True


async def expire_job(svc: Services, now: datetime) -> int:
    """The sweeper job ``impersonation.expire``: end every impersonated session past its
    time (``authenticate`` already refuses them) — its end audited at the instant it
    expired, the customer mailed. Returns how many it ended."""
    async with svc.sessions.begin() as db:
        due = list(
            await db.scalars(
                select(AuthSession)
                .where(AuthSession.impersonator_id.is_not(None), AuthSession.revoked_at.is_(None),
                       AuthSession.expires_at <= now)
                .order_by(AuthSession.expires_at)
                .limit(EXPIRE_BATCH)
            )
        )
        ended = [s for s in due if await _close(db, svc, s, s.expires_at, by="expiry")]
    for session in ended:
        await publish_revoked(svc, session.user_id, [session.id])
    return len(ended)


def ended_at(session: AuthSession, now: datetime) -> datetime | None:
    """When an impersonated session ended — revoked, or run out (whether or not the expiry
    job has come by yet) — or ``None`` while it lasts."""
    if session.revoked_at is not None:
        return min(session.revoked_at, session.expires_at)
    return session.expires_at if session.expires_at <= now else None


async def current(svc: Services, principal: Principal) -> dict[str, Any] | None:
    """The caller's impersonation as the banner shows it, or ``None`` for an own session."""
    if not principal.impersonated or principal.session_id is None:
        return None
    staff = aliased(User)
    async with svc.reads() as db:
        row = (
            await db.execute(
                select(AuthSession, User, staff)
                .join(User, User.id == AuthSession.user_id)
                .join(staff, staff.id == AuthSession.impersonator_id)
                .where(AuthSession.id == principal.session_id)
            )
        ).first()
    if row is None:
        return None
    session, user, impersonator = row
    return {
        "user": {"id": user.id, "name": user.name, "email": user.email},
        "impersonator": {"id": impersonator.id, "name": impersonator.name},
        "reason": session.impersonation_reason,
        "started_at": session.created_at.isoformat(),
        "ends_at": session.expires_at.isoformat(),
    }


async def access_log(svc: Services, principal: Principal) -> list[dict[str, Any]]:
    """Support's sessions in the caller's own account, newest first: who, why, from when
    to when (``ended_at`` ``None``: still going). Every signed-in user may read their own;
    an impersonated session reads the account's too (the customer's view)."""
    staff = aliased(User)
    now = svc.clock.now()
    async with svc.reads() as db:
        rows = (
            await db.execute(
                select(AuthSession, staff.name)
                .join(staff, staff.id == AuthSession.impersonator_id)
                .where(AuthSession.user_id == principal.user_id, AuthSession.impersonator_id.is_not(None))
                .order_by(AuthSession.created_at.desc(), AuthSession.id)
                .limit(ACCESS_LOG_MAX)
            )
        ).all()
    entries = []
    for session, name in rows:
        ended = ended_at(session, now)
        entries.append({
            "id": session_ref(session.id),
            "by": {"id": session.impersonator_id, "name": name},
            "reason": session.impersonation_reason,
            "started_at": session.created_at.isoformat(),
            "ended_at": ended.isoformat() if ended is not None else None,
            "ends_at": session.expires_at.isoformat(),
        })
    return entries
