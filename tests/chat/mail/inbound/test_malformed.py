"""1,000 malformed mails, generated from a fixed seed (issue 16, "Bad input"): each either
parses to a ParsedMail that keeps every promise of its fields, or is refused with
MalformedMail. Any other exception, or a broken promise, fails the test with the case's
number and kind so it can be replayed."""

from __future__ import annotations

import base64
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from chat.mail.inbound.message import MalformedMail, ParsedMail
from chat.mail.inbound.parse import ADDRESS_MAX, FILENAME_MAX, FULL_TEXT_MAX, MAX_FILES, SUBJECT_MAX, message_key, parse

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.eml"))
SEED = 16
CASES = 1000
MAX_FILE = 10 * 1024 * 1024

Maker = Callable[[random.Random], bytes]


def _corpus(rng: random.Random) -> bytes:
    return rng.choice(CORPUS).read_bytes()


def _head(subject: str = "x", extra: str = "") -> bytes:
    return f"From: Ann <ann@example.com>\r\nTo: support@support.example\r\nSubject: {subject}\r\n{extra}".encode()


def truncated(rng: random.Random) -> bytes:
    raw = _corpus(rng)
    return raw[: rng.randrange(0, len(raw))]


def broken_boundary(rng: random.Random) -> bytes:
    raw = _corpus(rng)
    choice = rng.randrange(4)
    if choice == 0:  # the declared boundary never appears
        return raw.replace(b"boundary=", b"boundary=nothere", 1)
    if choice == 1:  # the closing boundary is missing
        at = raw.rfind(b"--\r\n")
        return raw[:at] if at > 0 else raw
    if choice == 2:  # a boundary with no value, or a quote never closed
        return _head(extra='Content-Type: multipart/mixed; boundary="\r\n') + b"\r\n--\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    lines = raw.split(b"\r\n")
    for _ in range(rng.randrange(1, 6)):  # boundary lines shuffled into the parts
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    return b"\r\n".join(lines)


_CHARSETS = ["x-unknown", "utf-16", "utf-32", "base64", "zlib", "unicode_escape", "utf-7", "", '"', "cp1251", "koi8-r",
             "iso-2022-jp", "utf-8*en", "rot13", "hex", "idna", "undefined", "ascii\x00"]


def wrong_charset(rng: random.Random) -> bytes:
    charset = rng.choice(_CHARSETS)
    body = rng.randbytes(rng.randrange(0, 400))
    word = base64.b64encode(rng.randbytes(12)).decode()
    subject = f"=?{rng.choice(_CHARSETS) or 'x'}?B?{word}?= =?{charset or 'y'}?Q?=FF=00=E9?="
    cte = rng.choice(["8bit", "base64", "quoted-printable", "x-uuencode", "bogus"])
    return _head(subject, f"Content-Type: text/{rng.choice(['plain', 'html'])}; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n") + b"\r\n" + body


