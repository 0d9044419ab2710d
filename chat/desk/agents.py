"""Agents on the desk: their limit of concurrent chats, their stored away choice, their load.

Online/away itself is presence, held by the hub (``svc.presence.agent_statuses()``); the
stored ``away`` is what a console re-applies when it connects, so an agent who stepped
away stays away across reloads and devices.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import audit
from chat.authz import Action, Principal, can, require
from chat.desk.models import DEFAULT_MAX_CHATS, AgentProfile
from chat.desk.rules import ASSIGNABLE_ROLES
from chat.desk.scope import desk_scope
from chat.errors import NotFound, ValidationFailed
from chat.models import Conversation, ConversationStatus, Organization, Role, User
from chat.services import Services
from chat.wire import View
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket, TicketChannel

# A support admin configures more than they chat: they take chats by round-robin only
# once an admin gives them a limit.
_DEFAULT_LIMIT = {Role.AGENT: DEFAULT_MAX_CHATS, Role.SUPPORT_ADMIN: 0}
MAX_CHATS_CEILING = 100
# A live chat an agent carries: not yet a tracked ticket, not resolved, not closed.
LIVE_STATUSES = (TicketStatus.NEW, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER)


def default_limit(role: Role) -> int:
    return _DEFAULT_LIMIT.get(role, 0)


async def live_chat_counts(db: AsyncSession, user_ids: Sequence[int] | None = None) -> dict[int, int]:
    """How many live chats each agent is assigned."""
    query = (
        select(Ticket.assignee_id, func.count())
        .join(Conversation, Conversation.id == Ticket.conversation_id)
        .where(
            Ticket.assignee_id.is_not(None),
            Ticket.status.in_(LIVE_STATUSES),
            Ticket.channel == TicketChannel.CHAT,
            Ticket.tracked.is_(False),
            Conversation.status == ConversationStatus.OPEN,
        )
        .group_by(Ticket.assignee_id)
    )
    if user_ids is not None:
        query = query.where(Ticket.assignee_id.in_(list(user_ids)))
    return {int(uid): int(n) for uid, n in await db.execute(query) if uid is not None}


async def desk_staff(db: AsyncSession) -> list[tuple[User, AgentProfile | None]]:
    """Every enabled agent and support admin, with their desk profile if they have one."""
    rows = await db.execute(
        select(User, AgentProfile)
        .outerjoin(AgentProfile, AgentProfile.user_id == User.id)
        .where(User.role.in_(list(ASSIGNABLE_ROLES)), User.disabled.is_(False))
        .order_by(User.name, User.id)
    )
    return [(u, p) for u, p in rows]


def limit_of(user: User, profile: AgentProfile | None) -> int:
    return profile.max_chats if profile is not None else default_limit(user.role)


class AgentView(View, frozen=True, kw_only=True):
    """An agent on the desk: presence ``status``, stored ``away`` choice, limit and load."""

    id: int
    name: str
    role: str
    status: str
    away: bool
    max_chats: int
    active_chats: int

    @classmethod
    def of(cls, user: User, profile: AgentProfile | None, status: str, active: int) -> AgentView:
        return cls(id=user.id, name=user.name, role=user.role.value, status=status,
                   away=bool(profile and profile.away), max_chats=limit_of(user, profile), active_chats=active)


async def list_agents(svc: Services, actor: Principal) -> list[AgentView]:
    require(actor, Action.VIEW_DESK)
    statuses = svc.presence.agent_statuses()
    async with svc.reads() as db:
        staff = await desk_staff(db)
        loads = await live_chat_counts(db)
    return [AgentView.of(u, p, statuses.get(u.id, "offline"), loads.get(u.id, 0)) for u, p in staff]


async def _profile(db: AsyncSession, user: User, now: Any) -> AgentProfile:
    profile = await db.get(AgentProfile, user.id)
    if profile is None:
        profile = AgentProfile(user_id=user.id, max_chats=default_limit(user.role), away=False, updated_at=now)
        db.add(profile)
    return profile


async def update_agent(
    svc: Services, actor: Principal, user_id: int, *, max_chats: int | None = None, away: bool | None = None
) -> AgentView:
    """A support admin sets anyone's limit; an agent sets their own away choice.

    An admin's change (a limit, or someone else's away) is configuration, audited as
    ``config.agent.update``; an agent stepping away themselves is their working day, not."""
    if max_chats is not None:
        require(actor, Action.MANAGE_DESK)
        if not 0 <= max_chats <= MAX_CHATS_CEILING:
            raise ValidationFailed(f"max_chats must be 0-{MAX_CHATS_CEILING}", field="max_chats")
    if away is not None:
        require(actor, Action.WORK_DESK)
        if user_id != actor.user_id:
            require(actor, Action.MANAGE_DESK)
    audited = max_chats is not None or (away is not None and user_id != actor.user_id)
    now = svc.clock.now()
    status = svc.presence.agent_statuses().get(user_id, "offline")
    async with svc.sessions.begin() as db:
        user = await db.get(User, user_id)
        if user is None or user.role not in ASSIGNABLE_ROLES:
            raise NotFound("no such agent", code="user_not_found")
        active = (await live_chat_counts(db, [user_id])).get(user_id, 0)
        before = AgentView.of(user, await db.get(AgentProfile, user_id), status, active)
        profile = await _profile(db, user, now)
        if max_chats is not None:
            profile.max_chats = max_chats
        if away is not None:
            profile.away = away
        profile.updated_at = now
        await db.flush()
        after = AgentView.of(user, profile, status, active)
        if audited:
            await audit.record_change(db, actor, at=now, action="config.agent.update", target_kind="agent",
                                      target_id=user_id, before=before, after=after)
    return after


async def me(svc: Services, actor: Principal) -> dict[str, Any]:
    """What the console needs to start: who I am, my desk settings, what I may do, and —
    for a reseller admin — the partner whose own queue the console shows (``partner``;
    null for staff, who have a desk profile instead)."""
    scope = desk_scope(actor)
    async with svc.reads() as db:
        user = await db.get(User, actor.user_id)
        assert user is not None
        profile = await db.get(AgentProfile, actor.user_id)
        partner = await db.get(Organization, scope.partner_id) if scope.partner_id is not None else None
    return {
        # The language formats the console's numbers and dates (the reports page).
        "user": {"id": user.id, "name": user.name, "role": user.role.value, "email": user.email,
                 "language": user.language, "language_chosen": bool(user.language_chosen),
                 "ui_prefs": user.ui_prefs or {}},
        "profile": None if partner is not None else {"away": bool(profile and profile.away),
                                                     "max_chats": limit_of(user, profile)},
        "partner": None if partner is None else {"id": partner.id, "name": partner.name},
        "can": {"work": can(actor, Action.WORK_DESK), "manage": can(actor, Action.MANAGE_DESK),
                # Support admins oversee partners' queues too (``handled_by``).
                "oversee": can(actor, Action.MANAGE_DESK)},
        "server_time": svc.clock.now().isoformat(),
    }
