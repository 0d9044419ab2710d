"""Ticket tables: a ticket is the tracked side of a conversation (same thread, same seq stream)."""

from __future__ import annotations
