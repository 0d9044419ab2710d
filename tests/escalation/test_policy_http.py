"""``/api/sla/policies`` over HTTP (docs/http.md, "SLA policies"): the day rule and the
auto-close delays in the JSON, and every refusal naming the field — mistyped values that
the body's schema refuses too."""

from __future__ import annotations

from typing import Any

import pytest

from tests.escalation.people import People

RULE = {"name": "Technical, Moscow", "category": "technical_question", "calendar": "moscow",
        "resolution": {"business_days": 1}}


async def test_policy_fields_over_http(people: People) -> None:
    created = (await people.call("admin", "POST", "/api/sla/policies", {**RULE, "day_rule": "working_hours",
                                                                         "auto_close_waiting": "72h"}, expect=201))
    policy = created["policy"]
    # Delays are stored in Delay.parse's normal form: 72 h is 3 days.
    assert (policy["day_rule"], policy["auto_close_waiting"], policy["auto_close_proposed"]) == (
        "working_hours", "3d", None)
    listed = (await people.call("readonly", "GET", "/api/sla/policies"))["policies"]
    assert next(p for p in listed if p["id"] == policy["id"]) == policy
    assert all(p["day_rule"] == "whole_days" for p in listed if p["id"] != policy["id"])  # the default
    updated = (await people.call("admin", "PUT", f"/api/sla/policies/{policy['id']}", RULE))["policy"]
    assert (updated["day_rule"], updated["auto_close_waiting"]) == ("whole_days", None)
    await people.error("readonly", "PUT", f"/api/sla/policies/{policy['id']}", RULE, 403, "forbidden")


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"day_rule": "calendar_days"}, 422, "validation_failed", "day_rule"),
        ({"day_rule": 3}, 422, "validation_failed", "day_rule"),  # refused by the body's schema
        ({"resolution": {"hours": 0}}, 422, "invalid_policy", "resolution"),
        ({"resolution": {"hours": -1}}, 422, "invalid_policy", "resolution"),
        ({"stage_one": {"weeks": 1}}, 422, "invalid_policy", "stage_one"),
        ({"calendar": "mars"}, 422, "invalid_calendar", "calendar"),
        ({"category": "nothing"}, 422, "unknown_category", "category"),
        ({"category": "business_request"}, 422, "unmatchable_policy", "category"),
        ({"auto_close_proposed": "2 days"}, 422, "invalid_policy", "auto_close_proposed"),
        ({"warning_share": "most"}, 422, "validation_failed", "warning_share"),
        ({"colour": "red"}, 422, "validation_failed", "colour"),
    ],
)
async def test_refusals_name_the_field(people: People, change: dict[str, Any], status: int, code: str,
                                       field: str) -> None:
    before = (await people.call("admin", "GET", "/api/sla/policies"))["policies"]
    body = await people.call("admin", "POST", "/api/sla/policies", {**RULE, **change}, expect=status)
    assert (body["error"]["code"], body["error"]["field"]) == (code, field), body
    assert (await people.call("admin", "GET", "/api/sla/policies"))["policies"] == before
