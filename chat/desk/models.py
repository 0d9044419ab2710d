"""Agent desk tables: canned replies, assignment rules, agent capacity, customer notes."""

from __future__ import annotations
