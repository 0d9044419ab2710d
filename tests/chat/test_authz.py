"""The authorization matrix: every role × every action so far, as one table."""

from __future__ import annotations

import pytest

from chat.authz import (
    Action,
    ConversationRef,
    GroupRef,
    OrgRef,
    Principal,
    Target,
    TicketRef,
    UserRef,
    can,
    require,
)
from chat.errors import Forbidden
from chat.models import OrgKind, Role

# Reseller 20 has customer company 10; reseller 21 has customer company 11.
PRINCIPALS = {
    "V": Principal(1, Role.VISITOR, None, site_id=5),
    "C": Principal(2, Role.CUSTOMER, 10),
    "A": Principal(3, Role.AGENT, None),
    "S": Principal(4, Role.SUPPORT_ADMIN, None),
    "R": Principal(5, Role.RESELLER_ADMIN, 20),
    "O": Principal(6, Role.READ_ONLY, None),
}

TICKET_OWN = TicketRef(ConversationRef(1, 10, 20, True, True), is_requester=True, is_cc=False)
TICKET_CC = TicketRef(ConversationRef(1, 10, 20, False, True), is_requester=False, is_cc=True)
TICKET_FOREIGN_20 = TicketRef(ConversationRef(2, 10, 20, False, True), is_requester=False, is_cc=False)
TICKET_FOREIGN_21 = TicketRef(ConversationRef(3, 11, 21, False, True), is_requester=False, is_cc=False)
# Partner first line: in reseller 20's (or 21's) own queue.
TICKET_PARTNER_20 = TicketRef(ConversationRef(4, 10, 20, False, True), is_requester=False, is_cc=False,
                              handled_by_org_id=20)
TICKET_PARTNER_21 = TicketRef(ConversationRef(5, 11, 21, False, True), is_requester=False, is_cc=False,
                              handled_by_org_id=21)

