"""Whose tickets a console shows (PSD's partner first line).

Platform staff work the platform's queues; tickets a partner's own first line holds are
the partner's (``tickets.handled_by_org_id``) until it hands them over. Support admins
keep oversight of both (``handled_by=partner|any``); a reseller admin's console shows its
own partner queue and nothing else — whatever it asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, true

from chat.authz import Action, Principal, require
from chat.errors import Forbidden, ValidationFailed
from chat.models import Role
from escalation.models import Ticket

PLATFORM = "platform"
PARTNER = "partner"
ANY = "any"
PARTNER_PREFIX = "partner:"


def partner_queue_key(organization_id: int) -> str:
    return f"{PARTNER_PREFIX}{organization_id}"


@dataclass(frozen=True)
class DeskScope:
    """The tickets one console may list: the platform's, the partners', or both; or one
    partner's own (``partner_id``: a reseller admin's console)."""

    platform: bool
    partners: bool
    partner_id: int | None = None

    @property
    def is_partner_console(self) -> bool:
        return self.partner_id is not None

    def where(self) -> ColumnElement[bool]:
        if self.partner_id is not None:
            return Ticket.handled_by_org_id == self.partner_id
        if self.platform and self.partners:
            return true()
        if self.partners:
            return Ticket.handled_by_org_id.is_not(None)
        return Ticket.handled_by_org_id.is_(None)

    def covers(self, handled_by_org_id: int | None) -> bool:
        """Whether a ticket held by ``handled_by_org_id`` (None: the platform) is in scope."""
        if self.partner_id is not None:
            return handled_by_org_id == self.partner_id
        return self.platform if handled_by_org_id is None else self.partners


EVERYTHING = DeskScope(platform=True, partners=True)


def desk_scope(actor: Principal, handled_by: str | None = None) -> DeskScope:
    """The scope of ``actor``'s console, after checking they may have one.

    Staff (``view_desk``) choose with ``handled_by``: ``platform`` (the default), ``partner``
    or ``any``; anything else is 422. A reseller admin (``list_tickets``, which is scoped to
    its own queue) always gets its own partner queue; asking for more is 403, as in
    ``GET /api/tickets``. Everyone else: 403.
    """
    if actor.role is Role.RESELLER_ADMIN:
        require(actor, Action.LIST_TICKETS)
        if actor.organization_id is None:
            raise Forbidden("a reseller admin without a reseller has no partner queue")
        if handled_by not in (None, PARTNER, str(actor.organization_id)):
            raise Forbidden("a reseller admin sees its own partner queue only")
        return DeskScope(platform=False, partners=True, partner_id=actor.organization_id)
    require(actor, Action.VIEW_DESK)
    if handled_by in (None, PLATFORM):
        return DeskScope(platform=True, partners=False)
    if handled_by == PARTNER:
        return DeskScope(platform=False, partners=True)
    if handled_by == ANY:
        return EVERYTHING
    raise ValidationFailed("handled_by must be 'platform', 'partner' or 'any'")


def search_scope(actor: Principal) -> DeskScope:
    """Search finds any ticket staff may read; a reseller admin's, only its own queue's."""
    scope = desk_scope(actor)
    return scope if scope.is_partner_console else EVERYTHING
