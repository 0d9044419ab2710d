// The admin page's screens beside "Team and routing" (admin.js): one module per screen
// under js/settings/, each a class built with the console's context whose `render()`
// resolves to the screen's element. The page shows a tab for each, in this order.
//
//   { key: "policies", label: () => t(KEY), make: (ctx) => new PoliciesScreen(ctx) }
//
// Support admins change; read-only staff see every screen with its controls disabled
// (ctx.me.can.manage is false); the server refuses anyone else whatever a screen shows.

import { t } from "/static/shared/i18n.js";
import { CalendarsScreen } from "./calendars.js";
import { CategoriesScreen } from "./categories.js";
import { CompaniesScreen } from "./companies.js";
import { PoliciesScreen } from "./policies.js";
import { PresetsScreen } from "./presets.js";
import { SitesScreen } from "./sites.js";
import { TicketRulesScreen } from "./ticket_rules.js";
import { UsersScreen } from "./users.js";

export const SETTINGS_PAGES = [
  { key: "policies", label: () => t("policies.nav"), make: (ctx) => new PoliciesScreen(ctx) },
  { key: "calendars", label: () => t("calendars.nav"), make: (ctx) => new CalendarsScreen(ctx) },
  { key: "categories", label: () => t("categories.nav"), make: (ctx) => new CategoriesScreen(ctx) },
  { key: "ticket-rules", label: () => t("rules.nav"), make: (ctx) => new TicketRulesScreen(ctx) },
  { key: "presets", label: () => t("presets.nav"), make: (ctx) => new PresetsScreen(ctx) },
  { key: "sites", label: () => t("sites.title"), make: (ctx) => new SitesScreen(ctx) },
  { key: "users", label: () => t("users.title"), make: (ctx) => new UsersScreen(ctx) },
  { key: "companies", label: () => t("companies.title"), make: (ctx) => new CompaniesScreen(ctx) },
];