# Each row: action, target, the roles (by letter, in the order V C A S R O) that may.
MATRIX: list[tuple[str, Action, Target, str]] = [
    ("read own profile", Action.READ_PROFILE, None, "VCASRO"),
    ("update own profile", Action.UPDATE_PROFILE, None, "VCASR-"),
    ("view customer org of reseller 20", Action.VIEW_ORGANIZATION, OrgRef(10, OrgKind.CUSTOMER, 20), "-CASRO"),
    ("view reseller 20 itself", Action.VIEW_ORGANIZATION, OrgRef(20, OrgKind.RESELLER, None), "--ASRO"),
    ("view customer org of reseller 21", Action.VIEW_ORGANIZATION, OrgRef(11, OrgKind.CUSTOMER, 21), "--AS-O"),
    ("create customer org under 20", Action.MANAGE_ORGANIZATION, OrgRef(None, OrgKind.CUSTOMER, 20), "---SR-"),
    ("create customer org under 21", Action.MANAGE_ORGANIZATION, OrgRef(None, OrgKind.CUSTOMER, 21), "---S--"),
    ("create a reseller", Action.MANAGE_ORGANIZATION, OrgRef(None, OrgKind.RESELLER, None), "---S--"),
    ("manage widget sites", Action.MANAGE_SITES, None, "---S--"),
    ("view a customer of reseller 20", Action.VIEW_USER, UserRef(99, Role.CUSTOMER, 10, 20), "--ASRO"),
    ("view a customer of reseller 21", Action.VIEW_USER, UserRef(98, Role.CUSTOMER, 11, 21), "--AS-O"),
    ("view an agent", Action.VIEW_USER, UserRef(97, Role.AGENT, None, None), "--AS-O"),
    ("create a customer of reseller 20", Action.CREATE_USER, UserRef(None, Role.CUSTOMER, 10, 20), "---SR-"),
    ("create a customer of reseller 21", Action.CREATE_USER, UserRef(None, Role.CUSTOMER, 11, 21), "---S--"),
    ("create an agent", Action.CREATE_USER, UserRef(None, Role.AGENT, None, None), "---S--"),
    ("create a support admin", Action.CREATE_USER, UserRef(None, Role.SUPPORT_ADMIN, None, None), "---S--"),
    ("disable a customer of reseller 20", Action.DISABLE_USER, UserRef(99, Role.CUSTOMER, 10, 20), "---SR-"),
    ("disable a customer of reseller 21", Action.DISABLE_USER, UserRef(98, Role.CUSTOMER, 11, 21), "---S--"),
    ("disable an agent", Action.DISABLE_USER, UserRef(97, Role.AGENT, None, None), "---S--"),
    ("view a conversation one takes part in", Action.VIEW_CONVERSATION, ConversationRef(1, 10, 20, True, True), "VCASRO"),
    ("view a foreign conversation of reseller 20", Action.VIEW_CONVERSATION, ConversationRef(2, 10, 20, False, True), "--ASRO"),
    ("view a foreign conversation of reseller 21", Action.VIEW_CONVERSATION, ConversationRef(3, 11, 21, False, True), "--AS-O"),
    ("post in an open conversation one takes part in", Action.POST_MESSAGE, ConversationRef(1, 10, 20, True, True), "VCASR-"),
    # Closed is final, for everyone: staff neither reply nor add notes (conversation_closed).
    ("post in a closed conversation one takes part in", Action.POST_MESSAGE, ConversationRef(1, 10, 20, True, False), "------"),
    ("post in a foreign conversation", Action.POST_MESSAGE, ConversationRef(3, 11, 21, False, True), "--AS--"),
    # Held by reseller 20's own first line: platform agents only after the partner transfers it.
    ("post in a partner-held conversation one takes part in", Action.POST_MESSAGE,
     ConversationRef(4, 10, 20, True, True, handled_by_org_id=20), "VC-SR-"),
    ("post in a partner-held foreign conversation", Action.POST_MESSAGE,
     ConversationRef(4, 10, 20, False, True, handled_by_org_id=20), "---S--"),
    ("post an internal note", Action.POST_INTERNAL_NOTE, ConversationRef(1, 10, 20, True, True), "--AS--"),
    ("post an internal note in a closed conversation", Action.POST_INTERNAL_NOTE, ConversationRef(1, 10, 20, True, False), "------"),
    ("see internal notes", Action.VIEW_INTERNAL_NOTES, None, "--AS-O"),
    ("see the desk: queues, canned replies, customer notes", Action.VIEW_DESK, None, "--AS-O"),
    ("work the desk: claim, resolve, write customer notes", Action.WORK_DESK, None, "--AS--"),
    ("configure the desk: rules, canned replies, agent limits", Action.MANAGE_DESK, None, "---S--"),
    # Group support chats: company 10 (reseller 20), company 11 (reseller 21), direct customer 12.
    ("view a group of one's own company", Action.VIEW_GROUP, GroupRef(1, 10, 20, False), "-CASRO"),
    ("view a group one is a member of", Action.VIEW_GROUP, GroupRef(1, 10, 20, True), "VCASRO"),
    ("view a group of reseller 21's customer", Action.VIEW_GROUP, GroupRef(2, 11, 21, False), "--AS-O"),
    ("manage a group of reseller 20's customer", Action.MANAGE_GROUP, GroupRef(1, 10, 20, False), "--ASR-"),
    ("manage a group of reseller 21's customer", Action.MANAGE_GROUP, GroupRef(2, 11, 21, False), "--AS--"),
    ("ask to join a group of one's own company", Action.REQUEST_GROUP_JOIN, GroupRef(1, 10, 20, False), "-C----"),
    ("ask to join a group one is already in", Action.REQUEST_GROUP_JOIN, GroupRef(1, 10, 20, True), "------"),
    ("ask to join another company's group", Action.REQUEST_GROUP_JOIN, GroupRef(2, 11, 21, False), "------"),
    ("decide a join to reseller 20's customer's group", Action.DECIDE_GROUP_JOIN, GroupRef(1, 10, 20, False), "---SR-"),
    ("decide a join to reseller 21's customer's group", Action.DECIDE_GROUP_JOIN, GroupRef(2, 11, 21, False), "---S--"),
    ("decide a join to a direct customer's group", Action.DECIDE_GROUP_JOIN, GroupRef(3, 12, None, False), "--AS--"),
    ("see join requests of reseller 20's customer", Action.VIEW_GROUP_REQUESTS, GroupRef(1, 10, 20, False), "--ASRO"),
    ("see join requests of reseller 21's customer", Action.VIEW_GROUP_REQUESTS, GroupRef(2, 11, 21, False), "--AS-O"),
    ("see join requests of a direct customer", Action.VIEW_GROUP_REQUESTS, GroupRef(3, 12, None, False), "--AS-O"),
    ("open an alert to a customer company", Action.OPEN_ALERT, OrgRef(10, OrgKind.CUSTOMER, 20), "--AS--"),
    ("open an alert to a reseller", Action.OPEN_ALERT, OrgRef(20, OrgKind.RESELLER, None), "------"),
    ("see the alerts of one's own company", Action.VIEW_ALERTS, OrgRef(10, OrgKind.CUSTOMER, 20), "-CASRO"),
    ("see the alerts of reseller 21's customer", Action.VIEW_ALERTS, OrgRef(11, OrgKind.CUSTOMER, 21), "--AS-O"),
    # Tickets. OWN: the asker requested it (and takes part); CC'D: named in CC only;
    # FOREIGN_20 / FOREIGN_21: a ticket of reseller 20's / 21's customer, unrelated to the asker.
    ("open a ticket for oneself", Action.OPEN_TICKET, None, "VCASR-"),
    ("open a ticket for a caller (phone, e-mail)", Action.OPEN_TICKET_FOR_OTHERS, None, "--AS--"),
    ("list and search tickets (a reseller admin: its own partner queue)", Action.LIST_TICKETS, None, "--ASRO"),
    ("view one's own ticket", Action.VIEW_TICKET, TICKET_OWN, "VCASRO"),
    ("view a ticket one is CC'd on", Action.VIEW_TICKET, TICKET_CC, "VCASRO"),
    ("view a ticket of reseller 20's customer", Action.VIEW_TICKET, TICKET_FOREIGN_20, "--ASRO"),
    ("view a ticket of reseller 21's customer", Action.VIEW_TICKET, TICKET_FOREIGN_21, "--AS-O"),
    ("work a ticket: escalate, edit, assign, tasks", Action.WORK_TICKET, TICKET_OWN, "--AS--"),
    ("change the status of one's own ticket", Action.CHANGE_TICKET_STATUS, TICKET_OWN, "VCASR-"),
    ("change the status of someone else's ticket", Action.CHANGE_TICKET_STATUS, TICKET_FOREIGN_20, "--AS--"),
    ("change the status of a ticket one is CC'd on", Action.CHANGE_TICKET_STATUS, TICKET_CC, "--AS--"),
    # Partner first line: reseller 20's queue is worked by its admins (and support admins),
    # not by platform agents until reseller 20 transfers it.
    ("view a ticket in reseller 20's queue", Action.VIEW_TICKET, TICKET_PARTNER_20, "--ASRO"),
    ("work a ticket in reseller 20's queue", Action.WORK_TICKET, TICKET_PARTNER_20, "---SR-"),
    ("work a ticket in reseller 21's queue", Action.WORK_TICKET, TICKET_PARTNER_21, "---S--"),
    ("change the status of a ticket in reseller 20's queue", Action.CHANGE_TICKET_STATUS, TICKET_PARTNER_20,
     "---SR-"),
    ("transfer a ticket of reseller 20's queue to the platform", Action.TRANSFER_TO_PLATFORM, TICKET_PARTNER_20,
     "---SR-"),
    ("transfer a ticket of reseller 21's queue to the platform", Action.TRANSFER_TO_PLATFORM, TICKET_PARTNER_21,
     "---S--"),
    ("transfer a platform ticket to the platform", Action.TRANSFER_TO_PLATFORM, TICKET_FOREIGN_20, "---S--"),
    ("end one's own chat", Action.END_CONVERSATION, TICKET_OWN, "VC--R-"),
    ("end someone else's chat", Action.END_CONVERSATION, TICKET_FOREIGN_20, "------"),
    ("rate one's own ticket", Action.RATE_TICKET, TICKET_OWN, "VC--R-"),
    ("rate a ticket one is CC'd on", Action.RATE_TICKET, TICKET_CC, "------"),
    ("manage SLA: categories, calendars, policies, groups", Action.MANAGE_SLA, None, "---S--"),
    # Reseller admins sell SLA: they read policies and calendars; support groups are the desk's.
    ("read SLA policies and calendars", Action.VIEW_SLA, None, "--ASRO"),
    ("read sent mail (it carries live account links)", Action.VIEW_SENT_MAIL, None, "---S--"),
    ("clear suppressed mail addresses", Action.MANAGE_MAIL_SUPPRESSIONS, None, "---S--"),
    ("read received mail and the spam view", Action.VIEW_RECEIVED_MAIL, None, "--AS-O"),
    ("mark spam, not spam, release a spam mail", Action.DECIDE_SPAM, None, "--AS--"),
    ("edit the sender block list", Action.MANAGE_MAIL_BLOCKLIST, None, "---S--"),
    # Reports: which tickets they count is chat.reports.scope (agents: own and led groups';
    # a reseller admin: its customers'); customers and visitors see none.
    ("see reports", Action.VIEW_REPORTS, None, "--ASRO"),
    # Impersonation (issue 20): support admins (agents too when IMPERSONATION_BY_AGENTS is
    # on), only as a customer; the audit log: support admins and read-only staff.
    ("sign in as a customer", Action.IMPERSONATE, UserRef(99, Role.CUSTOMER, 10, 20), "---S--"),
    ("sign in as a customer (agents allowed)", Action.IMPERSONATE_AS_AGENT, UserRef(99, Role.CUSTOMER, 10, 20),
     "--AS--"),
    ("sign in as an agent", Action.IMPERSONATE, UserRef(97, Role.AGENT, None, None), "------"),
    ("sign in as an agent (agents allowed)", Action.IMPERSONATE_AS_AGENT, UserRef(97, Role.AGENT, None, None),
     "------"),
    ("sign in as a reseller admin", Action.IMPERSONATE, UserRef(96, Role.RESELLER_ADMIN, 20, None), "------"),
    ("sign in as a visitor", Action.IMPERSONATE, UserRef(95, Role.VISITOR, None, None), "------"),
    ("read the audit log", Action.VIEW_AUDIT, None, "---S-O"),
]


