// The page's one state and its HTTP calls: the session token (the tab's sessionStorage, for
// the websocket's auth frame), who is signed in, the websocket client, the open group chat
// and the open ticket. Every module of the portal imports this one; nothing else is shared.

import { apiClient } from "/static/shared/protocol.js";
import { PORTAL_TOKEN_KEY } from "/static/shared/impersonation.js";

export const STAFF = new Set(["agent", "support_admin", "read_only"]);
export const DECIDERS = new Set(["reseller_admin", "agent", "support_admin"]);
export const MANAGERS = DECIDERS; // who may create groups and remove members (their scope is the server's)
export const ALERTERS = new Set(["agent", "support_admin"]);

export const state = {
  token: sessionStorage.getItem(PORTAL_TOKEN_KEY),
  me: null,
  client: null, // the websocket (/static/shared/protocol.js)
  chat: null, // the open group chat: {groupId, convId, name, canPost}
  ticket: null, // the open ticket: {convId, ...}
  impersonation: null, // support signed in as this customer (static/shared/impersonation.js)
  onSignedOut: () => {}, // set by app.js: back to the sign-in form
};

export const call = apiClient(() => state.token);

// Every call of a signed-in page: a 401 means the session is over.
export async function api(method, path, body) {
  try {
    return await call(method, path, body);
  } catch (err) {
    if (err.status === 401) state.onSignedOut();
    throw err;
  }
}

export const $ = (id) => document.getElementById(id);

export function show(id, visible) { $(id).hidden = !visible; }

export function fill(listId, emptyId, items) {
  $(listId).replaceChildren(...items);
  show(emptyId, items.length === 0);
}
