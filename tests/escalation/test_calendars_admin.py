"""Calendars and categories over HTTP (docs/http.md, "SLA"): every refusal names the input
it is about, nothing is stored on a refusal, deletes are refused while in use, and every
change leaves an audit row with the state before and after."""

from __future__ import annotations

from typing import Any

import pytest

from tests.escalation.people import People, people

__all__ = ["people"]

WEEK = {"0": [["09:00", "13:00"], ["14:00", "18:00"]], "4": [["09:00", "16:00"]]}


async def _audit(people: People, action: str, key: str) -> list[dict[str, Any]]:
    entries = (await people.call("admin", "GET", f"/api/audit?action={action}&target_id={key}"))["entries"]
    return list(entries)


async def _refused(people: People, path: str, body: Any, code: str, field: str, status: int = 422) -> None:
    got = await people.call("admin", "PUT", path, body, expect=status)
    assert (got["error"]["code"], got["error"].get("field")) == (code, field), got


@pytest.mark.parametrize(("definition", "field"), [
    ({"timezone": "Mars/Olympus", "weekly": WEEK}, "definition.timezone"),
    ({"timezone": "UTC", "weekly": {"2": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "definition.weekly.2"),
    ({"timezone": "UTC", "weekly": {"3": [["18:00", "09:00"]]}}, "definition.weekly.3"),
    ({"timezone": "UTC", "weekly": {"3": [["09:00", "25:00"]]}}, "definition.weekly.3"),
    ({"timezone": "UTC", "weekly": {}}, "definition.weekly"),
    ({"timezone": "UTC", "weekly": WEEK, "holidays": "XX"}, "definition.holidays"),
    ({"timezone": "UTC", "weekly": WEEK, "holidays": "DE", "subdivision": "ZZ"}, "definition.subdivision"),
    ({"timezone": "UTC", "weekly": WEEK, "closed_dates": ["2026-12-24", "2026-02-30"]}, "definition.closed_dates.1"),
    ({"timezone": "UTC", "weekly": WEEK, "special_days": {"2026-12-30": [], "soon": []}}, "definition.special_days.1"),
    ({"timezone": "UTC", "weekly": WEEK, "special_days": {"2026-12-30": [["10:00", "09:00"]]}},
     "definition.special_days.0"),
    ({"timezone": "UTC", "weekly": WEEK, "closed_dates": ["2026-12-30"], "special_days": {"2026-12-30": []}},
     "definition.special_days.0"),
    ({"timezone": "UTC", "weekly": WEEK, "weekend_workdays": [["09:00", "12:00"], ["11:00", "13:00"]]},
     "definition.weekend_workdays"),
    ({"timezone": "UTC", "weekly": WEEK, "colour": "red"}, "definition"),
])
async def test_a_bad_calendar_is_refused_on_its_field_and_nothing_is_stored(
    people: People, definition: dict[str, Any], field: str
) -> None:
    await _refused(people, "/api/sla/calendars/bad", {"name": "Bad", "definition": definition},
                   "invalid_calendar", field)
    calendars = (await people.call("admin", "GET", "/api/sla/calendars"))["calendars"]
    assert "bad" not in {c["key"] for c in calendars}
    assert await _audit(people, "config.calendar.", "bad") == []


async def test_calendars_are_written_audited_previewed_and_deleted_when_unused(people: People) -> None:
    good = {"timezone": "Europe/Berlin", "weekly": WEEK}
    await _refused(people, "/api/sla/calendars/Bad Key", {"name": "x", "definition": good}, "invalid_calendar", "key")
    await _refused(people, "/api/sla/calendars/berlin", {"name": "  ", "definition": good}, "validation_failed", "name")
    await people.error("agent", "PUT", "/api/sla/calendars/berlin", {"name": "B", "definition": good}, 403, "forbidden")
    created = (await people.call("admin", "PUT", "/api/sla/calendars/berlin", {
        "name": "Berlin", "definition": {**good, "holidays": "DE"}}))["calendar"]
    updated = (await people.call("admin", "PUT", "/api/sla/calendars/berlin", {
        "name": "Berlin office", "definition": {**good, "holidays": "DE", "closed_dates": ["2026-12-31"]}}))["calendar"]
    [update], [create] = (await _audit(people, "config.calendar.update", "berlin"),
                          await _audit(people, "config.calendar.create", "berlin"))
    assert create["before"] is None and create["after"] == created
    assert update["before"] == created and update["after"] == updated
    assert update["actor"]["id"] == people.ids["admin"]

    days = (await people.call("readonly", "GET", "/api/sla/calendars/berlin/preview?from=2026-12-21&days=14"))["days"]
    by_date = {d["date"]: d for d in days}
    assert by_date["2026-12-21"]["periods"] == [["09:00", "13:00"], ["14:00", "18:00"]]
    assert by_date["2026-12-25"]["reason"] == "holiday" and by_date["2026-12-25"]["holiday"]
    assert by_date["2026-12-25"]["periods"] == []
    assert by_date["2026-12-31"]["reason"] == "closed"
    for query, field in (("from=tomorrow", "from"), ("days=0", "days"), ("days=x", "days")):
        got = await people.call("admin", "GET", f"/api/sla/calendars/berlin/preview?{query}", expect=422)
        assert got["error"]["field"] == field, got
    countries = {c["code"]: c for c in (await people.call("readonly", "GET", "/api/sla/holiday-countries"))["countries"]}
    assert countries["DE"]["name"] == "Germany" and "BY" in countries["DE"]["subdivisions"] and "RU" in countries

    policy = (await people.call("admin", "POST", "/api/sla/policies", {
        "name": "Office", "severity": 2, "calendar": "berlin", "resolution": {"business_days": 2}}, expect=201))["policy"]
    await people.error("admin", "DELETE", "/api/sla/calendars/berlin", None, 409, "calendar_in_use")
    assert "berlin" in {c["key"] for c in (await people.call("admin", "GET", "/api/sla/calendars"))["calendars"]}
    await people.call("admin", "DELETE", f"/api/sla/policies/{policy['id']}", expect=204)
    await people.error("agent", "DELETE", "/api/sla/calendars/berlin", None, 403, "forbidden")
    await people.call("admin", "DELETE", "/api/sla/calendars/berlin", expect=204)
    await people.error("admin", "DELETE", "/api/sla/calendars/berlin", None, 404, "not_found")
    [deleted] = await _audit(people, "config.calendar.delete", "berlin")
    assert deleted["before"] == updated and deleted["after"] is None


async def test_category_titles_per_language_delete_in_use_and_audit(people: People) -> None:
    path = "/api/categories/firmware"
    await _refused(people, path, {"name": "Firmware", "titles": {"fr": "Micrologiciel"}}, "validation_failed",
                   "titles.fr")
    await _refused(people, path, {"name": ""}, "validation_failed", "name")
    await _refused(people, "/api/categories/Bad Key", {"name": "x"}, "invalid_policy", "key")
    for bad, field in (({"name": "x", "resolution": {"hours": -1}}, "resolution"),
                       ({"name": "x", "stage_one": {"days": 2}}, "stage_one"),
                       ({"name": "x", "availability": "everyone"}, "availability"),
                       ({"name": "x", "default_severity": 5}, "default_severity")):
        await _refused(people, path, bad, "invalid_policy", field)
    assert "firmware" not in {c["key"] for c in (await people.call("admin", "GET", "/api/categories"))["categories"]}
    created = (await people.call("admin", "PUT", path, {
        "name": "Firmware", "titles": {"ru": "Прошивка", "de": "Firmware-Update", "es": " "}}))["category"]
    assert created["titles"] == {"ru": "Прошивка", "de": "Firmware-Update"}
    # Left out, the titles are kept (an older client replacing the rest must not wipe them).
    kept = (await people.call("admin", "PUT", path, {"name": "Firmware update", "position": 3}))["category"]
    assert kept["titles"] == created["titles"]
    customer = {c["key"]: c for c in (await people.call("customer", "GET", "/api/categories"))["categories"]}
    assert customer["firmware"]["titles"]["ru"] == "Прошивка"
    [create] = await _audit(people, "config.category.create", "firmware")
    [update] = await _audit(people, "config.category.update", "firmware")
    assert create["after"] == created and update["before"] == created and update["after"] == kept

    ticket = (await people.call("customer", "POST", "/api/tickets", {
        "subject": "Flash failed", "description": "v2", "category": "firmware"}, expect=201))["ticket"]
    body = await people.call("admin", "DELETE", path, expect=409)
    assert body["error"]["code"] == "category_in_use" and "retire" in body["error"]["message"]
    # Retired: no longer offered to customers, the old ticket keeps it.
    await people.call("admin", "PUT", path, {"name": "Firmware update", "active": False})
    offered = {c["key"] for c in (await people.call("customer", "GET", "/api/categories"))["categories"]}
    assert "firmware" not in offered
    staff = (await people.call("agent", "GET", f"/api/tickets/{ticket['id']}"))["ticket"]
    assert staff["category"] == "firmware"

    await people.call("admin", "PUT", "/api/categories/spare", {"name": "Spare"})
    await people.call("admin", "POST", "/api/sla/policies", {
        "name": "Spare rule", "category": "spare", "resolution": {"hours": 4}}, expect=201)
    await people.error("admin", "DELETE", "/api/categories/spare", None, 409, "category_in_use")
    await people.call("admin", "PUT", "/api/categories/unused", {"name": "Unused"})
    await people.error("readonly", "DELETE", "/api/categories/unused", None, 403, "forbidden")
    await people.call("admin", "DELETE", "/api/categories/unused", expect=204)
    [deleted] = await _audit(people, "config.category.delete", "unused")
    assert deleted["before"]["name"] == "Unused" and deleted["after"] is None
