"""Composing mails (chat.mail.compose): every kind in every language, escaping, header
injection, threading tokens, the notification and unsubscribe headers, time zones.

Every mail is read back with the stdlib parser, as a receiving mail client would."""

from __future__ import annotations

import email
import re
import string
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from chat.mail import catalog
from chat.mail.compose import (
    REPLY_MARKER,
    Composed,
    InvalidAddress,
    MailIdentity,
    Recipient,
    compose,
    thread_root,
    thread_token,
    ticket_of_address,
    ticket_of_message_id,
)
from chat.mail.kinds import KINDS, MailKind
from chat.settings import load_settings

SECRET = b"s" * 32
IDENTITY = MailIdentity(mail_from="Support <support@acme.test>", reply_to=None, public_url="https://acme.test", secret=SECRET)
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
ANNA = Recipient(address="anna@example.com", name="Anna", language="en", time_zone="Europe/Moscow")
TICKET = {"number": 123, "subject": "Printer is broken", "url": "https://acme.test/portal/tickets/123"}
MESSAGES = [
    {"author": "Bob", "body": "First line\nsecond line", "at": "2026-12-05T09:00:00+00:00", "attachments": []},
    {"author": "Bob", "body": "See the file", "at": "2026-12-05T09:01:00+00:00", "attachments": [{"name": "scan.pdf", "url": "https://acme.test/mail/attachment?t=abc"}]},
]
RATING = {"good": "https://acme.test/mail/rate?t=g", "none": "https://acme.test/mail/rate?t=n", "bad": "https://acme.test/mail/rate?t=b"}

# A full context for every kind, as the planner fills it.
CONTEXTS: dict[MailKind, dict[str, Any]] = {
    MailKind.TICKET_OPENED: {"ticket": TICKET, "first_message": "My printer is on fire"},
    MailKind.SUPPORT_REPLY: {"ticket": TICKET, "messages": MESSAGES},
    MailKind.CLOSE_PROPOSED: {"ticket": TICKET, "closes_at": "2026-12-12T10:00:00+00:00", "message": "Fixed by the update"},
    MailKind.TICKET_CLOSED: {"ticket": TICKET, "rating": RATING},
    MailKind.TICKET_REOPENED: {"ticket": TICKET},
    MailKind.SYSTEM_ALERT: {"alert": {"title": "Maintenance tonight", "body": "Servers restart at 23:00.", "url": "https://acme.test/portal/alerts/4"}, "organization": "Globex"},
    MailKind.JOIN_DECIDED: {"group": "Printers", "approved": False, "reason": "Not a customer"},
    MailKind.OFFLINE_RECEIVED: {"message": "Call me back", "ticket": TICKET},
    MailKind.TICKET_ASSIGNED: {"ticket": TICKET, "customer": "Globex", "assigned_by": "Carol"},
    MailKind.GROUP_TRANSFER: {"ticket": TICKET, "group": "Second line", "reason": "Hardware"},
    MailKind.UNASSIGNED_TICKET: {"ticket": TICKET, "customer": "Globex"},
    MailKind.CUSTOMER_REPLIED: {"ticket": TICKET, "messages": MESSAGES},
    MailKind.SLA_WARNING: {"ticket": TICKET, "target": "first_response", "due_at": "2026-12-05T10:00:00Z"},
    MailKind.SLA_BREACH: {"ticket": TICKET, "target": "resolution", "breached_at": "2026-12-05T10:00:00Z"},
    MailKind.ESCALATION: {"ticket": TICKET, "step": 2, "action": "notify_group_lead", "target": "first_response", "breached_at": "2026-12-05T10:00:00Z"},
    MailKind.PASSWORD_RESET: {"url": "https://acme.test/account/reset?t=r", "expires_minutes": 60},
    MailKind.INVITATION: {"url": "https://acme.test/account/invitation?t=i", "invited_by": "Carol", "organization": "Globex", "expires_days": 7},
    MailKind.ACCOUNT_ACCESSED: {"staff_name": "Sam Support", "reason": "Ticket #123: the invoice page fails",
                                "started_at": "2026-12-06T10:00:00+00:00", "ended_at": "2026-12-06T10:12:00+00:00"},
}
TICKET_KINDS = {kind for kind, ctx in CONTEXTS.items() if "ticket" in ctx}
CUSTOMER_TICKET_KINDS = {
    MailKind.TICKET_OPENED, MailKind.SUPPORT_REPLY, MailKind.CLOSE_PROPOSED,
    MailKind.TICKET_CLOSED, MailKind.TICKET_REOPENED, MailKind.OFFLINE_RECEIVED,
}


