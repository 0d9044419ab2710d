"""Who may see and do what — the one place that decides.

Pure: the caller loads the facts about the target (a small ``*Ref`` record) and asks.
HTTP handlers, websocket handlers and the use cases behind them all go through
:func:`require`, so a rule changes in one place. Rules inherit as in the source helpdesk
(BX): read-only sees everything staff sees and changes nothing; support admins can do
everything; agents work conversations but do not administer.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from chat.errors import Forbidden
from chat.models import STAFF_ROLES, OrgKind, Role


@dataclass(frozen=True)
class Principal:
    """An authenticated, enabled user, as seen by the rules."""

    user_id: int
    role: Role
    organization_id: int | None
    site_id: int | None = None
    session_id: str | None = None
    # Impersonation (chat.impersonation): the staff member acting as this user in this
    # session. The rules judge the user (the session has "the user's rights"); the events
    # and the audit log name both.
    impersonator_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def impersonated(self) -> bool:
        return self.impersonator_id is not None


@dataclass(frozen=True)
class OrgRef:
    id: int | None  # None: an organization about to be created
    kind: OrgKind
    parent_id: int | None


@dataclass(frozen=True)
class UserRef:
    id: int | None  # None: a user about to be created
    role: Role
    organization_id: int | None
    org_parent_id: int | None  # the reseller of the user's organization, if any


@dataclass(frozen=True)
class ConversationRef:
    id: int
    organization_id: int | None
    org_parent_id: int | None
    is_participant: bool  # the asking principal is a current participant
    is_open: bool
    # The reseller whose own first line holds the conversation's ticket: platform agents
    # reach it only once the partner transfers it (support admins still may, to oversee).
    handled_by_org_id: int | None = None


@dataclass(frozen=True)
class GroupRef:
    """A customer company's support chat group (chat.groups)."""

    id: int | None  # None: a group about to be created
    organization_id: int
    org_parent_id: int | None  # the company's reseller; None for a direct customer
    is_member: bool  # the asking principal is an active member


@dataclass(frozen=True)
class TicketRef:
    """A ticket (escalation/): its conversation, and how the asking principal relates to it."""

    conversation: ConversationRef
    is_requester: bool
    is_cc: bool
    # Partner first line: the reseller whose own queue holds it (None: platform staff's).
    handled_by_org_id: int | None = None


