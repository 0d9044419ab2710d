"""Accounts by e-mail, the use cases (chat.mail.accounts): reset links and invitations
queued in the outbox, honoured once, refused when forged, expired, spent or superseded.
On SQLite and PostgreSQL, with the product's manual clock."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from chat import auth, directory
from chat.auth import principal_of
from chat.clock import ManualClock
from chat.errors import Conflict, Forbidden, NotFound, TooManyRequests, ValidationFailed
from chat.mail import accounts
from chat.mail.models import MailSuppression, OutboxMail, SpentToken
from chat.mail.sender import send_due
from chat.models import AuthSession, OrgKind, Role, User
from chat.services import Services
from chat.tokens import Purpose
from chat.wiring import build_services
from tests.conftest import make_settings
from tests.support.smtp_server import SmtpServer

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"


async def outbox(svc: Services) -> list[OutboxMail]:
    async with svc.sessions() as db:
        return list(await db.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def token_of(row: OutboxMail) -> str:
    return parse_qs(urlsplit(str(row.context["url"])).query)["t"][0]


async def agent(svc: Services, email: str = "agent@example.com") -> User:
    return await directory.create_user(svc, None, email=email, role=Role.AGENT, password=PASSWORD, name="Alex")


async def reset_token(svc: Services, email: str = "agent@example.com") -> str:
    before = len(await outbox(svc))
    await accounts.request_password_reset(svc, email, address="10.0.0.1")
    rows = await outbox(svc)
    assert len(rows) == before + 1
    return token_of(rows[-1])


def test_fingerprint_is_short_stable_and_empty_without_password() -> None:
    assert accounts.password_fingerprint(None) == ""
    assert accounts.password_fingerprint("") == ""
    one = accounts.password_fingerprint("$argon2id$v=19$m=65536,t=3,p=4$abc$def")
    assert len(one) == 16 and one == accounts.password_fingerprint("$argon2id$v=19$m=65536,t=3,p=4$abc$def")
    assert one != accounts.password_fingerprint("$argon2id$v=19$m=65536,t=3,p=4$abc$deg")


async def test_reset_request_queues_one_mail_to_the_user(svc: Services) -> None:
    user = await agent(svc)
    await accounts.request_password_reset(svc, " Agent@Example.com ", address="10.0.0.1")
    [row] = await outbox(svc)
    assert (row.kind, row.to_addr, row.to_user_id) == ("password_reset", "agent@example.com", user.id)
    assert row.context["expires_minutes"] == 60
    assert str(row.context["url"]).startswith(svc.settings.public_url.rstrip("/") + "/account/reset?t=")
    link = accounts.read_link(svc, Purpose.PASSWORD_RESET, token_of(row))
    assert link.user_id == user.id and link.fingerprint == accounts.password_fingerprint(user.password_hash)


async def test_no_mail_for_unknown_disabled_visitor_or_suppressed(svc: Services) -> None:
    await agent(svc, "off@example.com")
    await directory.set_user_disabled(svc, None, "off@example.com", disabled=True)
    await agent(svc, "bounced@example.com")
    async with svc.sessions.begin() as db:
        db.add(MailSuppression(address="bounced@example.com", reason="550", created_at=svc.clock.now()))
    for email in ["nobody@example.com", "off@example.com", "bounced@example.com", "not an address", ""]:
        await accounts.request_password_reset(svc, email, address="10.0.0.1")
    assert await outbox(svc) == []


async def test_reset_requests_are_throttled_per_address_and_per_client(svc: Services, clock: ManualClock) -> None:
    await agent(svc)
    for _ in range(accounts.RESET_REQUESTS_PER_ACCOUNT):
        await accounts.request_password_reset(svc, "agent@example.com", address="10.0.0.1")
    with pytest.raises(TooManyRequests) as refused:
        await accounts.request_password_reset(svc, "agent@example.com", address="10.0.0.2")
    assert refused.value.code == "too_many_requests"
    assert refused.value.retry_after == svc.settings.login_lockout_seconds + 1
    assert len(await outbox(svc)) == accounts.RESET_REQUESTS_PER_ACCOUNT
    # Unknown addresses count the same, so the limit reveals nothing either.
    for n in range(accounts.RESET_REQUESTS_PER_ACCOUNT):
        await accounts.request_password_reset(svc, "ghost@example.com", address=f"10.1.0.{n}")
    with pytest.raises(TooManyRequests):
        await accounts.request_password_reset(svc, "ghost@example.com", address="10.1.0.9")
    # One client asking for many addresses.
    for n in range(accounts.RESET_REQUESTS_PER_ADDRESS):
        await accounts.request_password_reset(svc, f"u{n}@example.com", address="10.9.9.9")
    with pytest.raises(TooManyRequests):
        await accounts.request_password_reset(svc, "another@example.com", address="10.9.9.9")
    clock.advance(timedelta(seconds=svc.settings.login_lockout_seconds + 1))
    await accounts.request_password_reset(svc, "agent@example.com", address="10.9.9.9")
    assert len(await outbox(svc)) == accounts.RESET_REQUESTS_PER_ACCOUNT + 1


async def test_reset_sets_the_password_once_and_ends_every_session(svc: Services) -> None:
    await agent(svc)
    old = await auth.login(svc, "agent@example.com", PASSWORD, address=None, user_agent=None)
    token = await reset_token(svc)
    assert (await accounts.inspect_link(svc, Purpose.PASSWORD_RESET, token)).email == "agent@example.com"

    await accounts.reset_password(svc, token, NEW_PASSWORD)
    async with svc.sessions() as db:
        session = await db.get(AuthSession, old.session.id)
        assert session is not None and session.revoked_at == svc.clock.now()
        assert await db.scalar(select(func.count()).select_from(SpentToken)) == 1
    await auth.login(svc, "agent@example.com", NEW_PASSWORD, address=None, user_agent=None)

    with pytest.raises(accounts.LinkUsed) as again:
        await accounts.reset_password(svc, token, "yet another passphrase")
    assert (again.value.status, again.value.code) == (410, "token_used")
    with pytest.raises(accounts.LinkUsed):
        await accounts.inspect_link(svc, Purpose.PASSWORD_RESET, token)
    await auth.login(svc, "agent@example.com", NEW_PASSWORD, address=None, user_agent=None)


async def test_reset_link_expires_after_an_hour(svc: Services, clock: ManualClock) -> None:
    await agent(svc)
    token = await reset_token(svc)
    clock.advance(timedelta(seconds=3601))
    with pytest.raises(accounts.LinkExpired) as expired:
        await accounts.reset_password(svc, token, NEW_PASSWORD)
    assert (expired.value.status, expired.value.code) == (410, "token_expired")
    await auth.login(svc, "agent@example.com", PASSWORD, address=None, user_agent=None)


async def test_a_password_change_kills_older_links(svc: Services) -> None:
    await agent(svc)
    first, second = await reset_token(svc), await reset_token(svc)
    await accounts.reset_password(svc, second, NEW_PASSWORD)
    with pytest.raises(accounts.LinkUsed):
        await accounts.reset_password(svc, first, "the first link's try")
    third = await reset_token(svc)
    await directory.set_password(svc, "agent@example.com", "set by the operator")
    with pytest.raises(accounts.LinkUsed):
        await accounts.reset_password(svc, third, "the third link's try")
    await auth.login(svc, "agent@example.com", "set by the operator", address=None, user_agent=None)


async def test_forged_tokens_and_bad_passwords_change_nothing(svc: Services) -> None:
    await agent(svc)
    token = await reset_token(svc)
    for forged in ["", "garbage", token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
                   svc.tokens.issue(Purpose.INVITATION, {"u": 1, "jti": "x"}),
                   svc.tokens.issue(Purpose.PASSWORD_RESET, {"u": "1", "jti": "x", "h": ""})]:
        with pytest.raises(accounts.LinkInvalid) as invalid:
            await accounts.reset_password(svc, forged, NEW_PASSWORD)
        assert (invalid.value.status, invalid.value.code) == (400, "invalid_token")
    with pytest.raises(ValidationFailed):
        await accounts.reset_password(svc, token, "short")
    # The link survived the refused password.
    await accounts.reset_password(svc, token, NEW_PASSWORD)


async def test_invite_accept_sign_in_and_no_reuse(svc: Services) -> None:
    admin = await directory.create_user(svc, None, email="boss@example.com", role=Role.SUPPORT_ADMIN,
                                        password=PASSWORD, name="Boss")
    invited = await accounts.invite_user(svc, principal_of(admin), email="new@example.com", role=Role.AGENT, name="N")
    assert invited.queued and invited.user.password_hash is None
    [row] = await outbox(svc)
    assert (row.kind, row.to_addr, row.to_user_id) == ("invitation", "new@example.com", invited.user.id)
    assert (row.context["invited_by"], row.context["organization"], row.context["expires_days"]) == ("Boss", None, 7)
    token = token_of(row)
    target = await accounts.inspect_link(svc, Purpose.INVITATION, token)
    assert (target.email, target.name, target.role) == ("new@example.com", "N", Role.AGENT)

    login = await accounts.accept_invitation(svc, token, NEW_PASSWORD, name="Nina New", address="10.0.0.3",
                                             user_agent="test")
    assert login.user.name == "Nina New"
    principal, user = await auth.authenticate(svc, login.token)
    assert (principal.user_id, user.email) == (invited.user.id, "new@example.com")
    await auth.login(svc, "new@example.com", NEW_PASSWORD, address=None, user_agent=None)

    with pytest.raises(accounts.LinkUsed):
        await accounts.accept_invitation(svc, token, "another passphrase", address=None, user_agent=None)
    with pytest.raises(accounts.LinkUsed):
        await accounts.inspect_link(svc, Purpose.INVITATION, token)
    # Accepted: no more invitations, "forgot password" is the way now.
    with pytest.raises(Conflict) as conflict:
        await accounts.send_invitation(svc, principal_of(admin), invited.user.id)
    assert conflict.value.code == "password_already_set"


async def test_an_older_invitation_dies_when_a_newer_one_is_accepted(svc: Services, clock: ManualClock) -> None:
    invited = await accounts.invite_user(svc, None, email="new@example.com", role=Role.AGENT)
    assert await accounts.send_invitation(svc, None, invited.user.id)
    first, second = (token_of(row) for row in await outbox(svc))
    await accounts.accept_invitation(svc, second, NEW_PASSWORD, address=None, user_agent=None)
    with pytest.raises(accounts.LinkUsed):
        await accounts.accept_invitation(svc, first, "another passphrase", address=None, user_agent=None)
    # And an invitation expires after a week.
    third_user = await accounts.invite_user(svc, None, email="late@example.com", role=Role.AGENT)
    late = token_of((await outbox(svc))[-1])
    assert third_user.queued
    clock.advance(timedelta(days=7, seconds=1))
    with pytest.raises(accounts.LinkExpired):
        await accounts.accept_invitation(svc, late, NEW_PASSWORD, address=None, user_agent=None)


async def test_invitations_follow_create_user_authorization(svc: Services) -> None:
    reseller = (await directory.create_organization(svc, None, name="R", kind=OrgKind.RESELLER, slug="r")).organization
    other = (await directory.create_organization(svc, None, name="O", kind=OrgKind.RESELLER, slug="o")).organization
    await directory.create_organization(svc, None, name="C", kind=OrgKind.CUSTOMER, parent="r", slug="c")
    await directory.create_organization(svc, None, name="D", kind=OrgKind.CUSTOMER, parent="o", slug="d")
    boss = await directory.create_user(svc, None, email="boss@r.example", role=Role.RESELLER_ADMIN,
                                       organization=reseller.id, password=PASSWORD)
    assert other.id != reseller.id
    partner = principal_of(boss)
    invited = await accounts.invite_user(svc, partner, email="cust@c.example", role=Role.CUSTOMER, organization="c")
    assert invited.queued
    [row] = await outbox(svc)
    assert row.context["organization"] == "C"
    with pytest.raises(Forbidden):
        await accounts.invite_user(svc, partner, email="x-agent@example.com", role=Role.AGENT)
    # Another reseller's customer is answered as if it did not exist (docs/http.md).
    with pytest.raises(NotFound) as hidden:
        await accounts.invite_user(svc, partner, email="x-customer@example.com", role=Role.CUSTOMER, organization="d")
    assert hidden.value.code == "organization_not_found"
    outsider = await directory.create_user(svc, None, email="cust@d.example", role=Role.CUSTOMER, organization="d")
    with pytest.raises(NotFound) as unseen:
        await accounts.send_invitation(svc, partner, outsider.id)
    assert unseen.value.code == "user_not_found"
    async with svc.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 3  # boss, the invited customer, the outsider
    assert len(await outbox(svc)) == 1


async def test_invalid_address_stores_nothing_and_no_address_queues_nothing(svc: Services) -> None:
    with pytest.raises(ValidationFailed):
        await accounts.invite_user(svc, None, email="not an address", role=Role.AGENT)
    async with svc.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 0
    # A customer the widget created from a site's identity has no address: no mail, no error.
    async with svc.sessions.begin() as db:
        bare = User(email=None, name="Widget user", role=Role.CUSTOMER, language="en", notification_prefs={},
                    disabled=False, created_at=svc.clock.now())
        db.add(bare)
    assert await accounts.send_invitation(svc, None, bare.id) is False
    assert await outbox(svc) == []


async def test_reset_mail_reaches_a_real_smtp_server_and_its_link_works(
    db_url: str, tmp_path: Path, clock: ManualClock, smtp: SmtpServer
) -> None:
    settings = make_settings(db_url, tmp_path / "var", SMTP_URL=smtp.url, SMTP_CA_FILE=smtp.write_ca(str(tmp_path / "ca.pem")))
    svc = build_services(settings, clock=clock)
    await svc.broker.connect()
    try:
        await agent(svc)
        await accounts.request_password_reset(svc, "agent@example.com", address="10.0.0.1")
        assert await send_due(svc, clock.now()) == 1
        [received] = smtp.received
        assert received.rcpt_tos == ["agent@example.com"]
        text = received.message.get_body(preferencelist=("plain",))
        assert text is not None
        [url] = re.findall(r"https?://\S+/account/reset\?t=\S+", text.get_content())
        token = parse_qs(urlsplit(url).query)["t"][0]
        await accounts.reset_password(svc, token, NEW_PASSWORD)
        await auth.login(svc, "agent@example.com", NEW_PASSWORD, address=None, user_agent=None)
    finally:
        await svc.close()
