"""Which ticket a received mail names (chat.mail.inbound.threads) and who may write there;
free-mail domains and block patterns (chat.mail.inbound.senders). Pure: no database."""

from __future__ import annotations

from dataclasses import replace

from chat.mail.compose import (
    REPLY_MARKER,
    MailIdentity,
    thread_root,
    thread_token,
    ticket_of_address,
    ticket_of_message_id,
)
from chat.mail.inbound.message import ParsedMail
from chat.mail.inbound.senders import block_patterns, domain_of, is_free_mail
from chat.mail.inbound.threads import Candidate, Readers, TicketPeople, candidates, may_continue

SECRET = b"k" * 32
IDENTITY = MailIdentity("Support <support@help.example>", None, "https://help.example", SECRET)
READERS = Readers(
    of_message_id=lambda value: ticket_of_message_id(SECRET, value),
    of_address=lambda value: ticket_of_address(IDENTITY, value),
    marker=REPLY_MARKER,
)
BLANK = ParsedMail(
    message_id="<a@x.example>", sender="cat@acme.example", sender_name="Cat", reply_to=None, to=(), cc=(),
    subject="Hello", date=None, in_reply_to=(), references=(), text="hi", full_text="hi", files=(), auto=None,
    bounce=None, spam=False, size=100,
)


def test_each_way_names_its_ticket_in_the_issues_order() -> None:
    mail = replace(
        BLANK,
        to=(f"support+{thread_token(SECRET, 7)}@help.example",),
        in_reply_to=("<CAF123@mail.gmail.com>",),
        references=("<CAF000@mail.gmail.com>", thread_root(IDENTITY, 8)),  # ours is not the first id
        subject="Re: [#9] Printer [#10]",
        full_text=f"Thanks\n> Message-ID: <{thread_token(SECRET, 11)}.abcdef@help.example>\n"
                  f"{REPLY_MARKER}\nReply above.\nTicket #12 has an answer",
    )
    assert candidates(mail, ["support+" + thread_token(SECRET, 6) + "@help.example"], READERS) == [
        Candidate(6, "address"), Candidate(7, "address"), Candidate(8, "references"), Candidate(9, "subject"),
        Candidate(10, "subject"), Candidate(11, "body"), Candidate(12, "body"),
    ]


def test_a_ticket_named_twice_is_listed_once_by_its_best_way() -> None:
    mail = replace(BLANK, in_reply_to=(thread_root(IDENTITY, 5),), subject="Re: [#5] x")
    assert candidates(mail, [], READERS) == [Candidate(5, "references")]


def test_forged_and_foreign_names_give_nothing() -> None:
    forged = thread_token(b"other key" * 4, 5)
    mail = replace(
        BLANK,
        to=(f"support+{forged}@help.example", f"sales+{thread_token(SECRET, 5)}@help.example"),
        in_reply_to=(f"<{forged}@help.example>", "<garbage>", ""),
        references=("<t5.0000000000000000@help.example>",),
        subject="[#0] [#99999999999999999999] #5 [# 5]",
        full_text=f"{forged} and no marker, Ticket #5",
    )
    assert candidates(mail, ["support@help.example"], READERS) == []


def test_a_number_far_below_the_marker_is_not_read() -> None:
    mail = replace(BLANK, full_text=REPLY_MARKER + "\n" + "x" * 3000 + " #44")
    assert candidates(mail, [], READERS) == []


def test_who_may_continue_a_ticket() -> None:
    ticket = TicketPeople(requester_id=1, cc=[2], organization_id=10)
    assert may_continue(ticket, sender_id=1, sender_org=None)  # the requester
    assert may_continue(ticket, sender_id=2, sender_org=99)  # a CC
    assert may_continue(ticket, sender_id=3, sender_org=10)  # a colleague of the company
    assert may_continue(ticket, sender_id=None, sender_org=10)  # a new colleague, by domain
    assert not may_continue(ticket, sender_id=3, sender_org=11)  # a stranger who guessed the number
    assert not may_continue(ticket, sender_id=None, sender_org=None)
    lone = TicketPeople(requester_id=1, cc=[], organization_id=None)
    assert not may_continue(lone, sender_id=3, sender_org=None)  # no company: nobody else


def test_free_mail_domains() -> None:
    for domain in ("gmail.com", "yahoo.com", "yahoo.co.uk", "ymail.com", "outlook.com", "hotmail.fr", "mail.ru",
                   "yandex.ru", "gmx.de", "gmx.net", "web.de", "icloud.com", "proton.me", "eu.mail.com", "GMAIL.COM."):
        assert is_free_mail(domain), domain
    for domain in ("acme.example", "live.acme-corp.com", "outlook.acme.example", "mail.acme.example", "gmail.co.acme.org"):
        assert not is_free_mail(domain), domain
    assert is_free_mail("acme.example", ["Acme.Example"])
    assert is_free_mail("eu.acme.example", ["acme.example"])


def test_domains_and_block_patterns() -> None:
    assert domain_of("Cat@ACME.example") == "acme.example"
    assert domain_of("nobody") == ""
    assert block_patterns(" Cat@ACME.example ") == ("cat@acme.example", "@acme.example")
