"""Tickets, SLA policies, business calendars and the escalation sweeper.

The pure core - no I/O, no clock, every function takes the time as an argument - is
``calendars``; ``sla_targets`` (what an SLA promises), ``policy_table`` (which policy a
ticket gets), ``sla`` (the clock); ``lifecycle`` (the ticket state machine), ``transfers``
(levels, groups and status labels), ``ratings``, ``history_facts`` (history to SLA facts);
``deadline_columns`` (what a ticket row keeps of its clock); and ``errors``.
"""
