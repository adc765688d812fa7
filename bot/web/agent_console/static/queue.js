// The handoff queue: fetched from the agent API (session cookie) and refreshed every few seconds.
(function () {
  "use strict";
  var rows = document.getElementById("queue-rows");
  var status = document.getElementById("queue-status");

  function age(iso) {
    var minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60);
    return hours < 48 ? hours + " h " + (minutes % 60) + " min" : Math.floor(hours / 24) + " days";
  }

  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function render(handoffs) {
    rows.textContent = "";
    handoffs.forEach(function (h) {
      var tr = document.createElement("tr");
      var first = cell(tr, "");
      var link = document.createElement("a");
      link.href = "/agent/handoffs/" + h.id;
      link.textContent = "#" + h.id + " " + (h.account_ref || "no account") + " (" + h.channel + ")";
      first.appendChild(link);
      cell(tr, h.reason);
      cell(tr, String(h.priority));
      cell(tr, age(h.created_at));
      var badge = document.createElement("span");
      badge.className = "badge " + h.status;
      badge.textContent = h.status;
      cell(tr, "").appendChild(badge);
      cell(tr, h.assigned_agent || "");
      rows.appendChild(tr);
    });
    status.textContent = handoffs.length ? handoffs.length + " handoffs" : "Nothing waiting.";
  }

  function refresh() {
    fetch("/agent/api/handoffs", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location = "/agent/login?next=/agent/"; throw new Error("signed out"); }
        return r.json();
      })
      .then(render)
      .catch(function () { status.textContent = "Could not refresh the queue; retrying."; });
  }

  refresh();
  setInterval(refresh, 5000);
})();
