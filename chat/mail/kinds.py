"""The kinds of mail the product sends: who receives each, whether a user may switch it
off, and whether it is on when a user never said. Pure: no I/O.

Each kind is one switch in a user's notification preferences (``notification_prefs``,
``{kind: bool}``) and one ``List-Unsubscribe`` target. Essential kinds (password reset,
invitation) cannot be switched off: without them nobody can get into the product.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Audience(enum.StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    ANYONE = "anyone"


class MailKind(enum.StrEnum):
    # customers: the requester and the ticket's CC people
    TICKET_OPENED = "ticket_opened"  # confirmation with the ticket's number (BX)
    SUPPORT_REPLY = "support_reply"  # a public reply while they are not in the chat (FFC, SKAI)
    CLOSE_PROPOSED = "close_proposed"  # "an e-mail proposing to close" (FFC), with when it closes
    TICKET_CLOSED = "ticket_closed"  # closed; carries the rating request (SKAI, BX)
    TICKET_REOPENED = "ticket_reopened"
    SYSTEM_ALERT = "system_alert"  # a system alert for their company (PSD)
    JOIN_DECIDED = "join_decided"  # their group join request approved or rejected
    OFFLINE_RECEIVED = "offline_received"  # the widget's offline form: "we will reply by e-mail"
    # staff
    TICKET_ASSIGNED = "ticket_assigned"  # assigned to you (BX: the assignee is notified)
    GROUP_TRANSFER = "group_transfer"  # transferred to your group
    UNASSIGNED_TICKET = "unassigned_ticket"  # new ticket no rule assigned (support admins)
    CUSTOMER_REPLIED = "customer_replied"  # on your ticket while you are offline
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    ESCALATION = "escalation"  # a notify_* step of the escalation ladder
    # accounts: cannot be switched off
    PASSWORD_RESET = "password_reset"
    INVITATION = "invitation"
    # Support signed in as the customer (chat.impersonation): a security notice.
    ACCOUNT_ACCESSED = "account_accessed"


@dataclass(frozen=True)
class KindInfo:
    audience: Audience
    essential: bool = False
    """Always sent: no switch, no unsubscribe link."""
    notification: bool = True
    """An automatic notification: ``Auto-Submitted: auto-generated`` and
    ``X-Auto-Response-Suppress: All``, so out-of-office replies stay away."""


KINDS: Mapping[MailKind, KindInfo] = {
    MailKind.TICKET_OPENED: KindInfo(Audience.CUSTOMER),
    # A reply is a person's words, not a robot's: mail clients may auto-answer it.
    MailKind.SUPPORT_REPLY: KindInfo(Audience.CUSTOMER, notification=False),
    MailKind.CLOSE_PROPOSED: KindInfo(Audience.CUSTOMER),
    MailKind.TICKET_CLOSED: KindInfo(Audience.CUSTOMER),
    MailKind.TICKET_REOPENED: KindInfo(Audience.CUSTOMER),
    MailKind.SYSTEM_ALERT: KindInfo(Audience.CUSTOMER),
    MailKind.JOIN_DECIDED: KindInfo(Audience.CUSTOMER),
    MailKind.OFFLINE_RECEIVED: KindInfo(Audience.CUSTOMER),
    MailKind.TICKET_ASSIGNED: KindInfo(Audience.STAFF),
    MailKind.GROUP_TRANSFER: KindInfo(Audience.STAFF),
    MailKind.UNASSIGNED_TICKET: KindInfo(Audience.STAFF),
    MailKind.CUSTOMER_REPLIED: KindInfo(Audience.STAFF),
    MailKind.SLA_WARNING: KindInfo(Audience.STAFF),
    MailKind.SLA_BREACH: KindInfo(Audience.STAFF),
    MailKind.ESCALATION: KindInfo(Audience.STAFF),
    MailKind.PASSWORD_RESET: KindInfo(Audience.ANYONE, essential=True),
    MailKind.INVITATION: KindInfo(Audience.ANYONE, essential=True),
    # Essential: who entered one's account is not a notification one may switch off.
    MailKind.ACCOUNT_ACCESSED: KindInfo(Audience.CUSTOMER, essential=True),
}

SWITCHABLE = frozenset(kind for kind, info in KINDS.items() if not info.essential)

# The three switches profiles stored before mail had kinds: each stood for these kinds of
# its user's audience. A profile update still accepts them (they expand), and a stored
# "off" is still honoured.
LEGACY_KEYS: Mapping[Audience, Mapping[str, tuple[MailKind, ...]]] = {
    Audience.CUSTOMER: {
        "email_on_reply": (MailKind.SUPPORT_REPLY,),
        "email_on_status_change": (MailKind.TICKET_OPENED, MailKind.CLOSE_PROPOSED, MailKind.TICKET_CLOSED,
                                   MailKind.TICKET_REOPENED, MailKind.JOIN_DECIDED, MailKind.OFFLINE_RECEIVED),
        "email_on_alert": (MailKind.SYSTEM_ALERT,),
    },
    Audience.STAFF: {
        "email_on_reply": (MailKind.CUSTOMER_REPLIED,),
        "email_on_status_change": (MailKind.TICKET_ASSIGNED, MailKind.GROUP_TRANSFER, MailKind.UNASSIGNED_TICKET),
        "email_on_alert": (MailKind.SLA_WARNING, MailKind.SLA_BREACH, MailKind.ESCALATION),
    },
}
# The audiences are disjoint, so each kind has at most one legacy key.
_LEGACY_OF = {kind: key for keys in LEGACY_KEYS.values() for key, kinds in keys.items() for kind in kinds}


def wants(prefs: Mapping[str, object], kind: MailKind) -> bool:
    """Whether a user with these preferences receives ``kind``: essential kinds always,
    the others unless switched off — by the kind's own switch, or failing that by the
    legacy key that stood for it. Every switch starts on: the source documents all mail
    by default, and a user opts out in their profile or by the unsubscribe link."""
    if KINDS[kind].essential:
        return True
    if kind.value in prefs:
        return prefs[kind.value] is not False
    legacy = _LEGACY_OF.get(kind)
    return legacy is None or prefs.get(legacy) is not False
