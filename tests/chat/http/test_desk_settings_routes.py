"""GET/PATCH /api/desk/settings and the presets over HTTP: who may, the error body naming
the field, a body that is not an object."""

from __future__ import annotations

from tests.support.desk import Desk


async def test_the_settings_over_http(desk: Desk) -> None:
    seen = await desk.call(desk.readonly, "GET", "/api/desk/settings", expect=200)
    assert seen["stored"] == [] and seen["settings"]["chat_left_ticket_minutes"] == 2
    assert "raise_level:2" in seen["actions"] and "proposed_to_close" in seen["statuses"]
    refused = await desk.call(desk.admin, "PATCH", "/api/desk/settings",
                              {"ladder": [{"action": "notify_admins", "after_minutes": "soon"}]}, expect=422)
    assert refused["error"]["code"] == "invalid_policy"
    assert refused["error"]["field"] == "ladder.0.after_minutes"
    assert (await desk.call(desk.admin, "PATCH", "/api/desk/settings", [1], expect=422))["error"]["code"] == (
        "validation_failed")
    await desk.call(desk.readonly, "PATCH", "/api/desk/settings", {"chat_left_ticket_minutes": 5}, expect=403)
    await desk.call(desk.chat.visitor, "GET", "/api/desk/settings", expect=403)
    saved = await desk.call(desk.admin, "PATCH", "/api/desk/settings", {"chat_left_ticket_minutes": 5}, expect=200)
    assert (saved["stored"], saved["settings"]["chat_left_ticket_minutes"]) == (["chat_left_ticket_minutes"], 5)


async def test_the_presets_over_http(desk: Desk) -> None:
    listed = (await desk.call(desk.readonly, "GET", "/api/sla/presets", expect=200))["presets"]
    assert [p["name"] for p in listed] == ["360", "FFC", "SKAI"]
    skai = listed[2]["changes"]
    assert skai["calendars"] == ["moscow"] and {p["day_rule"] for p in skai["policies"]} == {"working_hours"}
    await desk.call(desk.readonly, "POST", "/api/sla/presets/SKAI/apply", expect=403)
    await desk.call(desk.admin, "POST", "/api/sla/presets/nope/apply", expect=404)
    applied = (await desk.call(desk.admin, "POST", "/api/sla/presets/FFC/apply", expect=200))["applied"]
    assert applied["settings"] == ["auto_close_proposed"]
