"""The pages mail links open (docs/http.md, "Pages behind mail links") against a live
server on SQLite: statuses, headers, the HTML the person sees, and that a GET records
nothing. The rules behind them run on both backends in tests/chat/mail/test_votes.py."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from chat import attachments
from chat.clock import ManualClock
from chat.conversations import post_message
from chat.mail import links
from chat.mail.models import SpentToken
from chat.tokens import Purpose
from escalation import tickets
from escalation.models import TicketRating
from tests.escalation.world import Desk, chat, make_desk, say
from tests.support.live import LiveServer

CSP = "default-src 'none'; style-src '{style}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def desk(live: LiveServer) -> Desk:
    return await make_desk(live.services)


@pytest.fixture
async def web(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.base_url, timeout=10) as client:
        yield client


async def proposed(desk: Desk) -> int:
    conv = await chat(desk, subject="Printer <b>on fire</b>")
    await say(desk, desk.agent, conv, "Try turning it off and on.")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    return conv


def rate_link(desk: Desk, conv: int, choice: str, *, rnd: int = 1, user: int | None = None) -> str:
    """The link as the close mail carries it: ``{PUBLIC_URL}/mail/rate?t=…``."""
    return links.link(desk.svc.tokens, desk.svc.settings.public_url, Purpose.MAIL_RATING,
                      {"t": conv, "r": rnd, "u": user or desk.customer.user_id, "c": choice}, single_use=True)


def token_of(link: str) -> str:
    match = re.search(r"[?&]t=([^&]+)", link)
    assert match is not None
    return httpx.QueryParams(f"t={match.group(1)}")["t"]


async def stored(desk: Desk) -> tuple[list[tuple[str, str | None, str | None]], int]:
    async with desk.svc.reads() as db:
        rows = (await db.scalars(select(TicketRating).order_by(TicketRating.id))).all()
        spent = await db.scalar(select(func.count()).select_from(SpentToken))
    return [(r.value, r.reason, r.comment) for r in rows], int(spent or 0)


def refused_code(response: httpx.Response) -> str:
    match = re.search(r'id="refused" data-code="([a-z_]+)"', response.text)
    assert match is not None, response.text
    return match.group(1)


def assert_page_headers(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    # The one style element is what the CSP allows, by its hash (no 'unsafe-inline').
    styles = re.findall(r"<style>(.*?)</style>", response.text, re.S)
    assert len(styles) == 1 and "style=" not in response.text
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert response.headers["content-security-policy"] == CSP.format(style=f"sha256-{digest}")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


async def test_the_rating_page_preselects_the_choice_and_a_get_records_nothing(desk: Desk, web: httpx.AsyncClient) -> None:
    conv = await proposed(desk)
    link = rate_link(desk, conv, "bad")
    assert link.startswith(desk.svc.settings.public_url + "/mail/rate?t=")
    for _ in range(2):
        page = await web.get(link.removeprefix(desk.svc.settings.public_url))
        assert page.status_code == 200
    assert_page_headers(page)
    html = page.text
    assert re.findall(r'<input type="radio" name="c" value="(\w+)"( checked)?>', html) == [
        ("good", ""), ("none", ""), ("bad", " checked")]
    assert f'<input type="hidden" name="t" value="{token_of(link)}">' in html
    # The subject is the customer's text: escaped, never markup.
    assert "Printer &lt;b&gt;on fire&lt;/b&gt;" in html and "<b>on fire" not in html
    assert f"Ticket #{conv}" in html and "<script" not in html
    assert await stored(desk) == ([], 0)


async def test_submitting_records_the_vote_and_the_link_then_counts_as_used(desk: Desk, web: httpx.AsyncClient) -> None:
    conv = await proposed(desk)
    token = token_of(rate_link(desk, conv, "bad"))
    done = await web.post("/mail/rate", data={"t": token, "c": "good", "reason": "fast", "comment": "Спасибо <3"})
    assert done.status_code == 200
    assert_page_headers(done)
    assert f"Your rating of ticket #{conv} was recorded: Good." in done.text
    assert await stored(desk) == ([("good", "fast", "Спасибо <3")], 1)
    again = await web.get("/mail/rate", params={"t": token})
    assert (again.status_code, refused_code(again)) == (410, "token_used")
    assert "This link has already been used" in again.text
    twice = await web.post("/mail/rate", data={"t": token, "c": "bad"})
    assert (twice.status_code, refused_code(twice)) == (410, "token_used")
    assert await stored(desk) == ([("good", "fast", "Спасибо <3")], 1)


async def test_refused_links_are_clear_pages_and_record_nothing(
    desk: Desk, web: httpx.AsyncClient, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    conv = await proposed(desk)
    other = await chat(desk)  # open: nothing to rate
    cases = [
        ({"t": "forged"}, 400, "invalid_token"),
        ({}, 400, "invalid_token"),
        ({"t": token_of(rate_link(desk, other, "good", rnd=0))}, 409, "rating_not_allowed"),
        ({"t": token_of(rate_link(desk, conv, "good", rnd=0))}, 409, "stale_link"),
        ({"t": token_of(rate_link(desk, conv, "good", user=desk.stranger.user_id))}, 404, "not_found"),
        ({"t": token_of(rate_link(desk, 10**6, "good"))}, 404, "not_found"),
    ]
    for params, status, code in cases:
        got = await web.get("/mail/rate", params=params)
        assert (got.status_code, refused_code(got)) == (status, code), params
        assert_page_headers(got)
        posted = await web.post("/mail/rate", data={**params, "c": "good"})
        assert (posted.status_code, refused_code(posted)) == (status, code), params
    token = token_of(rate_link(desk, conv, "good"))
    bad_value = await web.post("/mail/rate", data={"t": token, "c": "great"})
    assert (bad_value.status_code, refused_code(bad_value)) == (422, "invalid_rating")
    not_a_form = await web.post("/mail/rate", json={"t": token, "c": "good"})
    assert (not_a_form.status_code, refused_code(not_a_form)) == (400, "bad_request")
    too_big = await web.post("/mail/rate", content=b"t=" + b"x" * 70_000, headers=FORM)
    assert (too_big.status_code, refused_code(too_big)) == (400, "bad_request")
    not_utf8 = await web.post("/mail/rate", content=b"t=%ff%fe&c=good\xff", headers=FORM)
    assert (not_utf8.status_code, refused_code(not_utf8)) == (400, "bad_request")
    clock.advance(timedelta(days=14, seconds=1))
    expired = await web.get("/mail/rate", params={"t": token})
    assert (expired.status_code, refused_code(expired)) == (410, "token_expired")
    assert await stored(desk) == ([], 0)
    # A refusal is an answer, not an incident: no traceback, no error in the log.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_already_rated_in_the_widget_and_the_users_language(desk: Desk, web: httpx.AsyncClient) -> None:
    conv = await proposed(desk)
    await tickets.rate_ticket(desk.svc, desk.customer, conv, "none")
    token = token_of(rate_link(desk, conv, "good"))
    got = await web.get("/mail/rate", params={"t": token})
    assert (got.status_code, refused_code(got)) == (409, "already_rated")
    assert '<html lang="en">' in got.text
    # A forged link names no user: the browser's language decides.
    forged = await web.get("/mail/rate", params={"t": "x"}, headers={"Accept-Language": "de-AT, ru;q=0.5"})
    assert '<html lang="de">' in forged.text and "Dieser Link ist ungültig." in forged.text


async def attached(desk: Desk, conv: int, content: bytes, *, internal: bool) -> int:
    async def chunks() -> AsyncIterator[bytes]:
        yield content

    row = await attachments.upload(desk.svc, desk.agent, conv, filename="отчёт 1.txt", content_type="text/plain",
                                   declared_size=len(content), chunks=chunks())
    await post_message(desk.svc, desk.agent, conv, client_msg_id=uuid.uuid4().hex, body="see the file",
                       internal=internal, attachments=[row.id])
    return row.id


def attachment_url(desk: Desk, attachment_id: int) -> str:
    link = links.link(desk.svc.tokens, desk.svc.settings.public_url, Purpose.MAIL_ATTACHMENT, {"a": attachment_id})
    return link.removeprefix(desk.svc.settings.public_url)


async def test_an_attachment_link_downloads_the_file(desk: Desk, web: httpx.AsyncClient, clock: ManualClock) -> None:
    conv = await chat(desk)
    public = await attached(desk, conv, b"line one\n", internal=False)
    url = attachment_url(desk, public)
    assert url.startswith("/mail/attachment?t=")
    got = await web.get(url)
    assert got.status_code == 200 and got.content == b"line one\n"
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    assert got.headers["content-disposition"] == "attachment; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%201.txt"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["referrer-policy"] == "no-referrer"
    assert got.headers["cache-control"] == "private, no-store"
    clock.advance(timedelta(days=30, seconds=1))
    expired = await web.get(url)
    assert (expired.status_code, refused_code(expired)) == (410, "token_expired")


async def test_an_attachment_of_an_internal_note_is_never_served(desk: Desk, web: httpx.AsyncClient) -> None:
    conv = await chat(desk)
    hidden = await attached(desk, conv, b"secret\n", internal=True)
    got = await web.get(attachment_url(desk, hidden))
    assert (got.status_code, refused_code(got)) == (404, "not_found")
    assert b"secret" not in got.content
    for params, status, code in (({"t": "forged"}, 400, "invalid_token"), ({}, 400, "invalid_token")):
        got = await web.get("/mail/attachment", params=params)
        assert (got.status_code, refused_code(got)) == (status, code)
    missing = await web.get(attachment_url(desk, 10**9))
    assert (missing.status_code, refused_code(missing)) == (404, "not_found")
    # A rating token is no attachment token (each purpose its own key).
    rating = token_of(rate_link(desk, conv, "good"))
    got = await web.get("/mail/attachment", params={"t": rating})
    assert (got.status_code, refused_code(got)) == (400, "invalid_token")
