// Reports of a reseller admin's customers' tickets (issue 17): the console's reports page,
// mounted here with the portal's session; the server scopes the numbers.

import { ReportsView } from "/console/js/reports.js";
import { api, state } from "./state.js";

export function mountReports(root) {
  new ReportsView(root, { me: { user: state.me }, api }).show();
}
