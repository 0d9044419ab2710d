// Attachments in the console's history (issue 18): images as thumbnails, other files as
// download buttons. Files need the agent's token, which never goes into a URL: each is
// fetched with it once and shown from a blob: URL of this page (kept per attachment, so
// re-rendering the history fetches nothing again). A bare link to /api/attachments/N had
// no token: it showed a broken glyph and opened a 401.

import { h } from "/static/shared/dom.js";
import { t, register } from "/static/shared/i18n.js";
import { token } from "./api.js";
import catalog from "../i18n/conversation.js";

register(catalog);

const blobs = new Map(); // attachment id -> Promise of a blob: URL

function fetchFile(a) {
  if (!blobs.has(a.id)) {
    const loading = (async () => {
      if (!/^\/api\/attachments\/\d+$/.test(a.url)) throw new Error("unexpected attachment URL");
      const r = await fetch(a.url, { headers: { Authorization: `Bearer ${token()}` }, credentials: "omit" });
      if (!r.ok) throw new Error(`attachment ${r.status}`);
      return URL.createObjectURL(await r.blob());
    })();
    loading.catch(() => blobs.delete(a.id)); // a later render tries again
    blobs.set(a.id, loading);
  }
  return blobs.get(a.id);
}

// Full size in a new tab (an image), or saved under its own name (anything else).
async function openFile(a, download, toast) {
  try {
    const link = h("a", { href: await fetchFile(a), target: "_blank", rel: "noopener" });
    if (download) link.download = a.filename;
    link.click();
  } catch (err) {
    toast(t("conv.file_failed", { name: a.filename }), true);
  }
}

export function attachmentList(list, toast) {
  if (!list.length) return null;
  return h("div", { class: "files", "data-testid": "attachments" }, list.map((a) => {
    if ((a.content_type || "").startsWith("image/")) {
      const img = h("img", { class: "thumb", alt: a.filename });
      fetchFile(a).then((url) => { img.src = url; }, () => img.replaceWith(a.filename));
      return h("button", { type: "button", class: "thumb-btn", title: t("conv.image_open", { name: a.filename }),
        "aria-label": t("conv.image_open", { name: a.filename }), onclick: () => openFile(a, false, toast) }, img);
    }
    return h("button", { type: "button", class: "file", title: t("conv.file_download", { name: a.filename }),
      onclick: () => openFile(a, true, toast) }, a.filename);
  }));
}

// Upload one file into a conversation (the raw file as the body, docs/http.md
// "Attachments"); resolves to the stored attachment, whose id a `send` then carries.
export async function uploadFile(conversationId, file) {
  const r = await fetch(`/api/conversations/${conversationId}/attachments?filename=${encodeURIComponent(file.name)}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token()}`, "X-Requested-With": "supportchat",
      "Content-Type": file.type || "application/octet-stream" },
    credentials: "omit",
    body: file,
  });
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && data.error && data.error.message) || String(r.status));
  return data.attachment;
}
