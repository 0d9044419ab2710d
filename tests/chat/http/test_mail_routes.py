"""Mail preferences over HTTP, the one-click unsubscribe pages (RFC 8058) and the "Sent
mail" API, against a live server."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from chat.clock import ManualClock
from chat.mail import links, preferences
from chat.mail.kinds import MailKind
from chat.mail.models import MailStatus, MailSuppression
from chat.models import User
from chat.tokens import Purpose
from tests.chat.mail.test_mailbox import add_mail
from tests.escalation.people import People

ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


async def _prefs(people: People, who: str) -> dict[str, object]:
    async with people.server.services.sessions() as db:
        user = await db.get(User, people.ids[who])
        assert user is not None
        return dict(user.notification_prefs)


def _unsubscribe_path(people: People, who: str, kind: MailKind) -> str:
    svc = people.server.services
    url = preferences.unsubscribe_url(svc, user_id=people.ids[who], address=f"{who}@x.example", kind=kind)
    assert url is not None
    return url.removeprefix(svc.settings.public_url)


async def test_profile_switches_and_time_zone(people: People) -> None:
    me = await people.call("customer", "GET", "/api/me/mail")
    assert me["audience"] == "customer" and me["time_zone"] is None
    assert [s["kind"] for s in me["switches"]][:2] == ["ticket_opened", "support_reply"]
    assert all(s["on"] for s in me["switches"])

    body = await people.call("customer", "PATCH", "/api/me",
                             {"notification_prefs": {"support_reply": False}, "time_zone": "America/Sao_Paulo"})
    assert body["user"]["notification_prefs"] == {"support_reply": False}
    assert body["user"]["time_zone"] == "America/Sao_Paulo"
    me = await people.call("customer", "GET", "/api/me/mail")
    assert {s["kind"]: s["on"] for s in me["switches"]}["support_reply"] is False
    assert (await people.call("customer", "GET", "/api/me"))["user"]["time_zone"] == "America/Sao_Paulo"

    await people.error("customer", "PATCH", "/api/me", {"notification_prefs": {"password_reset": False}}, 422,
                       "essential_mail")
    await people.error("customer", "PATCH", "/api/me", {"notification_prefs": {"sms": False}}, 422, "validation_failed")
    await people.error("customer", "PATCH", "/api/me", {"notification_prefs": {"sla_breach": False}}, 422,
                       "validation_failed")
    await people.error("customer", "PATCH", "/api/me", {"name": "X", "time_zone": "Moon/Base"}, 422, "validation_failed")
    await people.error("customer", "PATCH", "/api/me", {"time_zone": 5}, 422, "validation_failed")
    assert await _prefs(people, "customer") == {"support_reply": False}
    after = await people.call("customer", "GET", "/api/me")
    assert (after["user"]["name"], after["user"]["time_zone"]) == ("Customer", "America/Sao_Paulo")
    body = await people.call("customer", "PATCH", "/api/me", {"time_zone": None})
    assert body["user"]["time_zone"] is None

    staff = await people.call("agent", "GET", "/api/me/mail")
    assert staff["audience"] == "staff"
    assert [s["kind"] for s in staff["switches"]] == ["ticket_assigned", "group_transfer", "unassigned_ticket",
                                                      "customer_replied", "sla_warning", "sla_breach", "escalation"]


async def test_get_asks_and_one_click_post_switches_off_that_kind(people: People) -> None:
    path = _unsubscribe_path(people, "customer", MailKind.SUPPORT_REPLY)
    page = await people.http.get(path)
    assert page.status_code == 200
    assert "Stop “replies from support” e-mails?" in page.text
    assert 'method="post"' in page.text and 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert await _prefs(people, "customer") == {}  # a GET changes nothing

    for _ in range(2):  # idempotent
        done = await people.http.post(path, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert done.status_code == 200
        assert "You will no longer receive “replies from support” e-mails." in done.text
        assert 'href="/portal/#profile"' in done.text
        assert await _prefs(people, "customer") == {"support_reply": False}
    # Opened again afterwards, the page says it is done rather than asking.
    assert "You will no longer receive" in (await people.http.get(path)).text


async def test_page_in_the_users_language_and_staff_profile_link(people: People) -> None:
    await people.call("agent", "PATCH", "/api/me", {"language": "de"})
    path = _unsubscribe_path(people, "agent", MailKind.SLA_WARNING)
    page = await people.http.get(path)
    assert '<html lang="de">' in page.text and "Keine E-Mails „SLA-Warnungen“ mehr?" in page.text
    done = await people.http.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and 'href="/console/#profile"' in done.text
    assert await _prefs(people, "agent") == {"sla_warning": False}


async def test_post_without_the_one_click_body_changes_nothing(people: People) -> None:
    path = _unsubscribe_path(people, "customer", MailKind.TICKET_CLOSED)
    for body, headers in ((b"", ONE_CLICK), (b"List-Unsubscribe=Yes", ONE_CLICK),
                          (b'{"List-Unsubscribe": "One-Click"}', {"content-type": "application/json"}),
                          (b"List-Unsubscribe=One-Click" + b"&x=" + b"y" * 5000, ONE_CLICK)):
        refused = await people.http.post(path, content=body, headers=headers)
        assert refused.status_code == 400
        assert "Stop “ticket closed” e-mails?" in refused.text
    assert await _prefs(people, "customer") == {}


async def test_forged_and_expired_links_are_a_clear_page(people: People, clock: ManualClock) -> None:
    path = _unsubscribe_path(people, "customer", MailKind.SYSTEM_ALERT)
    for bad in (path[:-4] + "AAAA", "/mail/unsubscribe", "/mail/unsubscribe?t=%3Cscript%3E"):
        for method in ("GET", "POST"):
            page = await people.http.request(method, bad, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
            assert page.status_code == 400, (method, bad)
            assert "This link is not valid" in page.text and "<script>" not in page.text
            assert page.headers["content-type"].startswith("text/html")
    clock.advance(timedelta(seconds=links.UNSUBSCRIBE_LINK_SECONDS + 60))
    expired = await people.http.post(path, content=b"List-Unsubscribe=One-Click",
                                     headers={**ONE_CLICK, "accept-language": "es-MX,es;q=0.9"})
    assert expired.status_code == 400 and "Este enlace ha caducado" in expired.text
    assert await _prefs(people, "customer") == {}


async def test_a_bare_address_is_suppressed(people: People) -> None:
    svc = people.server.services
    token = links.mint(svc.tokens, Purpose.MAIL_UNSUBSCRIBE, {"a": "cc@example.org", "k": "ticket_closed"})
    path = f"/mail/unsubscribe?t={token}"
    page = await people.http.get(path, headers={"accept-language": "ru"})
    assert "Отписаться от писем «заявка закрыта»?" in page.text and "cc@example.org" in page.text
    done = await people.http.post(path, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert done.status_code == 200 and "profile" not in done.text
    async with svc.sessions() as db:
        rows = [(r.address, r.reason) for r in await db.scalars(select(MailSuppression))]
    assert rows == [("cc@example.org", "unsubscribed")]


async def test_sent_mail_api_for_support_admins_only(people: People) -> None:
    svc = people.server.services
    first = await add_mail(svc, 1)
    second = await add_mail(svc, 2, to="gone@example.org", status=MailStatus.FAILED)
    async with svc.sessions.begin() as db:
        db.add(MailSuppression(address="gone@example.org", reason="550 5.1.1 no such user", mail_id=second,
                               created_at=svc.clock.now()))

    page = await people.call("admin", "GET", "/api/mail/outbox?limit=1")
    assert [m["id"] for m in page["mails"]] == [second] and page["next_before_id"] == second
    assert page["transport"] == "devbox"
    assert set(page["mails"][0]) == {"id", "kind", "to", "subject", "status", "attempts", "due_at", "sent_at",
                                     "last_error", "transport", "conversation_id", "created_at"}
    older = await people.call("admin", "GET", f"/api/mail/outbox?before_id={second}")
    assert [m["id"] for m in older["mails"]] == [first] and older["next_before_id"] is None
    assert [m["id"] for m in (await people.call("admin", "GET", "/api/mail/outbox?status=failed"))["mails"]] == [second]
    opened = await people.call("admin", "GET", f"/api/mail/outbox/{first}")
    assert (opened["text"], opened["html"]) == ("Text 1\n", "<p>HTML <b>1</b></p>\n")
    # The console frames the HTML from its own page: styles apply, nothing runs.
    view = await people.http.get(opened["html_url"])
    assert (view.status_code, view.text) == (200, "<p>HTML <b>1</b></p>\n")
    assert view.headers["content-security-policy"].startswith("sandbox; default-src 'none'; style-src 'unsafe-inline'")
    assert (await people.http.get(opened["html_url"] + "x")).status_code == 400
    assert {"name": "Subject", "value": "[#1] Hello"} in opened["headers"]
    sup = await people.call("admin", "GET", "/api/mail/suppressions")
    assert [(s["address"], s["mail_id"]) for s in sup["suppressions"]] == [("gone@example.org", second)]

    await people.error("admin", "GET", "/api/mail/outbox?status=lost", None, 422, "validation_failed")
    await people.error("admin", "GET", "/api/mail/outbox?limit=x", None, 422, "validation_failed")
    await people.error("admin", "GET", "/api/mail/outbox?before_id=99999999999999999999", None, 422, "validation_failed")
    await people.error("admin", "GET", "/api/mail/outbox/0", None, 422, "validation_failed")
    await people.error("admin", "GET", "/api/mail/outbox/999", None, 404, "mail_not_found")
    for who in ("agent", "readonly", "customer", "visitor"):
        await people.error(who, "GET", "/api/mail/outbox", None, 403, "forbidden")
        await people.error(who, "GET", f"/api/mail/outbox/{first}", None, 403, "forbidden")
        await people.error(who, "GET", "/api/mail/suppressions", None, 403, "forbidden")
        await people.error(who, "DELETE", "/api/mail/suppressions/gone@example.org", None, 403, "forbidden")
    await people.error("nobody", "GET", "/api/mail/outbox", None, 401, "unauthenticated")

    await people.call("admin", "DELETE", "/api/mail/suppressions/gone@example.org", expect=204)
    await people.error("admin", "DELETE", "/api/mail/suppressions/gone@example.org", None, 404, "suppression_not_found")
    assert (await people.call("admin", "GET", "/api/mail/suppressions"))["suppressions"] == []
