// How the portal shows times, links and files: in the reader's language (shared/i18n.js),
// text from the server only ever as text (dom.js), links only to http(s).

import { h } from "/static/shared/dom.js";
import { fmtDateTime, fmtTime, fmtNumber, t } from "/static/shared/i18n.js";
import { CSRF_HEADERS } from "/static/shared/protocol.js";
import { state } from "./state.js";

// A time of today reads best as "14:05"; anything older needs its date. The full date and
// time is on hover (title) and in the element's datetime attribute.
export function stamp(iso, now = new Date()) {
  const at = new Date(iso);
  const today = at.toDateString() === now.toDateString();
  return h("time", { datetime: iso, title: fmtDateTime(iso, { dateStyle: "full", timeStyle: "medium" }) },
    today ? fmtTime(iso) : fmtDateTime(iso, { dateStyle: "short", timeStyle: "short" }));
}

// http(s) addresses in a text become links; nothing else does (no javascript:, no data:).
const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

export function linkified(text) {
  const parts = [];
  let at = 0;
  for (const m of String(text || "").matchAll(URL_RE)) {
    const url = m[0].replace(/[.,;:!?)\]]+$/, "");
    parts.push(text.slice(at, m.index), h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
    at = m.index + url.length;
  }
  parts.push(String(text || "").slice(at));
  return parts;
}

export function fileSize(bytes) {
  if (bytes >= 1048576) return t("portal.size_mb", { n: fmtNumber(bytes / 1048576, { maximumFractionDigits: 1 }) });
  return t("portal.size_kb", { n: fmtNumber(Math.max(1, Math.round(bytes / 1024))) });
}

// Files need the session's token, which never goes into a URL: fetched with it, then shown
// from a blob: URL (the portal's policy allows blob: images).
const blobs = new Map();

async function blobUrl(a) {
  if (!/^\/api\/attachments\/\d+$/.test(a.url)) throw new Error("unexpected attachment URL");
  if (blobs.has(a.id)) return blobs.get(a.id);
  const r = await fetch(a.url, { headers: { Authorization: "Bearer " + state.token } });
  if (!r.ok) throw new Error("attachment " + r.status);
  const url = URL.createObjectURL(await r.blob());
  blobs.set(a.id, url);
  return url;
}

// A message's files: images as previews (a click opens the full size), others as links
// that download under their own name.
export function attachmentList(files) {
  if (!files || !files.length) return null;
  return h("div", { class: "files" }, files.map((a) => {
    const link = h("a", { href: "#", class: "file", "data-testid": "attachment",
      title: t("portal.download", { name: a.filename }) });
    const open = async (e) => {
      e.preventDefault();
      const opener = h("a", { href: await blobUrl(a), target: "_blank", rel: "noopener" });
      if (!a.content_type.startsWith("image/")) opener.download = a.filename;
      opener.click();
    };
    link.addEventListener("click", open);
    if (a.content_type.startsWith("image/")) {
      const img = h("img", { alt: a.filename, class: "preview" });
      blobUrl(a).then((url) => { img.src = url; }).catch(() => { img.alt = t("portal.file_missing", { name: a.filename }); });
      link.append(img);
    } else {
      link.append(h("span", {}, a.filename), " ", h("span", { class: "size" }, fileSize(a.size)));
    }
    return link;
  }));
}

// Uploads one file to a conversation (docs/http.md, POST /api/conversations/{id}/attachments)
// and gives back its attachment; the server's refusal becomes the error's message.
export async function uploadTo(conversationId, file) {
  const response = await fetch(`/api/conversations/${conversationId}/attachments?filename=${encodeURIComponent(file.name)}`, {
    method: "POST",
    headers: { ...CSRF_HEADERS, Authorization: "Bearer " + state.token,
               "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  const data = await response.json();
  if (!response.ok) throw new Error(`${file.name}: ${data.error.message}`);
  return data.attachment;
}
