"""A websocket's ``auth`` frame: the token to a principal and the few facts of its user
that the socket needs, through one plain-SQL read.

The rules are :func:`chat.auth.authenticate`'s, with the same errors: a session token
names a session that is neither revoked nor expired, whose user is enabled and, for an
impersonation, whose impersonator still exists and is enabled; a visitor token names an
enabled user. tests/chat/hub/test_socket_auth.py holds both functions to the same answers.

Why not that function: it loads the whole ``User`` through an ORM session (pooled
connection, identity map, every column with its JSON preferences), ~0.45 ms of CPU, 10 %
of what a resume costs the server; in a reconnect storm every client pays it at once
(py-spy of the 5,000-client storm: ``Session.get`` 14 % of the server's samples). Here it
is one indexed read on the process's hot-read connection (:mod:`chat.hot_reads`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chat.auth import DisabledAccount, check_session, token_subject
from chat.authz import Principal
from chat.hot_reads import hot_reads_of
from chat.models import Role
from chat.services import Services
from chat.tokens import InvalidToken

_SESSION = (
    "SELECT u.id, u.name, u.role, u.organization_id, u.site_id, u.disabled,"
    " s.revoked_at, s.expires_at, s.impersonator_id, imp.id, imp.disabled"
    " FROM auth_sessions s JOIN users u ON u.id = s.user_id"
    " LEFT JOIN users imp ON imp.id = s.impersonator_id"
    " WHERE s.id = :sid"
)
_VISITOR = "SELECT id, name, role, organization_id, site_id, disabled FROM users WHERE id = :uid"


@dataclass(frozen=True, slots=True)
class SocketUser:
    """What the socket uses of its user: the ``ready`` frame, the name its events and
    presence show, the site whose origins it may connect from."""

    id: int
    name: str
    role: Role
    organization_id: int | None
    site_id: int | None


def _instant(value: Any) -> datetime:
    # SQLite hands back the naive UTC text SQLAlchemy stored; PostgreSQL a timestamptz.
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _user(row: Any) -> tuple[SocketUser, bool]:
    """The user of the row's first six columns, and whether it is disabled."""
    return SocketUser(id=int(row[0]), name=str(row[1] or ""), role=Role(row[2]), organization_id=row[3],
                      site_id=row[4]), bool(row[5])


async def authenticate_socket(svc: Services, token: str) -> tuple[Principal, SocketUser]:
    """Resolve a session or visitor token to an enabled user; raise as
    :func:`chat.auth.authenticate` does, by its rules (``chat.auth.token_subject``,
    ``chat.auth.check_session``): ``AppError``; ``SQLAlchemyError`` when the database did
    not answer."""
    kind, subject = token_subject(svc, token)
    reads = hot_reads_of(svc)
    if kind == "s":
        rows = await reads.rows(_SESSION, {"sid": subject})
        if not rows:
            raise InvalidToken("the token is not valid")
        row = rows[0]
        user, disabled = _user(row)
        revoked_at, expires_at, impersonator_id, impersonator_found, impersonator_disabled = row[6:11]
        check_session(svc.clock.now(), revoked_at=revoked_at, expires_at=_instant(expires_at),
                      impersonator_id=impersonator_id,
                      impersonator_usable=impersonator_found is not None and not impersonator_disabled)
        principal = Principal(user_id=user.id, role=user.role, organization_id=user.organization_id,
                              site_id=user.site_id, session_id=str(subject), impersonator_id=impersonator_id)
    else:
        rows = await reads.rows(_VISITOR, {"uid": subject})
        if not rows:
            raise InvalidToken("the token is not valid")
        user, disabled = _user(rows[0])
        principal = Principal(user_id=user.id, role=user.role, organization_id=user.organization_id,
                              site_id=user.site_id)
    if disabled:
        raise DisabledAccount("this account is disabled")
    return principal, user


__all__ = ["SocketUser", "authenticate_socket"]
