"""The wiring: which reactions follow which commit, which ports are real, which jobs the
sweeper runs. The one module that knows every feature; the app factory, the CLI and the
worker call it, and nothing below imports it (docs/architecture.md)."""

from __future__ import annotations

from chat.attachments import sweep_unsent_uploads
from chat.attention import on_events as alert_staff
from chat.clock import Clock
from chat.desk.autoassign import assign_job
from chat.desk.autoassign import on_events as assign_new_chats
from chat.desk.group_chats import on_events as ring_for_group_messages
from chat.impersonation import expire_job as expire_impersonations
from chat.mail.planner import plan_backlog, plan_job
from chat.mail.sender import send_backlog, send_due
from chat.mail.smtp import open_transport
from chat.reports.backfill import ReportsBackfill
from chat.reports.rollup import roll_backlog, roll_job
from chat.services import AgentPresence, Services, open_services
from chat.settings import Settings
from escalation.departure import Departures
from escalation.jobs import ticket_backlogs, ticket_jobs
from escalation.reactions import react_to_events
from escalation.worker import Job, Sweeper


def build_services(
    settings: Settings, *, clock: Clock | None = None, presence: AgentPresence | None = None
) -> Services:
    """The process's ports and reactions. ``presence``: the web process's hub presence
    (who of the staff is online); a worker has none."""
    return open_services(
        settings,
        clock=clock,
        presence=presence,
        mail=open_transport(settings),  # SMTP_URL, or the development mailbox
        reactions=[
            react_to_events,  # tickets follow their chats
            # After the tickets' reaction: it creates the ticket row that assignment works on.
            assign_new_chats,
            ring_for_group_messages,  # a group member's message reaches the consoles' Groups queue
            # Last: an automatic assignment is known, so is the new ticket's partner.
            alert_staff,
        ],
        room_watchers=[Departures()],  # a visitor leaving a live chat
    )


def build_sweepers(svc: Services) -> list[Sweeper]:
    """The loops this process runs side by side (the worker; on the embedded default the
    web process): tickets and assignment, and mail. Mail has its own loop so that a relay
    that hangs (each send may take ``SMTP_TIMEOUT_SECONDS``) never holds up an SLA
    warning. Assignment needs to know who is online, so it acts only where a hub runs; in
    a separate worker it is a no-op."""
    return [
        Sweeper(svc, [*ticket_jobs(), ("desk.assign", assign_job), *report_jobs(),
                      ("attachments.sweep", sweep_unsent_uploads)], name="tickets",
                backlogs={**ticket_backlogs(), "reports.roll": roll_backlog}),
        # Planning before sending, so that a held mail released now goes in the same pass;
        # an impersonation that expired is ended first, so its customer's mail goes too.
        Sweeper(svc, [("impersonation.expire", expire_impersonations), ("mail.plan", plan_job),
                      ("mail.send", send_due)], name="mail",
                backlogs={"mail.plan": plan_backlog, "mail.send": send_backlog}),
    ]


def build_web_sweepers(svc: Services) -> list[Sweeper]:
    """What a web process runs when a separate worker runs :func:`build_sweepers`: the
    jobs that must know who is online, which only a process with a hub does — assignment
    (a chat freed by a close through the ticket API goes to the agent within a pass). Every
    web process runs it; a chat is assigned by a conditional update, so never twice."""
    return [Sweeper(svc, [("desk.assign", assign_job)], name="desk")]


def report_jobs() -> list[tuple[str, Job]]:
    """The reports' jobs (chat.reports): the message rollup, and the facts of tickets from
    before the reports (it keeps its progress in the sweeper that runs it)."""
    return [("reports.roll", roll_job), ("reports.backfill", ReportsBackfill().job)]


def build_sweeper(svc: Services) -> Sweeper:
    """Every job of :func:`build_sweepers` in one pass, in order (tickets first, so that a
    breach or an auto-close of the pass is mailed in it): for a caller that runs passes
    itself (tests, ``run_once``)."""
    return Sweeper(svc, [job for sweeper in build_sweepers(svc) for job in sweeper.jobs], name="all")
