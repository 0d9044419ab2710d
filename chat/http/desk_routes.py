"""The agent console and its API: queues, claims, canned replies, assignment rules, customer notes."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
