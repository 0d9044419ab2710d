"""Authentication use cases: password login and logout, token resolution, widget visitors.

Every authenticated request resolves its token against the database (one indexed
lookup), so a revoked session or a disabled user is refused on the very next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from chat import metrics, throttle, validation
from chat.authz import Principal
from chat.directory import publish_revoked
from chat.errors import Conflict, Forbidden, ImpersonationActive, NotFound, TooManyRequests, Unauthenticated
from chat.models import AuthSession, Role, Site, User
from chat.passwords import hash_password, needs_rehash, verify_password
from chat.services import Services
from chat.tokens import InvalidToken, Purpose

WRONG_CREDENTIALS = "the e-mail or the password is wrong"


class DisabledAccount(Forbidden):
    code = "account_disabled"


@dataclass(frozen=True)
class Login:
    token: str
    user: User
    session: AuthSession


def principal_of(user: User, session_id: str | None = None, impersonator_id: int | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        role=user.role,
        organization_id=user.organization_id,
        site_id=user.site_id,
        session_id=session_id,
        impersonator_id=impersonator_id,
    )


async def login(svc: Services, email: str, password: str, *, address: str | None, user_agent: str | None) -> Login:
    """Check the password and open a session.

    Wrong e-mail and wrong password give the same error, in the same time (a dummy hash
    is verified for unknown e-mails). Failures count per account and per address; past
    the limit both are locked for a while, right password or not.
    """
    now = svc.clock.now()
    settings = svc.settings
    acct, addr = throttle.account_key(email), throttle.address_key(address)
    async with svc.reads() as db:
        try:
            await throttle.check_not_locked(db, [acct, addr], now)
        except TooManyRequests:
            metrics.AUTH_FAILURES["login_locked"].inc()
            raise
        user = await db.scalar(select(User).where(User.email == email.strip().lower()))
    # Argon2 runs outside any transaction: on SQLite a write transaction holds the one
    # write lock, and every chat message would wait behind each login's ~50 ms hash.
    # An unknown e-mail is checked against a dummy hash: the same time as a wrong password.
    ok = await verify_password(user.password_hash if user else None, password) and user is not None
    if ok and user is not None and user.disabled:
        raise DisabledAccount("this account is disabled")
    rehashed = None
    if ok and user is not None and user.password_hash and needs_rehash(user.password_hash):
        rehashed = await hash_password(password)
    async with svc.sessions.begin() as db:
        if not ok or user is None:
            await throttle.record_failure(
                db,
                settings,
                {acct: settings.login_max_failures_per_account, addr: settings.login_max_failures_per_address},
                now,
            )
        else:
            await throttle.clear(db, acct)
            if rehashed is not None:
                await db.execute(update(User).where(User.id == user.id).values(password_hash=rehashed))
            session = open_session(user.id, now, timedelta(seconds=settings.session_ttl_seconds), address, user_agent)
            db.add(session)
    if not ok or user is None:
        metrics.AUTH_FAILURES["login"].inc()
        # Raised after the commit so the failure counts.
        raise Unauthenticated(WRONG_CREDENTIALS, code="invalid_credentials")
    return Login(token=signed_session_token(svc, session), user=user, session=session)


def open_session(
    user_id: int, now: datetime, lifetime: timedelta, address: str | None, user_agent: str | None,
    *, impersonator_id: int | None = None, impersonation_reason: str | None = None,
) -> AuthSession:
    """A new session row (the caller adds it in its transaction): a sign-in, or a support
    session acting as the user (:mod:`chat.impersonation`)."""
    return AuthSession(
        id=secrets.token_urlsafe(24),
        user_id=user_id,
        created_at=now,
        expires_at=now + lifetime,
        ip=(address or "")[:64] or None,
        user_agent=(user_agent or "")[:400] or None,
        impersonator_id=impersonator_id,
        impersonation_reason=impersonation_reason,
    )


def signed_session_token(svc: Services, session: AuthSession) -> str:
    """The bearer token (and cookie value) of ``session``."""
    return session_token(svc.tokens.issue(Purpose.SESSION, {"sid": session.id}))


async def logout(svc: Services, principal: Principal) -> None:
    """End the principal's session; its open sockets are closed too. An impersonated
    session is ended by ``POST /api/impersonation/end`` instead (409
    ``impersonation_active``), which audits the end and tells the customer."""
    if principal.impersonated:
        raise ImpersonationActive("this session is an impersonation: end it with POST /api/impersonation/end")
    assert principal.session_id is not None  # the route refuses a visitor token (not_a_session)
    async with svc.sessions.begin() as db:
        await db.execute(
            update(AuthSession)
            .where(AuthSession.id == principal.session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=svc.clock.now())
        )
    await publish_revoked(svc, principal.user_id, [principal.session_id])


# Ids are BIGINT: a value past it cannot name a row (and would not bind).
_MAX_ID = 2**63 - 1


def token_subject(svc: Services, token: str) -> tuple[str, str | int]:
    """A token's kind and what it names, its signature and age checked: ``("s", session
    id)`` or ``("v", user id)``; ``InvalidToken`` / ``TokenExpired`` otherwise. The first
    half of every authentication (:func:`authenticate`, chat.hub.socket_auth)."""
    kind, _, raw = token.partition(":")
    if kind == "s":
        sid = svc.tokens.verify(Purpose.SESSION, raw, max_age=svc.settings.session_ttl_seconds).get("sid")
        if isinstance(sid, str):
            return kind, sid
    elif kind == "v":
        uid = svc.tokens.verify(Purpose.VISITOR, raw, max_age=svc.settings.visitor_token_ttl_seconds).get("uid")
        if isinstance(uid, int) and not isinstance(uid, bool) and 0 < uid <= _MAX_ID:
            return kind, uid
    raise InvalidToken("the token is not valid")


def check_session(now: datetime, *, revoked_at: datetime | None, expires_at: datetime,
                  impersonator_id: int | None, impersonator_usable: bool) -> None:
    """A session's own rules, the same wherever a session token is read: not revoked, not
    expired, and for an impersonation (chat.impersonation) an impersonator who still exists
    and is enabled — it ends the moment they may no longer act."""
    if revoked_at is not None:
        raise Unauthenticated("this session has ended; sign in again", code="session_revoked")
    if expires_at <= now:
        raise Unauthenticated("this session has expired; sign in again", code="token_expired")
    if impersonator_id is not None and not impersonator_usable:
        raise Unauthenticated("this session has ended; sign in again", code="session_revoked")


async def authenticate(svc: Services, token: str) -> tuple[Principal, User]:
    """Resolve a session or visitor token to an enabled user; raise otherwise."""
    kind, subject = token_subject(svc, token)
    async with svc.reads() as db:
        if kind == "s":
            row = (
                await db.execute(select(AuthSession, User).join(User, User.id == AuthSession.user_id)
                                 .where(AuthSession.id == subject))
            ).first()
            if row is None:
                raise InvalidToken("the token is not valid")
            session, user = row
            impersonator = None if session.impersonator_id is None else await db.get(User, session.impersonator_id)
            check_session(svc.clock.now(), revoked_at=session.revoked_at, expires_at=session.expires_at,
                          impersonator_id=session.impersonator_id,
                          impersonator_usable=impersonator is not None and not impersonator.disabled)
            principal = principal_of(user, session.id, session.impersonator_id)
        else:
            found = await db.get(User, subject)
            if found is None:
                raise InvalidToken("the token is not valid")
            user = found
            principal = principal_of(user)
    if user.disabled:
        raise DisabledAccount("this account is disabled")
    return principal, user


def session_token(raw: str) -> str:
    """Tokens carry a one-letter kind so one header serves sessions and visitors."""
    return "s:" + raw


def visitor_token_of(raw: str) -> str:
    return "v:" + raw


def identity_hash(identity_secret: str, external_id: str) -> str:
    """What a site's backend computes to vouch for its user (HMAC-SHA256, hex)."""
    return hmac.new(identity_secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def identity_vouched(site: Site, external_id: str, external_hash: str | None, now: datetime) -> bool:
    """Whether ``external_hash`` vouches for ``external_id`` on ``site``: signed with its
    identity secret, or with the secret it had before a rotation while that one's grace
    lasts (``now`` before ``previous_secret_until``, exclusive) — the site's backend is
    redeployed with the new secret within the grace, and visitors signed meanwhile still
    get in. Both comparisons always run, in constant time, so timing tells nothing."""
    if not external_hash:
        return False
    current = hmac.compare_digest(identity_hash(site.identity_secret, external_id), external_hash)
    previous = False
    if site.previous_identity_secret and site.previous_secret_until is not None:
        previous = hmac.compare_digest(identity_hash(site.previous_identity_secret, external_id), external_hash)
        previous = previous and now < site.previous_secret_until
    return current or previous


@dataclass(frozen=True)
class VisitorSession:
    token: str
    user: User
    site: Site
    identified: bool


async def visitor_session(
    svc: Services,
    *,
    site_key: str,
    visitor_token: str | None = None,
    external_id: str | None = None,
    external_hash: str | None = None,
    name: str | None = None,
) -> VisitorSession:
    """Start or continue a widget visitor.

    Without identity: the visitor keeps the user its token names (if it is of this site),
    or a new anonymous visitor is created. With ``external_id`` and a matching
    ``external_hash`` the visitor becomes that site's customer, created on first sight.
    """
    now = svc.clock.now()
    clean_name = validation.text(name, "name", max_length=200, required=False) if name is not None else None
    async with svc.sessions.begin() as db:
        site = await db.scalar(select(Site).where(Site.public_key == site_key))
        if site is None:
            raise NotFound("no such site", code="site_not_found")
        user: User | None = None
        if external_id is not None:
            if not identity_vouched(site, external_id, external_hash, now):
                metrics.AUTH_FAILURES["identity"].inc()
                raise Unauthenticated("the identity hash does not match this user id", code="identity_rejected")
            user = await db.scalar(select(User).where(User.site_id == site.id, User.external_id == external_id))
            if user is None:
                user = User(
                    email=None,
                    name=clean_name or "",
                    role=Role.CUSTOMER,
                    organization_id=site.organization_id,
                    language=site.default_language,
                    notification_prefs={},
                    disabled=False,
                    site_id=site.id,
                    external_id=external_id,
                    created_at=now,
                )
                db.add(user)
        elif visitor_token and visitor_token.startswith("v:"):
            try:
                _, known = await authenticate(svc, visitor_token)
            except (InvalidToken, Unauthenticated):
                known = None  # expired or foreign: the visitor simply starts afresh
            # A visitor token is good on the site that issued it only.
            if known is not None and known.site_id == site.id and known.role is Role.VISITOR:
                user = await db.get(User, known.id)
        if user is None:
            user = User(
                email=None,
                name=clean_name or "",
                role=Role.VISITOR,
                language=site.default_language,
                notification_prefs={},
                disabled=False,
                site_id=site.id,
                created_at=now,
            )
            db.add(user)
        if user.disabled:
            raise DisabledAccount("this account is disabled")
        if clean_name:
            user.name = clean_name
        try:
            await db.flush()
        except IntegrityError:
            # Two first visits of the same identified user raced; the retry finds the row.
            raise Conflict("this visitor was created meanwhile; retry", code="conflict") from None
    token = visitor_token_of(svc.tokens.issue(Purpose.VISITOR, {"uid": user.id, "site": site.id}))
    return VisitorSession(token=token, user=user, site=site, identified=external_id is not None)
