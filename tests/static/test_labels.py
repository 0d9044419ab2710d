"""static/shared/labels.js names every value of the server's enums the console and portal
show, in every language (tests/static/test_catalogs.py checks the languages agree): a new
status, channel, role, … added on the server fails here until it has a name. The built-in
categories and groups have catalog names whose English is the seed's title — labels.js
shows a stored title that differs from it as the deployment's own rename."""

from __future__ import annotations

import enum
import json
from pathlib import Path

import pytest

from chat.mail.models import InboundStatus, MailStatus
from chat.models import Role
from escalation.ladder import LadderAction
from escalation.lifecycle import CloseReason, TicketStatus
from escalation.models import TaskStatus, TaskType, TicketChannel
from escalation.policy_table import PlanTier
from escalation.seeds import FFC_CATEGORIES, SEED_GROUPS, SKAI_TOPICS
from escalation.sla_targets import SlaTarget

CATALOG = Path(__file__).resolve().parents[2] / "static" / "shared" / "i18n" / "labels.js"
ENUMS: dict[str, type[enum.Enum]] = {
    "labels.status": TicketStatus, "labels.channel": TicketChannel, "labels.opened": TicketChannel,
    "labels.close_reason": CloseReason, "labels.sla_target": SlaTarget, "labels.task_type": TaskType,
    "labels.task_status": TaskStatus, "labels.role": Role, "labels.plan": PlanTier,
    "labels.escalation_action": LadderAction, "labels.mail_status": MailStatus, "labels.inbound_status": InboundStatus,
}


def english() -> dict[str, str]:
    body = CATALOG.read_text(encoding="utf-8").partition("export default")[2].strip().removesuffix(";")
    data: dict[str, str] = json.loads(body)["en"]
    return data


@pytest.mark.parametrize("prefix", sorted(ENUMS))
def test_every_value_of_the_enum_has_a_name(prefix: str) -> None:
    names = english()
    missing = [v.value for v in ENUMS[prefix] if f"{prefix}.{v.value}" not in names]
    assert not missing, f"{prefix}: no name for {missing}"


def test_built_in_categories_and_groups_have_their_seed_title_in_english() -> None:
    names = english()
    for category in (*FFC_CATEGORIES, *SKAI_TOPICS):
        assert names.get(f"category.{category.key}") == category.title, category.key
    for key, title, _ in SEED_GROUPS:
        assert names.get(f"labels.group.{key}") == title, key
