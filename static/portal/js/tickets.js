// The customer's own tickets (docs/console.md, "The customer portal"): the list (number,
// subject, status in words, last update; open or closed), one ticket's public history
// (the server never sends internal notes to customers), a reply through the shared socket
// client (as the widget writes), and closing and rating by the server's own use cases
// (POST /api/conversations/{id}/close and …/rating, as the widget and the mail link do).
// Reseller admins see their customers' tickets too: the server decides which.

import { h } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import catalog from "../i18n/tickets.js";
import { $, STAFF, api, fill, show, state } from "./state.js";
import { attachmentList, linkified, stamp } from "./format.js";
import { Composer } from "./composer.js";

register(catalog);

const STATUS = {
  new: "portal.tickets.status_new",
  in_progress: "portal.tickets.status_in_progress",
  waiting_on_customer: "portal.tickets.status_waiting_on_customer",
  proposed_to_close: "portal.tickets.status_proposed_to_close",
  closed: "portal.tickets.status_closed",
};

export function statusWords(status) {
  return STATUS[status] ? t(STATUS[status]) : status;
}

const RATED = { good: "portal.tickets.rated_good", none: "portal.tickets.rated_none", bad: "portal.tickets.rated_bad" };

let filter = "open";

export async function loadTickets() {
  const { conversations } = await api("GET", `/api/conversations?status=${filter}&limit=100`);
  // Group chats have no ticket; everything else a customer takes part in is one.
  const tickets = conversations.filter((c) => c.ticket);
  fill("tickets", "tickets-empty", tickets.map((c) => h("li", { "data-ticket": String(c.id) },
    h("a", { href: `#tickets/${c.id}`, class: "grow ticket-link" },
      h("span", { class: "number" }, `#${c.id}`), " ", c.subject || t("portal.tickets.no_subject")),
    h("span", { class: "badge status-" + c.ticket.status, "data-testid": "ticket-status" }, statusWords(c.ticket.status)),
    h("span", { class: "updated" }, t("portal.tickets.updated"), " ", stamp(c.updated_at)))));
}

for (const button of document.querySelectorAll("#tickets-filter button")) {
  button.addEventListener("click", () => {
    filter = button.dataset.filter;
    for (const b of document.querySelectorAll("#tickets-filter button")) b.setAttribute("aria-pressed", String(b === button));
    loadTickets().catch((err) => { $("tickets-error").textContent = err.message; });
  });
}

// -- one ticket: #tickets/42 ----------------------------------------------------------

export async function openTicketFromHash(hash) {
  const id = Number(hash.split("/")[1]);
  if (!Number.isInteger(id) || id <= 0) {
    closeTicket();
    await loadTickets();
    return;
  }
  if (state.ticket && state.ticket.convId === id) return;
  closeTicket();
  state.ticket = { convId: id, data: null };
  show("tickets-list-section", false);
  show("ticket-section", true);
  $("ticket-log").replaceChildren();
  $("ticket-pending").replaceChildren();
  composer.reset();
  $("ticket-error").textContent = "";
  $("ticket-notice").textContent = "";
  $("ticket-title").textContent = `#${id}`;
  await reloadTicket();
  state.client.join(id, 0); // the whole public history, then live
  $("ticket-title").focus();
}

export function closeTicket() {
  if (state.ticket && state.client) state.client.leave(state.ticket.convId);
  state.ticket = null;
  show("ticket-section", false);
  show("tickets-list-section", true);
}

async function reloadTicket() {
  const open = state.ticket;
  if (!open) return;
  try {
    const { ticket } = await api("GET", `/api/tickets/${open.convId}`);
    if (state.ticket !== open) return;
    open.data = ticket;
    drawTicket(ticket);
  } catch (err) {
    $("ticket-error").textContent = err.message;
  }
}

