// One handoff: the live transcript (polled), the research summary, reply, take and resolve.
(function () {
  "use strict";
  function meta(name) { return document.querySelector('meta[name="' + name + '"]').content; }
  var id = meta("handoff-id");
  var csrf = meta("csrf-token");
  var api = "/agent/api/handoffs/" + id;
  var transcript = document.getElementById("transcript");
  var statusLine = document.getElementById("handoff-status");
  var research = document.getElementById("research");
  var lastCount = -1;

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function post(path, body) {
    return fetch(api + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
        return data;
      });
    });
  }

  function showError(which, error) {
    var box = document.getElementById(which);
    box.hidden = !error;
    box.textContent = error ? error.message : "";
  }

  function renderTranscript(messages) {
    if (messages.length === lastCount) return;
    var atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
    transcript.textContent = "";
    messages.forEach(function (m) {
      var who = { consumer: "Consumer", bot: "Assistant", agent: "Agent" }[m.role] || m.role;
      var li = el("li", null, m.role === "consumer" ? "in" : (m.role === "agent" ? "agent" : "out"));
      li.appendChild(el("span", who + (m.at ? " · " + new Date(m.at).toLocaleTimeString() : ""), "who"));
      li.appendChild(document.createTextNode(m.text || ""));
      transcript.appendChild(li);
    });
    if (atBottom || lastCount < 0) transcript.scrollTop = transcript.scrollHeight;
    lastCount = messages.length;
  }

  function list(title, items, line) {
    var section = el("section");
    section.appendChild(el("h2", title));
    if (!items || !items.length) { section.appendChild(el("p", "None.")); return section; }
    var ul = el("ul");
    items.forEach(function (item) { ul.appendChild(el("li", line(item))); });
    section.appendChild(ul);
    return section;
  }

  function renderResearch(r) {
    research.textContent = "";
    if (!r.account) { research.appendChild(el("p", "No verified account in this conversation.")); }
    else {
      var dl = el("dl");
      [["Account", r.account.account_ref], ["Consumer", r.account.consumer], ["Creditor", r.account.creditor + " (" + r.account.creditor_role + ")"],
       ["Balance", r.account.balance], ["Status", r.account.status], ["Language", r.account.language],
       ["Time zone", r.account.timezone], ["Flags", (r.account.flags || []).join(", ") || "none"]].forEach(function (pair) {
        dl.appendChild(el("dt", pair[0])); dl.appendChild(el("dd", pair[1]));
      });
      research.appendChild(dl);
      research.appendChild(list("Line items", r.line_items, function (i) { return i.date + " " + i.reference + " " + i.description + " " + i.amount; }));
      research.appendChild(list("Payments", r.payments, function (p) { return JSON.stringify(p); }));
      research.appendChild(list("Plans", r.plans, function (p) { return JSON.stringify(p); }));
      research.appendChild(list("Disputes", r.disputes, function (d) { return JSON.stringify(d); }));
      research.appendChild(list("Holds", r.holds, function (h) { return h.reason + " (" + h.amount_cents + " cents)"; }));
    }
    research.appendChild(list("Previous handoffs", r.previous_handoffs, function (h) {
      return "#" + h.id + " " + h.reason + " · " + h.status + (h.outcome ? " · " + h.outcome : "");
    }));
  }

  function render(h) {
    var held = h.status === "assigned" ? " by " + h.assigned_agent : "";
    statusLine.textContent = "Reason: " + h.reason + " · channel " + h.channel + " · " + h.status + held +
      (h.outcome ? " · outcome " + h.outcome : "");
    renderTranscript(h.transcript || []);
    var resolved = h.status === "resolved";
    document.getElementById("reply-send").disabled = resolved;
    document.getElementById("resolve-button").disabled = resolved;
    document.getElementById("take-button").hidden = h.status !== "open";
    if (!research.hasChildNodes()) renderResearch(h.research || {});
  }

  function refresh() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location = "/agent/login?next=/agent/handoffs/" + id; throw new Error("signed out"); }
        return r.json();
      })
      .then(render)
      .catch(function () { statusLine.textContent = "Could not refresh; retrying."; });
  }

  document.getElementById("reply-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var box = document.getElementById("reply-text");
    post("/messages", { text: box.value }).then(function () {
      box.value = ""; showError("reply-error", null); refresh();
    }).catch(function (e) { showError("reply-error", e); });
  });
  document.getElementById("take-button").addEventListener("click", function () {
    post("/take").then(function () { showError("reply-error", null); refresh(); })
      .catch(function (e) { showError("reply-error", e); });
  });
  document.getElementById("resolve-form").addEventListener("submit", function (event) {
    event.preventDefault();
    post("/resolve", { outcome: document.getElementById("outcome").value, note: document.getElementById("note").value })
      .then(function () { showError("resolve-error", null); research.textContent = ""; refresh(); })
      .catch(function (e) { showError("resolve-error", e); });
  });

  refresh();
  setInterval(refresh, 2000);
})();
