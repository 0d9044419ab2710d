"""E-mail out: what is sent to whom (kinds), the outbox it waits in, how it is composed,
and the transports that deliver it (docs/architecture.md, "Mail")."""
