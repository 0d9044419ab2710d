"""The widget's per-site settings: what ``Site.settings["widget"]`` may hold, its defaults,
and the public configuration the iframe app reads. Pure: no I/O.

A site configures its pre-chat form (which fields are asked, and whether they are
required), its language policy, and whether visitors may leave a message when no agent
is online. Anything absent takes the default, so an empty ``settings`` is a working widget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from chat.errors import ValidationFailed
from chat.validation import LANGUAGES

log = logging.getLogger(__name__)

SETTINGS_KEY = "widget"

# The pre-chat form, in the order it is shown (FFC, SKAI, BX: contact, category,
# criticality, affected object, "when did it happen", description).
PRECHAT_FIELDS = ("name", "email", "category", "severity", "affected_object", "happened_at", "description")
FIELD_MODES = ("required", "optional", "hidden")
# A public site's visitor is asked little (issue 18: seven fields scared them off): who
# they are, how to reach them, and the question; the category is offered because it
# routes the chat. Severity, the affected object (SKAI's vehicle number) and "when did it
# happen" stay available for the desks whose regulations ask for them: a site turns them
# on (PATCH /api/sites/{id}/widget, or `supportchat site-widget`).
DEFAULT_FIELD_MODES = {
    "name": "optional",
    "email": "optional",
    "category": "optional",
    "severity": "hidden",
    "affected_object": "hidden",
    "happened_at": "hidden",
    "description": "required",
}
# SKAI's regulations name the objects a problem is about: a site, a device, a vehicle.
OBJECT_KINDS = ("site", "device", "vehicle")
# "auto": the embedding page's data-language, else the browser's language, else the
# site's default language.
LANGUAGE_POLICIES = ("auto", *LANGUAGES)


@dataclass(frozen=True)
class WidgetSettings:
    language: str = "auto"
    prechat_enabled: bool = True
    fields: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FIELD_MODES))
    object_kinds: tuple[str, ...] = OBJECT_KINDS
    offline_form: bool = True
    """With no agent online, ask for an e-mail and open a ticket instead of a live chat."""
    offline_message: dict[str, str] = field(default_factory=dict)
    """The site's own words above the leave-a-message form, per language (a language
    without one shows the widget's built-in sentence)."""

    def stored(self) -> dict[str, Any]:
        """The shape kept in ``Site.settings["widget"]``."""
        return {
            "language": self.language,
            "prechat": {"enabled": self.prechat_enabled, "fields": dict(self.fields),
                        "object_kinds": list(self.object_kinds)},
            "offline_form": self.offline_form,
            "offline_message": dict(self.offline_message),
        }


# The offline message is a sentence or a short paragraph, not a page: the widget is small.
OFFLINE_MESSAGE_MAX = 500


def _expect(value: object, kind: type | tuple[type, ...], where: str) -> Any:
    # bool is an int in Python; a JSON true must not pass for a number or the reverse.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValidationFailed(f"{where} has the wrong type", field=where)
    return value


def _offline_message(raw: object) -> dict[str, str]:
    """Per language, trimmed; an empty text removes that language's message."""
    found: dict[str, str] = {}
    for lang, text in _expect(raw, dict, "widget.offline_message").items():
        where = f"widget.offline_message.{lang}"
        if lang not in LANGUAGES:
            raise ValidationFailed(f"widget.offline_message: {lang!r} is not one of {', '.join(LANGUAGES)}", field=where)
        clean = _expect(text, str, where).strip()
        if len(clean) > OFFLINE_MESSAGE_MAX:
            raise ValidationFailed(f"{where} must be at most {OFFLINE_MESSAGE_MAX} characters", field=where)
        if clean:
            found[lang] = clean
    return found


