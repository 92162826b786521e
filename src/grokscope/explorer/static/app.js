// grokscope explorer: shared helpers, the router and the start page (runs and sweeps).
//
// Rule for every view: text from the store (run names, config values, labels) enters the page
// through textContent or Plotly's text fields only, never through innerHTML.
"use strict";

const GS = (window.GS = {
  state: { view: null, perf: {} },  // read by the browser tests: what is shown, and timings
  views: {},
});

// ----------------------------------------------------------------------------- DOM helpers
GS.el = function (tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
};

GS.fmt = function (v, digits) {
  if (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) return "–";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(digits || 3)));
  return String(v);
};

GS.showError = function (msg) {
  const box = document.getElementById("error");
  box.textContent = msg;
  box.hidden = !msg;
};

// ----------------------------------------------------------------------------- data
GS.fetchJSON = async function (url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || `${url}: HTTP ${r.status}`);
  return body;
};

// The binary format of grokscope/explorer/_binary.py: uint32 header length, JSON header, float32 data.
GS.fetchArrays = async function (url) {
  const r = await fetch(url);
  if (!r.ok) {
    let msg = `${url}: HTTP ${r.status}`;
    try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  const buf = await r.arrayBuffer();
  const n = new DataView(buf).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  const start = 4 + n;
  const arrays = {};
  for (const a of head.arrays) {
    const count = a.shape.reduce((x, y) => x * y, 1);
    arrays[a.name] = { shape: a.shape, data: new Float32Array(buf, start + a.offset, count) };
  }
  return { meta: head.meta, arrays };
};

// Column j of a [n, m] array as a plain JS array (NaN -> null, so plotly leaves a gap).
GS.column = function (arr, j) {
  const [n, m] = arr.shape;
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = arr.data[i * m + j];
    out[i] = Number.isNaN(v) ? null : v;
  }
  return out;
};

// Slice i of a [n, rows, cols] array as rows x cols nested arrays (transpose: cols x rows).
GS.matrix = function (arr, i, transpose) {
  const [, rows, cols] = arr.shape;
  const base = i * rows * cols;
  const out = [];
  if (!transpose) {
    for (let r = 0; r < rows; r++) out.push(Array.from(arr.data.subarray(base + r * cols, base + (r + 1) * cols)));
  } else {
    for (let c = 0; c < cols; c++) {
      const row = new Array(rows);
      for (let r = 0; r < rows; r++) row[r] = arr.data[base + r * cols + c];
      out.push(row);
    }
  }
  return out;
};

GS.plotConfig = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
GS.baseLayout = function (extra) {
  return Object.assign({
    margin: { l: 55, r: 15, t: 28, b: 42 }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#fff",
    font: { size: 11 }, showlegend: false,
  }, extra || {});
};
// One colour per member (plotly's default cycle), so a member keeps its colour in every plot.
GS.memberColor = function (i) {
  const c = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
             "#bcbd22", "#17becf"];
  return c[i % c.length];
};

// ----------------------------------------------------------------------------- router
GS.parseHash = function () {
  const out = {};
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    if (!part) continue;
    const i = part.indexOf("=");
    out[decodeURIComponent(i < 0 ? part : part.slice(0, i))] = i < 0 ? "" : decodeURIComponent(part.slice(i + 1));
  }
  return out;
};

GS.route = async function () {
  const h = GS.parseHash();
  GS.showError("");
  const main = document.getElementById("main");
  const crumb = document.getElementById("crumb");
  main.replaceChildren();
  crumb.textContent = "";
  try {
    if (h.run !== undefined) await GS.views.run(main, Number(h.run), h);
    else if (h.sweep !== undefined) await GS.views.sweep(main, h.sweep, h);
    else await GS.views.index(main);
  } catch (e) {
    GS.showError(String(e.message || e));
    console.warn(e);
  }
};

// ----------------------------------------------------------------------------- start page
GS.filterTable = function (rows, columns, onClick) {
  const input = GS.el("input", { type: "search", placeholder: "filter (any column)", "aria-label": "filter" });
  const body = GS.el("tbody");
  const table = GS.el("table", {}, GS.el("thead", {}, GS.el("tr", {}, columns.map((c) => GS.el("th", { text: c[0] })))), body);
  const draw = () => {
    const q = input.value.trim().toLowerCase();
    body.replaceChildren(...rows
      .filter((r) => !q || columns.some((c) => String(c[1](r)).toLowerCase().includes(q)))
      .map((r) => GS.el("tr", { class: onClick ? "clickable" : null, onclick: onClick ? () => onClick(r) : null },
        columns.map((c) => GS.el("td", { text: GS.fmt(c[1](r)) })))));
  };
  input.addEventListener("input", draw);
  draw();
  return GS.el("div", {}, GS.el("div", { class: "controls" }, input), table);
};

GS.views.index = async function (main) {
  const idx = await GS.fetchJSON("/api/index");
  document.getElementById("store").textContent = idx.store;
  GS.state.view = "index";
  main.append(GS.el("h1", { text: "Runs" }));
  main.append(GS.filterTable(idx.runs, [
    ["run", (r) => r.id], ["name", (r) => r.name || ""], ["status", (r) => r.status], ["kind", (r) => r.kind],
    ["members", (r) => r.n_members], ["task; model", (r) => r.task],
  ], (r) => { location.hash = `run=${r.id}`; }));
  main.append(GS.el("h1", { text: "Sweeps" }));
  if (!idx.sweeps.length) main.append(GS.el("p", { class: "muted", text: "No sweeps in this store." }));
  else main.append(GS.filterTable(idx.sweeps, [
    ["sweep", (s) => s.id], ["name", (s) => s.name], ["swept keys", (s) => s.keys.join(", ")],
    ["points", (s) => s.n_points], ["members", (s) => s.n_members], ["trained", (s) => s.members_done],
    ["status", (s) => s.status],
  ], (s) => { location.hash = `sweep=${encodeURIComponent(s.name)}`; }));
  GS.state.ready = true;
};

// Resolves once plotly.js has run (the last deferred script): views fetch first, then await this to draw.
GS.plotlyReady = new Promise((resolve) => {
  if (window.Plotly) resolve();
  else window.addEventListener("DOMContentLoaded", () => resolve());
});
