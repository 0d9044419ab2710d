// The console's and portal's strings in the product's five languages (issue 18): English,
// Brazilian Portuguese, German, Spanish, Russian. The widget keeps its own smaller catalog
// (static/widget/i18n.js) to stay within its size budget.
//
// Catalogs live beside the code that shows the strings, one file per area, each holding all
// five languages side by side (static/console/i18n/*.js, static/portal/i18n/*.js,
// static/shared/i18n/*.js):
//
//   export default { "en": { "inbox.title": "Inbox", ... }, "pt-BR": {...}, "de": {...}, "es": {...}, "ru": {...} };
//
// The object after `export default` is strict JSON (double quotes, no trailing commas), so
// tests/static/test_catalogs.py can check that every language has every key with the same
// {placeholders}, and that every key the code asks for with t("…") exists.
//
// Usage: register(catalog) once per area at import time; setLanguage(lang) once at start
// (a change of language reloads the page); t("common.save") or t(key, { name: "Ann" }).

export const LANGUAGES = ["en", "pt-BR", "de", "es", "ru"];

// Each language's own name, for the pickers.
export const LANGUAGE_NAMES = {
  "en": "English", "pt-BR": "Português (Brasil)", "de": "Deutsch", "es": "Español", "ru": "Русский",
};

const catalogs = Object.fromEntries(LANGUAGES.map((l) => [l, {}]));
let current = "en";

export function register(catalog) {
  for (const lang of LANGUAGES) Object.assign(catalogs[lang], catalog[lang] || {});
}

// "pt-br" → "pt-BR", "pt" → "pt-BR", "de-AT" → "de"; null for what we do not speak.
export function match(tag) {
  if (!tag) return null;
  const lower = String(tag).toLowerCase();
  const exact = LANGUAGES.find((l) => l.toLowerCase() === lower);
  if (exact) return exact;
  const base = lower.split("-")[0];
  return LANGUAGES.find((l) => l.toLowerCase().split("-")[0] === base) || null;
}

// The person's own choice wins; until they make one, the browser's languages decide.
export function pickLanguage(user, browser = navigator.languages && navigator.languages.length
  ? navigator.languages : [navigator.language]) {
  if (user && user.language_chosen && match(user.language)) return match(user.language);
  return browser.map(match).find(Boolean) || match(user && user.language) || "en";
}

export function setLanguage(lang) {
  current = match(lang) || "en";
  document.documentElement.lang = current;
  return current;
}

export function language() {
  return current;
}

// A missing key falls back to English, then to the key itself (the catalog test keeps
// that from shipping).
export function t(key, params) {
  const text = catalogs[current][key] ?? catalogs.en[key] ?? key;
  return params ? text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? "")) : text;
}

// Numbers and dates in the language's own format.
export function fmtNumber(value, options) {
  return new Intl.NumberFormat(current, options).format(value);
}

export function fmtDateTime(iso, options = { dateStyle: "medium", timeStyle: "short" }) {
  return iso ? new Intl.DateTimeFormat(current, options).format(new Date(iso)) : "—";
}

export function fmtTime(iso) {
  return iso ? new Intl.DateTimeFormat(current, { hour: "2-digit", minute: "2-digit" }).format(new Date(iso)) : "";
}
