"""Which ticket a received mail continues, and whether its sender may write there. Pure:
the signature checks are passed in (:class:`Readers`, built from the mail identity by
the intake), so this module needs neither the key nor the compose module.

Candidates come in the order of issue 16, item 2 — the cheapest to forge last:

1. a ``<local>+<thread token>@`` recipient (our Reply-To on every ticket mail);
2. every ``In-Reply-To`` / ``References`` id we signed (not only the first: a client
   that answers a colleague's copy puts our id further down the chain);
3. ``[#123]`` in the subject;
4. in the body: a signed thread token (a quoted Message-ID or Reply-To), or, after our
   "reply above this line" marker, the quoted ``#123`` of the mail answered.

3 and 4b are guessable; that is why :func:`may_continue` decides, not the candidate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from chat.mail.inbound.message import ParsedMail

_MAX_TICKET = 2**63 - 1  # storage's BigInteger: a longer number is nobody's ticket
_SUBJECT_NUMBER = re.compile(r"\[#([1-9][0-9]{0,18})\]")
_BODY_TOKEN = re.compile(r"(?<![0-9A-Za-z])t[1-9][0-9]{0,18}\.[0-9a-f]{16}(?![0-9a-f])")
_BODY_NUMBER = re.compile(r"#([1-9][0-9]{0,18})(?![0-9])")
# How far after the marker the quoted mail's ticket number may stand: its heading or
# first paragraph; a number deep in a long quoted thread is someone else's talk.
_MARKER_WINDOW = 2000


@dataclass(frozen=True)
class Readers:
    """How to read a ticket number from our signed ids and addresses."""

    of_message_id: Callable[[str], int | None]
    """:func:`chat.mail.compose.ticket_of_message_id` with our key."""
    of_address: Callable[[str], int | None]
    """:func:`chat.mail.compose.ticket_of_address` with our identity."""
    marker: str
    """:data:`chat.mail.compose.REPLY_MARKER`."""


@dataclass(frozen=True)
class Candidate:
    ticket: int
    via: str
    """``"address"``, ``"references"``, ``"subject"`` or ``"body"``: said in the log."""


def _number(digits: str) -> int | None:
    value = int(digits)
    return value if 0 < value <= _MAX_TICKET else None


def candidates(mail: ParsedMail, recipients: Sequence[str], readers: Readers) -> list[Candidate]:
    """The tickets ``mail`` may continue, best first, each once (first reason kept).
    ``recipients``: the envelope's (SMTP ``RCPT TO``), looked at with To and Cc."""
    found: dict[int, Candidate] = {}

    def add(ticket: int | None, via: str) -> None:
        if ticket is not None and ticket not in found:
            found[ticket] = Candidate(ticket, via)

    for address in (*recipients, *mail.to, *mail.cc):
        add(readers.of_address(address), "address")
    for message_id in (*mail.in_reply_to, *mail.references):
        add(readers.of_message_id(message_id), "references")
    for match in _SUBJECT_NUMBER.finditer(mail.subject):
        add(_number(match.group(1)), "subject")
    for match in _BODY_TOKEN.finditer(mail.full_text):
        # The id's domain is not what the signature covers: any will do.
        add(readers.of_message_id(f"{match.group(0)}@body"), "body")
    at = mail.full_text.find(readers.marker) if readers.marker else -1
    if at >= 0:
        window = mail.full_text[at + len(readers.marker): at + len(readers.marker) + _MARKER_WINDOW]
        first = _BODY_NUMBER.search(window)
        if first is not None:
            add(_number(first.group(1)), "body")
    return list(found.values())


@dataclass(frozen=True)
class TicketPeople:
    """Who may write in a ticket by mail: its requester, its CCs, and its company."""

    requester_id: int | None
    cc: Iterable[int]
    organization_id: int | None


def may_continue(ticket: TicketPeople, *, sender_id: int | None, sender_org: int | None) -> bool:
    """Whether a mail from this sender may continue the ticket (issue 16, item 2): the
    requester, a CC, or a user of the same customer company. A sender not yet a user
    (``sender_id`` None) qualifies only by company. Everyone else gets a new ticket: a
    guessed ``[#123]`` must not let a stranger into someone else's conversation."""
    if sender_id is not None and (sender_id == ticket.requester_id or sender_id in set(ticket.cc)):
        return True
    return sender_org is not None and sender_org == ticket.organization_id
