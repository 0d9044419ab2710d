"""``GET /metrics`` on a real server: off without ``METRICS_TOKEN``, 401 without the right
token, and the counters moving as sockets open, frames flow, messages are stored and
logins fail. Counters are process-wide: every assertion is on the difference between two
scrapes (tests/support/scrape.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from chat.client import ChatClient
from chat.clock import ManualClock
from chat.settings import Settings
from tests.chat.mail.outbox_rows import queue_rows
from tests.conftest import make_settings
from tests.support.chatlog import SupportChat, seed_support_chat
from tests.support.live import LiveServer, live_server
from tests.support.scrape import Scrape, scrape

TOKEN = "metrics-token-" + "m" * 24
FRAMES_IN = "supportchat_websocket_frames_received_total"
FRAMES_OUT = "supportchat_websocket_frames_sent_total"
AUTH_FAILURES = "supportchat_auth_failures_total"
SOCKETS = "supportchat_websocket_connections"


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    # SQLite only: what is counted does not depend on the database. No sweeper in the
    # process: the outbox rows a test queues stay where it put them.
    return make_settings(sqlite_url, tmp_path / "var", METRICS_TOKEN=TOKEN, SWEEPER_IN_PROCESS="false")


@pytest.fixture
async def chat(server: LiveServer) -> SupportChat:
    return await seed_support_chat(server.services)


def client(server: LiveServer, token: str) -> ChatClient:
    return ChatClient(server.ws_url + "/ws", token, timeout=10)


async def until(http: httpx.AsyncClient, check: str, predicate: Callable[[Scrape], bool]) -> Scrape:
    """Scrape until ``predicate(scrape)`` holds (what a socket's close does happens after
    the client has gone)."""
    for _ in range(100):
        now = await scrape(http, TOKEN)
        if predicate(now):
            return now
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {check}")


async def test_without_a_token_configured_metrics_is_an_unknown_path(sqlite_url: str, tmp_path: Path) -> None:
    async with live_server(make_settings(sqlite_url, tmp_path / "var")) as server, \
            httpx.AsyncClient(base_url=server.base_url) as http:
        unknown = await http.get("/no-such-page")
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
            r = await http.get("/metrics", headers=headers)
            assert r.status_code == 404
            assert r.json() == unknown.json() == {"error": {"code": "not_found", "message": "Not Found"}}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}",
                                           f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer"])
async def test_a_missing_or_wrong_token_is_401_and_counted(http: httpx.AsyncClient, authorization: str | None) -> None:
    before = await scrape(http, TOKEN)
    r = await http.get("/metrics", headers={"Authorization": authorization} if authorization else {})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "invalid_token"
    assert "supportchat" not in r.text
    after = await scrape(http, TOKEN)
    assert after.value(AUTH_FAILURES, kind="metrics") - before.value(AUTH_FAILURES, kind="metrics") == 1


async def test_the_scrape_is_prometheus_text_with_help_for_every_metric(http: httpx.AsyncClient) -> None:
    r = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    assert r.headers["cache-control"] == "no-store"
    names = [line.split()[2] for line in r.text.splitlines() if line.startswith("# HELP supportchat_")]
    assert set(names) >= {
        SOCKETS, FRAMES_IN, FRAMES_OUT, "supportchat_websocket_outbound_queued_frames",
        "supportchat_messages_stored_total", "supportchat_writer_batch_size", "supportchat_writer_queue_depth",
        AUTH_FAILURES, "supportchat_sweeper_actions_total", "supportchat_sweeper_job_failures_total",
        "supportchat_sweeper_pass_seconds", "supportchat_sweeper_lag_seconds", "supportchat_mail_outcomes_total",
        "supportchat_mail_outbox_rows", "supportchat_mail_outbox_due_rows",
    }
    # OpenMetrics for a scraper that asks for it.
    om = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}",
                                             "Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")


async def test_sockets_frames_messages_and_failed_logins_move_the_counters(
    server: LiveServer, http: httpx.AsyncClient, chat: SupportChat
) -> None:
    before = await scrape(http, TOKEN)
    conv = chat.conversation_id
    visitor, agent = client(server, chat.visitor.token), client(server, chat.agent.token)
    await visitor.connect()
    await agent.connect()
    try:
        await visitor.join(conv)
        await agent.join(conv)
        await visitor.send(conv, "hello")
        await visitor.send(conv, "anyone?")
        ack = await agent.send(conv, "here", client_msg_id="agent-1")
        await agent.send(conv, "here", client_msg_id="agent-1")  # a resend: acknowledged, not stored again
        await visitor.ping()
        await visitor.raw('{"type": "no_such_type_" }')  # a client-chosen type is no label value
        await visitor.raw("not json")
        await visitor.ping()  # answered after both errors: they were counted
        await visitor.wait_for_seq(conv, ack["seq"])
        during = await scrape(http, TOKEN)
    finally:
        await visitor.close()
        await agent.close()

    def delta(name: str, **labels: str) -> float:
        return during.value(name, **labels) - before.value(name, **labels)

    assert delta(SOCKETS) == 2
    assert {t: delta(FRAMES_IN, type=t) for t in ("auth", "join", "send", "ping", "other", "rate_limited")} == {
        "auth": 2, "join": 2, "send": 4, "ping": 2, "other": 2, "rate_limited": 0}
    assert "no_such_type_" not in during.labels_of(FRAMES_IN, "type")
    assert delta(FRAMES_OUT, type="ready") == 2
    assert delta(FRAMES_OUT, type="joined") == 2
    assert delta(FRAMES_OUT, type="ack") == 4
    assert delta(FRAMES_OUT, type="pong") == 2
    assert delta(FRAMES_OUT, type="error") == 2
    # Three messages, each to both sockets (the author's own socket gets its event too).
    assert delta(FRAMES_OUT, type="event") >= 6
    assert delta("supportchat_messages_stored_total") == 3
    assert delta("supportchat_writer_batch_size_sum") == 4  # the resend rode in a batch too
    assert 1 <= delta("supportchat_writer_batch_size_count") <= 4

    # Closed sockets leave the gauge once the server has seen them go.
    await until(http, "both sockets gone", lambda s: s.value(SOCKETS) == before.value(SOCKETS))


async def test_refused_logins_tokens_and_sockets_are_counted_by_kind(
    server: LiveServer, http: httpx.AsyncClient, chat: SupportChat
) -> None:
    before = await scrape(http, TOKEN)
    for password in ("wrong", "also wrong"):
        r = await http.post("/api/auth/login", json={"email": "agent@x.example", "password": password})
        assert r.status_code == 401
    r = await http.get("/api/me", headers={"Authorization": "Bearer s:forged"})
    assert r.status_code == 401
    r = await http.get("/api/me")  # no token at all: not a failure, just signed out
    assert r.status_code == 401
    with pytest.raises(ConnectionClosed):
        await client(server, "v:forged").connect()
    after = await scrape(http, TOKEN)
    assert {k: after.value(AUTH_FAILURES, kind=k) - before.value(AUTH_FAILURES, kind=k)
            for k in ("login", "login_locked", "token", "websocket", "identity", "metrics")} == {
        "login": 2, "login_locked": 0, "token": 1, "websocket": 1, "identity": 0, "metrics": 0}


async def test_the_outbox_depth_is_read_from_the_database_at_scrape_time(
    server: LiveServer, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    svc = server.services
    await queue_rows(svc, 2, prefix="now")
    await queue_rows(svc, 3, due=clock.now() + timedelta(hours=1), prefix="later")
    first = await scrape(http, TOKEN)
    assert first.value("supportchat_mail_outbox_rows", status="pending") == 5
    assert first.value("supportchat_mail_outbox_rows", status="held") == 0
    assert first.value("supportchat_mail_outbox_due_rows") == 2
    clock.advance(timedelta(hours=2))
    second = await scrape(http, TOKEN)
    assert second.value("supportchat_mail_outbox_rows", status="pending") == 5
    assert second.value("supportchat_mail_outbox_due_rows") == 5