class Action(enum.StrEnum):
    READ_PROFILE = "read_profile"
    UPDATE_PROFILE = "update_profile"
    VIEW_ORGANIZATION = "view_organization"
    MANAGE_ORGANIZATION = "manage_organization"
    MANAGE_SITES = "manage_sites"
    VIEW_USER = "view_user"
    CREATE_USER = "create_user"
    DISABLE_USER = "disable_user"
    VIEW_CONVERSATION = "view_conversation"
    POST_MESSAGE = "post_message"
    POST_INTERNAL_NOTE = "post_internal_note"
    VIEW_INTERNAL_NOTES = "view_internal_notes"
    # The agent console (chat/desk): queues, canned replies, customer notes, agents.
    VIEW_DESK = "view_desk"
    WORK_DESK = "work_desk"  # claim, resolve, write customer notes, set one's own status
    MANAGE_DESK = "manage_desk"  # edit assignment rules, canned replies, agents' limits
    # Group support chats (chat.groups) and system alerts.
    VIEW_GROUP = "view_group"  # that it exists, its name and settings (not its messages)
    MANAGE_GROUP = "manage_group"  # create, change settings, remove members
    REQUEST_GROUP_JOIN = "request_group_join"
    DECIDE_GROUP_JOIN = "decide_group_join"
    VIEW_GROUP_REQUESTS = "view_group_requests"  # other people's join requests
    OPEN_ALERT = "open_alert"
    VIEW_ALERTS = "view_alerts"
    # Tickets (escalation/).
    OPEN_TICKET = "open_ticket"  # for oneself (web form, widget offline form, API)
    OPEN_TICKET_FOR_OTHERS = "open_ticket_for_others"  # phone / e-mail intake by staff
    LIST_TICKETS = "list_tickets"
    VIEW_TICKET = "view_ticket"
    WORK_TICKET = "work_ticket"  # escalate, edit fields, assign, transfer, tasks
    TRANSFER_TO_PLATFORM = "transfer_to_platform"  # a partner hands its ticket to platform staff
    CHANGE_TICKET_STATUS = "change_ticket_status"  # the lifecycle decides which commands
    END_CONVERSATION = "end_conversation"  # the customer closes their own chat
    RATE_TICKET = "rate_ticket"
    MANAGE_SLA = "manage_sla"  # categories, calendars, policies, support groups
    VIEW_SLA = "view_sla"  # read the SLA policies and business calendars
    # E-mail out (chat.mail): the outbox as sent, and the suppression list.
    VIEW_SENT_MAIL = "view_sent_mail"
    MANAGE_MAIL_SUPPRESSIONS = "manage_mail_suppressions"
    # E-mail in (chat.mail.inbound): the received-mail log, spam, the sender block list.
    VIEW_RECEIVED_MAIL = "view_received_mail"
    DECIDE_SPAM = "decide_spam"  # mark a ticket as spam, "not spam", release a spam mail
    MANAGE_MAIL_BLOCKLIST = "manage_mail_blocklist"
    # Reports (chat.reports): the figures; which tickets they count is chat.reports.scope.
    VIEW_REPORTS = "view_reports"
    # Trust and safety (issue 20): signing in as a customer, and the audit log.
    IMPERSONATE = "impersonate"  # support admins
    IMPERSONATE_AS_AGENT = "impersonate_as_agent"  # also agents (IMPERSONATION_BY_AGENTS=true)
    VIEW_AUDIT = "view_audit"


Target = OrgRef | UserRef | ConversationRef | GroupRef | TicketRef | None

# What a reseller admin may create or switch off: its customers' people, never staff.
_RESELLER_MANAGED_ROLES = frozenset({Role.CUSTOMER, Role.RESELLER_ADMIN})


def _reseller_scope(p: Principal, org_id: int | None, org_parent_id: int | None) -> bool:
    """The reseller admin's own organization or one of its customers."""
    return (
        p.role is Role.RESELLER_ADMIN
        and p.organization_id is not None
        and (org_id == p.organization_id or org_parent_id == p.organization_id)
    )


def _any(p: Principal, t: Target) -> bool:
    return True


def _update_profile(p: Principal, t: Target) -> bool:
    return p.role is not Role.READ_ONLY


def _view_org(p: Principal, t: Target) -> bool:
    assert isinstance(t, OrgRef)
    if p.is_staff:
        return True
    if p.role is Role.RESELLER_ADMIN:
        return _reseller_scope(p, t.id, t.parent_id)
    return t.id is not None and t.id == p.organization_id


def _manage_org(p: Principal, t: Target) -> bool:
    assert isinstance(t, OrgRef)
    if p.role is Role.SUPPORT_ADMIN:
        return True
    # A reseller signs up its own customer companies, and only under itself.
    return (
        p.role is Role.RESELLER_ADMIN
        and t.kind is OrgKind.CUSTOMER
        and t.parent_id is not None
        and t.parent_id == p.organization_id
    )


def _manage_sites(p: Principal, t: Target) -> bool:
    return p.role is Role.SUPPORT_ADMIN


def _view_user(p: Principal, t: Target) -> bool:
    assert isinstance(t, UserRef)
    if t.id is not None and t.id == p.user_id:
        return True
    if p.is_staff:
        return True
    return _reseller_scope(p, t.organization_id, t.org_parent_id)


def _create_user(p: Principal, t: Target) -> bool:
    assert isinstance(t, UserRef)
    if p.role is Role.SUPPORT_ADMIN:
        return True
    return t.role in _RESELLER_MANAGED_ROLES and _reseller_scope(p, t.organization_id, t.org_parent_id)


