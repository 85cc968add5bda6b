// The console's own script: the live text count of the send form, and live
// statuses in the history (server-sent events from /console/live).
"use strict";

function watchTextCount() {
  const text = document.querySelector("textarea[data-count]");
  const out = document.getElementById("text-count");
  if (!text || !out) return;
  // The page's CSRF token, which every POST carries (htmx's send it from the body's hx-headers).
  const token = document.querySelector("meta[name=csrf-token]").content;
  let timer = null;
  let asked = 0;
  const say = (words, segments, encoding) => {
    out.textContent = words;
    out.dataset.segments = segments ?? "";
    out.dataset.encoding = encoding ?? "";
  };
  const show = async () => {
    const mine = ++asked;
    // POSTed: in a GET's URL a long text passes the HTTP server's request-line limit.
    const answer = await fetch(text.dataset.count, {
      method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": token},
      body: new URLSearchParams({text: text.value}),
    }).catch(() => null);
    if (mine !== asked) return;  // the count of a later text is on its way
    if (!answer || !answer.ok) { say(""); return; }  // no count rather than an older text's
    const count = await answer.json();
    if (mine !== asked) return;
    say(count.error ? count.error : count.characters + " · " + count.segments + " SMS · " + (count.encoding || ""),
        count.segments, count.encoding);
  };
  text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(show, 300); });
  if (text.value) show();
}

function watchStatuses() {
  const table = document.getElementById("messages");
  if (!table || !window.EventSource) return;
  const rows = new Map();
  table.querySelectorAll("tr[data-message-id]").forEach((row) => rows.set(row.dataset.messageId, row));
  if (rows.size === 0) return;
  const source = new EventSource(table.dataset.live + "?ids=" + [...rows.keys()].join(","));
  source.addEventListener("status", (event) => {
    const change = JSON.parse(event.data);
    const row = rows.get(change.message_id);
    if (!row || row.dataset.status === change.status) return;
    row.dataset.status = change.status;
    const cell = row.querySelector("[data-status]");
    cell.className = "status " + change.status;
    cell.textContent = change.label;
    row.querySelectorAll("form[data-when]").forEach((form) => { form.hidden = form.dataset.when !== change.status; });
  });
  source.addEventListener("done", () => source.close());
}

document.addEventListener("DOMContentLoaded", () => { watchTextCount(); watchStatuses(); });
