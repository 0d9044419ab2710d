"""Whose tickets a viewer's reports count: the scope, as one SQL condition on tickets.

Support admins and read-only staff: every ticket. Agents: their own figures and their
support groups' — the tickets assigned to them, and the tickets in a group they lead (a
group's members are not stored: its lead speaks for it, as for transfer mails). Reseller
admins: the tickets of their customers' companies (organizations whose parent is theirs)
and of their own. Anyone else: 403 (``view_reports``, :mod:`chat.authz`).

The condition needs ``conversations`` in the FROM (every report joins it: the company,
site and subject live there); a filter then only narrows it, so an id outside the scope
(another reseller's company) matches nothing rather than leaking or failing.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from chat.authz import Action, Principal, require
from chat.models import Conversation, Organization, Role
from escalation.models import SupportGroup, Ticket


def report_scope(actor: Principal) -> ColumnElement[bool]:
    """The tickets ``actor`` may count in a report; :class:`chat.errors.Forbidden` for a
    role that sees no reports."""
    require(actor, Action.VIEW_REPORTS)
    if actor.role in (Role.SUPPORT_ADMIN, Role.READ_ONLY):
        return true()
    if actor.role is Role.AGENT:
        led = select(SupportGroup.key).where(SupportGroup.lead_id == actor.user_id)
        return or_(Ticket.assignee_id == actor.user_id, Ticket.group_key.in_(led))
    if actor.role is Role.RESELLER_ADMIN and actor.organization_id is not None:
        mine = actor.organization_id
        companies = select(Organization.id).where(or_(Organization.id == mine, Organization.parent_id == mine))
        return Conversation.organization_id.in_(companies)
    return false()  # a reseller admin without a reseller: nothing to count


def sees_all_agents(actor: Principal) -> bool:
    """Whether the viewer may see every agent's figures (the ``now`` report's agent list);
    an agent sees its own row, a reseller admin the agents at work on its customers."""
    return actor.role in (Role.SUPPORT_ADMIN, Role.READ_ONLY)
