"""The ticket settings: defaults, and a bad value stops the process at start naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat.settings import SettingsError, load_settings

BASE = {"DATABASE_URL": "sqlite:///tmp/x.db", "SECRET_KEY": "k" * 40}


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({**BASE, "VAR_DIR": str(tmp_path)})
    assert (settings.auto_close_waiting_after, settings.auto_close_proposed_after) == ("48h", "7d")
    assert (settings.chat_unanswered_ticket_minutes, settings.chat_idle_ticket_minutes) == (10, 30)
    assert settings.chat_left_ticket_minutes == 2
    assert settings.ticket_when_no_agent_online
    assert settings.escalation_ladder == "raise_level:2@0, notify_group_lead@60, notify_admins@240"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTO_CLOSE_WAITING_AFTER", "0h"),
        ("AUTO_CLOSE_PROPOSED_AFTER", "two days"),
        ("ESCALATION_LADDER", "page_everyone@0"),
        ("TICKET_STATUS_LABELS", "Solved=done"),
        ("CHAT_IDLE_TICKET_MINUTES", "-1"),
        ("CHAT_UNANSWERED_TICKET_MINUTES", "forever"),
        ("CHAT_LEFT_TICKET_MINUTES", "-2"),
        ("TICKET_WHEN_NO_AGENT_ONLINE", "perhaps"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({**BASE, "VAR_DIR": str(tmp_path), name: value})


def test_a_business_time_delay_and_switching_conversions_off(tmp_path: Path) -> None:
    settings = load_settings({**BASE, "VAR_DIR": str(tmp_path), "AUTO_CLOSE_PROPOSED_AFTER": "2bd",
                              "CHAT_IDLE_TICKET_MINUTES": "0", "ESCALATION_LADDER": "none"})
    assert (settings.auto_close_proposed_after, settings.chat_idle_ticket_minutes, settings.escalation_ladder) == (
        "2bd", 0, "none")
