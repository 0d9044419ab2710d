"""A person's switches for the console and portal (issue 18), stored on their user row so
they follow them from browser to browser. Pure: checks and merges, no I/O.

Each key is optional in a change; a change merges into what is stored (``null`` removes a
key, so the default applies again). An unknown key or a wrong value is refused whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from chat.errors import ValidationFailed

# The inbox views (docs/console.md, "Views"): my conversations, nobody's, everything I may see.
VIEWS: Final = ("mine", "unassigned", "all")

# key -> (check, what a valid value looks like)
_CHECKS: Final[Mapping[str, tuple[Any, str]]] = {
    "view": (lambda v: v in VIEWS, "one of " + ", ".join(VIEWS)),
    # Alerts: a sound on new work, a desktop notification (once the browser allows it).
    "sound": (lambda v: isinstance(v, bool), "true or false"),
    "desktop": (lambda v: isinstance(v, bool), "true or false"),
    # The support groups whose transfers alert me (support-group membership is not stored).
    "groups": (lambda v: isinstance(v, list) and len(v) <= 50 and all(isinstance(k, str) and 0 < len(k) <= 64 for k in v),
               "a list of up to 50 support group keys"),
}


def clean(change: Mapping[str, Any]) -> dict[str, Any]:
    """The change, checked: raises :class:`ValidationFailed` naming the first bad key."""
    for key, value in change.items():
        check = _CHECKS.get(key)
        if check is None:
            raise ValidationFailed(f"ui_prefs.{key}: unknown; known: {', '.join(_CHECKS)}")
        if value is not None and not check[0](value):
            raise ValidationFailed(f"ui_prefs.{key}: must be {check[1]}")
    return dict(change)


def merged(stored: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """``stored`` with a cleaned ``change`` applied; keys no longer known are dropped."""
    result = {k: v for k, v in stored.items() if k in _CHECKS}
    for key, value in change.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result