def parse_settings(raw: object) -> WidgetSettings:
    """Validate a (possibly partial) widget settings object; absent keys take defaults.

    Raises :class:`ValidationFailed` naming the first bad key."""
    if raw is None:
        return WidgetSettings()
    data = _expect(raw, dict, "widget")
    unknown = set(data) - {"language", "prechat", "offline_form", "offline_message"}
    if unknown:
        raise ValidationFailed(f"widget: unknown key(s) {', '.join(sorted(unknown))}", field="widget")
    language = _expect(data.get("language", "auto"), str, "widget.language")
    if language not in LANGUAGE_POLICIES:
        raise ValidationFailed(f"widget.language must be one of {', '.join(LANGUAGE_POLICIES)}", field="widget.language")
    offline_form = _expect(data.get("offline_form", True), bool, "widget.offline_form")
    offline_message = _offline_message(data.get("offline_message", {}))
    prechat = _expect(data.get("prechat", {}), dict, "widget.prechat")
    unknown = set(prechat) - {"enabled", "fields", "object_kinds"}
    if unknown:
        raise ValidationFailed(f"widget.prechat: unknown key(s) {', '.join(sorted(unknown))}", field="widget.prechat")
    enabled = _expect(prechat.get("enabled", True), bool, "widget.prechat.enabled")
    fields = dict(DEFAULT_FIELD_MODES)
    for name, mode in _expect(prechat.get("fields", {}), dict, "widget.prechat.fields").items():
        if name not in fields:
            raise ValidationFailed(f"widget.prechat.fields: unknown field {name!r}; known: {', '.join(PRECHAT_FIELDS)}",
                                   field="widget.prechat.fields")
        if mode not in FIELD_MODES:
            raise ValidationFailed(f"widget.prechat.fields.{name} must be one of {', '.join(FIELD_MODES)}",
                                   field=f"widget.prechat.fields.{name}")
        fields[name] = mode
    if fields["description"] == "hidden":
        # The description is the first message of the chat (or the ticket's body).
        raise ValidationFailed("widget.prechat.fields.description cannot be hidden",
                               field="widget.prechat.fields.description")
    kinds_raw = _expect(prechat.get("object_kinds", list(OBJECT_KINDS)), list, "widget.prechat.object_kinds")
    kinds: list[str] = []
    for kind in kinds_raw:
        if kind not in OBJECT_KINDS:
            raise ValidationFailed(f"widget.prechat.object_kinds: {kind!r} is not one of {', '.join(OBJECT_KINDS)}",
                                   field="widget.prechat.object_kinds")
        if kind not in kinds:
            kinds.append(kind)
    if not kinds and fields["affected_object"] != "hidden":
        raise ValidationFailed("widget.prechat.object_kinds: give at least one kind, or hide affected_object",
                               field="widget.prechat.object_kinds")
    return WidgetSettings(language=language, prechat_enabled=enabled, fields=fields, object_kinds=tuple(kinds),
                          offline_form=offline_form, offline_message=offline_message)


def patched_settings(current: WidgetSettings, patch: object) -> WidgetSettings:
    """``current`` with the keys of ``patch`` changed (``prechat`` and its ``fields`` are
    merged key by key; ``object_kinds`` is replaced), validated as a whole like
    :func:`parse_settings`."""
    data = dict(_expect(patch, dict, "widget"))
    merged: dict[str, Any] = {**current.stored(), **{k: v for k, v in data.items() if k not in {"prechat", "offline_message"}}}
    if "offline_message" in data:
        # Merged per language like the fields: a patch of one language keeps the others;
        # an empty text removes that language's message.
        merged["offline_message"] = {**current.offline_message, **_expect(data["offline_message"], dict,
                                                                         "widget.offline_message")}
    if "prechat" in data:
        prechat = dict(_expect(data["prechat"], dict, "widget.prechat"))
        fields = {**current.fields, **_expect(prechat.pop("fields", {}), dict, "widget.prechat.fields")}
        merged["prechat"] = {**merged["prechat"], **prechat, "fields": fields}
    return parse_settings(merged)


def stored_settings(site_settings: dict[str, Any] | None, site_id: int | None = None) -> WidgetSettings:
    """A site's widget settings as stored; a broken stored value (edited by hand in the
    database) falls back to the defaults rather than breaking the widget on every page."""
    try:
        return parse_settings((site_settings or {}).get(SETTINGS_KEY))
    except ValidationFailed as exc:
        log.warning("site %s: ignoring invalid widget settings: %s", site_id, exc.message)
        return WidgetSettings()


@dataclass(frozen=True)
class Uploads:
    max_bytes: int
    types: tuple[str, ...]
    max_per_message: int


def public_config(
    *,
    site_name: str,
    default_language: str,
    widget: WidgetSettings,
    uploads: Uploads,
    max_message_chars: int,
    agents_online: bool,
) -> dict[str, Any]:
    """The body of ``GET /api/widget/config`` (docs/http.md, Widget)."""
    return {
        "site": {"name": site_name, "default_language": default_language},
        "language": widget.language,
        "languages": list(LANGUAGES),
        "prechat": {
            "enabled": widget.prechat_enabled,
            "fields": [{"name": name, "mode": widget.fields[name]} for name in PRECHAT_FIELDS],
            "object_kinds": list(widget.object_kinds),
        },
        "offline_form": widget.offline_form,
        "offline_message": dict(widget.offline_message),
        "uploads": {"max_bytes": uploads.max_bytes, "types": list(uploads.types),
                    "max_per_message": uploads.max_per_message},
        "max_message_chars": max_message_chars,
        "agents_online": agents_online,
    }
