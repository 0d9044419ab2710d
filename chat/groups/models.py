"""Group chat tables: groups, memberships, join requests, system alerts."""

from __future__ import annotations
