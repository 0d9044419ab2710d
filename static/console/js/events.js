// Human text for system events and the server's enums lives in /static/shared/labels.js
// (one module for the console and the portal, in five languages); this re-export keeps the
// console's older imports working.

export * from "/static/shared/labels.js";