def _disable_user(p: Principal, t: Target) -> bool:
    assert isinstance(t, UserRef)
    if t.id is not None and t.id == p.user_id:
        return False  # locking yourself out is never what was meant
    if p.role is Role.SUPPORT_ADMIN:
        return True
    return t.role in _RESELLER_MANAGED_ROLES and _reseller_scope(p, t.organization_id, t.org_parent_id)


def _view_conversation(p: Principal, t: Target) -> bool:
    assert isinstance(t, ConversationRef)
    if p.is_staff or t.is_participant:
        return True
    return _reseller_scope(p, t.organization_id, t.org_parent_id)


def _post_message(p: Principal, t: Target) -> bool:
    assert isinstance(t, ConversationRef)
    if not t.is_open:
        return False  # closed is final, for everyone (sends answer conversation_closed)
    if p.role is Role.SUPPORT_ADMIN:
        return True
    if p.role is Role.AGENT:
        return t.handled_by_org_id is None
    if p.role is Role.READ_ONLY:
        return False
    return t.is_participant


def _post_internal_note(p: Principal, t: Target) -> bool:
    assert isinstance(t, ConversationRef)
    return t.is_open and p.role in {Role.AGENT, Role.SUPPORT_ADMIN}


def _view_internal_notes(p: Principal, t: Target) -> bool:
    return p.is_staff


def _view_desk(p: Principal, t: Target) -> bool:
    return p.is_staff  # read-only users see everything the desk shows


def _work_desk(p: Principal, t: Target) -> bool:
    return p.role in {Role.AGENT, Role.SUPPORT_ADMIN}


def _manage_desk(p: Principal, t: Target) -> bool:
    return p.role is Role.SUPPORT_ADMIN


def _view_group(p: Principal, t: Target) -> bool:
    assert isinstance(t, GroupRef)
    if p.is_staff or t.is_member:
        return True
    # Its own company's people see its groups, to ask to join one.
    return t.organization_id == p.organization_id or _reseller_scope(p, t.organization_id, t.org_parent_id)


def _manage_group(p: Principal, t: Target) -> bool:
    assert isinstance(t, GroupRef)
    if p.role in {Role.AGENT, Role.SUPPORT_ADMIN}:
        return True
    return _reseller_scope(p, t.organization_id, t.org_parent_id)


def _request_group_join(p: Principal, t: Target) -> bool:
    assert isinstance(t, GroupRef)
    # An account of the group's own company (FFC): not a visitor, not staff, not a reseller.
    return p.role is Role.CUSTOMER and p.organization_id == t.organization_id and not t.is_member


def _decide_group_join(p: Principal, t: Target) -> bool:
    assert isinstance(t, GroupRef)
    if p.role is Role.SUPPORT_ADMIN:
        return True
    if t.org_parent_id is None:
        return p.role is Role.AGENT  # a direct customer: platform staff decide (FFC)
    return p.role is Role.RESELLER_ADMIN and p.organization_id == t.org_parent_id


def _view_group_requests(p: Principal, t: Target) -> bool:
    assert isinstance(t, GroupRef)
    return p.is_staff or (p.role is Role.RESELLER_ADMIN and p.organization_id == t.org_parent_id)


def _open_alert(p: Principal, t: Target) -> bool:
    assert isinstance(t, OrgRef)
    return p.role in {Role.AGENT, Role.SUPPORT_ADMIN} and t.kind is OrgKind.CUSTOMER


def _view_alerts(p: Principal, t: Target) -> bool:
    assert isinstance(t, OrgRef)
    if p.is_staff:
        return True
    return (t.id is not None and t.id == p.organization_id) or _reseller_scope(p, t.id, t.parent_id)


def _open_ticket(p: Principal, t: Target) -> bool:
    return p.role is not Role.READ_ONLY


def _open_ticket_for_others(p: Principal, t: Target) -> bool:
    return p.role in {Role.AGENT, Role.SUPPORT_ADMIN}