def missing_headers(rng: random.Random) -> bytes:
    head, _, body = _corpus(rng).partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if rng.random() < 0.5]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def huge(rng: random.Random) -> bytes:
    size = 10 * 1024 * 1024 + rng.randrange(1, 1 << 20)
    kind = rng.randrange(3)
    if kind == 0:
        return _head(extra="Content-Type: text/plain; charset=utf-8\r\n") + b"\r\n" + (b"Zeile mit Text \xd0\xb6 " * (size // 20))[:size]
    if kind == 1:
        data = base64.encodebytes(rng.randbytes(size))
        return (_head(extra='Content-Type: multipart/mixed; boundary="b"\r\n') + b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n"
                b"--b\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n"
                b'Content-Disposition: attachment; filename="big.zip"\r\n\r\n' + data + b"\r\n--b--\r\n")
    return _head(extra="Content-Type: text/html\r\n") + b"\r\n" + b"<div><p>deep</p>" * (size // 16)


def deep(rng: random.Random) -> bytes:
    depth = rng.choice([50, 200, 1000])
    parts = [_head(extra='Content-Type: multipart/mixed; boundary="b0"\r\n'), b"\r\n"]
    for i in range(depth):
        kind = rng.choice([b"multipart/mixed", b"multipart/alternative", b"multipart/related"])
        parts.append(b'--b%d\r\nContent-Type: %s; boundary="b%d"\r\n\r\n' % (i, kind, i + 1))
    parts.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\nbottom\r\n" % depth)
    if rng.random() < 0.5:
        parts.append(b"".join(b"--b%d--\r\n" % i for i in range(depth, -1, -1)))
    return b"".join(parts)


def wide(rng: random.Random) -> bytes:
    count = rng.choice([600, 5000])
    part = b'--b\r\nContent-Type: image/png\r\nContent-ID: <i@x>\r\nContent-Disposition: inline; filename="../a\x01.png"\r\n\r\nPNG\r\n'
    return _head(extra='Content-Type: multipart/mixed; boundary="b"\r\n') + b"\r\n" + part * count + b"--b--\r\n"


def nul_bytes(rng: random.Random) -> bytes:
    raw = bytearray(_corpus(rng))
    for _ in range(rng.randrange(1, 50)):
        raw.insert(rng.randrange(len(raw) + 1), 0)
    return bytes(raw)


def garbage(rng: random.Random) -> bytes:
    return rng.randbytes(rng.randrange(0, 5000))


def flipped(rng: random.Random) -> bytes:
    raw = bytearray(_corpus(rng))
    for _ in range(rng.randrange(1, 200)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def forged_ids(rng: random.Random) -> bytes:
    ticket = rng.randrange(1, 10**6)
    forged = [
        f"<t{ticket}.{rng.randbytes(8).hex()}@support.example>",
        f"<t{ticket}.0000000000000000.x@support.example>",
        f"<t99999999999999999999.{rng.randbytes(8).hex()}@support.example>",
        "<<<>>>", "<@>", "<a@b@c>", "t42.0123456789abcdef@support.example",
    ]
    refs = " ".join(rng.choice(forged) for _ in range(rng.choice([1, 10, 5_000])))
    # One id longer than any header line may be.
    forged.append("<" + "x" * rng.choice([997, 5000, 100_000]) + "@support.example>")
    return _head(f"[#{ticket}] hello", f"Message-ID: {rng.choice(forged)}\r\nIn-Reply-To: {rng.choice(forged)}\r\nReferences: {refs}\r\n") + b"\r\nhi\r\n"


def injection(rng: random.Random) -> bytes:
    attacks = [
        b"Subject: hi\rBcc: evil@x.com\r\n",
        b"Subject: =?utf-8?q?hi=0D=0ABcc:_evil@x.com?=\r\n",
        b"Subject: =?utf-8?b?" + base64.b64encode(b"hi\r\nBcc: evil@x.com\x00") + b"?=\r\n",
        b"From: ann@example.com\nBcc: evil@x.com\r\n",
        b"From: \"ann\r\n\" <ann@example.com>\r\n",
        b"From: =?utf-8?q?a=0D=0A?= <ann@example.com>\r\n",
        b"Reply-To: evil@x.com\r\n, other@y.com\r\n",
        b"Cc: " + b", ".join(b"u%d@x.com" % i for i in range(5000)) + b"\r\n",
        b"From: " + b"(" * 5000 + b"ann@example.com\r\n",
        b"From: " + b"\"" * 3001 + b" <a@b.c>\r\n",
        b"From: <" + b"a" * 400 + b"@example.com>\r\n",
        b"From: ann@" + b"\xd0\xb6" * 100 + b".example\r\n",
        b"Subject: " + b"A" * 2_000_000 + b"\r\n",
        b"Content-Disposition: attachment; filename*=utf-8''%0D%0A..%2F..%2Fetc%2Fpasswd\r\nContent-Type: application/pdf\r\n",
        b"Content-Type: text/plain; charset*=utf-8''%ZZ; name*0*=x; name*1=y\r\n",
        b"X-Spam-Flag: YES\r\nX-Spam-Flag: no\r\nAuto-Submitted: \r\nPrecedence: \x00bulk\r\n",
    ]
    picked = b"".join(rng.sample(attacks, rng.randrange(1, 4)))
    return b"From: Ann <ann@example.com>\r\n" + picked + b"\r\nbody\r\n"


def bad_reports(rng: random.Random) -> bytes:
    status = rng.choice([b"", b"5.1.1", b"9.9.9", b"5." * 1000, b"\x00"])
    action = rng.choice([b"failed", b"", b"FAILED", b"delayed\x00"])
    block = b"Final-Recipient: " + rng.choice([b"rfc822; a@b.c", b"x400; ???", b"", b";;;", b"rfc822; <>"]) + b"\r\nAction: " + action + b"\r\nStatus: " + status
    blocks = b"\r\n\r\n".join([block] * rng.choice([1, 3, 500]))
    returned = rng.choice([b"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <t1.aaaa@x>", b"Content-Type: message/rfc822\r\n\r\n", b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!"])
    return (b"From: " + rng.choice([b"<>", b"MAILER-DAEMON@x.example", b""]) + b'\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
            b"--r\r\nContent-Type: text/plain\r\n\r\nnotice\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\n" + rng.choice([b"Reporting-MTA: x\r\n\r\n", b""]) + blocks
            + b"\r\n--r\r\n" + returned + b"\r\n--r--\r\n")


def bad_files(rng: random.Random) -> bytes:
    name = rng.choice([b"../../.bashrc", b"C:\\\\x\\\\con.exe", b"=?utf-8?B?!!!?=", b"=?x-bad?Q?=FF?=", b"\x00\x01\x02", b"a" * 5000 + b".pdf", b"", b"."])
    encoding = rng.choice([b"base64", b"quoted-printable", b"7bit", b"x-none"])
    data = rng.choice([b"not base64 ~~~", base64.b64encode(rng.randbytes(100)), b"=ZZ=\r\n="])
    part = b'--b\r\nContent-Type: application/octet-stream; name="' + name + b'"\r\nContent-Transfer-Encoding: ' + encoding + b"\r\n\r\n" + data + b"\r\n"
    return _head(extra='Content-Type: multipart/mixed; boundary="b"\r\n') + b"\r\n" + part * rng.randrange(1, 5) + b"--b--\r\n"


# How many of each: the huge ones cost a second each, so there are few of them.
KINDS: list[tuple[Maker, int]] = [
    (truncated, 120), (broken_boundary, 110), (wrong_charset, 110), (missing_headers, 90), (huge, 4), (deep, 16),
    (wide, 10), (nul_bytes, 90), (garbage, 90), (flipped, 110), (forged_ids, 70), (injection, 80), (bad_reports, 50),
    (bad_files, 50),
]


def _check(mail: ParsedMail, raw: bytes) -> list[str]:
    """The promises of ParsedMail's fields; an empty list when all are kept."""
    broken = []
    one_line_fields = [mail.subject, mail.sender_name, *(mail.to), *(mail.cc), mail.sender or "", mail.reply_to or "", mail.message_id or "",
                       *mail.in_reply_to, *mail.references, mail.auto or ""]
    if any(c in value for value in one_line_fields for c in "\r\n\x00"):
        broken.append("a header value spans lines or holds NUL")
    if len(mail.subject) > SUBJECT_MAX or (mail.sender is not None and len(mail.sender) > ADDRESS_MAX):
        broken.append("a header value is too long")
    if mail.sender is not None and (" " in mail.sender or "@" not in mail.sender):
        broken.append(f"sender {mail.sender!r} is not an address")
    if mail.message_id is not None and len(mail.message_id) > 998:
        broken.append("message id longer than a header line")
    if "\x00" in mail.full_text or "\x00" in mail.text or "\r" in mail.full_text:
        broken.append("NUL or CR in the text")
    if len(mail.full_text) > FULL_TEXT_MAX or len(mail.text) > FULL_TEXT_MAX:
        broken.append("text beyond its bound")
    if len(mail.files) > MAX_FILES:
        broken.append("too many files")
    for file in mail.files:
        if len(file.data) > MAX_FILE or not file.filename or len(file.filename) > FILENAME_MAX:
            broken.append(f"file {file.filename!r} breaks a bound")
        if any(c in file.filename for c in "/\\\r\n\x00") or file.filename.startswith("."):
            broken.append(f"file name {file.filename!r} is unsafe")
    if mail.bounce is not None and any(c in mail.bounce.status for c in "\r\n"):
        broken.append("bounce status spans lines")
    if mail.size != len(raw):
        broken.append("size")
    return broken


def test_a_thousand_malformed_mails_parse_or_are_refused(caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(SEED)
    makers = [maker for maker, count in KINDS for _ in range(count)]
    assert len(makers) == CASES
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    slowest = (0.0, "")
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        for number, maker in enumerate(makers):
            raw = maker(rng)
            begun = time.perf_counter()
            try:
                mail = parse(raw, max_file_bytes=MAX_FILE)
            except MalformedMail as refused:
                outcomes["refused"] += 1
                if not refused.reason or "\n" in refused.reason:
                    failures.append(f"#{number} {maker.__name__}: refusal reason {refused.reason!r}")
                assert len(message_key(raw, None)) == 64
            except Exception as error:  # noqa: BLE001 - the point: any other exception is the failure reported
                failures.append(f"#{number} {maker.__name__}: {type(error).__name__}: {error}"[:300])
            else:
                outcomes["parsed"] += 1
                failures += [f"#{number} {maker.__name__}: {problem}" for problem in _check(mail, raw)]
                assert len(message_key(raw, mail.message_id)) == 64
            took = time.perf_counter() - begun
            if took > slowest[0]:
                slowest = (took, f"#{number} {maker.__name__} ({len(raw)} bytes)")
    elapsed = time.perf_counter() - started
    assert failures == []
    assert outcomes["parsed"] + outcomes["refused"] == CASES
    # Both outcomes happen: the generator makes usable and unusable mail alike.
    assert outcomes["parsed"] > 500 and outcomes["refused"] > 50, outcomes
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert elapsed < 20, f"{elapsed:.1f} s; slowest {slowest[1]} at {slowest[0]:.2f} s"