function drawTicket(ticket) {
  $("ticket-title").textContent = `#${ticket.id} ${ticket.subject || ""}`;
  $("ticket-status").textContent = statusWords(ticket.status);
  $("ticket-status").dataset.status = ticket.status;
  const closed = ticket.status === "closed";
  const mine = ticket.requester && ticket.requester.id === state.me.id;
  const rated = (ticket.ratings || []).length > 0;
  // Who writes here: its requester and CC'd colleagues (participants); a reseller admin
  // reads its customers' tickets (the server refuses others' sends: chat/authz.py).
  const writer = mine || (ticket.cc || []).some((c) => c.id === state.me.id);
  show("ticket-reply-form", !closed && writer);
  show("ticket-files", !closed && writer);
  show("ticket-read-only", !closed && !writer);
  show("ticket-proposed", mine && ticket.status === "proposed_to_close");
  composer.draw();
  // Only the requester closes and rates (chat/authz.py: end_conversation, rate_ticket).
  show("ticket-rate-form", mine && (!closed || !rated));
  show("ticket-close", mine && !closed);
  show("ticket-rate", mine && closed && !rated);
  $("ticket-rated").hidden = !rated;
  if (rated) {
    const last = ticket.ratings[ticket.ratings.length - 1];
    $("ticket-rated").textContent = t(RATED[last.value] || RATED.none);
  }
}

// Messages of the open ticket, live; system events re-read the ticket (its status).
export function ticketEvent(ev) {
  if (!state.ticket || ev.conversation_id !== state.ticket.convId) return;
  if (ev.client_msg_id) ticketAck(ev.client_msg_id);
  if (ev.kind !== "message") {
    reloadTicket();
    return;
  }
  const log = $("ticket-log");
  const staff = ev.author && STAFF.has(ev.author.role);
  log.append(h("li", { class: staff ? "staff" : "", "data-seq": String(ev.seq) },
    h("span", { class: "author" }, ev.author ? ev.author.name : ""),
    stamp(ev.created_at),
    h("span", { class: "body" }, linkified(ev.body)),
    attachmentList(ev.data && ev.data.attachments)));
  log.scrollTop = log.scrollHeight;
}

export function ticketAck(clientMsgId) {
  for (const li of [...$("ticket-pending").children]) if (li.dataset.cid === clientMsgId) li.remove();
}

export function ticketFailed(item, f) {
  if (item.client_msg_id) ticketAck(item.client_msg_id);
  if (!state.ticket || item.conversation_id !== state.ticket.convId) return;
  $("ticket-error").textContent = f.message;
}

const composer = new Composer(
  { form: "ticket-reply-form", input: "ticket-input", fileInput: "ticket-file-input", attach: "ticket-attach",
    tray: "ticket-files", send: "ticket-send", error: "ticket-error" },
  () => (state.ticket && state.ticket.data && state.ticket.data.status !== "closed" ? state.ticket.convId : null),
  (item) => $("ticket-pending").append(h("li", { "data-cid": item.client_msg_id }, h("span", { class: "body" }, item.body),
    h("span", { class: "status" }, t("portal.tickets.sending")))));

function chosenRating() {
  const value = ($("ticket-rate-form").querySelector("input[name=rating]:checked") || {}).value;
  if (!value) return null;
  const rating = { value };
  if ($("rating-reason").value.trim()) rating.reason = $("rating-reason").value.trim();
  if ($("rating-comment").value.trim()) rating.comment = $("rating-comment").value.trim();
  return rating;
}

async function ticketAction(path, body, doneKey) {
  $("ticket-error").textContent = "";
  $("ticket-notice").textContent = "";
  try {
    const { ticket } = await api("POST", path, body);
    state.ticket.data = ticket;
    drawTicket(ticket);
    $("ticket-rate-form").reset();
    $("ticket-notice").textContent = t(doneKey);
  } catch (err) {
    $("ticket-error").textContent = err.message;
  }
}

$("ticket-close").addEventListener("click", () => {
  const rating = chosenRating();
  ticketAction(`/api/conversations/${state.ticket.convId}/close`, rating ? { rating } : {}, "portal.tickets.closed_done");
});

$("ticket-rate").addEventListener("click", () => {
  const rating = chosenRating();
  if (!rating) {
    $("ticket-error").textContent = t("portal.tickets.choose_rating");
    return;
  }
  ticketAction(`/api/conversations/${state.ticket.convId}/rating`, rating, "portal.tickets.rated_done");
});
