// How a person is named on every screen (issue 18): one rule, the server's
// (chat/people.py). A person without a name comes as {"id": 123, "name": "Visitor #123",
// "anonymous": true}; the screens say it in the reader's language from the id. An older
// record that predates the rule (a name of "") is named the same way.

import { register, t } from "./i18n.js";
import catalog from "./i18n/names.js";

register(catalog);

export function displayName(person) {
  if (!person) return t("names.nobody");
  const name = (person.name || "").trim();
  if (person.anonymous || !name) return person.id ? t("names.visitor", { id: person.id }) : t("names.visitor_unknown");
  return name;
}
