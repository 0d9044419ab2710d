"""Mail switches, time zone and the unsubscribe link's use cases (chat.mail.preferences),
on SQLite and PostgreSQL; the rules themselves without a database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from chat import directory
from chat.auth import principal_of
from chat.clock import ManualClock
from chat.errors import ValidationFailed
from chat.mail import links, preferences
from chat.mail.kinds import MailKind
from chat.mail.models import MailSuppression
from chat.models import OrgKind, Role, User
from chat.services import Services
from chat.tokens import ExpiredToken, InvalidToken, Purpose

CUSTOMER_KINDS = ["ticket_opened", "support_reply", "close_proposed", "ticket_closed", "ticket_reopened",
                  "system_alert", "join_decided", "offline_received"]
STAFF_KINDS = ["ticket_assigned", "group_transfer", "unassigned_ticket", "customer_replied", "sla_warning",
               "sla_breach", "escalation"]


# -- pure rules ---------------------------------------------------------------------------


def test_each_audience_switches_its_own_kinds() -> None:
    assert [k.value for k in preferences.kinds_for(Role.CUSTOMER)] == CUSTOMER_KINDS
    assert [k.value for k in preferences.kinds_for(Role.VISITOR)] == CUSTOMER_KINDS
    assert [k.value for k in preferences.kinds_for(Role.RESELLER_ADMIN)] == CUSTOMER_KINDS
    assert [k.value for k in preferences.kinds_for(Role.AGENT)] == STAFF_KINDS
    assert [k.value for k in preferences.kinds_for(Role.READ_ONLY)] == STAFF_KINDS


def test_clean_switches() -> None:
    assert preferences.clean_switches({"support_reply": False, "ticket_closed": True}, Role.CUSTOMER) == {
        "support_reply": False, "ticket_closed": True}
    # Switching an essential kind on is a no-op, not an error.
    assert preferences.clean_switches({"password_reset": True}, Role.CUSTOMER) == {}
    # The three pre-mail keys stand for every kind they meant, per audience.
    assert preferences.clean_switches({"email_on_alert": False}, Role.AGENT) == {
        "sla_warning": False, "sla_breach": False, "escalation": False}
    assert preferences.clean_switches({"email_on_reply": False}, Role.CUSTOMER) == {"support_reply": False}


@pytest.mark.parametrize(("prefs", "role", "code", "words"), [
    ({"password_reset": False}, Role.CUSTOMER, "essential_mail", "cannot be switched off"),
    ({"invitation": False}, Role.AGENT, "essential_mail", "cannot be switched off"),
    ({"sms": True}, Role.CUSTOMER, "validation_failed", "unknown kind 'sms'"),
    ({"sla_breach": False}, Role.CUSTOMER, "validation_failed", "not a mail a customer receives"),
    ({"support_reply": False}, Role.AGENT, "validation_failed", "not a mail a agent receives"),
])
def test_clean_switches_refuses(prefs: dict[str, bool], role: Role, code: str, words: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        preferences.clean_switches(prefs, role)
    assert refused.value.status == 422
    assert refused.value.code == code
    assert words in refused.value.message


def test_clean_time_zone() -> None:
    assert preferences.clean_time_zone("Europe/Berlin") == "Europe/Berlin"
    assert preferences.clean_time_zone(" America/Sao_Paulo ") == "America/Sao_Paulo"
    assert preferences.clean_time_zone(None) is None
    assert preferences.clean_time_zone("  ") is None
    for bad in ("Mars/Olympus", "../../etc/passwd", "europe/berlin", "x" * 300, "UTC+3"):
        with pytest.raises(ValidationFailed):
            preferences.clean_time_zone(bad)


def test_merged_switches_folds_legacy_keys_and_drops_unknown() -> None:
    stored = {"email_on_reply": False, "support_reply": True, "ticket_closed": False, "junk": 1}
    assert preferences.merged_switches(stored, {"ticket_closed": True}, Role.AGENT) == {
        "support_reply": True, "customer_replied": False, "ticket_closed": True}


# -- the profile update (chat.directory.update_profile) -----------------------------------


async def _user(svc: Services, role: Role, email: str) -> User:
    org_id = None
    if role not in {Role.AGENT, Role.SUPPORT_ADMIN, Role.READ_ONLY}:
        org = await directory.create_organization(svc, None, name=f"Org {email}", kind=OrgKind.CUSTOMER)
        org_id = org.organization.id
    return await directory.create_user(svc, None, email=email, role=role, organization=org_id, name=email.split("@")[0])


async def _stored(svc: Services, user_id: int) -> User:
    async with svc.sessions() as db:
        user = await db.get(User, user_id)
        assert user is not None
        return user


async def test_profile_sets_switches_and_time_zone(svc: Services) -> None:
    user = await _user(svc, Role.CUSTOMER, "cu@example.com")
    actor = principal_of(user)
    await directory.update_profile(svc, actor, notification_prefs={"support_reply": False}, time_zone="Europe/Berlin")
    await directory.update_profile(svc, actor, notification_prefs={"ticket_closed": False})
    stored = await _stored(svc, user.id)
    assert stored.notification_prefs == {"support_reply": False, "ticket_closed": False}
    assert stored.time_zone == "Europe/Berlin"
    view = await preferences.mail_preferences(svc, actor)
    assert view.audience == "customer"
    assert {s.kind: s.on for s in view.switches} == {k: k not in {"support_reply", "ticket_closed"} for k in CUSTOMER_KINDS}
    assert view.essential == ["password_reset", "invitation", "account_accessed"]
    assert view.time_zone == "Europe/Berlin"
    # None clears the time zone; an absent one leaves it.
    await directory.update_profile(svc, actor, name="Cu")
    assert (await _stored(svc, user.id)).time_zone == "Europe/Berlin"
    await directory.update_profile(svc, actor, time_zone=None)
    assert (await _stored(svc, user.id)).time_zone is None


async def test_staff_are_not_listed_the_customers_security_notice(svc: Services) -> None:
    agent = await _user(svc, Role.AGENT, "ag2@example.com")
    view = await preferences.mail_preferences(svc, principal_of(agent))
    assert view.essential == ["password_reset", "invitation"]


@pytest.mark.parametrize(("changes", "code"), [
    ({"notification_prefs": {"password_reset": False}}, "essential_mail"),
    ({"notification_prefs": {"nope": False}}, "validation_failed"),
    ({"time_zone": "Nowhere/Land"}, "validation_failed"),
])
async def test_refused_profile_stores_nothing(svc: Services, changes: dict[str, object], code: str) -> None:
    user = await _user(svc, Role.AGENT, "ag@example.com")
    with pytest.raises(ValidationFailed) as refused:
        # The name would be valid: a refusal stores none of the update.
        await directory.update_profile(svc, principal_of(user), name="Changed", **changes)  # type: ignore[arg-type]
    assert refused.value.code == code
    stored = await _stored(svc, user.id)
    assert (stored.name, stored.notification_prefs, stored.time_zone) == ("ag", {}, None)


# -- unsubscribe by link ------------------------------------------------------------------


def _token(svc: Services, payload: dict[str, object]) -> str:
    return links.mint(svc.tokens, Purpose.MAIL_UNSUBSCRIBE, payload)


async def test_unsubscribe_url_and_link_switch_off_exactly_that_kind(svc: Services) -> None:
    user = await _user(svc, Role.CUSTOMER, "cu@example.com")
    await directory.update_profile(svc, principal_of(user), notification_prefs={"ticket_closed": False})
    assert preferences.unsubscribe_url(svc, user_id=user.id, address="cu@example.com", kind=MailKind.PASSWORD_RESET) is None
    url = preferences.unsubscribe_url(svc, user_id=user.id, address="cu@example.com", kind=MailKind.SUPPORT_REPLY)
    assert url is not None and url.startswith(f"{svc.settings.public_url}/mail/unsubscribe?t=")
    token = url.split("?t=", 1)[1]
    assert links.read(svc.tokens, Purpose.MAIL_UNSUBSCRIBE, token) == {"u": user.id, "k": "support_reply"}

    preview = await preferences.unsubscribe_preview(svc, token)
    assert (preview.kind, preview.subject, preview.user_id, preview.done) == (
        MailKind.SUPPORT_REPLY, preferences.Subject.USER, user.id, False)
    assert (await _stored(svc, user.id)).notification_prefs == {"ticket_closed": False}  # a preview changes nothing

    done = await preferences.unsubscribe(svc, token)
    assert done.done and done.role is Role.CUSTOMER
    assert (await _stored(svc, user.id)).notification_prefs == {"ticket_closed": False, "support_reply": False}
    again = await preferences.unsubscribe(svc, token)  # idempotent
    assert again.done
    assert (await _stored(svc, user.id)).notification_prefs == {"ticket_closed": False, "support_reply": False}
    assert (await preferences.unsubscribe_preview(svc, token)).done


async def test_unsubscribe_of_a_bare_address_suppresses_it(svc: Services) -> None:
    url = preferences.unsubscribe_url(svc, user_id=None, address="cc@example.org", kind=MailKind.TICKET_CLOSED)
    assert url is not None
    token = url.split("?t=", 1)[1]
    found = await preferences.unsubscribe(svc, token)
    assert (found.subject, found.address, found.done) == (preferences.Subject.ADDRESS, "cc@example.org", True)
    await preferences.unsubscribe(svc, token)
    async with svc.sessions() as db:
        rows = list(await db.scalars(select(MailSuppression)))
    assert [(r.address, r.reason, r.mail_id) for r in rows] == [("cc@example.org", "unsubscribed", None)]


async def test_forged_expired_and_essential_links_change_nothing(svc: Services, clock: ManualClock) -> None:
    user = await _user(svc, Role.AGENT, "ag@example.com")
    genuine = _token(svc, {"u": user.id, "k": "sla_warning"})
    forged = genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB")
    for bad in (forged, "", "not-a-token",
                links.mint(svc.tokens, Purpose.MAIL_RATING, {"u": user.id, "k": "sla_warning"}),  # another purpose
                _token(svc, {"u": user.id, "k": "password_reset"}),  # essential
                _token(svc, {"u": user.id, "k": "bogus"}),
                _token(svc, {"k": "sla_warning"}),
                _token(svc, {"u": 999_999, "k": "sla_warning"})):
        with pytest.raises(InvalidToken):
            await preferences.unsubscribe(svc, bad)
        with pytest.raises(InvalidToken):
            await preferences.unsubscribe_preview(svc, bad)
    clock.advance(timedelta(seconds=links.UNSUBSCRIBE_LINK_SECONDS + 1))
    with pytest.raises(ExpiredToken):
        await preferences.unsubscribe(svc, genuine)
    assert (await _stored(svc, user.id)).notification_prefs == {}
    async with svc.sessions() as db:
        assert list(await db.scalars(select(MailSuppression))) == []


async def test_user_wants_honours_a_legacy_key_still_stored(svc: Services) -> None:
    user = await _user(svc, Role.CUSTOMER, "old@example.com")
    async with svc.sessions.begin() as db:
        row = await db.get(User, user.id)
        assert row is not None
        row.notification_prefs = {"email_on_status_change": False}
    stored = await _stored(svc, user.id)
    assert not preferences.user_wants(stored, MailKind.TICKET_CLOSED)
    assert preferences.user_wants(stored, MailKind.SUPPORT_REPLY)
    assert preferences.user_wants(stored, MailKind.PASSWORD_RESET)