@pytest.mark.parametrize(("case", "action", "target", "allowed"), MATRIX, ids=[row[0] for row in MATRIX])
def test_matrix(case: str, action: Action, target: Target, allowed: str) -> None:
    assert len(allowed) == 6
    for letter, expected in zip("VCASRO", allowed, strict=True):
        principal = PRINCIPALS[letter]
        may = expected != "-"
        assert can(principal, action, target) is may, f"{principal.role.value} / {case}: expected {may}"
        if may:
            require(principal, action, target)
        else:
            with pytest.raises(Forbidden):
                require(principal, action, target)


def test_matrix_covers_every_action() -> None:
    assert {row[1] for row in MATRIX} == set(Action)


@pytest.mark.parametrize("letter", list("VCASRO"))
def test_everyone_sees_themselves_and_nobody_disables_themselves(letter: str) -> None:
    p = PRINCIPALS[letter]
    me = UserRef(p.user_id, p.role, p.organization_id, 20 if p.organization_id == 10 else None)
    assert can(p, Action.VIEW_USER, me)
    assert not can(p, Action.DISABLE_USER, me)


def test_wrong_target_kind_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        can(PRINCIPALS["A"], Action.VIEW_CONVERSATION, OrgRef(1, OrgKind.CUSTOMER, None))


def test_an_impersonated_session_impersonates_nobody_and_reads_no_audit() -> None:
    # The principal of an impersonated session is the customer; even were it staff, no
    # nesting: an impersonating principal may not start another impersonation.
    nested = Principal(4, Role.SUPPORT_ADMIN, None, impersonator_id=7)
    assert not can(nested, Action.IMPERSONATE, UserRef(99, Role.CUSTOMER, 10, 20))
    assert not can(nested, Action.IMPERSONATE_AS_AGENT, UserRef(99, Role.CUSTOMER, 10, 20))
    assert not can(nested, Action.VIEW_AUDIT)
