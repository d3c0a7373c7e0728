// GreenLoop dashboard charts. Each <canvas data-chart="KIND" data-source="ID"> is drawn
// from the JSON in <script type="application/json" id="ID">, the same figures the JSON
// API returns. Chart.js is vendored under /static/vendor/ (see NOTICE there).
"use strict";

(function () {
  const PALETTE = ["#1f7a4d", "#4caf7d", "#8bc34a", "#c0ca33", "#f2a93b", "#9aa5a0", "#6d8fb3", "#b36d8f"];

  function read(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent || "null") : null;
  }

  // A legend that stays readable on a phone: small swatches, wrapped under the chart.
  function narrow() { return window.matchMedia("(max-width: 700px)").matches; }
  function legend() {
    return { position: "bottom", labels: { boxWidth: 12, padding: narrow() ? 6 : 10, font: { size: narrow() ? 11 : 12 } } };
  }

  function color(index, name) {
    if (name === "(none)") return "#c9d1cc";
    return PALETTE[index % PALETTE.length];
  }

  function tiers(canvas, data) {
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.days,
        datasets: data.tiers.map(function (series, i) {
          const c = color(i, series.tier);
          // Stacked area: the first series fills to the axis, each next one to the one below.
          return { label: series.tier, data: series.persons, fill: i === 0 ? "origin" : "-1", backgroundColor: c + "cc", borderColor: c, pointRadius: 0, tension: 0.2 };
        }),
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { stacked: true, beginAtZero: true, title: { display: true, text: "persons" } }, x: { ticks: { maxTicksLimit: narrow() ? 4 : 12, maxRotation: 0, autoSkipPadding: 12 } } },
        plugins: { legend: legend() },
      },
    });
  }

  function movements(canvas, data) {
    const pairs = data.pairs;
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: pairs.map(function (p) { return (p.from || "(none)") + " → " + (p.to || "(none)"); }),
        datasets: [{
          label: "persons",
          data: pairs.map(function (p) { return p.count; }),
          backgroundColor: pairs.map(function (p) { return p.change === "upgrade" || p.change === "entered" ? "#1f7a4d" : p.change === "locked" ? "#6d8fb3" : "#f2a93b"; }),
        }],
      },
      options: { indexAxis: "y", maintainAspectRatio: false, plugins: { legend: { display: false } } },
    });
  }

  function revenue(canvas, payload) {
    const data = payload.data;
    return new Chart(canvas, {
      data: {
        labels: data.map(function (m) { return m.month; }),
        datasets: [
          { type: "bar", label: "eCom value", data: data.map(function (m) { return Number(m.ecom_value); }), backgroundColor: "#6d8fb3", stack: "value", yAxisID: "y" },
          { type: "bar", label: "In-store value", data: data.map(function (m) { return Number(m.instore_value); }), backgroundColor: "#1f7a4d", stack: "value", yAxisID: "y" },
          { type: "line", label: "eCom purchases", data: data.map(function (m) { return m.ecom_purchases; }), borderColor: "#b36d8f", yAxisID: "count" },
          { type: "line", label: "In-store purchases", data: data.map(function (m) { return m.instore_purchases; }), borderColor: "#f2a93b", yAxisID: "count" },
        ],
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: narrow() ? 4 : 24, maxRotation: 0, autoSkipPadding: 12 } },
          y: { stacked: true, beginAtZero: true, title: { display: !narrow(), text: "value ($)" } },
          count: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: !narrow(), text: "purchases" } },
        },
        plugins: { legend: legend() },
      },
    });
  }

  const KINDS = { tiers: tiers, movements: movements, revenue: revenue };

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const draw = KINDS[canvas.dataset.chart];
      const data = read(canvas.dataset.source);
      if (canvas.chart) canvas.chart.destroy();
      if (draw && data) canvas.chart = draw(canvas, data);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof Chart === "undefined") return;
    drawAll();
    // Chart.js follows the box's size by itself; the legend, ticks and axis titles are
    // chosen for a phone or a wide screen, so crossing 700 px (a tablet turned) draws again.
    const query = window.matchMedia("(max-width: 700px)");
    if (query.addEventListener) query.addEventListener("change", drawAll);
  });
})();

// Keyboard shortcuts: a key clicks the submit button whose data-key names it, in a form
// marked data-shortcuts (the Review page's a / r / s). A key typed into a field is text,
// and a key with a modifier is the browser's (Ctrl+R reloads, it must not reject).
(function () {
  function typing(node) {
    return node instanceof HTMLElement && (node.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(node.tagName));
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.repeat || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
    if (typing(event.target)) return;
    const form = document.querySelector("form[data-shortcuts]");
    if (!form || form.dataset.sent) return;
    const button = Array.from(form.querySelectorAll("button[data-key]")).find(function (b) { return b.dataset.key === event.key; });
    if (!button) return;
    event.preventDefault();
    button.click();
  });

  // One decision per page: a second click or key while the first is on its way would
  // be refused anyway (the pair is no longer waiting), so it is not sent.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-shortcuts")) return;
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
  });

  // A page restored from the back-forward cache may be decided on again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-shortcuts]").forEach(function (form) { delete form.dataset.sent; });
  });
})();
