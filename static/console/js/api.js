// The console's session: the token is kept per tab in sessionStorage and sent as a Bearer
// header (the HTTP calls: /static/shared/protocol.js); the same token authenticates the websocket.

import { apiClient } from "/static/shared/protocol.js";

const TOKEN_KEY = "supportchat.console.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export const api = apiClient(token);

export async function login(email, password) {
  const data = await api("POST", "/api/auth/login", { email, password });
  setToken(data.token);
  return data;
}

export async function logout() {
  try {
    await api("POST", "/api/auth/logout");
  } finally {
    setToken(null);
  }
}
