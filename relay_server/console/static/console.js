// The console's own script: the live text count of the send form, and live
// statuses in the history (server-sent events from /console/live).
"use strict";

function watchTextCount() {
  const text = document.querySelector("textarea[data-count]");
  const out = document.getElementById("text-count");
  if (!text || !out) return;
  let timer = null;
  const show = async () => {
    const answer = await fetch(text.dataset.count + "?text=" + encodeURIComponent(text.value), {credentials: "same-origin"});
    if (!answer.ok) return;
    const count = await answer.json();
    out.textContent = count.error ? count.error
      : count.characters + " · " + count.segments + " SMS · " + (count.encoding || "");
    out.dataset.segments = count.segments ?? "";
    out.dataset.encoding = count.encoding ?? "";
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
