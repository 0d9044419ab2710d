"""Tickets, SLA policies, business calendars and the escalation sweeper.

The modules ``calendars``, ``sla``, ``lifecycle`` and ``errors`` are the pure core: no I/O,
no clock - every function takes the time as an argument.
"""