def _list_tickets(p: Principal, t: Target) -> bool:
    # A reseller admin lists its own partner queue only (the query is scoped to it).
    return p.is_staff or p.role is Role.RESELLER_ADMIN


def _view_ticket(p: Principal, t: Target) -> bool:
    assert isinstance(t, TicketRef)
    return t.is_requester or t.is_cc or _view_conversation(p, t.conversation)


def _partner_handles(p: Principal, t: TicketRef) -> bool:
    """The asker is an admin of the reseller whose own first line holds the ticket."""
    return (
        p.role is Role.RESELLER_ADMIN
        and t.handled_by_org_id is not None
        and t.handled_by_org_id == p.organization_id
    )


def _work_ticket(p: Principal, t: Target) -> bool:
    assert isinstance(t, TicketRef)
    if t.handled_by_org_id is not None:
        # In a partner's queue it reaches platform agents only when the partner transfers
        # it; support admins keep oversight.
        return p.role is Role.SUPPORT_ADMIN or _partner_handles(p, t)
    return p.role in {Role.AGENT, Role.SUPPORT_ADMIN}


def _transfer_to_platform(p: Principal, t: Target) -> bool:
    assert isinstance(t, TicketRef)
    return p.role is Role.SUPPORT_ADMIN or _partner_handles(p, t)


def _change_ticket_status(p: Principal, t: Target) -> bool:
    assert isinstance(t, TicketRef)
    # The requester may reopen or close their own ticket; the lifecycle refuses the rest.
    return _work_ticket(p, t) or (t.is_requester and p.role is not Role.READ_ONLY)


def _end_conversation(p: Principal, t: Target) -> bool:
    assert isinstance(t, TicketRef)
    return t.is_requester and not p.is_staff


def _manage_sla(p: Principal, t: Target) -> bool:
    return p.role is Role.SUPPORT_ADMIN


def _view_sla(p: Principal, t: Target) -> bool:
    # Reseller admins sell SLA to their customers and work their partner queue against
    # these targets: they read the policies and calendars (not the platform's support
    # groups, which are the desk's: Action.VIEW_DESK).
    return p.is_staff or p.role is Role.RESELLER_ADMIN


def _view_sent_mail(p: Principal, t: Target) -> bool:
    # Support admins only, not read-only staff: sent mails carry live links (password
    # reset, invitation, rating) that act as their recipient.
    return p.role is Role.SUPPORT_ADMIN


def _manage_mail_suppressions(p: Principal, t: Target) -> bool:
    return p.role is Role.SUPPORT_ADMIN


def _view_received_mail(p: Principal, t: Target) -> bool:
    # Unlike sent mail, a received mail carries no link of ours that acts as anybody:
    # read-only staff may look (they see the tickets these mails opened anyway).
    return p.is_staff


def _decide_spam(p: Principal, t: Target) -> bool:
    return p.role in {Role.AGENT, Role.SUPPORT_ADMIN}


def _manage_mail_blocklist(p: Principal, t: Target) -> bool:
    return p.role is Role.SUPPORT_ADMIN


def _view_reports(p: Principal, t: Target) -> bool:
    # Staff see the desk's figures (agents: scoped to their own and their groups'); a
    # reseller admin its customers'; customers and visitors none (they are the figures).
    return p.is_staff or p.role is Role.RESELLER_ADMIN


def _impersonate(p: Principal, t: Target) -> bool:
    assert isinstance(t, UserRef)
    # Staff only, acting as themselves (no nesting), and only as a customer: never as
    # staff (whose rights are wider than the customer's they diagnose) nor as a partner.
    return p.role is Role.SUPPORT_ADMIN and not p.impersonated and t.role is Role.CUSTOMER


def _impersonate_as_agent(p: Principal, t: Target) -> bool:
    assert isinstance(t, UserRef)
    return (p.role is Role.AGENT and not p.impersonated and t.role is Role.CUSTOMER) or _impersonate(p, t)


def _view_audit(p: Principal, t: Target) -> bool:
    # Support admins, and read-only staff (auditors): they see everything and change nothing.
    return p.role in {Role.SUPPORT_ADMIN, Role.READ_ONLY} and not p.impersonated


