// The account pages that mail links open (/account/forgot, /account/reset, /account/invitation;
// chat/templates/account_pages/): one form each, posted as JSON to the API, the answer
// shown in place. An accepted invitation signs in: the session token goes where the console
// (or the portal) keeps it for this tab, and the browser goes there.

import { apiClient } from "/static/shared/protocol.js";

const call = apiClient(() => null);
// The keys the console (js/api.js) and the portal (portal.js) read their token from.
const TOKEN_KEYS = { "/console/": "supportchat.console.token", "/portal/": "portal.token" };

const form = document.getElementById("account-form");
const error = document.getElementById("form-error");
const done = document.getElementById("form-done");
const field = (name) => form.elements.namedItem(name);
// The page's words in its language (chat/templates/account_pages/form.html, data-msg-*).
const say = form.dataset;
const REFUSALS = { invalid_token: say.msgInvalidToken, token_expired: say.msgTokenExpired, token_used: say.msgTokenUsed };

function passwords() {
  const password = field("password").value;
  if (password !== field("confirm").value) throw new Error(say.msgMismatch);
  const { minLength, maxLength } = field("password");
  // The server checks the same policy (in code points, so it has the last word on emoji).
  if (password.length < minLength || password.length > maxLength) throw new Error(say.msgPasswordLength);
  return password;
}

function finish(...nodes) {
  form.hidden = true;
  done.replaceChildren(...nodes);
  done.hidden = false;
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

function paragraph(...parts) {
  const p = document.createElement("p");
  p.append(...parts);
  return p;
}

const ACTIONS = {
  async forgot() {
    await call("POST", "/api/auth/password/forgot", { email: field("email").value.trim() });
    // The API answers the same whether or not the address has an account: so does the page.
    finish(paragraph(say.msgSent));
  },
  async reset() {
    const data = await call("POST", "/api/auth/password/reset", { token: field("token").value, password: passwords() });
    finish(paragraph(say.msgPasswordSet, " ", link(data.sign_in_url, say.msgSignIn)));
  },
  async invitation() {
    const name = field("name").value.trim();
    const data = await call("POST", "/api/auth/invitation/accept",
      { token: field("token").value, password: passwords(), ...(name ? { name } : {}) });
    const key = TOKEN_KEYS[data.sign_in_url];
    if (key) sessionStorage.setItem(key, data.token);
    finish(paragraph(say.msgPasswordSet, " ", link(data.sign_in_url, say.msgContinue)));
    location.assign(data.sign_in_url);
  },
};

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.textContent = "";
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await ACTIONS[form.dataset.action]();
  } catch (err) {
    // The API's messages are English; the answers a person can get here read in the page's language.
    error.textContent = (err.status === 429 ? say.msgTooMany : REFUSALS[err.code]) || err.message;
    error.dataset.code = err.code || "";
  } finally {
    button.disabled = false;
  }
});
