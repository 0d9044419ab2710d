"""chat.mail.inbound.parse: the corpus of real-world mail shapes (corpus/*.eml, each with
its expected outcome in corpus/expected.json), then one rule at a time."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest

from chat.mail.compose import REPLY_MARKER as COMPOSED_MARKER
from chat.mail.inbound.message import MalformedMail, ParsedMail
from chat.mail.inbound.parse import (
    FILENAME_MAX,
    MAX_DEPTH,
    MAX_IDS,
    REPLY_MARKER,
    message_key,
    parse,
    safe_filename,
)
from chat.mail.inbound.text import cut_reply, decode_bytes, html_to_text

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text("utf-8"))


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus(name: str) -> None:
    want = EXPECTED[name]
    raw = (CORPUS / name).read_bytes()
    mail = parse(raw)
    assert mail.sender == want["sender"]
    assert mail.subject == want["subject"]
    assert mail.text.startswith(want["text_starts"]), mail.text
    for quoted in want["cut"]:
        # Cut from what the person wrote, still in the whole body threading reads.
        assert quoted not in mail.text, quoted
        if quoted not in ("alert(", "font-family", "steal()"):
            assert quoted in mail.full_text, quoted
    for kept in want.get("contains", []):
        assert kept in mail.text
    assert mail.auto == want["auto"]
    assert (mail.bounce.permanent if mail.bounce else None) == want["bounce_permanent"]
    if "bounce_message_id" in want:
        assert mail.bounce is not None
        assert mail.bounce.original_message_id == want["bounce_message_id"]
        assert list(mail.bounce.recipients) == want["bounce_recipients"]
    assert mail.spam is want["spam"]
    assert len(mail.files) == want["files"]
    if "file_names" in want:
        assert [f.filename for f in mail.files] == want["file_names"]
    if "inline" in want:
        assert [f.inline for f in mail.files] == want["inline"]
    assert mail.size == len(raw)
    assert "\x00" not in mail.full_text and "\r" not in mail.full_text


def test_outlook_reply_headers() -> None:
    mail = parse((CORPUS / "01_outlook_reply.eml").read_bytes())
    assert mail.message_id == "<AM0PR04MB6451A1B2C3D4E5F6@AM0PR04MB6451.eurprd04.prod.outlook.com>"
    assert mail.sender_name == "Mark Baker"
    assert mail.to == ("reply+t42.0123456789abcdef@support.example",)
    assert mail.cc == ("ann.lee@contoso.com",)
    assert mail.date == datetime(2026, 12, 2, 9, 31, 8, tzinfo=UTC)
    assert mail.in_reply_to == ("<t42.0123456789abcdef.m1@support.example>",)
    assert mail.references == ("<t42.0123456789abcdef@support.example>", "<t42.0123456789abcdef.m1@support.example>")
    # X-Auto-Response-Suppress asks us not to auto-reply; a person still wrote the mail.
    assert mail.auto is None


def test_bounce_status_line() -> None:
    mail = parse((CORPUS / "16_bounce_permanent.eml").read_bytes())
    assert mail.bounce is not None
    assert mail.bounce.status == "5.1.1 smtp; 550 5.1.1 <gone@contoso.com>: Recipient address rejected: User unknown"


def test_the_marker_is_the_one_compose_writes() -> None:
    assert REPLY_MARKER == COMPOSED_MARKER


# -- building mails for the rules ------------------------------------------------------------


def _mail(body: str = "Hello", **headers: str) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = headers.pop("From", "Ann <ann@Example.COM>")
    message["To"] = "support@support.example"
    message["Subject"] = headers.pop("Subject", "Question")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def _raw(head: str, body: bytes = b"Hello\r\n") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


def test_message_key() -> None:
    assert message_key(b"raw", "<a@b>") == hashlib.sha256(b"<a@b>").hexdigest()
    assert message_key(b"raw bytes", None) == hashlib.sha256(b"raw bytes").hexdigest()
    assert len(message_key(b"", "<" + "x" * 5000 + "@y>")) == 64


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"   \r\n", "empty message"),
        (_raw("To: support@support.example\nSubject: hi\n"), "no usable From address"),
        (_raw("From: not an address\n"), "no usable From address"),
        (_raw("From: Ann <ann at example.com>\n"), "no usable From address"),
        (b"\x00\xff\xfe garbage with no headers at all", "no usable From address"),
    ],
)
def test_unusable_mail_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedMail) as caught:
        parse(raw)
    assert caught.value.reason == reason


def test_a_report_with_an_empty_sender_still_parses() -> None:
    raw = (CORPUS / "16_bounce_permanent.eml").read_bytes().replace(
        b"From: MAILER-DAEMON@mx.support.example (Mail Delivery System)", b"From: <>"
    )
    mail = parse(raw)
    assert mail.sender is None
    assert mail.bounce is not None and mail.bounce.permanent is True


def test_domain_lower_cased_local_part_kept() -> None:
    # Written raw: EmailMessage would decode the name and write its comma unquoted.
    mail = parse(_raw("From: =?utf-8?q?Lee=2C_Ann?= <Ann.Lee@Example.COM>\nReply-To: Other <Other@X.ORG>\n"))
    assert mail.sender == "Ann.Lee@example.com"
    assert mail.sender_name == "Lee, Ann"
    assert mail.reply_to == "Other@x.org"


def test_header_injection_stays_on_one_line() -> None:
    raw = _raw("From: ann@example.com\nSubject: =?utf-8?q?hi=0D=0ABcc:_evil@x.com?=\nMessage-ID: <a@b>\n")
    mail = parse(raw)
    assert mail.subject == "hi Bcc: evil@x.com"
    assert mail.message_id == "<a@b>"


def test_russian_encoded_subject_split_over_words() -> None:
    raw = _raw(
        "From: ann@example.com\n"
        "Subject: =?UTF-8?B?0J3QtSDRgNCw0LHQvtGC0LDQtdGC?=\n =?UTF-8?B?INGC0YDQtdC60LXRgA==?=\n"
    )
    assert parse(raw).subject == "Не работает трекер"


def test_raw_8bit_headers() -> None:
    raw = b"From: \xcf\xe5\xf2\xf0 <petr@example.ru>\r\nSubject: \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n\r\nhi\r\n"
    mail = parse(raw)
    assert mail.sender_name == "Петр"  # Windows-1251, guessed
    assert mail.subject == "Привет"  # UTF-8 (RFC 6532)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"Auto_Submitted": "auto-generated"}, "Auto-Submitted: auto-generated"),
        ({"Auto_Submitted": "no"}, None),
        ({"X_Autoreply": "yes"}, "X-Autoreply"),
        ({"X_Autorespond": "Out of office"}, "X-Autorespond"),
        ({"X_Auto_Response_Suppress": "All"}, None),
        ({"Precedence": "Bulk"}, "Precedence: bulk"),
        ({"Precedence": "junk"}, "Precedence: junk"),
        ({"Precedence": "list"}, "Precedence: list"),
        ({"Precedence": "first-class"}, None),
        ({"List_Id": "<x.lists.example>"}, "List-Id"),
        ({"Return_Path": "<>"}, "empty Return-Path"),
        ({"Return_Path": "<ann@example.com>"}, None),
        ({"From": "Postmaster <postmaster@example.com>"}, "mailer-daemon sender"),
        ({"From": "mailer-daemon@example.com"}, "mailer-daemon sender"),
        ({}, None),
    ],
)
def test_automatic_mail(extra: dict[str, str], reason: str | None) -> None:
    assert parse(_mail(**extra)).auto == reason


@pytest.mark.parametrize(("flag", "spam"), [("YES", True), ("yes", True), (" Yes ", True), ("NO", False), (None, False)])
def test_spam_flag(flag: str | None, spam: bool) -> None:
    raw = _mail(**({"X_Spam_Flag": flag} if flag is not None else {}))
    assert parse(raw).spam is spam


def test_mixed_report_suppresses_only_the_permanent_failures() -> None:
    raw = _raw(
        'From: MAILER-DAEMON@mx.example\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nSome failed.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
        b"Final-Recipient: rfc822; late@a.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n"
        b"Final-Recipient: rfc822; Gone@B.example\r\nAction: failed\r\nStatus: 5.2.1\r\n\r\n"
        b"Final-Recipient: rfc822; full@c.example\r\nAction: failed\r\nStatus: 4.2.2\r\n\r\n"
        b"--b--\r\n",
    )
    bounce = parse(raw).bounce
    assert bounce is not None
    assert bounce.permanent is True
    assert bounce.recipients == ("Gone@b.example",)
    assert bounce.status == "5.2.1"
    assert bounce.original_message_id is None


def test_text_preferred_to_html_and_html_sanitized() -> None:
    message = EmailMessage()
    message["From"] = "ann@example.com"
    message.set_content("plain words")
    message.add_alternative("<p>html words</p>", subtype="html")
    assert parse(message.as_bytes()).text == "plain words"
    assert html_to_text("<p>a<script>x()</script></p><blockquote><p>old</p></blockquote>") == "a\n\n> old"


@pytest.mark.parametrize(
    ("charset", "body"),
    [
        ("iso-8859-1", "Grüße aus München, señor"),
        ("windows-1251", "Добрый день, всё сломалось"),
        ("koi8-r", "Добрый день, всё сломалось"),
        ("utf-8", "Добрый день — ✓"),
    ],
)
def test_declared_charsets(charset: str, body: str) -> None:
    raw = _raw(f"From: a@b.example\nContent-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: 8bit\n", body.encode(charset))
    assert parse(raw).text == body


@pytest.mark.parametrize("label", ["x-unknown-charset", "base64", "unicode_escape", '"', "us-ascii"])
def test_wrong_charset_labels_fall_back(label: str) -> None:
    body = "Привет, это UTF-8 \\u0041"
    raw = _raw(f"From: a@b.example\nContent-Type: text/plain; charset={label}\n", body.encode())
    assert parse(raw).text == body


def test_guessing_without_a_label() -> None:
    assert decode_bytes("Съешь же ещё этих мягких французских булок".encode("cp1251"), None) == "Съешь же ещё этих мягких французских булок"
    assert decode_bytes("Съешь же ещё этих мягких французских булок".encode("koi8_r"), None) == "Съешь же ещё этих мягких французских булок"
    assert decode_bytes("Déjà vu — “quoted”".encode("cp1252"), None) == "Déjà vu — “quoted”"
    assert decode_bytes("Größe, Müller, Ærø".encode("latin-1"), None) == "Größe, Müller, Ærø"


def test_nul_and_control_characters_leave_the_text() -> None:
    raw = _raw("From: a@b.example\nContent-Type: text/plain; charset=utf-8\n", b"he\x00llo\x07 world\r\nline\ttwo\r\n")
    assert parse(raw).text == "hello world\nline\ttwo"


def test_files_names_sizes_and_inline() -> None:
    message = EmailMessage()
    message["From"] = "ann@example.com"
    message.set_content("see files")
    message.add_attachment(b"%PDF-1.4 small", maintype="application", subtype="pdf", filename="../../etc/Отчёт\x07.pdf")
    message.add_attachment(b"x" * 2000, maintype="application", subtype="zip", filename="big.zip")
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", disposition="inline", cid="<logo@x>")
    message.add_attachment(b"plain file", maintype="text", subtype="plain", filename="notes.txt")
    mail = parse(message.as_bytes(), max_file_bytes=1000)
    assert [(f.filename, f.content_type, f.data, f.inline) for f in mail.files] == [
        ("Отчёт .pdf", "application/pdf", b"%PDF-1.4 small", False),
        ("image-2.png", "image/png", b"\x89PNG", True),
        ("notes.txt", "text/plain", b"plain file", False),
    ]
    assert mail.text == "see files"


def test_safe_filename() -> None:
    assert safe_filename("C:\\Users\\ann\\report.docx", "application/octet-stream", 1) == "report.docx"
    assert safe_filename("..", "application/pdf", 3) == "attachment-3.pdf"
    assert safe_filename(".htaccess", "text/plain", 1) == "htaccess"
    assert safe_filename("=?utf-8?B?0KHRh9GR0YIucGRm?=", "application/pdf", 1) == "Счёт.pdf"
    long = safe_filename("a" * 500 + ".xlsx", "application/octet-stream", 1)
    assert len(long) == FILENAME_MAX and long.endswith("a.xlsx")


def test_message_ids() -> None:
    many = " ".join(f"<m{i}@x.example>" for i in range(300))
    mail = parse(_mail(Message_ID="not an id", References=many, In_Reply_To="junk <a@b> <c@d>"))
    assert mail.message_id is None
    assert len(mail.references) == MAX_IDS
    assert mail.references[0] == "<m0@x.example>" and mail.references[-1] == "<m299@x.example>"
    assert mail.in_reply_to == ("<a@b>", "<c@d>")


@pytest.mark.parametrize("value", ["yesterday", "Mon, 99 Foo 2026 99:99:99 +9999", ""])
def test_bad_dates_are_none(value: str) -> None:
    assert parse(_raw(f"From: a@b.example\nDate: {value}\n")).date is None


def test_date_without_zone_is_utc() -> None:
    assert parse(_raw("From: a@b.example\nDate: Tue, 2 Dec 2026 09:31:08 -0000\n")).date == datetime(2026, 12, 2, 9, 31, 8, tzinfo=UTC)


def test_deep_nesting_is_cut_at_the_cap() -> None:
    head = 'From: a@b.example\nContent-Type: multipart/mixed; boundary="b0"\n'
    body = b"".join(b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i, i + 1) for i in range(200))
    body += b"--b200\r\nContent-Type: text/plain\r\n\r\ntoo deep\r\n"
    mail = parse(_raw(head, body))
    assert isinstance(mail, ParsedMail)
    assert mail.full_text == ""
    shallow = b"".join(b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i, i + 1) for i in range(MAX_DEPTH - 1))
    shallow += b"--b%d\r\nContent-Type: text/plain\r\n\r\nreachable\r\n" % (MAX_DEPTH - 1)
    assert parse(_raw(head, shallow)).text == "reachable"


def test_marker_cut_first_even_when_quoted() -> None:
    body = f"New words\n\nOn Mon, Ann wrote:\n> {REPLY_MARKER}\n> old words\n"
    assert parse(_mail(body)).text == "New words"
    assert parse(_mail(f"Mine\n-- custom --\n{REPLY_MARKER}\nours"), reply_marker=REPLY_MARKER).text == "Mine\n-- custom --"


def test_hyphen_lists_are_not_signatures() -> None:
    assert cut_reply("Steps:\n- open\n- click\n") == "Steps:\n- open\n- click"


def test_inline_forward_keeps_its_quote() -> None:
    body = "FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@x.example>\nDate: Mon\nSubject: broken\nTo: me\n\nThe counter is broken.\n"
    mail = parse(_mail(body, Subject="Fwd: broken"))
    assert mail.text.endswith("The counter is broken.")
    # Not a forward by its subject: the quote under the header lines is cut.
    replied = parse(_mail(body, Subject="Re: broken")).text
    assert replied.startswith("FYI") and "The counter is broken." not in replied
