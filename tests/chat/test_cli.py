"""The command line, run as a real subprocess the way an operator runs it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from chat import directory
from chat.auth import principal_of
from chat.demo import ADMIN, history_count
from chat.events import conversation_channel
from chat.reports.filters import parse_query
from chat.reports.selection import CHANNELS
from chat.reports.volume import volume_report
from chat.wiring import build_services
from escalation.models import Ticket
from tests.conftest import TEST_SECRET, make_settings
from tests.support.processes import RedisServer, free_port


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    environ.update({"VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": TEST_SECRET, **env})
    return subprocess.run([sys.executable, "-m", "chat", *args], capture_output=True, text=True, env=environ,
                          cwd=tmp_path, timeout=120)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["create-user", "--email", "a@b.example"],
        ["create-user", "--email", "a@b.example", "--role", "wizard"],
        ["create-org", "--name", "X", "--kind", "partner"],
        ["create-org", "--name", "X", "--kind", "customer", "--plan", "gold"],
        ["serve", "--port", "99999"],
        ["serve", "--workers", "0"],
    ],
)
def test_bad_arguments_give_one_line_and_status_2(tmp_path: Path, args: list[str]) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "error" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    ["", "serve", "migrate", "create-user", "create-org", "create-site", "disable-user", "enable-user",
     "set-password", "demo"],
)
def test_help_works_without_a_migrated_database(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run(tmp_path, *([command] if command else []), "--help", DATABASE_URL=f"sqlite:///{empty}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: supportchat {command}".rstrip())
    assert empty.stat().st_size == 0 and not (tmp_path / "var").exists()  # nothing touched


def test_configuration_error_gives_one_line_and_status_78(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate", DATABASE_URL="mysql://nope/db")
    assert result.returncode == 78
    assert result.stderr.strip().splitlines() == [
        "supportchat: configuration error: DATABASE_URL scheme 'mysql' is not supported: use postgresql://… or sqlite:///…"
    ]


def test_workers_without_redis_are_refused(tmp_path: Path) -> None:
    result = run(tmp_path, "serve", "--workers", "2")
    assert result.returncode == 2 and "REDIS_URL" in result.stderr


def test_administration_commands(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    reseller = run(tmp_path, "create-org", "--name", "Big Reseller", "--kind", "reseller")
    assert reseller.returncode == 0 and "big-reseller" in reseller.stdout
    customer = run(tmp_path, "create-org", "--name", "Small Co", "--kind", "customer", "--plan", "premium",
                   "--domains", "small.example, small.example.org", "--parent", "big-reseller")
    assert customer.returncode == 0, customer.stderr
    user = run(tmp_path, "create-user", "--email", "boss@small.example", "--role", "customer", "--org", "small-co")
    assert user.returncode == 0 and "password: " in user.stdout
    dup = run(tmp_path, "create-user", "--email", "BOSS@small.example", "--role", "agent")
    assert dup.returncode == 2 and dup.stderr.strip() == "supportchat: error: a user with e-mail boss@small.example already exists"
    site = run(tmp_path, "create-site", "--name", "Shop", "--origins", "https://shop.example,http://localhost:3000")
    assert site.returncode == 0 and '<script src="http://127.0.0.1:8000/widget/loader.js" data-site="st_' in site.stdout
    site_id = site.stdout.split()[2]
    fields = run(tmp_path, "site-widget", "--site", site_id, "--fields", "email=required,severity=optional",
                 "--language", "de")
    assert fields.returncode == 0, fields.stderr
    shown = json.loads(fields.stdout)
    assert shown["language"] == "de" and shown["prechat"]["fields"]["email"] == "required"
    assert shown["prechat"]["fields"]["severity"] == "optional" and shown["prechat"]["fields"]["happened_at"] == "hidden"
    again = json.loads(run(tmp_path, "site-widget", "--site", site_id, "--offline-form", "off").stdout)
    assert again["offline_form"] is False and again["language"] == "de"  # the rest is kept
    bad_field = run(tmp_path, "site-widget", "--site", site_id, "--fields", "description=hidden")
    assert bad_field.returncode == 2 and "description" in bad_field.stderr
    assert run(tmp_path, "site-widget", "--site", "999999").returncode == 2
    bad_site = run(tmp_path, "create-site", "--name", "Shop", "--origins", "ftp://nope")
    assert bad_site.returncode == 2 and len(bad_site.stderr.strip().splitlines()) == 1
    assert run(tmp_path, "disable-user", "--email", "boss@small.example").returncode == 0
    assert run(tmp_path, "set-password", "--email", "boss@small.example", "--password", "short").returncode == 2


def test_port_alone_moves_the_printed_urls(tmp_path: Path) -> None:
    demo = run(tmp_path, "demo", PORT="8123")
    assert demo.returncode == 0, demo.stderr
    assert "Demo ready at http://127.0.0.1:8123/" in demo.stdout
    assert '<script src="http://127.0.0.1:8123/widget/loader.js"' in demo.stdout
    assert ":8000" not in demo.stdout


def test_serve_port_is_the_one_public_url_defaults_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chat import cli

    served: list[tuple[str, int]] = []
    monkeypatch.setattr(cli, "_serve", lambda settings, host, port, workers: served.append((settings.public_url, port)) or 0)
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.setenv("PORT", "8123")
    assert cli.main(["serve"]) == 0
    assert cli.main(["serve", "--port", "8124"]) == 0  # the command line wins over PORT
    assert served == [("http://127.0.0.1:8123", 8123), ("http://127.0.0.1:8124", 8124)]


async def test_demo_is_repeatable_and_prints_working_logins(tmp_path: Path) -> None:
    started = time.monotonic()
    first = run(tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    seeding = time.monotonic() - started
    history = await _demo_history(tmp_path)
    second = run(tmp_path, "demo")
    assert second.returncode == 0, second.stderr
    for role in ("support_admin", "agent", "read_only", "reseller_admin", "customer"):
        assert role in second.stdout
    # Fresh passwords each run: nothing reusable is kept anywhere.
    assert first.stdout != second.stdout

    # A month of support history for the Reports page, played once: the second run finds
    # it and adds nothing (the same tickets, messages and ratings), and says so in one line.
    assert 50 <= history.tickets <= 120, history
    assert await _demo_history(tmp_path) == history
    line = f"/console/reports — {history.tickets} tickets and chats of the last 30 days"
    assert line in first.stdout and line in second.stdout
    assert len(first.stdout.splitlines()) == len(second.stdout.splitlines()) <= 17
    assert seeding < 60, f"demo took {seeding:.1f} s"  # ~15 s on an idle 2-core machine
    # The volume report's default range (the last 30 days) shows it, counted by the rollup.
    assert history.created >= 40 and history.closed >= 30, history
    assert history.messages >= 5 * history.created, history
    assert history.days_with_tickets >= 15, history
    # Support as it happens: some first responses missed, most met, ratings good and bad.
    assert history.breached > 0 and history.met > history.breached, history
    assert history.ratings["good"] > history.ratings["bad"] > 0, history
    assert history.channels >= {"chat", "web", "phone", "email"}, history


@dataclass(frozen=True)
class _History:
    tickets: int
    created: int
    closed: int
    messages: int
    days_with_tickets: int
    breached: int
    met: int
    ratings: Counter[str]
    channels: frozenset[str]


async def _demo_history(tmp_path: Path) -> _History:
    svc = build_services(make_settings(f"sqlite:///{tmp_path / 'var' / 'supportchat.db'}", tmp_path / "var"))
    try:
        async with svc.sessions() as db:
            admin = principal_of(await directory.find_user(db, ADMIN))
            rows = (await db.execute(select(Ticket.sla_first_response, Ticket.rating, Ticket.channel))).all()
        query, _ = parse_query([], now=svc.clock.now(), channels=CHANNELS)
        volume = await volume_report(svc, admin, query)
        per_day = next(t for t in volume["tables"] if t["id"] == "per_day")
        return _History(
            tickets=await history_count(svc),
            created=sum(row["created"] for row in per_day["rows"]),
            closed=sum(row["closed"] for row in per_day["rows"]),
            messages=sum(row["messages"] for row in per_day["rows"]),
            days_with_tickets=sum(1 for row in per_day["rows"] if row["created"]),
            breached=sum(1 for r in rows if r.sla_first_response == "breached"),
            met=sum(1 for r in rows if r.sla_first_response == "met"),
            ratings=Counter(r.rating for r in rows if r.rating),
            channels=frozenset(r.channel.value for r in rows),
        )
    finally:
        await svc.close()


async def test_under_redis_commands_publish_through_it_and_print_no_line_per_event(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    listener = aioredis.Redis.from_url(redis_server.url)
    heard = listener.pubsub()
    await heard.psubscribe("*")
    try:
        result = await asyncio.to_thread(run, tmp_path, "demo", REDIS_URL=redis_server.url)
        assert result.returncode == 0, result.stderr
        assert "skipped" not in result.stderr and "not connected" not in result.stderr, result.stderr
        assert len(result.stdout.splitlines()) <= 17, result.stdout
        channels = set()
        for _ in range(2000):  # what was published while the command ran is buffered
            message = await heard.get_message(timeout=0.2)
            if message is None:
                break
            if message["type"] == "pmessage":
                channels.add(message["channel"].decode())
        # The live seeding's doorbells went out (a running console would have heard them).
        assert any(c.startswith(conversation_channel(0)[:-1]) for c in channels), channels
    finally:
        await heard.aclose()
        await listener.aclose()


def test_an_unreachable_redis_is_one_note_and_the_command_still_works(tmp_path: Path) -> None:
    result = run(tmp_path, "create-org", "--name", "Acme", "--kind", "customer",
                 REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 0, result.stderr
    assert "created organization" in result.stdout, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("supportchat: note:"), result.stderr
    assert "Traceback" not in result.stderr
