/* The dashboard page: reads the filters, polls /dashboard/api/kpis, fills the cards and the charts. */
(function () {
  "use strict";
  var main = document.getElementById("dashboard");
  var form = document.getElementById("filters");
  var statusLine = document.getElementById("status");
  var pollMs = (parseInt(main.getAttribute("data-poll-seconds"), 10) || 15) * 1000;
  var charts = {};
  var timer = null;
  var loads = 0;

  function query() {
    var params = new URLSearchParams();
    ["creditor", "start", "end"].forEach(function (name) {
      var value = form.elements[name].value;
      if (name === "creditor" && form.elements.creditor.options.length < 2) { value = wantedCreditor; }
      if (value) { params.set(name, value); }
    });
    return params.toString();
  }

  function money(byCurrency) {
    var entries = Object.keys(byCurrency || {});
    if (!entries.length) { return money.zero; }
    return entries.map(function (currency) {
      return new Intl.NumberFormat("en-US", { style: "currency", currency: currency }).format(byCurrency[currency] / 100);
    }).join(" + ");
  }
  money.zero = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(0);

  function percent(rate) { return rate === null ? "no conversations" : Math.round(rate * 100) + "%"; }

  var FORMATS = {
    collected: money,
    collected_per_conversation: money,
    containment_rate: percent,
    promise_kept_rate: function (rate) { return rate === null ? "no promises" : Math.round(rate * 100) + "% kept"; },
    dispute_open_age_days: function (days) { return days === null ? "—" : days + " days"; },
    first_reply_minutes: function (minutes) { return minutes === null ? "—" : minutes + " min"; },
  };

  function show(kpis) {
    document.querySelectorAll("[data-kpi]").forEach(function (element) {
      var key = element.getAttribute("data-kpi");
      var value = kpis[key];
      var format = FORMATS[key];
      element.textContent = format ? format(value) : (value === null || value === undefined ? "—" : String(value));
    });
  }

  function creditors(list, selected) {
    var select = form.elements.creditor;
    if (select.options.length > 1) { return; }
    list.forEach(function (creditor) {
      var option = document.createElement("option");
      option.value = creditor.id;
      option.textContent = creditor.name;
      option.selected = creditor.id === selected;
      select.appendChild(option);
    });
  }

  function chart(id, config) {
    if (typeof window.Chart === "undefined") { return; }
    if (charts[id]) {
      charts[id].data = config.data;
      charts[id].update("none");
      return;
    }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    charts[id] = new window.Chart(document.getElementById(id), config);
  }

  function draw(data) {
    var days = data.daily.map(function (d) { return d.day.slice(5); });
    chart("chart-conversations", {
      type: "bar",
      data: { labels: days, datasets: [
        { label: "Started", data: data.daily.map(function (d) { return d.conversations_started; }), backgroundColor: "#2f6fde" },
        { label: "Verified", data: data.daily.map(function (d) { return d.conversations_verified; }), backgroundColor: "#7fb069" },
      ] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    chart("chart-collected", {
      type: "line",
      data: { labels: days, datasets: [{
        label: "Collected",
        data: data.daily.map(function (d) { return Object.values(d.collected).reduce(function (a, b) { return a + b; }, 0) / 100; }),
        borderColor: "#2f6fde", backgroundColor: "rgba(47,111,222,.15)", fill: true, tension: 0.25,
      }] },
      options: { scales: { y: { beginAtZero: true } }, plugins: { legend: { display: false } } },
    });
    var k = data.kpis;
    chart("chart-outcomes", {
      type: "doughnut",
      data: { labels: ["Resolved by the assistant", "Handed to an agent"], datasets: [{
        data: [k.conversations_contained, k.conversations_started - k.conversations_contained],
        backgroundColor: ["#7fb069", "#e08e45"],
      }] },
    });
  }

  function refresh() {
    var q = query();
    document.getElementById("export").href = "/agent/api/dashboard/export.csv" + (q ? "?" + q : "");
    return fetch("/agent/api/dashboard/kpis" + (q ? "?" + q : ""), { credentials: "same-origin", cache: "no-store" })
      .then(function (reply) {
        return reply.json().then(function (body) {
          if (!reply.ok) { throw new Error(body.error || reply.statusText); }
          return body;
        });
      })
      .then(function (data) {
        creditors(data.creditors, data.filters.creditor);
        if (!form.elements.start.value) { form.elements.start.value = data.filters.start; }
        if (!form.elements.end.value) { form.elements.end.value = data.filters.end; }
        show(data.kpis);
        draw(data);
        statusLine.className = "status";
        statusLine.textContent = "Updated " + new Date().toLocaleTimeString() + " · refreshes every " + pollMs / 1000 + " s";
        loads += 1;
        main.setAttribute("data-loads", String(loads));  // how many answers the page has shown
      })
      .catch(function (error) {
        statusLine.className = "status error";
        statusLine.textContent = "Could not load the numbers: " + error.message;
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () { refresh().then(schedule); }, pollMs);
  }

  var initial = new URLSearchParams(window.location.search);
  var wantedCreditor = initial.get("creditor") || "";
  ["start", "end"].forEach(function (name) { if (initial.get(name)) { form.elements[name].value = initial.get(name); } });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var q = query();
    window.history.replaceState(null, "", "/agent/dashboard" + (q ? "?" + q : ""));
    refresh().then(schedule);
  });
  form.elements.creditor.addEventListener("change", function () { form.requestSubmit(); });
  refresh().then(schedule);
})();
