// The console's only script: the Alerts page's live feed (server-sent events). Each event
// carries the alert's row, rendered by the server for this user's role and language.
"use strict";
(function () {
  const live = document.getElementById("live");
  const rows = document.getElementById("alert-rows");
  if (!live || !rows || !window.EventSource) return;
  const source = new EventSource(live.dataset.stream);
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    const old = document.getElementById("alert-" + alert.id);
    const holder = document.createElement("tbody");
    holder.innerHTML = alert.html;
    const row = holder.firstElementChild;
    row.classList.add("new");
    if (old) old.replaceWith(row); else rows.prepend(row);
    const none = document.getElementById("no-alerts");
    if (none) none.remove();
    document.title = "(!) " + document.title.replace(/^\(!\) /, "");
  });
})();
