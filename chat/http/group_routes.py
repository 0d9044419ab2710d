"""Group support chats: groups, join requests and their decisions, members, system alerts."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
