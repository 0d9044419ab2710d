// A message box with files, for the group chat and a ticket's replies: the files upload as
// soon as they are chosen (POST /api/conversations/{id}/attachments), Send waits for them
// and sends the text — or, with files alone, their names, as the widget does (a message
// needs a text) — through the shared socket client, which keeps it until acknowledged.

import { h } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import catalog from "../i18n/groups.js";
import { $, state } from "./state.js";
import { fileSize, uploadTo } from "./format.js";

register(catalog);

export class Composer {
  /**
   * ``ids``: the element ids {form, input, fileInput, attach, tray, send, error};
   * ``target()``: the conversation id to write to, or null when writing is not allowed;
   * ``sent(item)``: the outbox item of a message just handed to the client.
   */
  constructor(ids, target, sent) {
    this.ids = ids;
    this.target = target;
    this.sent = sent;
    this.files = []; // {file, attachment?, failed?}
    $(ids.attach).addEventListener("click", () => $(ids.fileInput).click());
    $(ids.fileInput).addEventListener("change", () => this.choose());
    $(ids.form).addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    $(ids.input).addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        $(ids.form).requestSubmit();
      }
    });
  }

  reset() {
    this.files = [];
    $(this.ids.input).value = "";
    this.draw();
  }

  uploading() {
    return this.files.some((f) => !f.attachment && !f.failed);
  }

  draw() {
    const ids = this.ids;
    $(ids.tray).replaceChildren(...this.files.map((f) => h("li", {},
      h("span", {}, f.file.name), " ", h("span", { class: "size" }, fileSize(f.file.size)), " ",
      h("span", { class: "status" }, f.failed ? t("portal.chat.upload_failed") : f.attachment ? "" : t("portal.chat.uploading")),
      h("button", { type: "button", class: "link", "aria-label": t("portal.chat.remove_file", { name: f.file.name }),
        onclick: () => { this.files.splice(this.files.indexOf(f), 1); this.draw(); } }, "×"))));
    const open = this.target() != null;
    $(ids.send).disabled = !open || this.uploading();
    $(ids.attach).disabled = !open;
  }

  choose() {
    const conv = this.target();
    const input = $(this.ids.fileInput);
    for (const file of conv == null ? [] : input.files) {
      const entry = { file };
      this.files.push(entry);
      uploadTo(conv, file)
        .then((a) => { entry.attachment = a; })
        .catch((err) => { entry.failed = true; $(this.ids.error).textContent = err.message; })
        .finally(() => this.draw());
    }
    input.value = "";
    this.draw();
  }

  submit() {
    const conv = this.target();
    if (conv == null || !state.client || this.uploading()) return;
    const ready = this.files.filter((f) => f.attachment);
    const body = $(this.ids.input).value.trim() || ready.map((f) => f.file.name).join(", ");
    if (!body) return;
    $(this.ids.error).textContent = "";
    this.sent(state.client.send(conv, body, { attachments: ready.map((f) => f.attachment.id) }));
    this.reset();
  }
}