_RULES: dict[Action, tuple[type | None, Callable[[Principal, Target], bool]]] = {
    Action.READ_PROFILE: (None, _any),
    Action.UPDATE_PROFILE: (None, _update_profile),
    Action.VIEW_ORGANIZATION: (OrgRef, _view_org),
    Action.MANAGE_ORGANIZATION: (OrgRef, _manage_org),
    Action.MANAGE_SITES: (None, _manage_sites),
    Action.VIEW_USER: (UserRef, _view_user),
    Action.CREATE_USER: (UserRef, _create_user),
    Action.DISABLE_USER: (UserRef, _disable_user),
    Action.VIEW_CONVERSATION: (ConversationRef, _view_conversation),
    Action.POST_MESSAGE: (ConversationRef, _post_message),
    Action.POST_INTERNAL_NOTE: (ConversationRef, _post_internal_note),
    Action.VIEW_INTERNAL_NOTES: (None, _view_internal_notes),
    Action.VIEW_DESK: (None, _view_desk),
    Action.WORK_DESK: (None, _work_desk),
    Action.MANAGE_DESK: (None, _manage_desk),
    Action.VIEW_GROUP: (GroupRef, _view_group),
    Action.MANAGE_GROUP: (GroupRef, _manage_group),
    Action.REQUEST_GROUP_JOIN: (GroupRef, _request_group_join),
    Action.DECIDE_GROUP_JOIN: (GroupRef, _decide_group_join),
    Action.VIEW_GROUP_REQUESTS: (GroupRef, _view_group_requests),
    Action.OPEN_ALERT: (OrgRef, _open_alert),
    Action.VIEW_ALERTS: (OrgRef, _view_alerts),
    Action.OPEN_TICKET: (None, _open_ticket),
    Action.OPEN_TICKET_FOR_OTHERS: (None, _open_ticket_for_others),
    Action.LIST_TICKETS: (None, _list_tickets),
    Action.VIEW_TICKET: (TicketRef, _view_ticket),
    Action.WORK_TICKET: (TicketRef, _work_ticket),
    Action.TRANSFER_TO_PLATFORM: (TicketRef, _transfer_to_platform),
    Action.CHANGE_TICKET_STATUS: (TicketRef, _change_ticket_status),
    Action.END_CONVERSATION: (TicketRef, _end_conversation),
    Action.RATE_TICKET: (TicketRef, _end_conversation),  # the requester, as for ending it
    Action.MANAGE_SLA: (None, _manage_sla),
    Action.VIEW_SLA: (None, _view_sla),
    Action.VIEW_SENT_MAIL: (None, _view_sent_mail),
    Action.MANAGE_MAIL_SUPPRESSIONS: (None, _manage_mail_suppressions),
    Action.VIEW_RECEIVED_MAIL: (None, _view_received_mail),
    Action.DECIDE_SPAM: (None, _decide_spam),
    Action.MANAGE_MAIL_BLOCKLIST: (None, _manage_mail_blocklist),
    Action.VIEW_REPORTS: (None, _view_reports),
    Action.IMPERSONATE: (UserRef, _impersonate),
    Action.IMPERSONATE_AS_AGENT: (UserRef, _impersonate_as_agent),
    Action.VIEW_AUDIT: (None, _view_audit),
}


def can(principal: Principal, action: Action, target: Target = None) -> bool:
    """Whether ``principal`` may do ``action`` on ``target``."""
    expected, rule = _RULES[action]
    if expected is not None and not isinstance(target, expected):
        raise TypeError(f"{action} needs a {expected.__name__}, got {type(target).__name__}")
    return rule(principal, target)


def require(principal: Principal, action: Action, target: Target = None) -> None:
    """Raise :class:`Forbidden` unless :func:`can` allows it."""
    if not can(principal, action, target):
        raise Forbidden(f"you may not {action.value.replace('_', ' ')}")