def make(kind: MailKind, to: Recipient = ANNA, context: dict[str, Any] | None = None, **options: Any) -> Composed:
    if "ticket" not in options and kind in TICKET_KINDS:
        options["ticket"] = 123
    return compose(IDENTITY, kind, to, CONTEXTS[kind] if context is None else context, now=NOW, **options)


def parse(composed: Composed) -> EmailMessage:
    msg = email.message_from_bytes(composed.raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    # Text travels in its canonical form, CRLF line ends (RFC 2046); compare with LF.
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line and not line[0].isspace()]


# -- every kind, every language ------------------------------------------------------------


@pytest.mark.parametrize("language", catalog.LANGUAGES)
@pytest.mark.parametrize("kind", list(MailKind))
def test_every_kind_renders_in_every_language(kind: MailKind, language: str) -> None:
    composed = make(kind, Recipient("anna@example.com", "Anna", language, "Europe/Moscow"))
    msg = parse(composed)
    assert [part.get_content_type() for part in msg.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    assert msg["Content-Language"] == language
    assert msg["MIME-Version"] == "1.0"
    assert msg["Subject"] == composed.subject
    text, html = bodies(msg)
    greeting = catalog.text(language, "greeting", name="Anna")
    assert greeting in text
    assert catalog.text(language, "automatic", sender="Support") in text
    assert f'<html lang="{language}">' in html
    for part in (text, html, composed.subject):
        # No placeholder left unfilled, no template artefact.
        assert re.search(r"\{\w*\}|\{\{|\{%|Undefined|None", part) is None, part
    if kind in TICKET_KINDS:
        assert composed.subject.startswith("[#123] ")


def test_each_language_has_every_text_with_the_same_placeholders() -> None:
    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    english = catalog.MESSAGES["en"]
    for language in catalog.LANGUAGES:
        texts = catalog.MESSAGES[language]
        assert set(texts) == set(english), language
        for key, template in texts.items():
            assert fields(template) == fields(english[key]), (language, key)


def test_texts_are_translated() -> None:
    subjects = {catalog.text(language, "ticket_closed.subject") for language in catalog.LANGUAGES}
    assert len(subjects) == 5
    msg = parse(make(MailKind.TICKET_CLOSED, Recipient("anna@example.com", "Anna", "de", "Europe/Berlin"), ticket=None))
    assert msg["Subject"] == "Ihre Anfrage wurde geschlossen"
    text, _ = bodies(msg)
    assert "Hallo Anna," in text
    assert "Gut: https://acme.test/mail/rate?t=g" in text


@pytest.mark.parametrize(("tag", "language"), [
    ("en", "en"), ("pt-BR", "pt-BR"), ("pt", "pt-BR"), ("pt_PT", "pt-BR"), ("DE-at", "de"), ("es-MX", "es"),
    ("ru-RU", "ru"), ("fr", "en"), ("", "en"), ("x\r\ny", "en"),
])
def test_language_falls_back_to_the_nearest_we_write(tag: str, language: str) -> None:
    assert catalog.language_of(tag) == language


@pytest.mark.parametrize("kind", list(MailKind))
def test_missing_optional_values_leave_lines_out(kind: MailKind) -> None:
    msg = parse(compose(IDENTITY, kind, ANNA, {}, now=NOW))
    text, html = bodies(msg)
    assert "Hello Anna," in text
    assert "None" not in text and "None" not in html


def test_wrongly_typed_values_do_not_break_a_mail() -> None:
    context: dict[str, Any] = {"ticket": "123", "messages": [None, 5, {"author": 7, "body": None, "at": "yesterday", "attachments": "x"}]}
    msg = parse(compose(IDENTITY, MailKind.SUPPORT_REPLY, ANNA, context, now=NOW, ticket=5))
    assert msg["Subject"] == "[#5] (no subject)"


@pytest.mark.parametrize(("count", "expected"), [(1, "1 день"), (3, "3 дня"), (5, "5 дней"), (11, "11 дней"), (21, "21 день"), (22, "22 дня"), (112, "112 дней")])
def test_russian_counts_take_their_plural_form(count: int, expected: str) -> None:
    assert catalog.quantity("ru", count, "days") == expected


def test_english_counts() -> None:
    assert catalog.quantity("en", 1, "minutes") == "1 minute"
    assert catalog.quantity("en", 60, "minutes") == "60 minutes"


# -- escaping and injection -----------------------------------------------------------------


def test_user_text_is_escaped_in_html_and_kept_in_text() -> None:
    evil = '<script>alert("x")</script>'
    context = {"ticket": {**TICKET, "subject": "<b>bold</b>"}, "messages": [{"author": "<i>Bob</i>", "body": evil, "at": None}]}
    text, html = bodies(parse(make(MailKind.SUPPORT_REPLY, context=context)))
    assert "<script>" not in html and "<i>Bob" not in html and "<b>bold" not in html
    assert '&lt;script&gt;alert("x")&lt;/script&gt;' in html
    assert "&lt;i&gt;Bob&lt;/i&gt;" in html
    assert f"> {evil}" in text


def test_links_other_than_http_are_dropped() -> None:
    context = {"ticket": {**TICKET, "url": "javascript:alert(1)"}, "rating": {"good": "javascript:alert(1)", "none": RATING["none"], "bad": RATING["bad"]}}
    text, html = bodies(parse(make(MailKind.TICKET_CLOSED, context=context)))
    assert "javascript" not in html and "javascript" not in text
    assert html.count('class="button ') == 2


def test_crlf_in_subject_and_names_stays_inside_its_header() -> None:
    injected = "\r\nBcc: evil@x"
    composed = make(
        MailKind.SUPPORT_REPLY,
        Recipient("eve@example.com", "Eve" + injected, "en", "UTC"),
        context={"ticket": {**TICKET, "subject": "Hello" + injected}, "messages": MESSAGES},
        sender_name="Anna" + injected + "\nX-Evil: 1",
    )
    msg = parse(composed)
    assert msg.get_all("Bcc") is None and msg.get_all("X-Evil") is None
    assert len(msg.get_all("To") or []) == 1
    assert [a.addr_spec for a in msg["To"].addresses] == ["eve@example.com"]
    assert msg["To"].addresses[0].display_name == "Eve Bcc: evil@x"
    assert msg["Subject"] == "[#123] Hello Bcc: evil@x"
    assert msg["From"].addresses[0].display_name == "Anna Bcc: evil@x X-Evil: 1 (Support)"
    assert msg["From"].addresses[0].addr_spec == "support@acme.test"
    assert header_names(composed.raw).count("To") == 1
    assert "Bcc" not in header_names(composed.raw)
    text, _ = bodies(msg)
    assert "Hello Eve Bcc: evil@x," in text


def test_other_control_characters_are_removed_from_headers() -> None:
    context = {"ticket": {**TICKET, "subject": "a\x00b\x1b[31mc\u2028d\u0085e\tf"}}
    msg = parse(make(MailKind.TICKET_REOPENED, context=context))
    assert msg["Subject"] == "[#123] a b [31mc d e f"


@pytest.mark.parametrize("address", [
    "eve@example.com\r\nBcc: evil@x", "eve@example.com\nBcc: evil@x", "eve@example.com, evil@x", "two words@example.com",
    "", "no-at-sign", "a@b@c.d", "@example.com", "eve@", "évé@example.com", "eve@exa\x00mple.com",
])
def test_an_address_that_is_not_one_plain_address_is_refused(address: str) -> None:
    with pytest.raises(InvalidAddress):
        make(MailKind.TICKET_REOPENED, Recipient(address, "Eve", "en", "UTC"))


def test_an_internationalized_domain_goes_as_punycode() -> None:
    msg = parse(make(MailKind.TICKET_REOPENED, Recipient("eve@bücher.example", "Eve", "en", "UTC")))
    assert msg["To"].addresses[0].addr_spec == "eve@xn--bcher-kva.example"


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compose(IDENTITY, MailKind.TICKET_REOPENED, ANNA, {}, now=datetime(2026, 12, 5, 10, 0))


# -- headers --------------------------------------------------------------------------------


def test_from_reply_to_date_and_subject() -> None:
    msg = parse(make(MailKind.SUPPORT_REPLY))
    assert str(msg["From"]) == "Support <support@acme.test>"
    assert str(msg["Reply-To"]) == f"support+{thread_token(SECRET, 123)}@acme.test"
    assert str(msg["To"]) == "Anna <anna@example.com>"
    assert msg["Date"].datetime == NOW
    assert msg["Subject"] == "[#123] Printer is broken"


def test_agent_name_goes_before_ours_and_reply_to_follows_the_setting() -> None:
    identity = MailIdentity("Acme Support <help@acme.test>", "Acme Intake <in@mail.acme.test>", "https://acme.test", SECRET)
    composed = compose(identity, MailKind.SUPPORT_REPLY, ANNA, CONTEXTS[MailKind.SUPPORT_REPLY], now=NOW, ticket=123, sender_name="Анна")
    msg = parse(composed)
    assert msg["From"].addresses[0].display_name == "Анна (Acme Support)"
    assert msg["From"].addresses[0].addr_spec == "help@acme.test"
    assert str(msg["Reply-To"]) == f"Acme Intake <in+{thread_token(SECRET, 123)}@mail.acme.test>"
    assert composed.raw.isascii()  # non-ASCII names travel as encoded words
    without_ticket = parse(compose(identity, MailKind.PASSWORD_RESET, ANNA, CONTEXTS[MailKind.PASSWORD_RESET], now=NOW))
    assert str(without_ticket["Reply-To"]) == "Acme Intake <in@mail.acme.test>"


def test_reply_to_plus_address_names_the_ticket() -> None:
    msg = parse(make(MailKind.SUPPORT_REPLY))
    address = msg["Reply-To"].addresses[0].addr_spec
    assert ticket_of_address(IDENTITY, address) == 123
    assert ticket_of_address(IDENTITY, f"<{address.upper()}>") == 123  # a relay that shouts
    token = thread_token(SECRET, 123)
    for other in (
        f"support+{token}@other.test", f"sales+{token}@acme.test", "support@acme.test", f"support+{token}",
        f"support+{token.replace('t123', 't124')}@acme.test", "support+t123.0123456789abcdef@acme.test", "", "@",
    ):
        assert ticket_of_address(IDENTITY, other) is None, other
    intake = MailIdentity("Acme <help@acme.test>", "Intake <in@mail.acme.test>", "https://acme.test", SECRET)
    assert ticket_of_address(intake, f"in+{token}@mail.acme.test") == 123
    assert ticket_of_address(intake, f"help+{token}@acme.test") is None


def test_staff_subjects_say_what_happened() -> None:
    assert make(MailKind.TICKET_ASSIGNED).subject == "[#123] Assigned to you: Printer is broken"
    assert make(MailKind.GROUP_TRANSFER).subject == "[#123] Transferred to Second line: Printer is broken"
    assert make(MailKind.ESCALATION).subject == "[#123] Escalation, step 2: Printer is broken"
    assert make(MailKind.SYSTEM_ALERT).subject == "System alert: Maintenance tonight"
    assert make(MailKind.JOIN_DECIDED).subject == "Your request to join Printers was declined"
    assert make(MailKind.PASSWORD_RESET).subject == "Reset your password"


@pytest.mark.parametrize("kind", list(MailKind))
def test_auto_submitted_only_on_notifications(kind: MailKind) -> None:
    msg = parse(make(kind))
    if KINDS[kind].notification:
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["X-Auto-Response-Suppress"] == "All"
    else:
        assert msg.get_all("Auto-Submitted") is None and msg.get_all("X-Auto-Response-Suppress") is None


def test_support_reply_is_not_auto_submitted() -> None:
    assert parse(make(MailKind.SUPPORT_REPLY)).get_all("Auto-Submitted") is None
    assert parse(make(MailKind.TICKET_CLOSED))["Auto-Submitted"] == "auto-generated"


def test_one_click_unsubscribe_with_a_link_only() -> None:
    url = "https://acme.test/mail/unsubscribe?t=u.1"
    msg = parse(make(MailKind.TICKET_CLOSED, unsubscribe_url=url))
    assert msg["List-Unsubscribe"] == f"<{url}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = bodies(msg)
    assert f"Unsubscribe from e-mails like this one: {url}" in text
    assert f'href="{url}"' in html
    bare = parse(make(MailKind.TICKET_CLOSED))
    assert bare.get_all("List-Unsubscribe") is None and bare.get_all("List-Unsubscribe-Post") is None
    assert "Unsubscribe" not in bodies(bare)[0]


@pytest.mark.parametrize("kind", [MailKind.PASSWORD_RESET, MailKind.INVITATION])
def test_essential_mails_never_offer_unsubscribe(kind: MailKind) -> None:
    msg = parse(make(kind, unsubscribe_url="https://acme.test/mail/unsubscribe?t=u"))
    assert msg.get_all("List-Unsubscribe") is None and msg.get_all("List-Unsubscribe-Post") is None
    assert "unsubscribe" not in composed_text(msg).lower()


def composed_text(msg: EmailMessage) -> str:
    text, html = bodies(msg)
    return text + html


# -- threading ------------------------------------------------------------------------------


def test_message_id_carries_the_ticket_and_is_unique() -> None:
    first, second = make(MailKind.SUPPORT_REPLY), make(MailKind.SUPPORT_REPLY)
    assert first.message_id != second.message_id
    assert parse(first)["Message-ID"] == first.message_id
    assert re.fullmatch(r"<t123\.[0-9a-f]{16}\.[0-9a-f]{16}@acme\.test>", first.message_id)
    assert ticket_of_message_id(SECRET, first.message_id) == 123
    assert ticket_of_message_id(SECRET, f"  {first.message_id}\r\n") == 123


def test_a_mail_without_ticket_names_none() -> None:
    composed = make(MailKind.PASSWORD_RESET)
    assert re.fullmatch(r"<m\.[0-9a-f]{32}@acme\.test>", composed.message_id)
    assert ticket_of_message_id(SECRET, composed.message_id) is None
    msg = parse(composed)
    assert msg.get_all("In-Reply-To") is None and msg.get_all("References") is None


def test_a_forged_or_foreign_message_id_names_no_ticket() -> None:
    real = make(MailKind.SUPPORT_REPLY).message_id
    digits = real.replace("<t123.", "<t124.")
    sig = real[:7] + ("0" if real[7] != "0" else "1") + real[8:]
    for forged in (
        digits, sig, real.replace("<t123.", "<t0123."), "<t99999999999999999999.0123456789abcdef@acme.test>",
        "<CAF=abc@mail.gmail.com>", "", "<>", "t123", "<t123.@acme.test>",
    ):
        assert ticket_of_message_id(SECRET, forged) is None, forged
    assert ticket_of_message_id(b"another key" * 3, real) is None


def test_thread_root_and_references_chain_the_ticket() -> None:
    earlier = make(MailKind.TICKET_OPENED).message_id
    msg = parse(make(MailKind.SUPPORT_REPLY, references=[earlier, "bad\r\nBcc: x", "<a b>"]))
    root = thread_root(IDENTITY, 123)
    assert root == f"<{thread_token(SECRET, 123)}@acme.test>"
    assert msg["In-Reply-To"] == root
    assert msg["References"] == f"{root} {earlier}"
    assert ticket_of_message_id(SECRET, root) == 123


def test_thread_token_refuses_a_number_no_ticket_has() -> None:
    for number in (0, -1, 2**63):
        with pytest.raises(ValueError):
            thread_token(SECRET, number)


def test_identity_of_settings(tmp_path: Path) -> None:
    settings = load_settings({
        "VAR_DIR": str(tmp_path), "SECRET_KEY": "k" * 40, "MAIL_FROM": "Acme Help <help@mail.acme.test>",
        "PUBLIC_URL": "https://acme.test",
    })
    identity = MailIdentity.of(settings)
    assert (identity.address, identity.domain, identity.display_name) == ("help@mail.acme.test", "mail.acme.test", "Acme Help")
    assert identity.reply_to is None and identity.public_url == "https://acme.test"
    assert len(identity.secret) == 32 and identity.secret != settings.secret_keys[-1].encode()
    assert MailIdentity.of(settings).secret == identity.secret  # stable across processes


# -- bodies ---------------------------------------------------------------------------------


def test_times_are_shown_in_the_recipient_zone() -> None:
    moscow = Recipient("anna@example.com", "Anna", "de", "Europe/Moscow")
    text, html = bodies(parse(make(MailKind.SLA_WARNING, moscow)))
    assert "Fällig: 05.12.2026, 13:00 Uhr MSK" in text
    assert "13:00 Uhr MSK" in html
    text, _ = bodies(parse(make(MailKind.SLA_WARNING, Recipient("anna@example.com", "Anna", "en", "America/New_York"))))
    assert "Due: 5 Dec 2026, 05:00 EST" in text


def test_an_unknown_time_zone_means_utc() -> None:
    for zone in ("Mars/Olympus", "../../etc/passwd", ""):
        text, _ = bodies(parse(make(MailKind.SLA_BREACH, Recipient("anna@example.com", "Anna", "ru", zone))))
        assert "Просрочено: 05.12.2026 в 10:00 UTC" in text


def test_reply_marker_heads_the_customer_ticket_mails() -> None:
    for kind in MailKind:
        text, html = bodies(parse(make(kind)))
        if kind in CUSTOMER_TICKET_KINDS:
            assert text.splitlines()[0] == REPLY_MARKER, kind
            assert html.index(REPLY_MARKER) < html.index("<h1"), kind
        else:
            assert REPLY_MARKER not in text and REPLY_MARKER not in html, kind


def test_attachments_are_links_never_parts() -> None:
    composed = make(MailKind.SUPPORT_REPLY)
    msg = parse(composed)
    assert [part.get_content_type() for part in msg.walk()] == ["multipart/alternative", "text/plain", "text/html"]
    assert all(part.get_content_disposition() is None for part in msg.walk())
    text, html = bodies(msg)
    assert "> * scan.pdf: https://acme.test/mail/attachment?t=abc" in text
    assert '<a href="https://acme.test/mail/attachment?t=abc">scan.pdf</a>' in html
    # The digest quotes every message, oldest first, in the recipient's zone.
    assert text.index("Bob · 5 Dec 2026, 12:00 MSK") < text.index("Bob · 5 Dec 2026, 12:01 MSK")
    assert "> First line\n> second line" in text
    assert "First line<br>\nsecond line" in html


def test_rating_buttons_are_green_grey_and_red() -> None:
    text, html = bodies(parse(make(MailKind.TICKET_CLOSED)))
    for label, url, colour in (("Good", RATING["good"], "#2e7d32"), ("No rating", RATING["none"], "#757575"), ("Bad", RATING["bad"], "#c62828")):
        assert f"{label}: {url}" in text
        anchor = re.search(rf'<a class="button [a-z]+" href="{re.escape(url)}" style="([^"]*)">{label}</a>', html)
        assert anchor is not None, label
        assert f"background: {colour}" in anchor.group(1)


def test_css_is_inlined() -> None:
    _, html = bodies(parse(make(MailKind.TICKET_OPENED)))
    assert "<style" not in html
    assert re.search(r'<h1 style="[^"]*font-size: 20px', html)


def test_password_reset_and_invitation_bodies() -> None:
    text, _ = bodies(parse(make(MailKind.PASSWORD_RESET, Recipient("anna@example.com", "Anna", "ru", "UTC"))))
    assert "действует 60 минут." in text
    assert "Задать новый пароль: https://acme.test/account/reset?t=r" in text
    text, _ = bodies(parse(make(MailKind.INVITATION)))
    assert "Carol has invited you." in text
    assert "for 7 days." in text
    assert make(MailKind.INVITATION).subject == "You are invited to Globex"
