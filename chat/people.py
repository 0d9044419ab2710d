"""How a person is named on every screen and in every mail: one rule, so an anonymous
visitor is not "someone" in one place, "Customer" in another and "(no name)" in a third
(issue 18). Pure: no I/O.

A person without a name (a widget visitor who gave none) is "Visitor #<their id>": stable
for the whole conversation, distinct between two visitors, and meaningless to anyone
outside. The JSON of a person carries ``anonymous: true`` with it, so the console and the
portal write the same words in the reader's language (``names.visitor``)."""

from __future__ import annotations

from typing import Any


def display_name(user_id: int | None, name: str | None) -> str:
    """The person's name, else "Visitor #<id>" (the server's English; UIs translate)."""
    clean = (name or "").strip()
    if clean:
        return clean
    return f"Visitor #{user_id}" if user_id is not None else "Visitor"


def person_json(user_id: int, name: str | None, role: str | None) -> dict[str, Any]:
    """``{"id", "name", "role"}`` with the display name, plus ``"anonymous": true`` when
    the name was made up here (the UIs translate it from the id)."""
    body: dict[str, Any] = {"id": user_id, "name": display_name(user_id, name), "role": role}
    if not (name or "").strip():
        body["anonymous"] = True
    return body
