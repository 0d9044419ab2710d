"""Inviting a person over real HTTP (issue 15, item 6): ``POST /api/users`` with
``"invite": true`` stores a user without a password and an invitation mail in one
transaction; whatever is refused stores neither."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from chat.mail import accounts
from chat.mail.models import MailSuppression, OutboxMail
from chat.models import Role, User
from tests.chat.http.test_account import sign_in
from tests.chat.http.test_admin import seed
from tests.support.live import LiveServer
from tests.support.transactions import counted_transactions


async def outbox(server: LiveServer) -> list[tuple[str, str, int | None]]:
    async with server.services.sessions() as db:
        rows = await db.scalars(select(OutboxMail).order_by(OutboxMail.id))
        return [(row.kind, row.to_addr, row.to_user_id) for row in rows]


async def user_by_email(server: LiveServer, email: str) -> User | None:
    async with server.services.sessions() as db:
        return await db.scalar(select(User).where(User.email == email))


async def test_admin_invites_an_agent(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    await sign_in(http, "admin@x.example")
    with counted_transactions(server.services) as committed:
        r = await http.post("/api/users", json={"email": " Nina@New.Example ", "role": "agent", "name": "Nina",
                                                 "language": "de", "invite": True})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["invitation_queued"] is True
    user = body["user"]
    assert (user["email"], user["name"], user["role"], user["language"], user["organization_id"]) == (
        "nina@new.example", "Nina", "agent", "de", None)
    # The user and the mail are one transaction (the sign-in's session rows are not counted
    # here: they committed before).
    assert committed.count == 1
    assert await outbox(server) == [("invitation", "nina@new.example", user["id"])]
    stored = await user_by_email(server, "nina@new.example")
    assert stored is not None and stored.password_hash is None


async def test_reseller_admin_invites_a_customer_of_its_own(server: LiveServer, http: httpx.AsyncClient) -> None:
    orgs = await seed(server)
    await sign_in(http, "reseller@r20.example")
    r = await http.post("/api/users", json={"email": "buyer@ten.example", "role": "customer", "organization": "c10",
                                             "invite": True})
    assert r.status_code == 201, r.text
    assert r.json()["user"]["organization_id"] == orgs["c10"]
    refused = await http.post("/api/users", json={"email": "buyer@eleven.example", "role": "customer",
                                                   "organization": "c11", "invite": True})
    # Another reseller's customer: the same 404 as a company that does not exist (issue 20).
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "organization_not_found"
    assert await outbox(server) == [("invitation", "buyer@ten.example", r.json()["user"]["id"])]
    assert await user_by_email(server, "buyer@eleven.example") is None


async def test_invite_with_a_password_is_refused(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    await sign_in(http, "admin@x.example")
    r = await http.post("/api/users", json={"email": "nina@new.example", "role": "agent", "invite": True,
                                             "password": "a password of my own"})
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "validation_failed", "message": "password: an invited user sets their own password; leave it out"}
    assert await user_by_email(server, "nina@new.example") is None
    assert await outbox(server) == []


@pytest.mark.parametrize("email", ["not an address", "nina@", "nina@new.example\r\nBcc: x@evil.example"])
async def test_an_invalid_address_stores_nothing(server: LiveServer, http: httpx.AsyncClient, email: str) -> None:
    await seed(server)
    await sign_in(http, "admin@x.example")
    r = await http.post("/api/users", json={"email": email, "role": "agent", "invite": True})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_failed"
    assert r.json()["error"]["message"] == f"email: {email!r} is not an e-mail address"
    async with server.services.sessions() as db:
        assert list(await db.scalars(select(User.email).where(User.password_hash.is_(None)))) == []
    assert await outbox(server) == []


async def test_an_agent_may_not_invite(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    await sign_in(http, "agent@x.example")
    r = await http.post("/api/users", json={"email": "nina@new.example", "role": "agent", "invite": True})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert await user_by_email(server, "nina@new.example") is None
    assert await outbox(server) == []
    http.cookies.clear()
    anonymous = await http.post("/api/users", json={"email": "nina@new.example", "role": "agent", "invite": True})
    assert anonymous.status_code == 401


async def test_a_taken_address_sends_nothing(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    await sign_in(http, "admin@x.example")
    r = await http.post("/api/users", json={"email": "agent@x.example", "role": "agent", "invite": True})
    assert r.status_code == 409 and r.json()["error"]["code"] == "email_taken"
    assert await outbox(server) == []


async def test_a_suppressed_address_gets_the_user_but_no_mail(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    async with server.services.sessions.begin() as db:
        db.add(MailSuppression(address="nina@new.example", reason="550 no such user", created_at=server.services.clock.now()))
    await sign_in(http, "admin@x.example")
    r = await http.post("/api/users", json={"email": "nina@new.example", "role": "agent", "invite": True})
    assert r.status_code == 201 and r.json()["invitation_queued"] is False
    assert await user_by_email(server, "nina@new.example") is not None
    assert await outbox(server) == []


@contextmanager
def outbox_insert_fails(server: LiveServer) -> Iterator[None]:
    """The database refuses the outbox row (a fault injected on the real engine)."""
    engine = server.services.engine.sync_engine

    def refuse(_conn: object, _cursor: object, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MAIL_OUTBOX"):
            raise RuntimeError("disk full while queueing the invitation")

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


async def test_no_user_without_its_invitation(server: LiveServer) -> None:
    await seed(server)
    with outbox_insert_fails(server), pytest.raises(RuntimeError, match="disk full"):
        await accounts.invite_user(server.services, None, email="nina@new.example", role=Role.AGENT)
    assert await user_by_email(server, "nina@new.example") is None
    invited = await accounts.invite_user(server.services, None, email="nina@new.example", role=Role.AGENT)
    assert invited.queued is True
    assert await outbox(server) == [("invitation", "nina@new.example", invited.user.id)]


async def test_a_language_given_by_the_admin_is_the_persons_choice(server: LiveServer, http: httpx.AsyncClient) -> None:
    """Issue 18: the language the admin picks is the person's (their console opens in it);
    none given leaves it to their browser until they pick one."""
    await seed(server)
    await sign_in(http, "admin@x.example")
    chosen = await http.post("/api/users", json={"email": "ru@new.example", "role": "agent", "language": "ru",
                                                  "invite": True})
    left = await http.post("/api/users", json={"email": "auto@new.example", "role": "agent", "invite": True})
    plain = await http.post("/api/users", json={"email": "pt@new.example", "role": "agent", "language": "pt-br",
                                                 "password": "a long enough passphrase 1"})
    assert [r.status_code for r in (chosen, left, plain)] == [201, 201, 201], [chosen.text, left.text, plain.text]
    assert [(r.json()["user"]["language"], r.json()["user"]["language_chosen"]) for r in (chosen, left, plain)] == [
        ("ru", True), ("en", False), ("pt-BR", True)]
    stored = await user_by_email(server, "ru@new.example")
    assert stored is not None and stored.language_chosen is True
