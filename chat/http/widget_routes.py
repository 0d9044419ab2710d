"""The widget: loader script, iframe app (with its frame-ancestors policy), widget config."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
