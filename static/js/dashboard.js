/* leadexchange dashboards: sortable tables, the overview charts, the auction waterfall and
 * the live view. Plain ES2017, no build step; Chart.js is vendored (static/vendor/chartjs).
 * Every value is put in the page with textContent, never innerHTML. */
(function () {
  "use strict";

  var COLORS = {
    received: "#2457d6", sold: "#2e9d5b", rejected: "#d64545",
    pings: "#2457d6", bids: "#8a63d2", wins: "#2e9d5b",
    revenue: "#2457d6", margin: "#2e9d5b", net_revenue: "#8a63d2",
    approved: "#d64545", pending: "#e0b21e", rejected: "#9aa3b2",
  };
  var OUTCOME_COLORS = {
    bid: "#2e9d5b", below_floor: "#a3b83a", no_bid: "#9aa3b2", timeout: "#e08a1e",
    error: "#d64545", invalid_response: "#b03a8c",
    accepted: "#1f7a45", rejected: "#d64545", sending: "#9aa3b2", retry: "#e0b21e",
    abandoned: "#c4c9d2",
  };
  var MARKER_COLORS = { "ping deadline": "#d64545", decision: "#1d2330", finished: "#6b7385" };

  function money(value) {
    return Number(value).toLocaleString(undefined, { minimumFractionDigits: 2,
                                                     maximumFractionDigits: 2 });
  }

  /* --- sortable tables: click a header; numbers by data-value, "—" always last ---------- */

  function cellValue(row, index, numeric) {
    var cell = row.children[index];
    if (!cell) return null;
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value")
                                               : cell.textContent.trim();
    if (raw === "" || raw === "—") return null;
    if (!numeric) return raw.toLowerCase();
    var number = Number(raw);
    return isNaN(number) ? null : number;
  }

  function sortBy(table, header) {
    var headers = Array.prototype.slice.call(header.parentNode.children);
    var index = headers.indexOf(header);
    var numeric = header.getAttribute("data-sort") === "number";
    var current = header.getAttribute("aria-sort");
    var direction = current ? (current === "ascending" ? "descending" : "ascending")
                            : (numeric ? "descending" : "ascending");
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", direction);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).filter(function (r) {
      return !r.classList.contains("empty");
    });
    var sign = direction === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      if (x === null && y === null) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * sign;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function initSortable(table) {
    Array.prototype.forEach.call(table.querySelectorAll("thead th[data-sort]"), function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th); });
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sortBy(table, th);
        }
      });
    });
  }

  /* --- overview charts ------------------------------------------------------------------ */

  function datasets(series, type) {
    return series.map(function (s, i) {
      var color = COLORS[s.key] || "#6b7385";
      var line = type === "money" && i > 0;
      return {
        label: s.label, data: s.data, backgroundColor: color, borderColor: color,
        type: line ? "line" : "bar", borderWidth: line ? 2 : 0, pointRadius: line ? 2 : 0,
        tension: 0.2, order: line ? 0 : 1,
      };
    });
  }

  function initOverview() {
    var source = document.getElementById("chart-data");
    if (!source || !window.Chart) return;
    var chart = JSON.parse(source.textContent);
    [["chart-volume", "volume"], ["chart-money", "money"]].forEach(function (pair) {
      var canvas = document.getElementById(pair[0]);
      if (!canvas) return;
      var isMoney = pair[1] === "money";
      new window.Chart(canvas, {
        type: "bar",
        data: { labels: chart.labels, datasets: datasets(chart[pair[1]], pair[1]) },
        options: {
          animation: false, maintainAspectRatio: false, responsive: true,
          interaction: { mode: "index", intersect: false },
          plugins: {
            legend: { position: "bottom", labels: { boxWidth: 12 } },
            tooltip: {
              callbacks: {
                title: function (items) { return chart.keys[items[0].dataIndex]; },
                label: function (item) {
                  return item.dataset.label + ": " + (isMoney ? money(item.parsed.y)
                                                              : item.parsed.y);
                },
              },
            },
          },
          scales: {
            x: { grid: { display: false } },
            y: { beginAtZero: true, ticks: { precision: isMoney ? 2 : 0 } },
          },
        },
      });
    });
  }

  /* --- the returns page: returns by reason, stacked by status -------------------------- */

  function initReturns() {
    var source = document.getElementById("returns-chart-data");
    var canvas = document.getElementById("chart-returns");
    if (!source || !canvas || !window.Chart) return;
    var chart = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (s) {
          var color = COLORS[s.key] || "#6b7385";
          return { label: s.label, data: s.data, backgroundColor: color, borderWidth: 0 };
        }),
      },
      options: {
        animation: false, maintainAspectRatio: false, responsive: true,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    });
  }

  /* --- the auction waterfall ------------------------------------------------------------ */

  var markerPlugin = {
    id: "lxMarkers",
    afterDatasetsDraw: function (chart, args, options) {
      var markers = (options && options.markers) || [];
      var area = chart.chartArea, x = chart.scales.x, ctx = chart.ctx;
      ctx.save();
      ctx.font = "11px system-ui, sans-serif";
      markers.forEach(function (marker, i) {
        var px = x.getPixelForValue(marker.at);
        if (px < area.left - 1 || px > area.right + 1) return;
        var color = MARKER_COLORS[marker.label] || "#1d2330";
        ctx.strokeStyle = color;
        ctx.fillStyle = color;
        ctx.lineWidth = 1.5;
        ctx.setLineDash(marker.label === "ping deadline" ? [] : [4, 3]);
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        var text = marker.label + " " + Math.round(marker.at) + " ms";
        var width = ctx.measureText(text).width;
        var tx = px + 4 + width > area.right ? px - 4 - width : px + 4;
        ctx.fillText(text, tx, area.bottom - 6 - i * 13);
      });
      ctx.restore();
    },
  };

  function initWaterfall(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-source"));
    if (!source || !window.Chart) return;
    var timeline = JSON.parse(source.textContent);
    var bars = timeline.bars;
    var ends = bars.map(function (b) { return b.end; })
      .concat(timeline.markers.map(function (m) { return m.at; }));
    var top = Math.max.apply(null, ends.concat([1]));
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: bars.map(function (b) { return b.label; }),
        datasets: [{
          label: "ms since the auction started",
          data: bars.map(function (b) { return [b.start, Math.max(b.end, b.start)]; }),
          backgroundColor: bars.map(function (b) {
            return OUTCOME_COLORS[b.outcome] || "#6b7385";
          }),
          borderSkipped: false, minBarLength: 3, barPercentage: 0.8, categoryPercentage: 0.9,
        }],
      },
      options: {
        indexAxis: "y", animation: false, maintainAspectRatio: false, responsive: true,
        plugins: {
          legend: { display: false },
          lxMarkers: { markers: timeline.markers },
          tooltip: {
            callbacks: {
              label: function (item) {
                var b = bars[item.dataIndex];
                var parts = [b.outcome];
                if (b.amount !== null) parts.push(b.kind === "ping" ? "bid " + b.amount
                                                                     : "price " + b.amount);
                parts.push(b.latency === null ? "no latency recorded"
                                              : b.latency + " ms (from " + b.start + " ms)");
                if (b.detail) parts.push(b.detail);
                return parts.join(" · ");
              },
            },
          },
        },
        scales: {
          x: { type: "linear", min: 0, suggestedMax: top * 1.05,
               title: { display: true, text: "ms since the auction started" } },
          y: { ticks: { autoSkip: false, callback: function (value) {
            // long "R1 ping · buyer · contract" labels would squeeze the bars on a phone
            var label = this.getLabelForValue(value);
            var room = Math.max(14, Math.floor(canvas.clientWidth / 18));
            return label.length > room ? label.slice(0, room - 1) + "…" : label;
          } } },
        },
      },
      plugins: [markerPlugin],
    });
  }

  /* --- the filter panel: open on a laptop, folded on a phone (same break as app.css) --- */

  function initFilterPanel(panel) {
    if (!window.matchMedia) return;
    var phone = window.matchMedia("(max-width: 700px)");
    if (phone.matches) panel.open = false;
    phone.addEventListener("change", function (event) { panel.open = !event.matches; });
  }

  /* --- live view ------------------------------------------------------------------------ */

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function statusBadge(text) {
    var span = document.createElement("span");
    span.className = "status status-" + text;
    span.textContent = text;
    return span;
  }

  function liveRow(lead, previous) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-uuid", lead.uuid);
    tr.setAttribute("data-status", lead.status);
    if (!previous) tr.classList.add("is-new");
    else if (previous !== lead.status) tr.classList.add("is-changed");
    cell(tr, lead.received);
    cell(tr, lead.source);
    cell(tr, lead.vertical || "—");
    var status = cell(tr, "");
    status.appendChild(statusBadge(lead.status));
    if (lead.test) {
      status.appendChild(document.createTextNode(" "));
      status.appendChild(statusBadge("test"));
    }
    cell(tr, lead.reason || "", "reason");
    cell(tr, lead.price_text, "num").setAttribute("data-value", lead.price || "");
    cell(tr, lead.deliver, "num");
    var link = document.createElement("a");
    link.href = lead.url;
    link.textContent = "timeline";
    cell(tr, "").appendChild(link);
    return tr;
  }

  function initLive(table) {
    var url = table.getAttribute("data-url");
    var interval = Number(table.getAttribute("data-interval-ms")) || 3000;
    var state = document.getElementById("live-state");
    var body = table.tBodies[0];

    function known() {
      var seen = {};
      Array.prototype.forEach.call(body.querySelectorAll("tr[data-uuid]"), function (tr) {
        seen[tr.getAttribute("data-uuid")] = tr.getAttribute("data-status");
      });
      return seen;
    }

    function say(text) { if (state) state.textContent = text; }

    function render(leads) {
      var seen = known();
      var rows = leads.map(function (lead) { return liveRow(lead, seen[lead.uuid]); });
      if (!rows.length) {
        var empty = document.createElement("tr");
        empty.className = "empty";
        cell(empty, "No lead yet.", "muted").colSpan = 8;
        rows = [empty];
      }
      body.replaceChildren.apply(body, rows);
    }

    function tick() {
      if (document.hidden) return window.setTimeout(tick, interval);
      fetch(url, { credentials: "same-origin", cache: "no-store",
                   headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status === 401 || response.status === 403) {
            say("Signed out: reload the page to log in again.");
            return null;
          }
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json().then(function (data) {
            render(data.leads);
            say("Updated " + new Date().toISOString().slice(11, 19) + " UTC");
            table.setAttribute("data-updated", data.generated_at);
            return true;
          });
        })
        .catch(function () { say("Connection lost, retrying…"); return true; })
        .then(function (again) { if (again) window.setTimeout(tick, interval); });
    }

    window.setTimeout(tick, interval);
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("details.filter-panel"),
                                 initFilterPanel);
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), initSortable);
    initOverview();
    initReturns();
    Array.prototype.forEach.call(document.querySelectorAll("canvas.waterfall"), initWaterfall);
    var live = document.getElementById("live-table");
    if (live) initLive(live);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
